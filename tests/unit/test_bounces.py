"""VERP addresses name their message and nothing else parses as one."""

from __future__ import annotations

from postroom.domain.bounces import message_id_of, verp_address
from postroom.wire import ids


def test_verp_round_trip() -> None:
    message_id = ids.message_id("us-east-1", 1_800_000_000.0)
    address = verp_address(message_id, "Bounce.Example.COM")
    assert address == f"{message_id}@bounce.example.com"
    assert message_id_of(address) == message_id
    assert message_id_of(f"<{address}>") == message_id


def test_other_addresses_are_not_verp() -> None:
    for address in (
        "",
        "user@example.com",
        "0100-x@example.com",
        "no-at-sign",
        "0100018c5e1c4a11-2f7a1b0e-9c3d-4e5f-8a6b-1c2d3e4f5a6b-000001@x.org",
    ):
        assert message_id_of(address) is None

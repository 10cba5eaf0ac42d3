"""boto3 `ses`: quotas, statistics and the account's sending switch, on SQLite and PostgreSQL.

Each account's counts, statistics and switch are its own: nothing of one shows in another.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import (
    FAST_RATE,
    SIMULATOR,
    DomainVerifier,
    Tenant,
    TenantFactory,
    error_of,
    simple_message,
    wait_for,
)


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def _quota(client: Any) -> tuple[float, float, float]:
    found = client.get_send_quota()
    return found["Max24HourSend"], found["MaxSendRate"], found["SentLast24Hours"]


def _send(client: Any, *to: str, source: str = "me@example.com") -> str:
    return str(client.send_email(Source=source, Destination={"ToAddresses": list(to)},
                                 Message=simple_message())["MessageId"])


def test_send_quota_counts_real_recipients_not_simulator_ones(
    sandboxed: Tenant, verify_domain_of: DomainVerifier
) -> None:
    client = sandboxed.client()
    assert _quota(client) == (200.0, 1.0, 0.0)  # the sandbox

    sandboxed.approve(max_24h=1000, max_rate=50)  # the CLI's change applies at once
    assert _quota(client) == (1000.0, 50.0, 0.0)
    verify_domain_of(client, "example.com")
    client.send_email(
        Source="me@example.com",
        Destination={"ToAddresses": ["a@elsewhere.example"], "CcAddresses": ["b@example.com"],
                     "BccAddresses": ["c@example.com"]},
        Message=simple_message(),
    )
    _send(client, f"success@{SIMULATOR}", f"bounce+label@{SIMULATOR}")

    assert _quota(client) == (1000.0, 50.0, 3.0)


def test_send_statistics_report_simulator_outcomes_in_15_minute_buckets(
    approved: Tenant, verify_domain_of: DomainVerifier
) -> None:
    client = approved.client()
    verify_domain_of(client, "example.com")
    assert client.get_send_statistics()["SendDataPoints"] == []
    before = time.time()

    for local in ("success", "bounce", "complaint"):
        _send(client, f"{local}@{SIMULATOR}")

    def settled() -> list[dict[str, Any]] | None:
        points = client.get_send_statistics()["SendDataPoints"]
        attempts = sum(p["DeliveryAttempts"] for p in points)
        return points if attempts >= 3 else None

    points = wait_for(settled)
    totals = {key: sum(p[key] for p in points)
              for key in ("DeliveryAttempts", "Bounces", "Complaints", "Rejects")}
    assert totals == {"DeliveryAttempts": 3, "Bounces": 1, "Complaints": 1, "Rejects": 0}
    for point in points:
        stamp = point["Timestamp"]
        assert stamp.tzinfo is not None
        assert stamp.timestamp() % 900 == 0  # the start of a 15-minute bucket
        assert before - 900 < stamp.timestamp() <= time.time()
    assert _quota(client)[2] == 0.0  # simulator recipients are not in the 24-hour count


def test_account_sending_can_be_paused_and_resumed(
    approved: Tenant, verify_domain_of: DomainVerifier
) -> None:
    client = approved.client()
    verify_domain_of(client, "example.com")
    assert client.get_account_sending_enabled()["Enabled"] is True

    reply = client.update_account_sending_enabled(Enabled=False)

    assert set(reply) == {"ResponseMetadata"}  # no output shape
    assert client.get_account_sending_enabled()["Enabled"] is False
    with pytest.raises(ClientError) as caught:
        _send(client, "you@example.com")
    code, message, status = error_of(caught.value)
    assert (code, status) == ("AccountSendingPausedException", 400)
    assert message
    assert isinstance(caught.value, client.exceptions.AccountSendingPausedException)
    assert _quota(client)[2] == 0.0  # a refused message costs nothing

    client.update_account_sending_enabled(Enabled=True)
    assert client.get_account_sending_enabled()["Enabled"] is True
    assert _send(client, "you@example.com")


def test_only_the_operator_lifts_the_operators_pause(
    approved: Tenant, verify_domain_of: DomainVerifier
) -> None:
    """Issue 8: a tenant switches back on only what it switched off itself."""
    client, server = approved.client(), approved.server
    verify_domain_of(client, "example.com")
    server.cli("accounts", "pause", approved.name)
    assert client.get_account_sending_enabled()["Enabled"] is False

    with pytest.raises(ClientError) as caught:
        client.update_account_sending_enabled(Enabled=True)
    code, message, status = error_of(caught.value)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        "Sending for this account was paused by the operator; only the operator can resume "
        f"it (postroom accounts resume {approved.name})."
    )
    assert client.get_account_sending_enabled()["Enabled"] is False
    with pytest.raises(ClientError) as refused:
        _send(client, "you@example.com")
    assert error_of(refused.value)[0] == "AccountSendingPausedException"

    # The tenant's own pause on top: the operator's resume leaves it, the tenant lifts it.
    client.update_account_sending_enabled(Enabled=False)
    [listed] = server.cli_json("accounts", "list")
    assert listed["paused_by"] == ["tenant", "operator"]
    resumed = server.cli("accounts", "resume", approved.name)
    assert "stays paused by the tenant" in resumed.stdout
    assert client.get_account_sending_enabled()["Enabled"] is False
    client.update_account_sending_enabled(Enabled=True)
    assert client.get_account_sending_enabled()["Enabled"] is True
    assert _send(client, "you@example.com")


def test_quota_statistics_and_switch_are_per_account(
    make_tenant: TenantFactory, verify_domain_of: DomainVerifier
) -> None:
    busy = make_tenant("busy", max_rate=FAST_RATE)
    quiet = make_tenant("quiet")
    mine, theirs = busy.client(), quiet.client()
    verify_domain_of(mine, "example.com")
    _send(mine, "a@example.com", "b@example.com")
    _send(mine, f"success@{SIMULATOR}")
    wait_for(lambda: sum(p["DeliveryAttempts"]
                         for p in mine.get_send_statistics()["SendDataPoints"]) >= 3)
    mine.update_account_sending_enabled(Enabled=False)

    assert _quota(mine) == (50000.0, float(FAST_RATE), 2.0)
    assert _quota(theirs) == (200.0, 1.0, 0.0)
    assert theirs.get_send_statistics()["SendDataPoints"] == []
    assert theirs.get_account_sending_enabled()["Enabled"] is True
    assert mine.get_account_sending_enabled()["Enabled"] is False

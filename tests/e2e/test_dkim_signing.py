"""DKIM end to end: tokens from the API, records from the CLI, signed mail at the MX that
verifies with dkimpy against the published DNS records."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import dkim
import dns.rdatatype
import dns.resolver
import dns.zone

from postroom.testing.dns import TestDnsServer
from postroom.testing.fixtures import ses_client
from postroom.testing.scenarios import mx_zone
from postroom.testing.sink import SinkServer


def _publish(dns_server: TestDnsServer, zone_lines: str) -> int:
    zone = dns.zone.from_text(zone_lines, origin="sender.test.", relativize=False,
                              check_origin=False)  # fmt: skip
    published = 0
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            if rdataset.rdtype != dns.rdatatype.TXT:
                continue
            for rdata in rdataset:
                text = b"".join(rdata.strings).decode()
                dns_server.add(name.to_text(omit_final_dot=True), "TXT", text)
                published += 1
    return published


def _selector(message: bytes) -> str:
    header = message.split(b"\r\n\r\n")[0].decode()
    signature = header.split("DKIM-Signature:", 1)[1]
    return signature.split(" s=", 1)[1].split(";", 1)[0].strip()


def _dnsfunc(dns_server: TestDnsServer) -> Any:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns_server.address[0]]
    resolver.port = dns_server.address[1]

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        return b"".join(b"".join(r.strings) for r in answer)

    return lookup


async def _dkim_after_checks(ses: Any, domain: str = "sender.test") -> dict[str, Any]:
    """The domain's DKIM attributes once they say Success (or after 15 s): DNS is looked
    at again at most every 2 s per identity."""
    deadline = time.monotonic() + 15
    while True:
        state: dict[str, Any] = (await asyncio.to_thread(
            ses.get_identity_dkim_attributes, Identities=[domain]
        ))["DkimAttributes"][domain]  # fmt: skip
        if state["DkimVerificationStatus"] == "Success" or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.5)


async def test_published_keys_sign_outgoing_mail(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    mx = SinkServer(host="127.0.0.3")
    await mx.start()
    try:
        mx_zone(dns_server, "example.test", "127.0.0.3")
        host, port = dns_server.address
        server = await asyncio.to_thread(
            postroom_factory, "--delivery", "direct", "--dns", f"{host}:{port}",
            "--outbound-port", str(mx.port),
        )  # fmt: skip
        creds = await asyncio.to_thread(server.create_account, "signer")
        await asyncio.to_thread(server.cli, "accounts", "approve", "signer", "--max-rate", "50")
        ses = ses_client(server, creds)

        tokens = (await asyncio.to_thread(ses.verify_domain_dkim, Domain="sender.test"))[
            "DkimTokens"
        ]
        assert len(tokens) == 3 and all(len(t) == 32 for t in tokens)
        again = await asyncio.to_thread(ses.verify_domain_dkim, Domain="sender.test")
        assert again["DkimTokens"] == tokens  # asking again returns the same tokens
        pending = (await asyncio.to_thread(
            ses.get_identity_dkim_attributes, Identities=["sender.test"]
        ))["DkimAttributes"]["sender.test"]  # fmt: skip
        assert pending == {"DkimEnabled": True, "DkimVerificationStatus": "Pending",
                           "DkimTokens": tokens}  # fmt: skip

        records = await asyncio.to_thread(
            server.cli, "identities", "dns-records", "sender.test", "--account", "signer"
        )
        assert _publish(dns_server, records.stdout) == 5  # verification + 3 DKIM + DMARC
        done = await _dkim_after_checks(ses)
        assert done["DkimVerificationStatus"] == "Success"
        verified = await asyncio.to_thread(
            ses.get_identity_verification_attributes, Identities=["sender.test"]
        )
        assert verified["VerificationAttributes"]["sender.test"]["VerificationStatus"] == (
            "Success"
        )

        def send(subject: str) -> None:
            ses.send_email(
                Source="App <app@sender.test>",
                Destination={"ToAddresses": ["user@example.test"]},
                Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": "비밀번호"}}},
            )

        await asyncio.to_thread(send, "임시 비밀번호")
        [signed] = await mx.wait_for(1, timeout=20)
        assert signed.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(signed.data, dnsfunc=_dnsfunc(dns_server))
        assert b"d=sender.test" in signed.data.split(b"\r\n\r\n")[0]

        # Rotation without a gap: the new key is announced, mail stays signed with the old
        # one until the new record is seen in DNS, then moves to it.
        first_selector = _selector(signed.data)
        rotated = await asyncio.to_thread(
            server.cli, "identities", "rotate-dkim", "sender.test", "--account", "signer"
        )
        new_selector = rotated.stdout.split()[2].rstrip(";")
        await asyncio.to_thread(send, "during rotation")
        during = (await mx.wait_for(2, timeout=20))[1]
        assert _selector(during.data) == first_selector
        assert dkim.verify(during.data, dnsfunc=_dnsfunc(dns_server))
        records = await asyncio.to_thread(
            server.cli, "identities", "dns-records", "sender.test", "--account", "signer"
        )
        assert new_selector in records.stdout
        _publish(dns_server, records.stdout)
        state = await _dkim_after_checks(ses)  # the check that sees it moves signing to it
        assert new_selector in state["DkimTokens"]
        await asyncio.to_thread(send, "after rotation")
        after = (await mx.wait_for(3, timeout=20))[2]
        assert _selector(after.data) == new_selector
        assert dkim.verify(after.data, dnsfunc=_dnsfunc(dns_server))

        await asyncio.to_thread(
            ses.set_identity_dkim_enabled, Identity="sender.test", DkimEnabled=False
        )
        await asyncio.to_thread(send, "unsigned")
        unsigned = (await mx.wait_for(4, timeout=20))[3]
        assert b"DKIM-Signature" not in unsigned.data.split(b"\r\n\r\n")[0]
    finally:
        await mx.stop()


async def test_capture_keeps_mail_signed_as_it_would_leave(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    host, port = dns_server.address
    server = await asyncio.to_thread(
        postroom_factory, "--delivery", "capture", "--dns", f"{host}:{port}"
    )
    creds = await asyncio.to_thread(server.create_account, "dev")
    await asyncio.to_thread(server.cli, "accounts", "approve", "dev")
    ses = ses_client(server, creds)
    await asyncio.to_thread(ses.verify_domain_dkim, Domain="sender.test")
    records = await asyncio.to_thread(
        server.cli, "identities", "dns-records", "sender.test", "--account", "dev"
    )
    _publish(dns_server, records.stdout)
    assert (await _dkim_after_checks(ses))["DkimVerificationStatus"] == "Success"
    sent = await asyncio.to_thread(
        ses.send_email,
        Source="app@sender.test",
        Destination={"ToAddresses": ["someone@elsewhere.test"]},
        Message={"Subject": {"Data": "임시 비밀번호"}, "Body": {"Text": {"Data": "1234"}}},
    )
    deadline = time.monotonic() + 15
    while True:
        kept = await asyncio.to_thread(server.cli_json, "mailbox", "list", "--account", "dev")
        if kept or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    [message] = kept
    assert message["message_id"] == sent["MessageId"]
    raw = message["raw"].encode()
    assert raw.startswith(b"DKIM-Signature:") and b"d=sender.test" in raw
    assert dkim.verify(raw, dnsfunc=_dnsfunc(dns_server))

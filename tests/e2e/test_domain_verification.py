"""Domains are verified in the background too, not only when their attributes are asked for."""

from __future__ import annotations

import time
from typing import Any

import botocore.exceptions
import pytest

from postroom.testing.dns import TestDnsServer
from postroom.testing.fixtures import ses_client


def test_periodic_check_verifies_a_domain(postroom_factory: Any, dns_server: TestDnsServer) -> None:
    host, port = dns_server.address
    server = postroom_factory(
        "--dns", f"{host}:{port}", env={"POSTROOM_DOMAIN_CHECK_INTERVAL": "0.5"}
    )
    creds = server.create_account("dom")
    ses = ses_client(server, creds, retries=3)
    token = ses.verify_domain_identity(Domain="Example.ORG")["VerificationToken"]
    message = {
        "Source": "app@mail.example.org",  # a subdomain's address: covered by the domain
        "Destination": {"ToAddresses": ["success@simulator.amazonses.com"]},
        "Message": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "x"}}},
    }
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ses.send_email(**message)
    assert info.value.response["Error"]["Code"] == "MessageRejected"

    dns_server.add("_amazonses.example.org", "TXT", token)
    deadline = time.monotonic() + 15
    while True:  # SendEmail itself never looks at DNS: only the background check can pass it
        try:
            ses.send_email(**message)
            break
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] in ("MessageRejected", "Throttling")
            assert time.monotonic() < deadline, "the periodic check never verified the domain"
            time.sleep(0.5)
    assert ses.list_identities()["Identities"] == ["example.org"]


def test_one_worker_process_runs_the_periodic_checks(
    postroom_factory: Any, dns_server: TestDnsServer
) -> None:
    host, port = dns_server.address
    server = postroom_factory(
        "--dns", f"{host}:{port}", "--worker-processes", "2",
        env={"POSTROOM_DOMAIN_CHECK_INTERVAL": "0.5"},
    )  # fmt: skip
    creds = server.create_account("periodic")
    ses_client(server, creds, retries=3).verify_domain_identity(Domain="pending.test")
    time.sleep(3)  # both worker processes are up by now
    asked = len(dns_server.queries)
    time.sleep(4)
    checks = [q for q in dns_server.queries[asked:] if q[0].startswith("_amazonses.pending")]
    # One process asks about every 0.5 s (~8 times in 4 s); two would ask ~16 times.
    assert 4 <= len(checks) <= 11, checks

"""The mailbox simulator through the real API: each address yields SES's events."""

from __future__ import annotations

import time
from typing import Any

from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess

SIM = "simulator.amazonses.com"


def _events(server: PostroomProcess, message_id: str, want: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        shown = server.cli_json("messages", "show", message_id)
        if len(shown["events"]) >= want or time.monotonic() > deadline:
            return list(shown["events"])
        time.sleep(0.2)


def test_simulator_addresses_in_the_sandbox(postroom_factory: Any) -> None:
    server = postroom_factory()
    creds = server.create_account("sim")
    ses = ses_client(server, creds, retries=4)
    server.verify_address(ses, "sim", "app@example.com")

    def send(to: str) -> str:
        response = ses.send_email(
            Source="app@example.com",
            Destination={"ToAddresses": [to]},
            Message={"Subject": {"Data": "sim"}, "Body": {"Text": {"Data": "x"}}},
        )
        time.sleep(1.0)  # the sandbox allows one recipient a second
        return str(response["MessageId"])

    success = send(f"success+a1@{SIM}")
    bounce = send(f"bounce@{SIM}")
    complaint = send(f"complaint@{SIM}")
    suppressed = send(f"suppressionlist@{SIM}")
    ooto = send(f"ooto@{SIM}")

    types = [e["eventType"] for e in _events(server, success, 2)]
    assert types == ["Send", "Delivery"]

    bounced = _events(server, bounce, 2)[1]
    assert bounced["eventType"] == "Bounce"
    assert bounced["bounce"]["bounceType"] == "Permanent"
    assert bounced["bounce"]["bounceSubType"] == "General"
    recipient = bounced["bounce"]["bouncedRecipients"][0]
    assert recipient == {
        "emailAddress": f"bounce@{SIM}",
        "action": "failed",
        "status": "5.1.1",
        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
    }
    assert bounced["mail"]["messageId"] == bounce
    assert bounced["mail"]["source"] == "app@example.com"

    complained = _events(server, complaint, 3)
    assert [e["eventType"] for e in complained] == ["Send", "Delivery", "Complaint"]
    assert complained[2]["complaint"]["complaintFeedbackType"] == "abuse"

    suppressed_event = _events(server, suppressed, 2)[1]
    assert suppressed_event["bounce"]["bounceSubType"] == "Suppressed"
    assert (
        "suppressed sending"
        in (suppressed_event["bounce"]["bouncedRecipients"][0]["diagnosticCode"])
    )

    assert [e["eventType"] for e in _events(server, ooto, 2)] == ["Send", "Delivery"]
    deadline = time.monotonic() + 10
    while True:
        mailbox = server.cli_json("mailbox", "list", "--account", "sim")
        replies = [m for m in mailbox if m["subject"] == "Out of the Office"]
        if replies or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert replies and replies[0]["destinations"] == ["app@example.com"]
    assert "Auto-Submitted: auto-replied" in replies[0]["raw"]

    # Simulator recipients count against the rate, not the 24-hour quota.
    assert ses.get_send_quota()["SentLast24Hours"] == 0.0
    points = ses.get_send_statistics()["SendDataPoints"]
    assert sum(p["Bounces"] for p in points) == 2
    assert sum(p["Complaints"] for p in points) == 1

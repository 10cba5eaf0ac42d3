"""Contract: Nodemailer's SES transport (pinned in tests/contract/node/package.json), a
client we did not write, against a real `postroom serve`.

Nodemailer 7+ sends through @aws-sdk/client-sesv2: `createTransport({SES: {sesClient,
SendEmailCommand}})` builds the MIME message itself and sends SES v2 SendEmail with
`Content.Raw` (nodemailer.com/transports/ses). The script
tests/contract/node/nodemailer_sesv2.js sends one message with a binary attachment; the
test finds it in the capture mailbox and compares the attachment's bytes.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from ses_support import DomainVerifier, Tenant, parse_mime, text_of
from test_node_seed import NODE_DIR, REGION, NodeRunner, find_node

NODEMAILER_SESV2 = NODE_DIR / "nodemailer_sesv2.js"


@pytest.fixture(scope="module")
def node() -> NodeRunner:
    return find_node()


@pytest.mark.node
def test_nodemailer_ses_transport_delivers_an_attachment_intact(
    node: NodeRunner, approved: Tenant, verify_domain_of: DomainVerifier, tmp_path: Path
) -> None:
    verify_domain_of(approved.client(REGION), "example.com")
    payload = bytes(range(256)) * 8 + os.urandom(4096)
    request = {
        "endpoint": approved.server.url, "region": REGION,
        "accessKeyId": approved.credentials["access_key_id"],
        "secretAccessKey": approved.credentials["secret_access_key"],
        "mail": {
            "from": "Shop <shop@example.com>", "to": "ann@example.com",
            "subject": "Votre facture", "text": "Bonjour, la facture est jointe.",
            "attachments": [{"filename": "facture-été.pdf", "contentType": "application/pdf",
                             "contentBase64": base64.b64encode(payload).decode()}],
        },
    }  # fmt: skip
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request), encoding="utf-8")

    result = node.run(NODEMAILER_SESV2, str(path), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert "error" not in outcome, outcome
    message_id = outcome["response"]  # the SES MessageId
    mail = approved.captured(message_id)
    assert mail["destinations"] == ["ann@example.com"]
    message = parse_mime(mail["raw"])
    assert message["Subject"] == "Votre facture"
    # Nodemailer derives the Message-ID header SES writes from the MessageId and region.
    assert message["Message-ID"] == outcome["messageId"]
    assert outcome["messageId"] == f"<{message_id}@{REGION}.amazonses.com>"
    assert text_of(message.get_body(("plain",))) == "Bonjour, la facture est jointe."
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "facture-été.pdf"
    assert attachment.get_content() == payload

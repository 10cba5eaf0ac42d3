"""Contract: django-ses (pinned in pyproject.toml's `test` extra), a client we did not
write, with `USE_SES_V2 = True` against a real `postroom serve`.

django-ses builds the message with Django's mail classes and sends SES v2 SendEmail with
`Content.Raw` through boto3 `sesv2`; `AWS_SES_REGION_ENDPOINT_URL` points it at Postroom,
`AWS_SES_RETURN_PATH` becomes `FeedbackForwardingEmailAddress`, and its default automatic
throttling reads the rate from GetAccount first. Django is configured in a child process
(`settings.configure` holds once per process), which prints the result as JSON.
"""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from email.message import EmailMessage
from typing import Any

from ses_support import DomainVerifier, Tenant, text_of

DJANGO_SEND = r"""
import json, sys
import django
from django.conf import settings

config = json.loads(sys.argv[1])
settings.configure(
    EMAIL_BACKEND="django_ses.SESBackend",
    USE_SES_V2=True,
    AWS_SES_REGION_NAME="us-east-1",
    AWS_SES_REGION_ENDPOINT_URL=config["endpoint"],
    AWS_SES_ACCESS_KEY_ID=config["access_key_id"],
    AWS_SES_SECRET_ACCESS_KEY=config["secret_access_key"],
    AWS_SES_RETURN_PATH="bounces@example.com",
)
django.setup()
from django.core.mail import EmailMessage, send_mail

sent = send_mail("Bienvenue", "Votre compte est prêt.", "Équipe <team@example.com>",
                 ["ann@example.com"], fail_silently=False)
message = EmailMessage("Rapport", "Voir la pièce jointe.", "team@example.com",
                       ["bob@example.com"], bcc=["audit@example.com"])
message.attach("rapport.csv", "a,b\r\n1,2\r\n", "text/csv")
message.send(fail_silently=False)
print(json.dumps({"sent": sent, "message_id": message.extra_headers["message_id"]}))
"""


def parse_mime(raw: str) -> EmailMessage:
    """As bytes: Django sends 8bit UTF-8 bodies, which the `email` package decodes right
    only from bytes (the mailbox's JSON holds them as UTF-8 text)."""
    message = email.message_from_bytes(raw.encode("utf-8"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def django_send(tenant: Tenant) -> dict[str, Any]:
    config = {"endpoint": tenant.server.url, **tenant.credentials}
    result = subprocess.run(
        [sys.executable, "-c", DJANGO_SEND, json.dumps(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_django_ses_v2_backend_sends_through_postroom(
    approved: Tenant, verify_domain_of: DomainVerifier
) -> None:
    verify_domain_of(approved.client(), "example.com")

    outcome = django_send(approved)

    assert outcome["sent"] == 1
    by_subject = {}
    for mail in approved.mailbox():
        by_subject[parse_mime(mail["raw"])["Subject"]] = mail
    welcome = by_subject["Bienvenue"]
    message = parse_mime(welcome["raw"])
    assert welcome["destinations"] == ["ann@example.com"]
    assert message["From"] == "Équipe <team@example.com>"
    assert text_of(message.get_body(("plain",))) == "Votre compte est prêt."
    report = approved.captured(outcome["message_id"])
    assert report["destinations"] == ["bob@example.com", "audit@example.com"]
    message = parse_mime(report["raw"])
    assert "Bcc" not in message
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "rapport.csv"
    assert attachment.get_content().replace("\r\n", "\n") == "a,b\n1,2\n"

"""Contract: SES's unsupported attachment types are refused on every send path, through
boto3 (`ses` SendRawEmail, `sesv2` SendEmail Simple and Raw), and nothing is queued."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import Tenant, error_of

from postroom.testing.fixtures import ses_client


def _raw(file_name: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "me@example.com", "you@customer.example", "the installer")  # fmt: skip
    message.set_content("attached")
    message.add_attachment(b"MZ\x90\x00", maintype="application", subtype="octet-stream",
                           filename=file_name)  # fmt: skip
    return message.as_bytes()


def _refused(call: Any, **kw: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kw)
    return error_of(raised.value)


def test_blocked_attachments_are_message_rejected_on_every_path(shared_tenant: Tenant) -> None:
    v1 = shared_tenant.client()
    v2 = ses_client(shared_tenant.server, shared_tenant.credentials, service="sesv2")
    before = len(shared_tenant.mailbox())

    code, message, status = _refused(v1.send_raw_email, RawMessage={"Data": _raw("setup.exe")})
    assert (code, status) == ("MessageRejected", 400)
    assert "(file 'setup.exe')" in message
    code, _, status = _refused(v2.send_email, Content={"Raw": {"Data": _raw("설치.BAT")}})
    assert (code, status) == ("MessageRejected", 400)
    simple = {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}},
              "Attachments": [{"FileName": "macro.vbs", "RawContent": b"x"}]}  # fmt: skip
    code, message, status = _refused(
        v2.send_email, FromEmailAddress="me@example.com",
        Destination={"ToAddresses": ["you@customer.example"]}, Content={"Simple": simple},
    )  # fmt: skip
    assert (code, status) == ("MessageRejected", 400) and ".vbs" in message

    # the same mail with a PDF goes out
    sent = v1.send_raw_email(RawMessage={"Data": _raw("invoice.pdf")})
    shared_tenant.captured(sent["MessageId"])
    assert len(shared_tenant.mailbox()) == before + 1

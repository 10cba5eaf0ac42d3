"""SES's unsupported attachment types: file names of v2 attachments and of raw MIME parts."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from postroom.errors import MessageRejected
from postroom.wire.attachment_types import check_file_name, check_raw_attachments


@pytest.mark.parametrize("name", ["setup.exe", "SETUP.EXE", "a.pdf.js", "run.ps1 ", "x.vsmacros"])
def test_blocked_names_are_message_rejected(name: str) -> None:
    with pytest.raises(MessageRejected, match="are not accepted"):
        check_file_name(name)


@pytest.mark.parametrize("name", ["report.pdf", "exe", "photo.jpeg", "notes.txt", "archive.zip"])
def test_other_names_pass(name: str) -> None:
    check_file_name(name)


def _raw(file_name: str, *, nested: bool = False) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "s"
    message.set_content("see attached")
    message.add_attachment(b"MZ...", maintype="application", subtype="octet-stream",
                           filename=file_name)  # fmt: skip
    if nested:
        outer = EmailMessage()
        outer["From"], outer["To"] = "a@example.com", "b@example.com"
        outer.set_content("forwarded")
        outer.add_attachment(message)
        return outer.as_bytes()
    return message.as_bytes()


@pytest.mark.parametrize(
    "raw",
    [
        _raw("invoice.exe"),
        _raw("청구서.exe"),  # RFC 2231 encoded by the email package
        _raw("deep.bat", nested=True),
        b"From: a@example.com\r\nContent-Type: application/x-msdownload; name=\"x.scr\"\r\n"
        b"\r\nMZ\r\n",
        b"From: a@example.com\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=\"=?utf-8?b?7LKt6rWs7IScLmV4ZQ==?=\"\r\n"
        b"\r\nMZ\r\n",
    ],
)
def test_raw_messages_naming_a_blocked_file_are_refused(raw: bytes) -> None:
    with pytest.raises(MessageRejected):
        check_raw_attachments(raw)


def test_raw_messages_without_blocked_files_pass() -> None:
    check_raw_attachments(_raw("invoice.pdf"))
    mentions = b"From: a@example.com\r\nSubject: the filename=x.exe in text\r\n\r\nhi\r\n"
    check_raw_attachments(mentions)

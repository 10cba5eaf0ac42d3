"""Sending: validate and build a message, ready to be admitted into the queue.

`prepare_*` run before the transaction (pure: validation and MIME); `admission.admit_all`
runs inside the group commit.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from postroom.domain.callers import Caller as Caller  # (was defined here)
from postroom.domain.events import Event
from postroom.domain.requests import Arns, SendEmail, SendRawEmail, Tag
from postroom.errors import (
    InvalidParameterValue,
)
from postroom.wire import ids
from postroom.wire.addresses import Address, parse_address, parse_address_list
from postroom.wire.mime import Content, build_simple_message, check_message_size
from postroom.wire.raw_mime import prepare_raw_message

MAX_RECIPIENTS = 50
SIMULATOR_DOMAIN = "simulator.amazonses.com"
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class Submission:
    caller: Caller
    operation: str
    message_id: str
    senders: list[Address]  # identities that must be verified (Source, Return-Path)
    recipients: list[Address]
    envelope_from: str
    source: str
    subject: str
    raw: bytes
    created_at: float
    tags: dict[str, list[str]] = field(default_factory=dict)
    internal: bool = False
    failure: Event | None = None  # a Rendering Failure: admitted, never delivered
    configuration_set: str | None = None  # as named by the call; admission resolves it


def internal_mail(
    caller: Caller,
    operation: str,
    source: str,
    recipient: str,
    subject: str,
    text: str,
    now: float,
    *,
    envelope_from: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> Submission:
    """Postroom's own mail (verification, simulator auto-replies): queued and delivered like
    any other message, but outside the account's checks, quotas and statistics."""
    sender, to = parse_address(source), parse_address(recipient)
    message_id = ids.message_id(caller.region, now)
    raw = build_simple_message(
        source=sender,
        to=[to],
        cc=[],
        reply_to=[],
        subject=Content(subject),
        text=Content(text),
        html=None,
        message_id=message_id,
        mail_domain=ids.mail_domain(caller.region),
        date=now,
        extra_headers=extra_headers,
    )
    return Submission(
        caller=caller,
        operation=operation,
        message_id=message_id,
        senders=[],
        recipients=[to],
        envelope_from=sender.addr_spec if envelope_from is None else envelope_from,
        source=sender.addr_spec,
        subject=subject,
        raw=raw,
        created_at=now,
        tags={"ses:operation": [operation]},
        internal=True,
    )


def is_simulator(address: Address) -> bool:
    return address.domain.lower() == SIMULATOR_DOMAIN


def _check_recipient_count(recipients: Sequence[Address]) -> None:
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidParameterValue(f"Recipient count exceeds {MAX_RECIPIENTS}.")
    if not recipients:
        raise InvalidParameterValue("Invalid email address .")


def _check_arns(caller: Caller, arns: Sequence[str | None]) -> None:
    """ARNs may name only the caller's own identities (sending authorization for other
    accounts comes with its own issue). Configuration sets are checked at admission."""
    for arn in arns:
        if not arn:
            continue
        parts = str(arn).split(":", 5)
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "ses"] or "identity/" not in parts[5]:
            raise InvalidParameterValue(f"Invalid ARN: {arn}")
        if parts[4] != caller.account_id:
            raise InvalidParameterValue(
                f"{arn}: sending on behalf of another account is not supported by Postroom yet."
            )


def _arns(arns: Arns) -> list[str | None]:
    return [arns.source, arns.from_, arns.return_path]


def message_tags(
    caller: Caller, operation: str, source: Address, custom: Sequence[Tag]
) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {
        "ses:operation": [operation],
        "ses:source-ip": [caller.source_ip],
        "ses:from-domain": [source.domain.lower()],
        "ses:caller-identity": [caller.access_key_id],
    }
    for tag in custom:
        name, value = tag.name, tag.value
        if not _TAG.match(name):
            raise InvalidParameterValue(
                f"Invalid tag name <{name}>: only alphanumeric ASCII characters, '_', "
                "and '-' are allowed."
            )
        if not _TAG.match(value):
            raise InvalidParameterValue(
                f"Invalid tag value <{value}>: only alphanumeric ASCII characters, '_', "
                "and '-' are allowed."
            )
        tags.setdefault(name, []).append(value)
    return tags


def prepare_send_email(caller: Caller, request: SendEmail, now: float) -> Submission:
    """SendEmail (ses-spec.md 4.1): validate, build the MIME message."""
    _check_arns(caller, _arns(request.arns))
    source = parse_address(request.source)
    to = parse_address_list(request.to)
    cc = parse_address_list(request.cc)
    bcc = parse_address_list(request.bcc)
    recipients = to + cc + bcc
    _check_recipient_count(recipients)
    reply_to = parse_address_list(request.reply_to)
    return_path = parse_address(request.return_path) if request.return_path else None
    subject = request.subject
    message_id = ids.message_id(caller.region, now)
    raw = build_simple_message(
        source=source,
        to=to,
        cc=cc,
        reply_to=reply_to,
        subject=subject,
        text=request.text,
        html=request.html,
        message_id=message_id,
        mail_domain=ids.mail_domain(caller.region),
        date=now,
        extra_headers=request.headers,
        attachments=request.attachments,
    )
    check_message_size(len(raw), request.max_size)
    senders = [source] + ([return_path] if return_path else [])
    return Submission(
        caller=caller,
        operation="SendEmail",
        message_id=message_id,
        senders=senders,
        recipients=recipients,
        envelope_from=(return_path or source).addr_spec,
        source=source.addr_spec,
        subject=subject.data,
        raw=raw,
        created_at=now,
        tags=message_tags(caller, "SendEmail", source, request.tags),
        configuration_set=request.configuration_set or None,
    )


def prepare_send_raw_email(caller: Caller, request: SendRawEmail, now: float) -> Submission:
    """SendRawEmail: Destinations override the headers; Message-ID and Date are replaced."""
    _check_arns(caller, _arns(request.arns))
    data = request.data
    check_message_size(len(base64.b64encode(data)), request.max_size)
    message_id = ids.message_id(caller.region, now)
    prepared = prepare_raw_message(
        data, message_id=message_id, mail_domain=ids.mail_domain(caller.region), date=now
    )
    _check_arns(caller, (prepared.source_arn, prepared.from_arn, prepared.return_path_arn))
    if request.source:
        source = parse_address(request.source)
    elif prepared.from_:
        source = prepared.from_[0]
    else:
        raise InvalidParameterValue("Missing final '@domain'")
    if request.destinations:
        recipients = parse_address_list(request.destinations)
    else:
        recipients = prepared.recipients
        if not recipients:
            raise InvalidParameterValue("Missing required header 'To'.")
    _check_recipient_count(recipients)
    custom = [Tag(k, v) for k, v in prepared.tags] + list(request.tags)
    return_path = parse_address(request.return_path) if request.return_path else None
    extra = [a for a in (prepared.sender, return_path) if a is not None]
    return Submission(
        caller=caller,
        operation=request.operation,
        message_id=message_id,
        senders=_unique([source, *prepared.from_, *extra]),
        recipients=recipients,
        envelope_from=(return_path or source).addr_spec,
        source=source.addr_spec,
        subject=prepared.subject,
        raw=prepared.data,
        created_at=now,
        tags=message_tags(caller, request.operation, source, custom),
        # The call's ConfigurationSetName, else the X-SES-CONFIGURATION-SET header.
        configuration_set=request.configuration_set or prepared.configuration_set or None,
    )


def _unique(addresses: Sequence[Address]) -> list[Address]:
    seen: dict[str, Address] = {}
    for address in addresses:
        seen.setdefault(address.addr_spec, address)
    return list(seen.values())

"""Sending: validate and build a message, ready to be admitted into the queue.

`prepare_*` run before the transaction (pure: validation and MIME); `admission.admit_all`
runs inside the group commit.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from postroom.errors import (
    ClientError,
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
class Caller:
    account_id: str
    region: str
    access_key_id: str = ""
    source_ip: str = "127.0.0.1"


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


def _check_unsupported(
    caller: Caller, params: Mapping[str, Any], header_arns: Sequence[str | None] = ()
) -> None:
    """No configuration sets exist yet; ARNs may name only the caller's own identities
    (sending authorization for other accounts comes with its own issue)."""
    if params.get("ConfigurationSetName"):
        name = params["ConfigurationSetName"]
        raise ClientError(
            f"Configuration set <{name}> does not exist.", code="ConfigurationSetDoesNotExist"
        )
    arns = [params.get(n) for n in ("SourceArn", "FromArn", "ReturnPathArn")]
    for arn in [*arns, *header_arns]:
        if not arn:
            continue
        parts = str(arn).split(":", 5)
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "ses"] or "identity/" not in parts[5]:
            raise InvalidParameterValue(f"Invalid ARN: {arn}")
        if parts[4] != caller.account_id:
            raise InvalidParameterValue(
                f"{arn}: sending on behalf of another account is not supported by Postroom yet."
            )


def message_tags(
    caller: Caller, operation: str, source: Address, custom: Sequence[Mapping[str, str]]
) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {
        "ses:operation": [operation],
        "ses:source-ip": [caller.source_ip],
        "ses:from-domain": [source.domain.lower()],
        "ses:caller-identity": [caller.access_key_id],
    }
    for tag in custom:
        name, value = tag.get("Name", ""), tag.get("Value", "")
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


def _content(part: Mapping[str, Any] | None) -> Content | None:
    if part is None:
        return None
    return Content(data=part.get("Data", ""), charset=part.get("Charset"))


def prepare_send_email(caller: Caller, params: Mapping[str, Any], now: float) -> Submission:
    """SendEmail (ses-spec.md 4.1): validate, build the MIME message."""
    _check_unsupported(caller, params)
    source = parse_address(params["Source"])
    destination = params.get("Destination") or {}
    to = parse_address_list(destination.get("ToAddresses") or [])
    cc = parse_address_list(destination.get("CcAddresses") or [])
    bcc = parse_address_list(destination.get("BccAddresses") or [])
    recipients = to + cc + bcc
    _check_recipient_count(recipients)
    reply_to = parse_address_list(params.get("ReplyToAddresses") or [])
    return_path = parse_address(params["ReturnPath"]) if params.get("ReturnPath") else None
    message = params["Message"]
    body = message.get("Body") or {}
    subject = _content(message.get("Subject")) or Content(data="")
    message_id = ids.message_id(caller.region, now)
    raw = build_simple_message(
        source=source,
        to=to,
        cc=cc,
        reply_to=reply_to,
        subject=subject,
        text=_content(body.get("Text")),
        html=_content(body.get("Html")),
        message_id=message_id,
        mail_domain=ids.mail_domain(caller.region),
        date=now,
    )
    check_message_size(len(raw))
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
        tags=message_tags(caller, "SendEmail", source, params.get("Tags") or []),
    )


def prepare_send_raw_email(caller: Caller, params: Mapping[str, Any], now: float) -> Submission:
    """SendRawEmail: Destinations override the headers; Message-ID and Date are replaced."""
    _check_unsupported(caller, params)
    data: bytes = params["RawMessage"]["Data"]
    check_message_size(len(base64.b64encode(data)))
    message_id = ids.message_id(caller.region, now)
    prepared = prepare_raw_message(
        data, message_id=message_id, mail_domain=ids.mail_domain(caller.region), date=now
    )
    _check_unsupported(
        caller,
        {"ConfigurationSetName": prepared.configuration_set},
        (prepared.source_arn, prepared.from_arn, prepared.return_path_arn),
    )
    if params.get("Source"):
        source = parse_address(params["Source"])
    elif prepared.from_:
        source = prepared.from_[0]
    else:
        raise InvalidParameterValue("Missing final '@domain'")
    if params.get("Destinations"):
        recipients = parse_address_list(params["Destinations"])
    else:
        recipients = prepared.recipients
        if not recipients:
            raise InvalidParameterValue("Missing required header 'To'.")
    _check_recipient_count(recipients)
    custom = [{"Name": k, "Value": v} for k, v in prepared.tags] + list(params.get("Tags") or [])
    return Submission(
        caller=caller,
        operation="SendRawEmail",
        message_id=message_id,
        senders=_unique([source, *prepared.from_, *([prepared.sender] if prepared.sender else [])]),
        recipients=recipients,
        envelope_from=source.addr_spec,
        source=source.addr_spec,
        subject=prepared.subject,
        raw=prepared.data,
        created_at=now,
        tags=message_tags(caller, "SendRawEmail", source, custom),
    )


def _unique(addresses: Sequence[Address]) -> list[Address]:
    seen: dict[str, Address] = {}
    for address in addresses:
        seen.setdefault(address.addr_spec, address)
    return list(seen.values())

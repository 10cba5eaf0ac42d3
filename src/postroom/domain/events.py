"""Sending events in the shape SES's event publishing sends (ses-spec.md section 8).

Each event row holds its type, recipients, timestamp and type-specific object; the `mail`
object is assembled when the event is shown, from the stored message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from postroom.clock import iso_millis

SEND = "Send"
DELIVERY = "Delivery"
BOUNCE = "Bounce"
COMPLAINT = "Complaint"
REJECT = "Reject"
DELIVERY_DELAY = "DeliveryDelay"
RENDERING_FAILURE = "Rendering Failure"  # templated sends: accepted, never delivered

EVENT_TYPES = (SEND, DELIVERY, BOUNCE, COMPLAINT, REJECT, DELIVERY_DELAY, RENDERING_FAILURE)
# The JSON member that carries each event's details.
DETAIL_KEY = {
    SEND: "send",
    DELIVERY: "delivery",
    BOUNCE: "bounce",
    COMPLAINT: "complaint",
    REJECT: "reject",
    DELIVERY_DELAY: "deliveryDelay",
    RENDERING_FAILURE: "failure",
}
HEADERS_LIMIT = 10 * 1024


@dataclass(frozen=True)
class Event:
    event_type: str
    recipients: list[str]
    timestamp: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MailRecord:
    message_id: str
    account_id: str
    region: str
    source: str
    destinations: list[str]
    raw: bytes
    created_at: float
    tags: dict[str, list[str]]
    internal: bool = False  # Postroom's own mail (verification): not the account's sending
    configuration_set: str | None = None  # issue 10: see NewMessage
    require_tls: bool = False
    suppressed_reasons: frozenset[str] | None = None


def delivery(
    recipients: list[str],
    when: float,
    started: float,
    smtp_response: str,
    reporting_mta: str,
    remote_ip: str | None = None,
) -> Event:
    detail: dict[str, Any] = {
        "timestamp": iso_millis(when),
        "processingTimeMillis": max(0, int((when - started) * 1000)),
        "recipients": recipients,
        "smtpResponse": smtp_response,
        "reportingMTA": reporting_mta,
    }
    if remote_ip:
        detail["remoteMtaIp"] = remote_ip
    return Event(DELIVERY, recipients, when, detail)


def bounce(
    bounced: list[dict[str, str]],
    when: float,
    bounce_type: str,
    sub_type: str,
    feedback_id: str,
    reporting_mta: str,
    remote_ip: str | None = None,
) -> Event:
    detail: dict[str, Any] = {
        "bounceType": bounce_type,
        "bounceSubType": sub_type,
        "bouncedRecipients": bounced,
        "timestamp": iso_millis(when),
        "feedbackId": feedback_id,
        "reportingMTA": reporting_mta,
    }
    if remote_ip:
        detail["remoteMtaIp"] = remote_ip
    return Event(BOUNCE, [r["emailAddress"] for r in bounced], when, detail)


def complaint(
    recipients: list[str],
    when: float,
    feedback_id: str,
    arrival: float,
    feedback_type: str = "abuse",
) -> Event:
    detail = {
        "complainedRecipients": [{"emailAddress": r} for r in recipients],
        "timestamp": iso_millis(when),
        "feedbackId": feedback_id,
        "complaintSubType": None,
        "userAgent": "Postroom Mailbox Simulator",
        "complaintFeedbackType": feedback_type,
        "arrivalDate": iso_millis(arrival),
    }
    return Event(COMPLAINT, recipients, when, detail)


def delivery_delay(
    delayed: list[dict[str, str]],
    when: float,
    delay_type: str,
    expiration: float,
    reporting_mta: str,
) -> Event:
    detail = {
        "timestamp": iso_millis(when),
        "delayType": delay_type,
        "expirationTime": iso_millis(expiration),
        "reportingMTA": reporting_mta,
        "delayedRecipients": delayed,
    }
    return Event(DELIVERY_DELAY, [r["emailAddress"] for r in delayed], when, detail)


def _header_list(raw: bytes) -> tuple[list[dict[str, str]], bool, Any]:
    parsed = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    headers: list[dict[str, str]] = []
    size = 0
    truncated = False
    for name, value in parsed.items():
        size += len(name) + len(str(value))
        if size > HEADERS_LIMIT:
            truncated = True
            break
        headers.append({"name": name, "value": str(value)})
    return headers, truncated, parsed


def _address_list(parsed: Any, name: str) -> list[str] | None:
    values = parsed.get_all(name)
    if not values:
        return None
    found: list[str] = []
    for value in values:
        found.extend(str(a) for a in getattr(value, "addresses", ()) or [str(value)])
    return found


def mail_object(record: MailRecord) -> dict[str, Any]:
    """The `mail` object of SES events, with headers as they went out."""
    headers, truncated, parsed = _header_list(record.raw)
    common: dict[str, Any] = {}
    for header, key in (("From", "from"), ("Reply-To", "replyTo"), ("To", "to"), ("Cc", "cc")):
        addresses = _address_list(parsed, header)
        if addresses is not None:
            common[key] = addresses
    if parsed.get("Date"):
        common["date"] = str(parsed["Date"])
    if parsed.get("Message-ID"):
        common["messageId"] = str(parsed["Message-ID"])
    common["subject"] = str(parsed.get("Subject", ""))
    source_domain = record.source.rpartition("@")[2]
    shown: dict[str, Any] = {
        "timestamp": iso_millis(record.created_at),
        "source": record.source,
        "sourceArn": f"arn:aws:ses:{record.region}:{record.account_id}:identity/{source_domain}",
    }
    # SES's mail object names who sent it, from the automatic tags (ses-spec.md 8.1, 8.2).
    for key, tag in (("sourceIp", "ses:source-ip"), ("callerIdentity", "ses:caller-identity")):
        if record.tags.get(tag):
            shown[key] = record.tags[tag][0]
    return {
        **shown,
        "sendingAccountId": record.account_id,
        "messageId": record.message_id,
        "destination": record.destinations,
        "headersTruncated": truncated,
        "headers": headers,
        "commonHeaders": common,
        "tags": record.tags,
    }


def event_json(record: MailRecord, event: Event) -> dict[str, Any]:
    return {
        "eventType": event.event_type,
        "mail": mail_object(record),
        DETAIL_KEY[event.event_type]: event.detail,
    }

"""Typed requests and results of the use cases (frozen dataclasses).

Interfaces build these from their protocol (`interfaces/http/ses_v1_requests.py` from SES
v1's query dicts; the CLI from its options) and translate the results back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postroom.wire.attachments import Attachment
from postroom.wire.mime import MAX_MESSAGE_SIZE, Content


# -- sending ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tag:
    name: str
    value: str


@dataclass(frozen=True)
class Arns:
    """Sending authorization ARNs (only the caller's own identities for now)."""

    source: str | None = None
    from_: str | None = None
    return_path: str | None = None


@dataclass(frozen=True)
class SendEmail:
    source: str
    to: list[str]
    subject: Content
    text: Content | None = None
    html: Content | None = None
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    return_path: str | None = None
    tags: list[Tag] = field(default_factory=list)
    configuration_set: str | None = None
    arns: Arns = Arns()
    # v2 Simple content: custom headers, attachments and the v2 size limit
    headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    max_size: int = MAX_MESSAGE_SIZE


@dataclass(frozen=True)
class SendRawEmail:
    data: bytes
    source: str | None = None
    destinations: list[str] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    configuration_set: str | None = None
    arns: Arns = Arns()
    # v2 Raw content: FeedbackForwardingEmailAddress (the envelope sender), SendEmail's
    # name in the `ses:operation` tag, the v2 size limit
    return_path: str | None = None
    operation: str = "SendRawEmail"
    max_size: int = MAX_MESSAGE_SIZE


# -- identities -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ListIdentities:
    identity_type: str | None = None  # EmailAddress | Domain | None (both)
    page_size: int | None = None  # 1..1000 (default 1000)
    next_token: str | None = None


@dataclass(frozen=True)
class IdentityPage:
    identities: list[str]
    next_token: str | None = None


@dataclass(frozen=True)
class VerificationAttributes:
    status: str
    token: str | None = None  # domains only


@dataclass(frozen=True)
class DkimAttributes:
    enabled: bool
    status: str  # NotStarted | Pending | Success | Failed | TemporaryFailure
    tokens: list[str] | None = None


@dataclass(frozen=True)
class SetMailFromDomain:
    identity: str
    mail_from_domain: str | None = None  # None or "": back to the default MAIL FROM
    behavior_on_mx_failure: str = "UseDefaultValue"


@dataclass(frozen=True)
class MailFromAttributes:
    behavior_on_mx_failure: str
    domain: str | None = None
    status: str | None = None


# -- account ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendQuota:
    max_24h: float
    max_rate: float
    sent_last_24h: float


@dataclass(frozen=True)
class SendDataPoint:
    timestamp: float
    delivery_attempts: int
    bounces: int
    complaints: int
    rejects: int

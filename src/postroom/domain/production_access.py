"""Production access, as SES grants it: an account in the sandbox of a region files its
details with a request (SES v2 PutAccountDetails, ProductionAccessEnabled true), the
request waits for review (PENDING, with a CaseId), and the operator grants it (GRANTED:
out of the sandbox, production quotas) or denies it (DENIED, with a reason). One request
at a time per account and region, and at most one new request a day (a shared rate
limit), as SES's support cases go."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from postroom.domain.rate_limits import Limit
from postroom.errors import Conflict, Throttling

PENDING, GRANTED, DENIED = "PENDING", "GRANTED", "DENIED"
MAIL_TYPES = ("MARKETING", "TRANSACTIONAL")
CONTACT_LANGUAGES = ("EN", "JA")
# A new request may be filed once a day per account and region (after a denial).
ACCESS_REQUESTS = Limit("access-request", per_second=1 / 86400)


@dataclass(frozen=True)
class AccountDetails:
    """What PutAccountDetails records (SES v2 AccountDetails without the review)."""

    mail_type: str
    website_url: str
    use_case: str | None = None
    contact_language: str | None = None
    additional_contacts: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AccountDetails:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


@dataclass(frozen=True)
class AccessRequest:
    case_id: str
    account_id: str
    region: str
    status: str  # PENDING | GRANTED | DENIED
    details: AccountDetails
    filed_at: float
    decided_at: float | None = None
    reason: str | None = None  # why it was denied


def new_case_id() -> str:
    """A support case's number, as SES shows it in ReviewDetails.CaseId."""
    return str(10**9 + secrets.randbelow(9 * 10**9))


def check_no_pending(latest: AccessRequest | None) -> None:
    if latest is not None and latest.status == PENDING:
        raise Conflict(
            f"A production access request for this account is already pending review "
            f"(case {latest.case_id})."
        )


def too_soon() -> Throttling:
    return Throttling(
        "Too many production access requests: at most one request a day may be filed for "
        "an account in a region."
    )

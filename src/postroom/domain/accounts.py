"""Accounts are tenants: each has its own keys, identities and history, and in each region
(as on SES) its own quotas, sandbox state, sending switch and production access."""

from __future__ import annotations

import re
from dataclasses import dataclass

from postroom.errors import AccessDenied, InvalidParameterValue

# ses-spec.md section 5: a new account is in the sandbox, 200 recipients a day, 1 a second.
SANDBOX_MAX_24H = 200.0
SANDBOX_MAX_RATE = 1.0
# Production access as SES commonly grants it first.
PRODUCTION_MAX_24H = 50_000.0
PRODUCTION_MAX_RATE = 14.0

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    created_at: float
    sandbox: bool
    max_24h: float
    max_rate: float
    sending_enabled: bool
    rate_tokens: float
    rate_updated_at: float
    enforcement: str = "HEALTHY"  # HEALTHY | PROBATION | SHUTDOWN (reputation)
    paused_by_tenant: bool = False  # UpdateAccountSendingEnabled Enabled=false
    paused_by_operator: bool = False  # `postroom accounts pause`
    # The region this state is for (None: the account's defaults, which a region starts
    # from when the account first uses it).
    region: str | None = None
    has_webhooks: bool = False  # issue 10: admission writes outbox rows only then

    @property
    def pauses(self) -> list[str]:
        """Who holds sending paused: "tenant", "operator", "reputation" (a SHUTDOWN)."""
        held = [("tenant", self.paused_by_tenant), ("operator", self.paused_by_operator)]
        held.append(("reputation", self.enforcement == "SHUTDOWN"))
        return [owner for owner, holds in held if holds]


@dataclass(frozen=True)
class IssuedKey:
    account: Account
    access_key_id: str
    secret_access_key: str

    def as_json(self) -> dict[str, str]:
        return {
            "account": self.account.name,
            "account_id": self.account.id,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }


def check_account_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidParameterValue(
            f"Invalid account name {name!r}: use 1-128 letters, digits, '.', '_' or '-'."
        )
    return name


# Pauses have owners (issue 8): the tenant lifts only its own; reputation's and the
# operator's are lifted by the operator alone (`postroom accounts resume`).
RESUME_HINT = "only the operator can resume it (postroom accounts resume {name})"


def check_tenant_may_enable(account: Account, detail: str) -> None:
    """UpdateAccountSendingEnabled Enabled=true: refused (AccessDenied, 403) while a pause
    that is not the tenant's holds. `detail` says why reputation paused it, if it did."""
    hint = RESUME_HINT.format(name=account.name)
    if account.enforcement == "SHUTDOWN":
        raise AccessDenied(
            f"Sending for this account was paused by the operator because of its bounce or "
            f"complaint rate (reputation enforcement SHUTDOWN: {detail}); {hint}."
        )
    if account.paused_by_operator:
        raise AccessDenied(f"Sending for this account was paused by the operator; {hint}.")

"""Configuration sets (issue 10, part 1): the value the core keeps, and its rules.

A configuration set is a named group of options a send can name (`ConfigurationSetName`,
the `X-SES-CONFIGURATION-SET` header) or inherit from its sender's identity (SES v2
PutEmailIdentityConfigurationSetAttributes). One state per account and region, shared by
SES v1 and v2. What Postroom acts on: `sending_enabled` (a paused set refuses sends),
`tls_policy` REQUIRE (delivery never sends the message in clear), `suppressed_reasons`
(replace the account's reasons for the message's outcomes). What it stores and shows
without acting on it: the sending pool, MaxDeliverySeconds, reputation metrics and
LastFreshStart, tracking options (open and click tracking comes later).

Limits [DG quotas]: 10,000 configuration sets per region; names of 1 to 64 letters,
digits, `_` and `-`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postroom.errors import ClientError, InvalidParameterValue
from postroom.wire.hostnames import check_domain

MAX_CONFIGURATION_SETS = 10_000
MAX_NAME = 64
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TLS_POLICIES = ("REQUIRE", "OPTIONAL")
HTTPS_POLICIES = ("REQUIRE", "REQUIRE_OPEN_ONLY", "OPTIONAL")
REASONS = ("BOUNCE", "COMPLAINT")
MIN_DELIVERY_SECONDS, MAX_DELIVERY_SECONDS = 300, 50_400  # SES v2 DeliveryOptions


@dataclass(frozen=True)
class ConfigurationSet:
    name: str
    created_at: float
    sending_enabled: bool = True
    tls_policy: str = "OPTIONAL"  # REQUIRE | OPTIONAL
    sending_pool: str | None = None  # stored, not acted on (no dedicated IPs)
    max_delivery_seconds: int | None = None  # stored, not acted on
    reputation_metrics: bool = False
    last_fresh_start: float | None = None
    suppressed_reasons: frozenset[str] | None = None  # None: the account's reasons
    # None: no tracking options; "": tracking options without a custom redirect domain
    tracking_domain: str | None = None
    https_policy: str | None = None


def shown(name: str) -> str:
    """A name as error messages show it: no control characters, at most 200 characters."""
    return "".join(c if c.isprintable() else "?" for c in name[:200])


def does_not_exist(name: str) -> ClientError:
    return ClientError(
        f"Configuration set <{shown(name)}> does not exist.", code="ConfigurationSetDoesNotExist"
    )


def already_exists(name: str) -> ClientError:
    return ClientError(
        f"Configuration set <{shown(name)}> already exists.", code="ConfigurationSetAlreadyExists"
    )


def sending_paused(name: str) -> ClientError:
    return ClientError(
        f"Sending is paused for configuration set <{shown(name)}>.",
        code="ConfigurationSetSendingPausedException",
    )


def limit_exceeded() -> ClientError:
    return ClientError(
        f"You have reached the limit of {MAX_CONFIGURATION_SETS} configuration sets.",
        code="LimitExceeded",
    )


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def check_name(name: str) -> None:
    """InvalidConfigurationSet (v2 BadRequestException) unless 1..64 of [A-Za-z0-9_-]."""
    if not valid_name(name):
        raise ClientError(
            f"Configuration set name <{shown(name)}> is invalid: use 1 to {MAX_NAME} "
            "alphanumeric ASCII characters, '_' and '-'.",
            code="InvalidConfigurationSet",
        )


def check_tls_policy(policy: str) -> str:
    """v1's `Require`/`Optional` and v2's `REQUIRE`/`OPTIONAL` as v2's."""
    upper = policy.upper()
    if upper not in TLS_POLICIES:
        raise ClientError(f"Invalid TlsPolicy: {shown(policy)}.", code="InvalidDeliveryOptions")
    return upper


def check_delivery_seconds(seconds: int | None) -> None:
    if seconds is not None and not MIN_DELIVERY_SECONDS <= seconds <= MAX_DELIVERY_SECONDS:
        raise InvalidParameterValue(
            f"MaxDeliverySeconds must be between {MIN_DELIVERY_SECONDS} and "
            f"{MAX_DELIVERY_SECONDS}."
        )


def check_sending_pool(name: str | None) -> None:
    if name is not None and not _NAME.fullmatch(name):
        raise InvalidParameterValue(f"Invalid SendingPoolName: {shown(name)}.")


def check_redirect_domain(domain: str) -> str:
    """A tracking CustomRedirectDomain must be a host name (InvalidTrackingOptions)."""
    try:
        return check_domain(domain, allow_unicode=False).lower()
    except InvalidParameterValue:
        raise ClientError(
            f"Invalid CustomRedirectDomain: {shown(domain)}.", code="InvalidTrackingOptions"
        ) from None


def check_reasons(reasons: list[str]) -> frozenset[str]:
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        raise InvalidParameterValue(f"Invalid SuppressedReasons: {shown(unknown[0])}.")
    return frozenset(reasons)

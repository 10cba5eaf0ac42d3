"""The tenant's own account in the caller's region: its status (SES v2 GetAccount),
quotas, statistics and the sending switch (with the pauses' owners: the tenant switches
back on only what it switched off itself), and reputation enforcement (review, then
pause), assessed periodically."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from postroom.domain import reputation as rules
from postroom.domain.accounts import Account, check_tenant_may_enable
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.ports import Tx
from postroom.domain.production_access import AccessRequest, AccountDetails
from postroom.domain.requests import SendDataPoint, SendQuota

log = logging.getLogger(__name__)


def _quota(core: Core, conn: Tx, caller: Caller) -> tuple[Account, SendQuota]:
    """The account in the caller's region, and its quota there."""
    where, repos = (caller.account_id, caller.region), core.repos
    account = repos.accounts.get_account(conn, *where)
    sent = repos.usage.sent_last_24h(conn, *where, core.now())
    return account, SendQuota(account.max_24h, account.max_rate, float(sent))


async def send_quota(core: Core, caller: Caller) -> SendQuota:
    authorize(caller, "send_quota")
    return await core.uow.read(lambda conn: _quota(core, conn, caller)[1])


@dataclass(frozen=True)
class AccountStatus:
    """SES v2 GetAccount in the caller's region: the quota, the switch, the sandbox,
    enforcement, suppression, and the details with the last production-access request."""

    quota: SendQuota
    sending_enabled: bool
    production_access: bool
    enforcement: str  # HEALTHY | PROBATION | SHUTDOWN
    suppressed_reasons: list[str]
    details: AccountDetails | None = None
    review: AccessRequest | None = None


async def account_status(core: Core, caller: Caller) -> AccountStatus:
    authorize(caller, "account_status")
    where, repos = (caller.account_id, caller.region), core.repos

    def read(conn: Tx) -> AccountStatus:
        account, quota = _quota(core, conn, caller)
        reasons = repos.suppression.reasons_of(conn, caller.account_id)
        details = repos.accounts.details_of(conn, *where)
        return AccountStatus(
            quota, account.sending_enabled, not account.sandbox, account.enforcement,
            sorted(reasons), AccountDetails.from_json(details) if details else None,
            repos.access_requests.latest(conn, *where),
        )  # fmt: skip

    return await core.uow.read(read)


async def send_statistics(core: Core, caller: Caller) -> list[SendDataPoint]:
    """The region's points, one per 15-minute bucket with activity, over two weeks."""
    authorize(caller, "send_statistics")
    where, now = (caller.account_id, caller.region), core.now()
    return await core.uow.read(lambda conn: core.repos.usage.send_statistics(conn, *where, now))


async def account_sending_enabled(core: Core, caller: Caller) -> bool:
    authorize(caller, "account_sending_enabled")
    where, accounts = (caller.account_id, caller.region), core.repos.accounts
    account = await core.uow.read(lambda conn: accounts.get_account(conn, *where))
    return account.sending_enabled


async def set_account_sending(core: Core, caller: Caller, enabled: bool) -> None:
    """UpdateAccountSendingEnabled: the tenant holds or lifts its own pause in the region;
    lifting is refused (AccessDenied) while the operator's or reputation's pause holds."""
    authorize(caller, "set_account_sending")
    account_id, region, now, repos = caller.account_id, caller.region, core.now(), core.repos

    def switch(conn: Tx) -> None:
        if enabled:
            account = repos.accounts.get_account(conn, account_id, region)
            shutdown = account.enforcement == rules.SHUTDOWN
            counts = repos.reputation.current_counts(conn, account_id, now) if shutdown else None
            check_tenant_may_enable(account, rules.describe(counts) if counts else "")
        repos.accounts.set_paused(conn, account_id, region, "tenant", not enabled)

    await core.uow.write(switch)


async def reassess_reputation(core: Core) -> dict[str, str]:
    """Move accounts between HEALTHY, PROBATION and SHUTDOWN; returns the changes. Full
    rate-limit buckets are forgotten on the way. (Periodic, run by the worker role.)"""
    now, repos = core.now(), core.repos
    min_volume = core.settings.reputation_min_volume

    def job(conn: Tx) -> dict[str, str]:
        changes: dict[str, str] = {}
        for account_id, name, current, since in repos.reputation.accounts_to_assess(conn):
            counts = repos.reputation.counts(conn, account_id, since, now)
            status = rules.assess(counts, current, min_volume)
            if status == current:
                continue
            repos.reputation.set_enforcement(conn, account_id, status)
            changes[name] = status
            level = logging.INFO if status == rules.HEALTHY else logging.WARNING
            log.log(level, "account %s is now %s: %s", name, status, rules.describe(counts))
        return changes

    changes = await core.uow.write(job)
    await core.uow.write(lambda conn: repos.rate_limits.prune(conn, now))
    return changes

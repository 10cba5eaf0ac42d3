"""The tenant's own account: its status (SES v2 GetAccount), quotas, statistics and the
sending switch (with the pauses' owners: the tenant switches back on only what it switched
off itself), and reputation enforcement (review, then pause), assessed periodically."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from postroom.domain import reputation as rules
from postroom.domain.accounts import check_tenant_may_enable
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.ports import Tx
from postroom.domain.requests import SendDataPoint, SendQuota

log = logging.getLogger(__name__)


async def send_quota(core: Core, caller: Caller) -> SendQuota:
    authorize(caller, "send_quota")
    account_id, now, repos = caller.account_id, core.now(), core.repos

    def read(conn: Tx) -> SendQuota:
        account = repos.accounts.get_account(conn, account_id)
        sent = repos.usage.sent_last_24h(conn, account_id, now)
        return SendQuota(account.max_24h, account.max_rate, float(sent))

    return await core.uow.read(read)


@dataclass(frozen=True)
class AccountStatus:
    """SES v2 GetAccount: the quota, the switch, the sandbox, enforcement, suppression."""

    quota: SendQuota
    sending_enabled: bool
    production_access: bool
    enforcement: str  # HEALTHY | PROBATION | SHUTDOWN
    suppressed_reasons: list[str]


async def account_status(core: Core, caller: Caller) -> AccountStatus:
    authorize(caller, "account_status")
    account_id, now, repos = caller.account_id, core.now(), core.repos

    def read(conn: Tx) -> AccountStatus:
        account = repos.accounts.load_account(conn, account_id)
        sent = repos.usage.sent_last_24h(conn, account_id, now)
        reasons = repos.suppression.reasons_of(conn, account_id)
        quota = SendQuota(account.max_24h, account.max_rate, float(sent))
        return AccountStatus(quota, account.sending_enabled, not account.sandbox,
                             account.enforcement, sorted(reasons))  # fmt: skip

    return await core.uow.read(read)


async def send_statistics(core: Core, caller: Caller) -> list[SendDataPoint]:
    """One point per 15-minute bucket with activity, over the last two weeks."""
    authorize(caller, "send_statistics")
    account_id, now = caller.account_id, core.now()
    return await core.uow.read(lambda conn: core.repos.usage.send_statistics(conn, account_id, now))


async def account_sending_enabled(core: Core, caller: Caller) -> bool:
    authorize(caller, "account_sending_enabled")
    account_id = caller.account_id
    account = await core.uow.read(lambda conn: core.repos.accounts.get_account(conn, account_id))
    return account.sending_enabled


async def set_account_sending(core: Core, caller: Caller, enabled: bool) -> None:
    """UpdateAccountSendingEnabled: the tenant holds or lifts its own pause; lifting is
    refused (AccessDenied) while the operator's or reputation's pause holds."""
    authorize(caller, "set_account_sending")
    account_id, now, repos = caller.account_id, core.now(), core.repos

    def switch(conn: Tx) -> None:
        if enabled:
            account = repos.accounts.load_account(conn, account_id)
            shutdown = account.enforcement == rules.SHUTDOWN
            counts = repos.reputation.current_counts(conn, account_id, now) if shutdown else None
            check_tenant_may_enable(account, rules.describe(counts) if counts else "")
        repos.accounts.set_paused(conn, account_id, "tenant", not enabled)

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

"""Assessing every account's reputation and acting on it (review, then pause), and the
pauses' owners: the tenant switches back on only what it switched off itself."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Connection

from postroom.domain import reputation as rules
from postroom.domain.accounts import check_tenant_may_enable
from postroom.store import accounts as account_store
from postroom.store import reputation as store
from postroom.store.database import Database

log = logging.getLogger(__name__)


async def reassess(db: Database, now: float, min_volume: int) -> dict[str, str]:
    """Move accounts between HEALTHY, PROBATION and SHUTDOWN; returns the changes."""

    def job(conn: Any) -> dict[str, str]:
        changes: dict[str, str] = {}
        for account_id, name, current, since in store.accounts_to_assess(conn):
            counts = store.counts(conn, account_id, since, now)
            status = rules.assess(counts, current, min_volume)
            if status == current:
                continue
            store.set_enforcement(conn, account_id, status)
            changes[name] = status
            level = logging.INFO if status == rules.HEALTHY else logging.WARNING
            log.log(level, "account %s is now %s: %s", name, status, rules.describe(counts))
        return changes

    return await db.write(job)


def tenant_sets_sending(conn: Connection, account_id: str, enabled: bool, now: float) -> None:
    """UpdateAccountSendingEnabled: the tenant holds or lifts its own pause; lifting is
    refused (AccessDenied) while the operator's or reputation's pause holds."""
    if enabled:
        account = account_store.load_account(conn, account_id)
        shutdown = account.enforcement == rules.SHUTDOWN
        detail = rules.describe(store.current_counts(conn, account_id, now)) if shutdown else ""
        check_tenant_may_enable(account, detail)
    account_store.set_paused(conn, account_id, "tenant", not enabled)

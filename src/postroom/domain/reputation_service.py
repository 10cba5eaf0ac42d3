"""Assessing every account's reputation and acting on it (review, then pause)."""

from __future__ import annotations

import logging
from typing import Any

from postroom.domain import reputation as rules
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
            store.set_enforcement(conn, account_id, status, pause=status == rules.SHUTDOWN)
            changes[name] = status
            level = logging.INFO if status == rules.HEALTHY else logging.WARNING
            log.log(level, "account %s is now %s: %s", name, status, rules.describe(counts))
        return changes

    return await db.write(job)

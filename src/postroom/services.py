"""Composition root: builds everything from the settings and hands it to the interfaces."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from postroom.clock import Clock, SystemClock
from postroom.config import Settings
from postroom.delivery.dns import make_resolver, mx_hosts, txt_records
from postroom.secrets import SecretBox
from postroom.store import accounts as account_store
from postroom.store.database import Database

KEY_CACHE_SECONDS = 1.0


@dataclass
class KeyCache:
    """access key -> (account id, secret), cached briefly so a revoked key stops within 1 s."""

    db: Database
    box: SecretBox
    _entries: dict[str, tuple[float, tuple[str, str] | None]] = field(default_factory=dict)

    async def lookup(self, access_key_id: str) -> tuple[str, str] | None:
        hit = self._entries.get(access_key_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
            return hit[1]
        found = await self.db.read(lambda conn: account_store.lookup_key(conn, access_key_id))
        value = (found[0], self.box.open(found[1])) if found else None
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[access_key_id] = (now, value)
        return value


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    box: SecretBox
    keys: KeyCache

    async def lookup_txt(self, name: str) -> list[str]:
        return await txt_records(make_resolver(self.settings.dns), name)

    async def lookup_mx(self, name: str) -> list[str]:
        return await mx_hosts(make_resolver(self.settings.dns), name)

    def close(self) -> None:
        self.db.close()


def open_database(settings: Settings) -> Database:
    """A node that accepts mail commits with fsync: a MessageId is returned only once the
    message is on disk. A worker-only node's own commits (leases, delivery outcomes) need
    not wait for it: a power loss could undo the latest outcomes, and those deliveries are
    then made again (at least once, as Postfix does when it loses a queue-file deletion),
    never lost; any later fsync'd commit makes them durable too."""
    db = Database(settings.effective_database_url, sync_commits="api" in settings.roles)
    db.create_schema()
    return db


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    db = open_database(settings)
    box = SecretBox.from_settings(settings.secret_key, settings.data_dir)
    return Services(
        settings=settings, clock=clock or SystemClock(), db=db, box=box, keys=KeyCache(db, box)
    )

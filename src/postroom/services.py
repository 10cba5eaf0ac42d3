"""Composition root: builds everything from the settings and hands it to the interfaces."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from postroom.clock import Clock, SystemClock
from postroom.config import Settings
from postroom.delivery.dns import make_resolver, mx_hosts, txt_records
from postroom.secrets import SecretBox, open_secret_box
from postroom.store import accounts as account_store
from postroom.store import files
from postroom.store.database import Database

KEY_CACHE_SECONDS = 1.0
log = logging.getLogger(__name__)


@dataclass
class KeyCache:
    """access key -> (account id, secret), cached briefly so a revoked key stops within 1 s."""

    db: Database
    box: SecretBox
    _entries: dict[str, tuple[float, tuple[str, str] | None]] = field(default_factory=dict)
    _undecryptable: set[str] = field(default_factory=set)

    async def lookup(self, access_key_id: str) -> tuple[str, str] | None:
        hit = self._entries.get(access_key_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
            return hit[1]
        found = await self.db.read(lambda conn: account_store.lookup_key(conn, access_key_id))
        secret = self._open(access_key_id, found[1]) if found else None
        value = (found[0], secret) if found and secret is not None else None
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[access_key_id] = (now, value)
        return value

    def _open(self, access_key_id: str, sealed: str) -> str | None:
        """The secret; None (an invalid key, not a 500) when it was sealed with another
        secret key, logged once per access key."""
        try:
            return self.box.open(sealed)
        except ValueError:
            if access_key_id not in self._undecryptable:
                self._undecryptable.add(access_key_id)
                log.error(
                    "the secret of access key %s cannot be decrypted with this secret key "
                    "(sealed with another); requests signed with it are refused",
                    access_key_id,
                )
            return None


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
    files.tighten(settings.data_dir)  # created 0700 / 0600; older ones tightened here
    db = Database(settings.effective_database_url, sync_commits="api" in settings.roles)
    db.create_schema()
    return db


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Raises SecretKeyError when this process has not the installation's secret key."""
    db = open_database(settings)
    try:
        box = open_secret_box(settings.secret_key, settings.data_dir, db)
    except Exception:
        db.close()
        raise
    return Services(
        settings=settings, clock=clock or SystemClock(), db=db, box=box, keys=KeyCache(db, box)
    )

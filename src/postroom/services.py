"""Composition root: the only place that builds adapters and hands them to the core.

`build_services` makes the database, the secret box, the access-key cache, the store
modules as the core's repositories (each module satisfies its `domain.ports` Protocol;
mypy checks it here), DNS, the `Core`, and on demand the delivery side: transport, DKIM
signer, worker and the wake-up that tells it mail is queued. The CLI and `serve` ask it;
nothing else constructs these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from postroom.clock import Clock, SystemClock
from postroom.config import Settings
from postroom.delivery import outcomes as reply_rules
from postroom.delivery.direct import direct_transport
from postroom.delivery.dns import Resolver
from postroom.delivery.worker import DeliveryWorker, Transport, relay_transport
from postroom.domain.admission import Admission
from postroom.domain.core import Core, Repositories
from postroom.domain.dkim_signing import DkimSigner
from postroom.domain.ports import Sealer
from postroom.notify.webhooks import WebhookPublisher
from postroom.secrets import SecretBox, open_secret_box
from postroom.store import (
    access_requests,
    accounts,
    configuration_sets,
    dkim,
    files,
    identities,
    mail_from,
    messages,
    rate_limits,
    reputation,
    suppression,
    tags,
    templates,
    usage,
    webhooks,
)
from postroom.store.attempts import AttemptWrites
from postroom.store.database import Database

KEY_CACHE_SECONDS = 1.0
log = logging.getLogger(__name__)

STORE = Repositories(
    accounts=accounts,
    identities=identities,
    mail_from=mail_from,
    dkim=dkim,
    usage=usage,
    messages=messages,
    templates=templates,
    configuration_sets=configuration_sets,
    suppression=suppression,
    reputation=reputation,
    rate_limits=rate_limits,
    tags=tags,
    access_requests=access_requests,
    webhooks=webhooks,
)
"""The store modules as the core's repositories."""

STORE_ADMISSION = Admission(
    accounts, identities, mail_from, usage, messages, configuration_sets, webhooks
)
"""Admission over the store (tests and tools that queue mail in their own transaction)."""


@dataclass
class KeyCache:
    """access key -> (account id, secret), cached briefly so a revoked key stops within 1 s."""

    db: Database
    box: Sealer
    _entries: dict[str, tuple[float, tuple[str, str] | None]] = field(default_factory=dict)
    _undecryptable: set[str] = field(default_factory=set)

    async def lookup(self, access_key_id: str) -> tuple[str, str] | None:
        hit = self._entries.get(access_key_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
            return hit[1]
        found = await self.db.read(lambda conn: accounts.lookup_key(conn, access_key_id))
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


class LazyBox:
    """The installation's secret box, opened on first use: operator commands that never
    touch a secret work without the secret key (SecretKeyError when one is needed)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings, self._db = settings, db
        self._box: SecretBox | None = None

    def opened(self) -> SecretBox:
        if self._box is None:
            self._box = open_secret_box(
                self._settings.secret_key, self._settings.data_dir, self._db
            )
        return self._box

    def seal(self, secret: str) -> str:
        return self.opened().seal(secret)

    def open(self, sealed: str) -> str:
        return self.opened().open(sealed)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    box: Sealer
    keys: KeyCache
    core: Core
    _worker: DeliveryWorker | None = None

    def set_public_url(self, url: str) -> None:
        """Links must name the port really bound (`--http HOST:0`)."""
        self.settings = replace(self.settings, public_url=url)
        self.core.settings = self.settings

    def connect_wake(self, wake: Callable[[], None]) -> None:
        """Who is told that mail was queued: this node's worker, its worker processes, or
        the workers of the node that spawned this one."""
        self.core.wake = wake

    @property
    def worker(self) -> DeliveryWorker:
        """This node's delivery worker (transport and DKIM signer from the settings)."""
        if self._worker is None:
            self._worker = build_worker(
                self.db, self.settings, self.clock, choose_transport(self.settings), self.box,
                self.core,
            )  # fmt: skip
        return self._worker

    def publisher(self) -> WebhookPublisher:
        """A webhook publisher over the core (the worker role runs one per process)."""
        return WebhookPublisher(self.core)

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


def build_core(settings: Settings, db: Database, clock: Clock, box: Sealer) -> Core:
    return Core(
        uow=db,
        repos=STORE,
        clock=clock,
        dns=Resolver(settings.dns),
        box=box,
        settings=settings,
        reply_rules=reply_rules,
        new_attempt_log=AttemptWrites,
    )


def build_services(
    settings: Settings, clock: Clock | None = None, *, secret_key_now: bool = True
) -> Services:
    """Raises SecretKeyError when this process has not the installation's secret key
    (at once, or with `secret_key_now=False` only when a secret is first needed)."""
    db = open_database(settings)
    box: Sealer
    try:
        lazy = LazyBox(settings, db)
        box = lazy.opened() if secret_key_now else lazy
    except Exception:
        db.close()
        raise
    clock = clock or SystemClock()
    core = build_core(settings, db, clock, box)
    return Services(settings, clock, db, box, KeyCache(db, box), core)


def choose_transport(settings: Settings) -> Transport | None:
    """capture keeps mail (no transport); relay hands it to a smarthost; direct to MX hosts."""
    if settings.delivery == "relay":
        return relay_transport(settings)
    if settings.delivery == "direct":
        return direct_transport(settings)
    return None


def build_worker(
    db: Database, settings: Settings, clock: Clock, transport: Transport | None = None,
    box: Sealer | None = None, core: Core | None = None,
) -> DeliveryWorker:  # fmt: skip
    """A delivery worker recording outcomes through the core (`record_outcomes`); it signs
    with DKIM when given the secret box."""
    core = core or build_core(settings, db, clock, box or LazyBox(settings, db))
    signer = DkimSigner(dkim, box) if box is not None else None
    return DeliveryWorker(db, settings, clock, core.record_outcomes, transport, signer)

"""The ports: the small Protocols through which the core reaches storage, the clock, DNS,
secrets and the outbound transport. `store/` and `delivery/` implement them; the fakes in
`postroom.testing.fakes` implement them in memory for the core's unit tests.

The repositories are collections of functions whose first parameter is an opaque
transaction handle (`Tx`): each `store/` module is such a collection, so the module object
itself satisfies its Protocol (PEP 544 modules as implementations; mypy checks it in
`services.py`, which hands the modules to the core). A use case runs them inside a
`UnitOfWork`: `read(fn)`, `write(fn)` (one group commit, durable when it returns) and
`write_batched(batch, item)` (the group commit's batch shape: every item submitted with
the same `batch` in one group is handed to one call, which writes one statement per table).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from postroom.clock import Clock as Clock  # the clock port
from postroom.domain.accounts import Account
from postroom.domain.dkim import DkimKey
from postroom.domain.events import Event, MailRecord
from postroom.domain.identities import DkimDomain, Identity, MailFrom
from postroom.domain.messages import HistoryFilter, Job, NewMessage
from postroom.domain.outcomes import Outcome
from postroom.domain.production_access import AccessRequest
from postroom.domain.rate_limits import Limit
from postroom.domain.reputation import Counts
from postroom.domain.requests import SendDataPoint
from postroom.domain.templates import EmailTemplate

Tx = Any  # a transaction handle: opaque to the core (SQLAlchemy's Connection in store/)
T = TypeVar("T")
I = TypeVar("I")  # noqa: E741


class DnsLookupError(Exception):
    """The lookup itself failed (timeout, SERVFAIL): not the same as 'no such record'."""


# -- the unit of work (the group commit) -----------------------------------------------------
class UnitOfWork(Protocol):
    async def read(self, job: Callable[[Tx], T]) -> T: ...

    async def write(self, job: Callable[[Tx], T]) -> T: ...

    async def write_batched(
        self, batch: Callable[[Tx, list[I]], Sequence[T | BaseException]], item: I
    ) -> T: ...


# -- repositories ------------------------------------------------------------------------------
class AccountRepository(Protocol):
    def insert_account(self, conn: Tx, name: str, now: float) -> Account: ...
    def insert_key(self, conn: Tx, account_id: str, sealed_secret: str, now: float) -> str: ...
    def get_account(
        self, conn: Tx, account_id: str, region: str, *, for_update: bool = False
    ) -> Account: ...
    def ensure_region(self, conn: Tx, account_id: str, region: str) -> None: ...
    def regions_of(self, conn: Tx, account_id: str) -> list[Account]: ...
    def load_account(self, conn: Tx, account_id: str) -> Account: ...
    def find_account(self, conn: Tx, name: str) -> Account: ...
    def list_accounts(self, conn: Tx) -> list[Account]: ...
    def lookup_key(self, conn: Tx, access_key_id: str) -> tuple[str, str] | None: ...
    def set_production(
        self, conn: Tx, account_id: str, region: str | None, max_24h: float | None,
        max_rate: float | None,
    ) -> None: ...  # fmt: skip
    def set_paused(
        self, conn: Tx, account_id: str, region: str | None, owner: str, paused: bool
    ) -> None: ...
    def save_rate_state(
        self, conn: Tx, account_id: str, region: str, tokens: float, now: float
    ) -> None: ...
    def put_details(self, conn: Tx, account_id: str, region: str, details: str) -> None: ...
    def details_of(self, conn: Tx, account_id: str, region: str) -> str | None: ...


class IdentityRepository(Protocol):
    def get(self, conn: Tx, account_id: str, region: str, identity: str) -> Identity | None: ...
    def upsert_pending(
        self, conn: Tx, account_id: str, region: str, identity: str, kind: str, token: str,
        now: float,
    ) -> Identity: ...  # fmt: skip
    def list_for(
        self, conn: Tx, account_id: str, region: str, kind: str | None = None
    ) -> list[Identity]: ...
    def get_many(
        self, conn: Tx, account_id: str, region: str, names: Iterable[str]
    ) -> list[Identity]: ...
    def verified_among(
        self, conn: Tx, account_id: str, region: str, names: Iterable[str]
    ) -> set[str]: ...
    def remove(self, conn: Tx, account_id: str, region: str, identity: str) -> None: ...
    def by_token(self, conn: Tx, token: str) -> Identity | None: ...
    def set_status(
        self, conn: Tx, identity: Identity, status: str, now: float, *, verified: bool = False
    ) -> None: ...
    def pending_domains(self, conn: Tx) -> list[Identity]: ...
    def set_feedback_forwarding(
        self, conn: Tx, account_id: str, region: str, identity: str, on: bool
    ) -> None: ...


class MailFromRepository(Protocol):
    def put(
        self, conn: Tx, account_id: str, region: str, identity: str, domain: str, behavior: str,
        now: float,
    ) -> None: ...  # fmt: skip
    def clear(self, conn: Tx, account_id: str, region: str, identity: str) -> None: ...
    def set_status(self, conn: Tx, found: MailFrom, status: str, now: float) -> None: ...
    def for_identities(
        self, conn: Tx, account_id: str, region: str, identities: Iterable[str]
    ) -> dict[str, MailFrom]: ...
    def pending(self, conn: Tx) -> list[MailFrom]: ...


class Sealer(Protocol):
    """Seals secrets (access-key secrets, DKIM private keys) at rest."""

    def seal(self, secret: str) -> str: ...
    def open(self, sealed: str) -> str: ...


class DkimRepository(Protocol):
    def get_domain(
        self, conn: Tx, account_id: str, region: str, domain: str
    ) -> DkimDomain | None: ...
    def add_domain(
        self, conn: Tx, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
        box: Sealer, now: float,
    ) -> None: ...  # fmt: skip
    def add_keys(
        self, conn: Tx, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
        box: Sealer,
    ) -> None: ...  # fmt: skip
    def keys_of(
        self, conn: Tx, account_id: str, region: str, domain: str, box: Sealer | None = None
    ) -> list[tuple[DkimKey, float | None]]: ...
    def set_enabled(
        self, conn: Tx, account_id: str, region: str, domain: str, on: bool
    ) -> None: ...
    def record_check(
        self, conn: Tx, found: DkimDomain, status: str, seen: set[str], now: float
    ) -> None: ...
    def pending_domains(self, conn: Tx) -> list[DkimDomain]: ...
    def replace_keys(
        self, conn: Tx, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
        box: Sealer, origin: str, now: float,
    ) -> None: ...  # fmt: skip


class TagRepository(Protocol):
    """Tags of resources (SES v2 TagResource), per account, by the resource's ARN."""

    def tags_of(self, conn: Tx, account_id: str, arn: str) -> dict[str, str]: ...
    def put_tags(self, conn: Tx, account_id: str, arn: str, tags: Mapping[str, str]) -> None: ...
    def remove_tags(self, conn: Tx, account_id: str, arn: str, keys: Iterable[str]) -> None: ...
    def remove_all(self, conn: Tx, account_id: str, arn: str) -> None: ...


class UsageRepository(Protocol):
    def sent_last_24h(self, conn: Tx, account_id: str, region: str, now: float) -> int: ...
    def charge_minutes(
        self, conn: Tx, account_id: str, region: str, recipients: Mapping[int, int]
    ) -> None: ...
    def send_statistics(
        self, conn: Tx, account_id: str, region: str, now: float
    ) -> list[SendDataPoint]: ...


class MessageRepository(Protocol):
    def enqueue_all(self, conn: Tx, new: list[NewMessage]) -> None: ...
    def load_record(self, conn: Tx, message_id: str) -> tuple[MailRecord, str] | None: ...
    def events_of(self, conn: Tx, message_id: str) -> list[Event]: ...
    def mailbox_rows(
        self, conn: Tx, account_id: str | None, limit: int
    ) -> list[dict[str, Any]]: ...
    def history_rows(self, conn: Tx, wanted: HistoryFilter) -> list[dict[str, Any]]: ...


class TemplateRepository(Protocol):
    """Email templates (SES v1 and v2), per account and region, by name."""

    def get(
        self, conn: Tx, account_id: str, region: str, name: str
    ) -> tuple[EmailTemplate, float] | None: ...
    def insert(
        self, conn: Tx, account_id: str, region: str, template: EmailTemplate, now: float
    ) -> bool: ...
    def replace(
        self, conn: Tx, account_id: str, region: str, template: EmailTemplate, now: float
    ) -> bool: ...
    def remove(self, conn: Tx, account_id: str, region: str, name: str) -> bool: ...
    def count(self, conn: Tx, account_id: str, region: str) -> int: ...
    def list_after(
        self, conn: Tx, account_id: str, region: str, after: str | None, limit: int
    ) -> list[tuple[str, float]]: ...


class SuppressionRepository(Protocol):
    def add(
        self, conn: Tx, account_id: str, address: str, reason: str, now: float,
        message_id: str | None = None,
    ) -> None: ...  # fmt: skip
    def remove(self, conn: Tx, account_id: str, address: str) -> bool: ...
    def among(self, conn: Tx, account_id: str, addresses: Iterable[str]) -> set[str]: ...
    def entries(self, conn: Tx, account_id: str) -> list[dict[str, Any]]: ...
    def get(self, conn: Tx, account_id: str, address: str) -> dict[str, Any] | None: ...
    def page(
        self, conn: Tx, account_id: str, reasons: Iterable[str], start: float | None,
        end: float | None, offset: int, limit: int,
    ) -> list[dict[str, Any]]: ...  # fmt: skip
    def reasons_of(self, conn: Tx, account_id: str) -> frozenset[str]: ...
    def set_reasons(self, conn: Tx, account_id: str, reasons: Iterable[str]) -> None: ...


class ReputationRepository(Protocol):
    def counts(self, conn: Tx, account_id: str, since: float, now: float) -> Counts: ...
    def current_counts(self, conn: Tx, account_id: str, now: float) -> Counts: ...
    def accounts_to_assess(self, conn: Tx) -> list[tuple[str, str, str, float]]: ...
    def set_enforcement(self, conn: Tx, account_id: str, status: str) -> None: ...
    def resume(self, conn: Tx, account_id: str, now: float) -> None: ...


class AccessRequestRepository(Protocol):
    """Production-access requests (`domain/production_access.py`)."""

    def file(self, conn: Tx, request: AccessRequest) -> None: ...
    def latest(self, conn: Tx, account_id: str, region: str) -> AccessRequest | None: ...
    def pending(
        self, conn: Tx, account_id: str | None = None, region: str | None = None
    ) -> list[AccessRequest]: ...
    def decide(
        self, conn: Tx, case_ids: list[str], status: str, reason: str | None, now: float
    ) -> None: ...


class RateLimitRepository(Protocol):
    def take(self, conn: Tx, limit: Limit, subject: tuple[str, ...], now: float) -> bool: ...
    def prune(self, conn: Tx, now: float) -> int: ...


class AttemptLog(Protocol):
    """What a group of delivery attempts changes, collected, then written at once with one
    statement per table (`apply`, in the caller's transaction)."""

    def add_events(self, message_id: str, account_id: str, new: list[Event]) -> None: ...
    def finish(self, job: Job, reply: str) -> None: ...
    def reschedule(self, job: Job, when: float, reply: str, recipients: list[str]) -> None: ...
    def keep_in_mailbox(
        self, job: Job, recipients: list[str], when: float, dkim_signature: bytes | None
    ) -> None: ...
    def count(self, account_id: str, region: str, when: float, counts: dict[str, int]) -> None: ...
    def apply(self, conn: Tx) -> None: ...


# -- the outside world ------------------------------------------------------------------------
class Dns(Protocol):
    """TXT and MX lookups ([] when there is no record; DnsLookupError when the lookup fails)."""

    async def lookup_txt(self, name: str) -> list[str]: ...
    async def lookup_mx(self, name: str) -> list[str]: ...


class ReplyRules(Protocol):
    """Delivery's reading of SMTP replies that outcome rules need (`delivery/outcomes.py`)."""

    def expired(self, outcome: Outcome) -> Outcome: ...
    def delay_type(self, outcome: Outcome) -> str: ...


OutboundTransport = Callable[[str, Sequence[str], bytes], Awaitable[Any]]
"""The outbound SMTP transport (relay or direct): (MAIL FROM, RCPTs, bytes) -> result."""

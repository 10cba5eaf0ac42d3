"""In-memory repositories: the store's semantics over a `Memory` (see `postroom.testing.fakes`)."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from postroom.domain.dkim import DkimKey
from postroom.domain.events import SEND, Event, MailRecord
from postroom.domain.identities import PENDING, SUCCESS, DkimDomain, Identity, MailFrom
from postroom.domain.messages import HistoryFilter, Job, NewMessage
from postroom.domain.ports import Sealer
from postroom.domain.quotas import DAY_SECONDS, minute_of
from postroom.domain.rate_limits import Limit, refill
from postroom.domain.reputation import HEALTHY, WINDOW_SECONDS, Counts
from postroom.domain.requests import SendDataPoint
from postroom.errors import NotFound
from postroom.testing.fake_accounts import FakeAccounts
from postroom.testing.fake_state import Memory


class FakeIdentities:
    def get(self, conn: Memory, account_id: str, region: str, identity: str) -> Identity | None:
        return conn.identities.get((account_id, region, identity))

    def upsert_pending(
        self, conn: Memory, account_id: str, region: str, identity: str, kind: str, token: str,
        now: float,
    ) -> Identity:  # fmt: skip
        where = (account_id, region, identity)
        existing = conn.identities.get(where)
        if existing is None:
            conn.identities[where] = Identity(*where, kind, PENDING, token, now, None, None)
        elif existing.status != SUCCESS:
            kept = existing.token if existing.status == PENDING else token
            conn.identities[where] = dataclasses.replace(
                existing, status=PENDING, token=kept, created_at=now, last_checked_at=None
            )
        return conn.identities[where]

    def list_for(
        self, conn: Memory, account_id: str, region: str, kind: str | None = None
    ) -> list[Identity]:
        return [
            i for (a, r, _), i in conn.identities.items()
            if a == account_id and r == region and (not kind or i.kind == kind)
        ]  # fmt: skip

    def get_many(
        self, conn: Memory, account_id: str, region: str, names: Iterable[str]
    ) -> list[Identity]:
        found = (conn.identities.get((account_id, region, n)) for n in names)
        return [i for i in found if i is not None]

    def verified_among(
        self, conn: Memory, account_id: str, region: str, names: Iterable[str]
    ) -> set[str]:
        return {i.identity for i in self.get_many(conn, account_id, region, set(names))
                if i.status == SUCCESS}  # fmt: skip

    def verified_with_sets(
        self, conn: Memory, account_id: str, region: str, names: Iterable[str]
    ) -> dict[str, str | None]:
        return {i.identity: i.configuration_set
                for i in self.get_many(conn, account_id, region, set(names))
                if i.status == SUCCESS}  # fmt: skip

    def set_configuration_set(
        self, conn: Memory, account_id: str, region: str, identity: str, name: str | None
    ) -> None:
        where = (account_id, region, identity)
        if where in conn.identities:
            conn.identities[where] = dataclasses.replace(
                conn.identities[where], configuration_set=name
            )

    def remove(self, conn: Memory, account_id: str, region: str, identity: str) -> None:
        conn.identities.pop((account_id, region, identity), None)

    def by_token(self, conn: Memory, token: str) -> Identity | None:
        return next((i for i in conn.identities.values() if i.token == token), None)

    def set_status(
        self, conn: Memory, identity: Identity, status: str, now: float, *,
        verified: bool = False,
    ) -> None:  # fmt: skip
        where = (identity.account_id, identity.region, identity.identity)
        changes: dict[str, Any] = {"status": status, "last_checked_at": now}
        if verified:
            changes["verified_at"] = now
        conn.identities[where] = dataclasses.replace(conn.identities[where], **changes)

    def pending_domains(self, conn: Memory) -> list[Identity]:
        return [i for i in conn.identities.values() if i.kind == "Domain" and i.status == PENDING]

    def set_feedback_forwarding(
        self, conn: Memory, account_id: str, region: str, identity: str, on: bool
    ) -> None:
        where = (account_id, region, identity)
        if where in conn.identities:
            conn.identities[where] = dataclasses.replace(
                conn.identities[where], feedback_forwarding=on
            )


class FakeMailFrom:
    def put(
        self, conn: Memory, account_id: str, region: str, identity: str, domain: str,
        behavior: str, now: float,
    ) -> None:  # fmt: skip
        where = (account_id, region, identity)
        conn.mail_from[where] = MailFrom(*where, domain, behavior, "Pending", now, None)

    def clear(self, conn: Memory, account_id: str, region: str, identity: str) -> None:
        conn.mail_from.pop((account_id, region, identity), None)

    def set_status(self, conn: Memory, found: MailFrom, status: str, now: float) -> None:
        where = (found.account_id, found.region, found.identity)
        conn.mail_from[where] = dataclasses.replace(found, status=status, last_checked_at=now)

    def for_identities(
        self, conn: Memory, account_id: str, region: str, identities: Iterable[str]
    ) -> dict[str, MailFrom]:
        found = {i: conn.mail_from.get((account_id, region, i)) for i in identities}
        return {i: setting for i, setting in found.items() if setting is not None}

    def pending(self, conn: Memory) -> list[MailFrom]:
        return [m for m in conn.mail_from.values() if m.status != "Success"]


class FakeDkim:
    def get_domain(
        self, conn: Memory, account_id: str, region: str, domain: str
    ) -> DkimDomain | None:
        return conn.dkim_domains.get((account_id, region, domain))

    def add_domain(
        self, conn: Memory, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
        box: Sealer, now: float,
    ) -> None:  # fmt: skip
        where = (account_id, region, domain)
        conn.dkim_domains[where] = DkimDomain(*where, True, "Pending", None)
        self.add_keys(conn, account_id, region, domain, keys, box)

    def add_keys(
        self, conn: Memory, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
        box: Sealer,
    ) -> None:  # fmt: skip
        sealed = [
            (dataclasses.replace(k, private_key_pem=box.seal(k.private_key_pem.decode()).encode()),
             None)
            for k in keys
        ]  # fmt: skip
        conn.dkim_keys.setdefault((account_id, region, domain), []).extend(sealed)

    def keys_of(
        self, conn: Memory, account_id: str, region: str, domain: str, box: Sealer | None = None
    ) -> list[tuple[DkimKey, float | None]]:
        found = conn.dkim_keys.get((account_id, region, domain), [])
        return [
            (dataclasses.replace(
                key, private_key_pem=box.open(key.private_key_pem.decode()).encode() if box else b""
            ), seen_at)
            for key, seen_at in sorted(found, key=lambda k: (k[0].created_at, k[0].selector))
        ]  # fmt: skip

    def set_enabled(
        self, conn: Memory, account_id: str, region: str, domain: str, on: bool
    ) -> None:
        where = (account_id, region, domain)
        conn.dkim_domains[where] = dataclasses.replace(conn.dkim_domains[where], enabled=on)

    def record_check(
        self, conn: Memory, found: DkimDomain, status: str, seen: set[str], now: float
    ) -> None:
        where = (found.account_id, found.region, found.domain)
        conn.dkim_domains[where] = dataclasses.replace(
            conn.dkim_domains[where], status=status, last_checked_at=now
        )
        conn.dkim_keys[where] = [
            (key, now if seen_at is None and key.selector in seen else seen_at)
            for key, seen_at in conn.dkim_keys.get(where, [])
        ]

    def pending_domains(self, conn: Memory) -> list[DkimDomain]:
        return [d for d in conn.dkim_domains.values() if d.status != "Success"]

    def replace_keys(
        self, conn: Memory, account_id: str, region: str, domain: str, keys: Iterable[DkimKey],
        box: Sealer, origin: str, now: float,
    ) -> None:  # fmt: skip
        where = (account_id, region, domain)
        found = conn.dkim_domains.get(where)
        enabled = found.enabled if found is not None else True
        conn.dkim_domains[where] = DkimDomain(*where, enabled, "Pending", None, origin)
        conn.dkim_keys[where] = []
        self.add_keys(conn, account_id, region, domain, keys, box)


class FakeUsage:
    def sent_last_24h(self, conn: Memory, account_id: str, region: str, now: float) -> int:
        since, where = minute_of(now - DAY_SECONDS), (account_id, region)
        return sum(n for (*w, minute), n in conn.usage.items() if tuple(w) == where
                   and minute > since)  # fmt: skip

    def charge_minutes(
        self, conn: Memory, account_id: str, region: str, recipients: Mapping[int, int]
    ) -> None:
        for minute, n in recipients.items():
            conn.usage[(account_id, region, minute)] += n

    def send_statistics(
        self, conn: Memory, account_id: str, region: str, now: float
    ) -> list[SendDataPoint]:
        return [
            SendDataPoint(float(bucket), c["delivery_attempts"], c["bounces"], c["complaints"],
                          c["rejects"])
            for (a, r, bucket), c in sorted(conn.stats.items())
            if (a, r) == (account_id, region) and bucket >= now - 14 * DAY_SECONDS
        ]  # fmt: skip


class FakeMessages:
    def enqueue_all(self, conn: Memory, new: list[NewMessage]) -> None:
        for message in new:
            conn.messages[message.message_id] = message
            conn.statuses[message.message_id] = SEND
            if message.failure is not None:  # never delivered
                conn.statuses[message.message_id] = message.failure.event_type
                conn.events.append((message.message_id, message.account_id, message.failure))
                continue
            by_domain: dict[str, list[str]] = defaultdict(list)
            for recipient in message.recipients:
                by_domain[recipient.rpartition("@")[2].lower()].append(recipient)
            for domain, rcpts in by_domain.items():
                job_id = len(conn.jobs) + len(conn.done) + 1
                conn.jobs[job_id] = Job(job_id, message.message_id, message.account_id, domain,
                                        rcpts, 0, message.created_at)  # fmt: skip
            event = Event(SEND, message.recipients, message.created_at, {})
            conn.events.append((message.message_id, message.account_id, event))

    def load_record(self, conn: Memory, message_id: str) -> tuple[MailRecord, str] | None:
        m = conn.messages.get(message_id)
        if m is None:
            return None
        record = MailRecord(m.message_id, m.account_id, m.region, m.source, m.recipients, m.raw,
                            m.created_at, m.tags, m.internal, m.configuration_set,
                            m.require_tls, m.suppressed_reasons)  # fmt: skip
        return record, m.envelope_from

    def events_of(self, conn: Memory, message_id: str) -> list[Event]:
        return conn.events_of(message_id)

    def mailbox_rows(
        self, conn: Memory, account_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = [r for r in conn.mailbox if account_id is None or r["account_id"] == account_id]
        return list(reversed(rows))[:limit]

    def history_rows(self, conn: Memory, wanted: HistoryFilter) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = [
            {"id": m.message_id, "account_id": m.account_id, "source": m.source,
             "subject": m.subject, "created_at": m.created_at,
             "status": conn.statuses[m.message_id], "operation": m.operation}
            for m in conn.messages.values()
            if (wanted.include_internal or not m.internal)
            and wanted.account_id in (None, m.account_id)
        ]  # fmt: skip
        return sorted(found, key=lambda r: -r["created_at"])[: wanted.limit]


class FakeSuppression:
    def add(
        self, conn: Memory, account_id: str, address: str, reason: str, now: float,
        message_id: str | None = None,
    ) -> None:  # fmt: skip
        if reason not in ("BOUNCE", "COMPLAINT"):
            raise ValueError(reason)
        conn.suppressed[(account_id, address.lower())] = {
            "address": address.lower(), "reason": reason, "created_at": now,
            "message_id": message_id,
        }  # fmt: skip

    def remove(self, conn: Memory, account_id: str, address: str) -> bool:
        return conn.suppressed.pop((account_id, address.lower()), None) is not None

    def among(self, conn: Memory, account_id: str, addresses: Iterable[str]) -> set[str]:
        return {a.lower() for a in addresses if (account_id, a.lower()) in conn.suppressed}

    def entries(self, conn: Memory, account_id: str) -> list[dict[str, Any]]:
        found = [e for (a, _), e in conn.suppressed.items() if a == account_id]
        return sorted(found, key=lambda e: (-e["created_at"], e["address"]))

    def get(self, conn: Memory, account_id: str, address: str) -> dict[str, Any] | None:
        return conn.suppressed.get((account_id, address.lower()))

    def page(
        self, conn: Memory, account_id: str, reasons: Iterable[str], start: float | None,
        end: float | None, offset: int, limit: int,
    ) -> list[dict[str, Any]]:  # fmt: skip
        wanted = set(reasons)
        found = [
            e for e in self.entries(conn, account_id) if e["reason"] in wanted
            and (start is None or e["created_at"] >= start)
            and (end is None or e["created_at"] <= end)
        ]  # fmt: skip
        return found[offset : offset + limit]

    def reasons_of(self, conn: Memory, account_id: str) -> frozenset[str]:
        if account_id not in conn.accounts:
            raise NotFound(f"Account {account_id} does not exist.")
        return conn.suppressed_reasons.get(account_id, frozenset(("BOUNCE", "COMPLAINT")))

    def set_reasons(self, conn: Memory, account_id: str, reasons: Iterable[str]) -> None:
        wanted = frozenset(reasons)
        if not wanted <= {"BOUNCE", "COMPLAINT"}:
            raise ValueError(sorted(wanted))
        conn.suppressed_reasons[account_id] = wanted


class FakeReputation:
    def counts(self, conn: Memory, account_id: str, since: float, now: float) -> Counts:
        total: Counter[str] = Counter()
        for (a, _region, bucket), counts in conn.stats.items():
            if a == account_id and bucket >= now - WINDOW_SECONDS - 900 and bucket >= since:
                total.update(counts)
        return Counts(total["rep_sends"], total["rep_hard_bounces"], total["rep_complaints"])

    def current_counts(self, conn: Memory, account_id: str, now: float) -> Counts:
        return self.counts(conn, account_id, conn.reputation_since[account_id], now)

    def accounts_to_assess(self, conn: Memory) -> list[tuple[str, str, str, float]]:
        return [(a.id, a.name, a.enforcement, conn.reputation_since[a.id])
                for a in conn.accounts.values()]  # fmt: skip

    def set_enforcement(self, conn: Memory, account_id: str, status: str) -> None:
        FakeAccounts.change(conn, account_id, None, enforcement=status)

    def resume(self, conn: Memory, account_id: str, now: float) -> None:
        FakeAccounts.change(conn, account_id, None, enforcement=HEALTHY)
        conn.reputation_since[account_id] = now


class FakeRateLimits:
    def take(self, conn: Memory, limit: Limit, subject: tuple[str, ...], now: float) -> bool:
        key = limit.key(*subject)
        stored, updated_at = conn.buckets.get(key, (limit.burst, now))
        tokens = refill(stored, updated_at, now, limit.per_second, limit.burst)
        if tokens < 1.0:
            return False
        conn.buckets[key] = (tokens - 1.0, now)
        return True

    def prune(self, conn: Memory, now: float) -> int:
        return 0

"""In-memory webhooks and their outbox: the store's semantics (`store/webhooks.py`) over a
`Memory`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from postroom.domain.webhooks import PENDING, Due, Notification, Settled, Webhook
from postroom.testing.fake_state import Memory


def _flag(conn: Memory, account_id: str) -> None:
    """The account's `has_webhooks`, on its defaults and every region's row."""
    on = any(h.account_id == account_id for h in conn.webhooks.values())
    if account_id in conn.accounts:
        conn.accounts[account_id] = dataclasses.replace(
            conn.accounts[account_id], has_webhooks=on
        )
    for key, account in list(conn.regions.items()):
        if key[0] == account_id:
            conn.regions[key] = dataclasses.replace(account, has_webhooks=on)


class FakeWebhooks:
    def add(self, conn: Memory, hook: Webhook) -> None:
        conn.webhooks[hook.id] = hook
        _flag(conn, hook.account_id)

    def remove(self, conn: Memory, webhook_id: str) -> Webhook | None:
        found = conn.webhooks.pop(webhook_id, None)
        if found is not None:
            conn.outbox = {k: v for k, v in conn.outbox.items() if v["webhook_id"] != webhook_id}
            conn.webhook_attempts = [
                a for a in conn.webhook_attempts if a["webhook_id"] != webhook_id
            ]
            _flag(conn, found.account_id)
        return found

    def get(self, conn: Memory, webhook_id: str) -> Webhook | None:
        return conn.webhooks.get(webhook_id)

    def list_for(self, conn: Memory, account_id: str | None) -> list[Webhook]:
        found = [h for h in conn.webhooks.values() if account_id in (None, h.account_id)]
        return sorted(found, key=lambda h: (h.created_at, h.id))

    def for_accounts(self, conn: Memory, account_ids: Iterable[str]) -> list[Webhook]:
        wanted = set(account_ids)
        return sorted((h for h in conn.webhooks.values() if h.account_id in wanted),
                      key=lambda h: h.id)  # fmt: skip

    def add_notifications(self, conn: Memory, notes: Sequence[Notification]) -> None:
        for note in notes:
            row_id = len(conn.outbox) + len(conn.webhook_attempts) + 1
            while row_id in conn.outbox:
                row_id += 1
            conn.outbox[row_id] = {
                "id": row_id, "note": note, "webhook_id": note.webhook_id, "state": PENDING,
                "attempts": 0, "next_attempt_at": note.created_at, "lease_until": None,
            }  # fmt: skip

    def _due(self, conn: Memory, now: float) -> list[dict[str, Any]]:
        return sorted(
            (r for r in conn.outbox.values() if r["state"] == PENDING
             and r["next_attempt_at"] <= now
             and (r["lease_until"] is None or r["lease_until"] < now)),
            key=lambda r: (r["next_attempt_at"], r["id"]),
        )  # fmt: skip

    def any_due(self, conn: Memory, now: float) -> bool:
        return bool(self._due(conn, now))

    def claim(self, conn: Memory, owner: str, now: float, lease: float, limit: int) -> list[Due]:
        found = []
        for row in self._due(conn, now)[:limit]:
            row["lease_until"] = now + lease
            note: Notification = row["note"]
            hook = conn.webhooks[note.webhook_id]
            found.append(
                Due(row["id"], note.event_id, hook.id, hook.url, hook.secret_sealed,
                    note.message_id, note.event, row["attempts"], note.created_at)
            )  # fmt: skip
        return found

    def record_attempts(self, conn: Memory, settled: Sequence[Settled]) -> None:
        for s in settled:
            conn.webhook_attempts.append(
                {"outbox_id": s.due.id, "webhook_id": s.due.webhook_id,
                 "attempted_at": s.attempted_at, "status_code": s.result.status,
                 "error": s.result.error, "duration_ms": int(round(s.result.duration * 1000))}
            )  # fmt: skip
            row = conn.outbox.get(s.due.id)
            if row is not None:
                row.update(state=s.state, attempts=s.due.attempts + 1,
                           next_attempt_at=s.next_attempt_at, lease_until=None)  # fmt: skip

    def deliveries_of(self, conn: Memory, webhook_id: str, limit: int) -> list[dict[str, Any]]:
        rows = sorted((r for r in conn.outbox.values() if r["webhook_id"] == webhook_id),
                      key=lambda r: -r["id"])[:limit]  # fmt: skip
        return [
            {
                "id": r["id"], "event_id": r["note"].event_id, "webhook_id": webhook_id,
                "message_id": r["note"].message_id, "event_type": r["note"].event.event_type,
                "state": r["state"], "attempts": r["attempts"],
                "next_attempt_at": r["next_attempt_at"], "created_at": r["note"].created_at,
                "attempts_made": [a for a in conn.webhook_attempts if a["outbox_id"] == r["id"]],
            }
            for r in rows
        ]  # fmt: skip

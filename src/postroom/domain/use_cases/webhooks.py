"""Webhooks: the operator's use cases (add, list, remove, the deliveries of one) and
`publish_due`, the publisher's: post the due notifications of the outbox and record
every attempt (`domain/webhooks.py` has the rules)."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from typing import Any

from postroom.domain import events as ev
from postroom.domain import webhooks as rules
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.ports import Tx, WebhookPoster
from postroom.domain.webhooks import Due, PostResult, Settled, Webhook
from postroom.errors import NotFound

PUBLISH_BATCH = 64  # notifications claimed and posted at once by one publisher
MAX_LISTED_DELIVERIES = 1000


@dataclass(frozen=True)
class AddWebhook:
    account: str  # the account's name
    url: str
    event_types: str | None = None  # "send,delivery,..." (None: every type)
    secret: str | None = None  # None: one is made (and shown once)


@dataclass(frozen=True)
class AddedWebhook:
    webhook: Webhook
    account: str
    secret: str  # shown once; stored sealed


@dataclass(frozen=True)
class ListedWebhook:
    webhook: Webhook
    account: str


def _operator(caller: Caller, action: str) -> None:
    authorize(caller, action, operator_only=True)


async def add_webhook(core: Core, caller: Caller, request: AddWebhook) -> AddedWebhook:
    """A webhook for the account's events; its secret is sealed like access-key secrets."""
    _operator(caller, "add_webhook")
    url = rules.check_url(request.url)
    types = rules.parse_event_types(request.event_types)
    secret = request.secret if request.secret else rules.new_secret()
    sealed, now, repos = core.box.seal(secret), core.now(), core.repos

    def job(conn: Tx) -> Webhook:
        account = repos.accounts.find_account(conn, request.account)
        hook = Webhook(rules.new_webhook_id(), account.id, url, types, sealed, now)
        repos.webhooks.add(conn, hook)
        return hook

    hook = await core.uow.write(job)
    return AddedWebhook(hook, request.account, secret)


async def list_webhooks(core: Core, caller: Caller, account: str | None) -> list[ListedWebhook]:
    _operator(caller, "list_webhooks")
    repos = core.repos

    def read(conn: Tx) -> list[ListedWebhook]:
        names = {a.id: a.name for a in repos.accounts.list_accounts(conn)}
        account_id = repos.accounts.find_account(conn, account).id if account else None
        return [ListedWebhook(h, names.get(h.account_id, "")) for h in
                repos.webhooks.list_for(conn, account_id)]  # fmt: skip

    return await core.uow.read(read)


async def remove_webhook(core: Core, caller: Caller, webhook_id: str) -> Webhook:
    """Remove the webhook; its notifications not yet delivered are dropped."""
    _operator(caller, "remove_webhook")
    repos = core.repos
    found = await core.uow.write(lambda conn: repos.webhooks.remove(conn, webhook_id))
    if found is None:
        raise NotFound(f"Webhook {webhook_id} does not exist.")
    return found


async def webhook_deliveries(
    core: Core, caller: Caller, webhook_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The webhook's notifications, newest first, each with every attempt made."""
    _operator(caller, "webhook_deliveries")
    repos, limit = core.repos, max(1, min(limit, MAX_LISTED_DELIVERIES))

    def read(conn: Tx) -> list[dict[str, Any]] | None:
        if repos.webhooks.get(conn, webhook_id) is None:
            return None
        return repos.webhooks.deliveries_of(conn, webhook_id, limit)

    found = await core.uow.read(read)
    if found is None:
        raise NotFound(f"Webhook {webhook_id} does not exist.")
    return found


def body_of(record: ev.MailRecord, event: ev.Event) -> bytes:
    """What is posted: the event as SES's event publishing shapes it (`event_json`)."""
    return json.dumps(ev.event_json(record, event), ensure_ascii=False,
                      separators=(",", ":")).encode()  # fmt: skip


def headers_of(due: Due, secret: str, body: bytes, now: float) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Postroom-Webhooks/1",
        rules.SIGNATURE_HEADER: rules.signature(secret, int(now), body),
        rules.EVENT_ID_HEADER: due.event_id,
        rules.EVENT_TYPE_HEADER: due.event.event_type,
    }


async def publish_due(
    core: Core, poster: WebhookPoster, owner: str, limit: int = PUBLISH_BATCH,
    rng: random.Random | None = None,
) -> int:  # fmt: skip
    """Claim up to `limit` due notifications (a lease: a publisher that dies leaves them
    to another after it), post them concurrently, record each attempt and the
    notification's new state. Returns how many were claimed."""
    repo, messages, settings = core.repos.webhooks, core.repos.messages, core.settings
    if not await core.uow.read(lambda conn: repo.any_due(conn, core.now())):
        return 0
    lease = 2 * settings.webhook_timeout + 30.0
    claimed = await core.uow.write(lambda conn: repo.claim(conn, owner, core.now(), lease, limit))
    if not claimed:
        return 0

    def load(conn: Tx) -> dict[str, ev.MailRecord]:
        found = {}
        for message_id in {d.message_id for d in claimed}:
            loaded = messages.load_record(conn, message_id)
            if loaded is not None:
                found[message_id] = loaded[0]
        return found

    records = await core.uow.read(load)

    async def post(due: Due) -> Settled:
        record = records.get(due.message_id)
        if record is None:  # cannot happen while messages are never deleted: give up
            gone = PostResult(None, "the message is no longer stored", 0.0)
            return Settled(due, core.now(), gone, rules.FAILED, core.now())
        try:
            body = body_of(record, due.event)
            headers = headers_of(due, core.box.open(due.secret_sealed), body, core.now())
            result = await poster(due.url, body, headers)
        except Exception as exc:  # e.g. a secret sealed with another key: retried, recorded
            result = PostResult(None, f"{type(exc).__name__}: {exc}", 0.0)
        initial, max_age = settings.webhook_retry_initial, settings.webhook_retry_max_age
        return rules.settle(due, result, core.now(), initial, max_age, rng)

    settled = await asyncio.gather(*(post(d) for d in claimed))
    await core.uow.write(lambda conn: repo.record_attempts(conn, settled))
    return len(claimed)

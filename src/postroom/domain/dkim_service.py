"""DKIM flows: tokens for a domain, status from DNS, and the key that signs its mail.

SES's Easy DKIM returns three tokens; the owner publishes one record per token. Postroom's
tokens are selectors of its own key pairs, published as `TXT <token>._domainkey.<domain>`
(the owner's DNS cannot CNAME to amazonses.com). Once all three are seen the DKIM status
is Success and, as on SES, the domain identity counts as verified too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from postroom.domain import dkim
from postroom.domain import identities as rules
from postroom.secrets import SecretBox
from postroom.store import dkim as store
from postroom.store import identities as identity_store
from postroom.store.database import Database
from postroom.wire import ids

log = logging.getLogger(__name__)
TxtLookup = Callable[[str], Awaitable[list[str]]]


async def enable(
    db: Database, box: SecretBox, account_id: str, region: str, domain: str, now: float
) -> list[str]:
    """VerifyDomainDkim: the domain's tokens, made (three 2048-bit keys) on first call; the
    domain identity is created too when it does not exist yet."""
    existing = await db.read(lambda conn: store.keys_of(conn, account_id, region, domain))
    if existing:
        return [key.selector for key, _seen in existing]
    keys = await asyncio.to_thread(dkim.new_tokens, now)  # RSA generation: off the loop

    def save(conn: Any) -> list[str]:
        if store.get_domain(conn, account_id, region, domain) is None:
            store.add_domain(conn, account_id, region, domain, keys, box, now)
        identity_store.upsert_pending(
            conn, account_id, region, domain, rules.DOMAIN, ids.verification_token(), now
        )
        return [key.selector for key, _seen in store.keys_of(conn, account_id, region, domain)]

    return await db.write(save)


async def check(db: Database, lookup: TxtLookup, found: store.DkimDomain, now: float) -> str:
    """Look up every token's record; Success when all carry their keys."""
    keys = [
        key
        for key, _seen in await db.read(
            lambda conn: store.keys_of(conn, found.account_id, found.region, found.domain)
        )
    ]
    names = [dkim.record_name(key.selector, found.domain) for key in keys]
    answers = await asyncio.gather(*(lookup(name) for name in names), return_exceptions=True)
    published = {
        name: answer
        for name, answer in zip(names, answers, strict=True)
        if isinstance(answer, list)
    }
    status = dkim.dkim_status(published, keys, domain=found.domain)
    seen = dkim.seen_selectors(published, keys, domain=found.domain)

    def save(conn: Any) -> None:
        store.record_check(conn, found, status, seen, now)
        identity = identity_store.get(conn, found.account_id, found.region, found.domain)
        if status == "Success" and identity is not None and identity.status != rules.SUCCESS:
            identity_store.set_status(conn, identity, rules.SUCCESS, now, verified=True)

    await db.write(save)
    return status


def attributes(found: store.DkimDomain | None, tokens: list[str]) -> dict[str, Any]:
    """GetIdentityDkimAttributes for one identity (email identities: not started)."""
    if found is None:
        return {"DkimEnabled": False, "DkimVerificationStatus": "NotStarted"}
    return {
        "DkimEnabled": found.enabled,
        "DkimVerificationStatus": found.status,
        "DkimTokens": tokens,
    }


class DkimSigner:
    """Signs outgoing mail with the newest key seen in DNS of the sender's domain (or of the
    nearest parent domain with DKIM), when signing is enabled; nothing is signed before a
    key has been seen."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box

    def key_for(
        self, conn: Any, account_id: str, region: str, source: str
    ) -> tuple[str, dkim.DkimKey] | None:
        """(signing domain, key) for mail from `source`, or None: read in the caller's
        transaction, so a batch of deliveries needs one read."""
        labels = source.rpartition("@")[2].lower().split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            found = store.get_domain(conn, account_id, region, candidate)
            if found is None:
                continue
            if not found.enabled:
                return None  # (during a rotation the status is Pending: keep signing)
            keys = store.keys_of(conn, account_id, region, candidate, self.box)
            seen = {key.selector for key, seen_at in keys if seen_at is not None}
            key = dkim.signing_key([k for k, _ in keys], seen)
            return (candidate, key) if key is not None else None
        return None

    @staticmethod
    def sign(raw: bytes, found: tuple[str, dkim.DkimKey] | None) -> bytes:
        """Sign with what `key_for` found (~0.3 ms, OpenSSL's RSA); unsigned without it."""
        if found is None:
            return raw
        signing_domain, key = found
        try:
            return dkim.sign_message(raw, domain=signing_domain, key=key)
        except ValueError as exc:  # e.g. a raw message without From: send it unsigned
            log.warning("DKIM signing skipped for %s: %s", signing_domain, exc)
            return raw


async def rotate(
    db: Database, box: SecretBox, account_id: str, region: str, domain: str, now: float
) -> str:
    """Announce a new key: its record is published next to the old ones, and signing moves
    to it only once DNS shows it (`signing_key`), so there is never a gap."""
    found = await db.read(lambda conn: store.get_domain(conn, account_id, region, domain))
    if found is None:
        raise ValueError(f"{domain} has no DKIM keys yet: call VerifyDomainDkim first")
    key = await asyncio.to_thread(dkim.new_key, now)

    def save(conn: Any) -> None:
        store.add_keys(conn, account_id, region, domain, [key], box)
        store.record_check(conn, found, "Pending", set(), now)

    await db.write(save)
    return key.selector

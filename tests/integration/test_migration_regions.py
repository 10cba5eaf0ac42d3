"""Revision 0009 moves each account's state into the regions it used, with data in place:
a database at 0008 holding an account that sent from ap-northeast-2 (paused by the tenant,
approved, with 24-hour usage and statistics) keeps all of it there after the upgrade, on
both engines; a region the account never used starts from its defaults. Its BYODKIM key
loses the selector suffix 0008 needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from postroom.store import accounts as account_store
from postroom.store import dkim as dkim_store
from postroom.store import migrations
from postroom.store import usage as usage_store
from postroom.store.database import Database

T0 = 1_800_000_000.0
SEOUL = "ap-northeast-2"


@pytest.fixture
def old_db(engine_url: str) -> Iterator[Database]:
    """A database built up to revision 0008 only."""
    database = Database(engine_url)
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    with database.write_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008")
    yield database
    database.close()


_ROWS = [
    "INSERT INTO accounts (id, name, created_at, sandbox, max_24h, max_rate, sending_enabled,"
    " rate_tokens, rate_updated_at, enforcement, reputation_since, suppressed_reasons,"
    " paused_by_tenant, paused_by_operator) VALUES ('111122223333', 'seoul', :t0, :no, 50000,"
    " 14, :no, 3.5, :t0, 'HEALTHY', 0, 'BOUNCE,COMPLAINT', :yes, :no)",
    "INSERT INTO messages (id, account_id, region, operation, source, envelope_from,"
    " destinations, subject, tags, raw, created_at, status, internal) VALUES ('m1',"
    " '111122223333', 'ap-northeast-2', 'SendEmail', 'a@example.com', 'a@example.com',"
    " '[]', 's', '{}', :raw, :t0, 'Delivery', :no)",
    "INSERT INTO usage (account_id, minute, recipients) VALUES ('111122223333', :minute, 7)",
    "INSERT INTO send_stats (account_id, bucket, delivery_attempts, bounces, complaints,"
    " rejects, rep_sends) VALUES ('111122223333', :bucket, 7, 1, 0, 0, 7)",
    # a bring-your-own-DKIM key as 0008 stored it: the selector with a `#<hash>` suffix
    "INSERT INTO dkim_keys (selector, account_id, region, domain, private_key_sealed,"
    " public_key, created_at, seen_at) VALUES ('s1#0a1b2c3d', '111122223333',"
    " 'ap-northeast-2', 'shop.example', 'sealed', 'MIIB', :t0, NULL)",
]


def test_upgrade_keeps_the_accounts_state_in_the_region_it_used(old_db: Database) -> None:
    params = {"t0": T0, "no": False, "yes": True, "raw": b"x", "minute": int(T0 // 60),
              "bucket": int(T0 // 900) * 900}  # fmt: skip
    with old_db.write_engine.begin() as conn:
        for statement in _ROWS:
            conn.execute(text(statement), params)

    old_db.create_schema()  # 0008 -> newest, as `serve` does at start

    seoul = old_db.query(lambda c: account_store.get_account(c, "111122223333", SEOUL))
    assert (seoul.region, seoul.sandbox, seoul.max_24h, seoul.max_rate) == (SEOUL, False,
                                                                            50000, 14)  # fmt: skip
    assert seoul.paused_by_tenant and not seoul.sending_enabled and seoul.rate_tokens == 3.5
    sent = old_db.query(lambda c: usage_store.sent_last_24h(c, "111122223333", SEOUL, T0 + 60))
    assert sent == 7
    [point] = old_db.query(lambda c: usage_store.send_statistics(c, "111122223333", SEOUL, T0))
    assert (point.delivery_attempts, point.bounces) == (7, 1)

    [(key, seen_at)] = old_db.query(
        lambda c: dkim_store.keys_of(c, "111122223333", SEOUL, "shop.example")
    )
    assert (key.selector, key.public_key_b64, seen_at) == ("s1", "MIIB", None)

    # A region never used: the account's defaults (approved), not the tenant's pause there.
    other = old_db.query(lambda c: account_store.get_account(c, "111122223333", "eu-west-1"))
    assert (other.sandbox, other.max_rate, other.sending_enabled) == (False, 14, True)
    assert old_db.query(lambda c: usage_store.sent_last_24h(c, "111122223333", "eu-west-1",
                                                            T0 + 60)) == 0  # fmt: skip

"""SQL for the installation's own facts (`meta`) and for finding a sealed secret."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from postroom.store.schema import access_keys, dkim_keys, meta

_CLAIM = text("INSERT INTO meta (name, value) VALUES (:name, :value) ON CONFLICT (name) DO NOTHING")


def get(conn: Connection, name: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.name == name)).scalar()
    return None if value is None else str(value)


def claim(conn: Connection, name: str, value: str) -> str:
    """Store `value` under `name` unless a value is there already; returns the stored one
    (the first writer wins, also between concurrent processes)."""
    conn.execute(_CLAIM, {"name": name, "value": value})
    stored = get(conn, name)
    assert stored is not None
    return stored


def a_sealed_secret(conn: Connection) -> str | None:
    """Any secret sealed with the installation's key (an access key's or a DKIM key's)."""
    for column in (access_keys.c.secret_encrypted, dkim_keys.c.private_key_sealed):
        found = conn.execute(select(column).limit(1)).scalar()
        if found is not None:
            return str(found)
    return None

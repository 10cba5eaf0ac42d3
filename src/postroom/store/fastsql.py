"""Hot-path SQL run straight through the DBAPI cursor of a SQLAlchemy connection.

SQLAlchemy Core costs ~40 us per statement in Python (execution context, result set-up),
several times what SQLite takes to run it; admitting a message takes eight statements,
so the send path writes its few statements once, in the SQL both engines share
(INSERT ... ON CONFLICT included), with `:name` parameters. Everything else uses Core.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


class Sql:
    """One statement, with its text for each DBAPI paramstyle prepared once."""

    def __init__(self, text: str) -> None:
        self.text = " ".join(text.split())
        self._pyformat = _NAMED.sub(r"%(\1)s", self.text.replace("%", "%%"))

    def _cursor(self, conn: Connection) -> tuple[Any, str]:
        raw = conn.connection.driver_connection
        assert raw is not None
        sql = self.text if conn.dialect.name == "sqlite" else self._pyformat
        return raw.cursor(), sql

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor, sql = self._cursor(conn)
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        cursor, sql = self._cursor(conn)
        try:
            cursor.execute(sql, params)
        finally:
            cursor.close()

    def run_many(self, conn: Connection, params: Iterable[Mapping[str, Any]]) -> None:
        cursor, sql = self._cursor(conn)
        try:
            cursor.executemany(sql, list(params))
        finally:
            cursor.close()


def in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`(:p0, :p1, ...)` and its parameters, for an IN clause."""
    names = [f"{prefix}{i}" for i in range(len(values))]
    placeholders = ", ".join(f":{n}" for n in names)
    return f"({placeholders})", dict(zip(names, values, strict=True))

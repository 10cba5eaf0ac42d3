"""Hot-path SQL run straight through the DBAPI cursor of a SQLAlchemy connection.

SQLAlchemy Core costs ~40 us per statement in Python (execution context, result set-up),
several times what SQLite takes to run it; admitting a message takes eight statements,
so the send path writes its few statements once, in the SQL both engines share
(INSERT ... ON CONFLICT included), with `:name` parameters. Everything else uses Core.
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=512)
def _with_in_list(template: str, prefix: str, count: int) -> Sql:
    names = ", ".join(f":{prefix}{i}" for i in range(count))
    return Sql(template.replace("{in}", f"({names})"))


def in_query(template: str, prefix: str, values: Sequence[Any]) -> tuple[Sql, dict[str, Any]]:
    """A statement whose `{in}` becomes `(:p0, :p1, ...)` for `values`, built once per
    length (these run per request), and the parameters for it."""
    params = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return _with_in_list(template, prefix, len(values)), params

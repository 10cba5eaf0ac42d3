"""In-memory resource tags: the semantics of `postroom.store.tags` over a `Memory`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from postroom.testing.fake_state import Memory


class FakeTags:
    def tags_of(self, conn: Memory, account_id: str, arn: str) -> dict[str, str]:
        return dict(sorted(conn.tags.get((account_id, arn), {}).items()))

    def put_tags(self, conn: Memory, account_id: str, arn: str, tags: Mapping[str, str]) -> None:
        if tags:
            conn.tags.setdefault((account_id, arn), {}).update(tags)

    def remove_tags(self, conn: Memory, account_id: str, arn: str, keys: Iterable[str]) -> None:
        found = conn.tags.get((account_id, arn), {})
        for key in keys:
            found.pop(key, None)

    def remove_all(self, conn: Memory, account_id: str, arn: str) -> None:
        conn.tags.pop((account_id, arn), None)

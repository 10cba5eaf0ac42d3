"""In-memory email templates: the semantics of `postroom.store.templates` over a `Memory`."""

from __future__ import annotations

from postroom.domain.templates import EmailTemplate
from postroom.testing.fake_state import Memory


class FakeTemplates:
    def get(
        self, conn: Memory, account_id: str, region: str, name: str
    ) -> tuple[EmailTemplate, float] | None:
        return conn.templates.get((account_id, region, name))

    def insert(
        self, conn: Memory, account_id: str, region: str, template: EmailTemplate, now: float
    ) -> bool:
        key = (account_id, region, template.name)
        if key in conn.templates:
            return False
        conn.templates[key] = (template, now)
        return True

    def replace(
        self, conn: Memory, account_id: str, region: str, template: EmailTemplate, now: float
    ) -> bool:
        key = (account_id, region, template.name)
        if key not in conn.templates:
            return False
        conn.templates[key] = (template, conn.templates[key][1])
        return True

    def remove(self, conn: Memory, account_id: str, region: str, name: str) -> bool:
        return conn.templates.pop((account_id, region, name), None) is not None

    def count(self, conn: Memory, account_id: str, region: str) -> int:
        return sum(1 for a, r, _n in conn.templates if (a, r) == (account_id, region))

    def list_after(
        self, conn: Memory, account_id: str, region: str, after: str | None, limit: int
    ) -> list[tuple[str, float]]:
        names = sorted(
            n for a, r, n in conn.templates
            if (a, r) == (account_id, region) and (after is None or n > after)
        )  # fmt: skip
        return [(n, conn.templates[(account_id, region, n)][1]) for n in names[:limit]]

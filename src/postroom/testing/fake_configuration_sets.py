"""In-memory configuration sets: the semantics of `postroom.store.configuration_sets` over
a `Memory`."""

from __future__ import annotations

from postroom.domain.configuration_sets import ConfigurationSet
from postroom.testing.fake_state import Memory


class FakeConfigurationSets:
    def get(
        self, conn: Memory, account_id: str, region: str, name: str
    ) -> ConfigurationSet | None:
        return conn.configuration_sets.get((account_id, region, name))

    def insert(self, conn: Memory, account_id: str, region: str, found: ConfigurationSet) -> bool:
        key = (account_id, region, found.name)
        if key in conn.configuration_sets:
            return False
        conn.configuration_sets[key] = found
        return True

    def replace(
        self, conn: Memory, account_id: str, region: str, found: ConfigurationSet
    ) -> bool:
        key = (account_id, region, found.name)
        if key not in conn.configuration_sets:
            return False
        kept = conn.configuration_sets[key].created_at
        conn.configuration_sets[key] = ConfigurationSet(
            **{**found.__dict__, "created_at": kept}
        )
        return True

    def remove(self, conn: Memory, account_id: str, region: str, name: str) -> bool:
        return conn.configuration_sets.pop((account_id, region, name), None) is not None

    def count(self, conn: Memory, account_id: str, region: str) -> int:
        return sum(1 for a, r, _n in conn.configuration_sets if (a, r) == (account_id, region))

    def list_after(
        self, conn: Memory, account_id: str, region: str, after: str | None, limit: int
    ) -> list[str]:
        names = sorted(
            n for a, r, n in conn.configuration_sets
            if (a, r) == (account_id, region) and (after is None or n > after)
        )  # fmt: skip
        return names[:limit]

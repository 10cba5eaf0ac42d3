"""In-memory accounts, their state per region, and production-access requests: the store's
semantics (`store/accounts.py`, `store/access_requests.py`) over a `Memory`."""

from __future__ import annotations

import dataclasses
from typing import Any

from postroom.domain.accounts import (
    PRODUCTION_MAX_24H,
    PRODUCTION_MAX_RATE,
    SANDBOX_MAX_24H,
    SANDBOX_MAX_RATE,
    Account,
    check_account_name,
)
from postroom.domain.production_access import AccessRequest
from postroom.errors import InvalidParameterValue, NotFound
from postroom.testing.fake_state import Memory


class FakeAccounts:
    def insert_account(self, conn: Memory, name: str, now: float) -> Account:
        check_account_name(name)
        if any(a.name == name for a in conn.accounts.values()):
            raise InvalidParameterValue(f"Account {name} already exists.", code="AlreadyExists")
        account_id = f"{len(conn.accounts) + 1:012d}"
        conn.accounts[account_id] = Account(
            account_id, name, now, True, SANDBOX_MAX_24H, SANDBOX_MAX_RATE, True,
            SANDBOX_MAX_RATE, 0.0,
        )  # fmt: skip
        conn.reputation_since[account_id] = 0.0
        return conn.accounts[account_id]

    def insert_key(self, conn: Memory, account_id: str, sealed_secret: str, now: float) -> str:
        key_id = f"AKIAFAKE{len(conn.keys) + 1:012d}"
        conn.keys[key_id] = (account_id, sealed_secret)
        return key_id

    def get_account(
        self, conn: Memory, account_id: str, region: str, *, for_update: bool = False
    ) -> Account:
        if (account_id, region) in conn.regions:
            return conn.regions[(account_id, region)]
        if for_update:
            self.ensure_region(conn, account_id, region)
            return conn.regions[(account_id, region)]
        return dataclasses.replace(self.load_account(conn, account_id), region=region)

    def ensure_region(self, conn: Memory, account_id: str, region: str) -> None:
        if (account_id, region) not in conn.regions:
            defaults = self.load_account(conn, account_id)
            conn.regions[(account_id, region)] = dataclasses.replace(defaults, region=region)

    def regions_of(self, conn: Memory, account_id: str) -> list[Account]:
        return sorted((a for (i, _r), a in conn.regions.items() if i == account_id),
                      key=lambda a: a.region or "")  # fmt: skip

    def load_account(self, conn: Memory, account_id: str) -> Account:
        if account_id not in conn.accounts:
            raise NotFound(f"Account {account_id} does not exist.")
        return conn.accounts[account_id]

    def find_account(self, conn: Memory, name: str) -> Account:
        for account in conn.accounts.values():
            if account.name == name:
                return account
        raise NotFound(f"Account {name} does not exist.")

    def list_accounts(self, conn: Memory) -> list[Account]:
        return sorted(conn.accounts.values(), key=lambda a: (a.created_at, a.name))

    def lookup_key(self, conn: Memory, access_key_id: str) -> tuple[str, str] | None:
        return conn.keys.get(access_key_id)

    def set_production(
        self, conn: Memory, account_id: str, region: str | None, max_24h: float | None,
        max_rate: float | None,
    ) -> None:  # fmt: skip
        rate = max_rate if max_rate is not None else PRODUCTION_MAX_RATE
        daily = max_24h if max_24h is not None else PRODUCTION_MAX_24H
        if rate <= 0 or daily <= 0:
            raise InvalidParameterValue("Quotas must be positive.")
        self.change(conn, account_id, region, sandbox=False, max_24h=daily, max_rate=rate,
                    rate_tokens=max(1.0, rate))  # fmt: skip

    def set_paused(
        self, conn: Memory, account_id: str, region: str | None, owner: str, paused: bool
    ) -> None:
        if region is None and owner != "operator":
            raise ValueError(f"no {owner} pause for every region")
        self.change(conn, account_id, region, **{f"paused_by_{owner}": paused})

    def save_rate_state(
        self, conn: Memory, account_id: str, region: str, tokens: float, now: float
    ) -> None:
        self.change(conn, account_id, region, rate_tokens=tokens, rate_updated_at=now)

    def put_details(self, conn: Memory, account_id: str, region: str, details: str) -> None:
        self.ensure_region(conn, account_id, region)
        conn.details[(account_id, region)] = details

    def details_of(self, conn: Memory, account_id: str, region: str) -> str | None:
        return conn.details.get((account_id, region))

    @classmethod
    def change(cls, conn: Memory, account_id: str, region: str | None, **changes: Any) -> None:
        """Apply `changes` in `region`, or (None) to the defaults and every region; as in
        the store, `sending_enabled` is on while no pause holds and the tenant's pause and
        the rate bucket are never the defaults', and reputation is the account's."""
        if region is None:
            defaults = {k: v for k, v in changes.items() if k != "rate_tokens"}
            conn.accounts[account_id] = cls._derived(conn.accounts[account_id], defaults)
            where = [key for key in conn.regions if key[0] == account_id]
        else:
            cls().ensure_region(conn, account_id, region)
            where = [(account_id, region)]
        for key in where:
            conn.regions[key] = cls._derived(conn.regions[key], changes)

    @staticmethod
    def _derived(account: Account, changes: dict[str, Any]) -> Account:
        changed = dataclasses.replace(account, **changes)
        held = changed.paused_by_tenant or changed.paused_by_operator
        enabled = not (held or changed.enforcement == "SHUTDOWN")
        return dataclasses.replace(changed, sending_enabled=enabled)


class FakeAccessRequests:
    def file(self, conn: Memory, request: AccessRequest) -> None:
        conn.access_requests[request.case_id] = request

    def latest(self, conn: Memory, account_id: str, region: str) -> AccessRequest | None:
        found = [r for r in conn.access_requests.values()
                 if (r.account_id, r.region) == (account_id, region)]  # fmt: skip
        return max(found, key=lambda r: (r.filed_at, r.case_id), default=None)

    def pending(
        self, conn: Memory, account_id: str | None = None, region: str | None = None
    ) -> list[AccessRequest]:
        return sorted(
            (r for r in conn.access_requests.values() if r.status == "PENDING"
             and account_id in (None, r.account_id) and region in (None, r.region)),
            key=lambda r: (r.filed_at, r.case_id),
        )  # fmt: skip

    def decide(
        self, conn: Memory, case_ids: list[str], status: str, reason: str | None, now: float
    ) -> None:
        for case_id in case_ids:
            request = conn.access_requests[case_id]
            conn.access_requests[case_id] = dataclasses.replace(
                request, status=status, reason=reason, decided_at=now
            )

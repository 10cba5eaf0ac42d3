"""The operator's use cases (the `postroom` CLI today, the console later): accounts and
their keys, production access, pauses, suppression lists, the capture mailbox and the
sending history. Every one checks that the caller is the operator."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from postroom.domain import events as ev
from postroom.domain.accounts import Account, IssuedKey
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.messages import HistoryFilter
from postroom.domain.ports import Tx
from postroom.errors import InvalidParameterValue
from postroom.wire import ids
from postroom.wire.addresses import parse_address

REASONS = ("BOUNCE", "COMPLAINT")


def _operator(caller: Caller, action: str) -> None:
    authorize(caller, action, operator_only=True)


async def create_account(core: Core, caller: Caller, name: str) -> IssuedKey:
    """A new account (in the sandbox) and its first access key."""
    _operator(caller, "create_account")
    return await _issue_key(core, name, create=True)


async def create_key(core: Core, caller: Caller, account_name: str) -> IssuedKey:
    _operator(caller, "create_key")
    return await _issue_key(core, account_name, create=False)


async def _issue_key(core: Core, name: str, *, create: bool) -> IssuedKey:
    secret, now, accounts = ids.secret_access_key(), core.now(), core.repos.accounts
    sealed = core.box.seal(secret)

    def job(conn: Tx) -> IssuedKey:
        if create:
            account = accounts.insert_account(conn, name, now)
        else:
            account = accounts.find_account(conn, name)
        return IssuedKey(account, accounts.insert_key(conn, account.id, sealed, now), secret)

    return await core.uow.write(job)


async def list_accounts(core: Core, caller: Caller) -> list[Account]:
    """Every account as it stands in the caller's region (the operator's --region)."""
    _operator(caller, "list_accounts")
    accounts = core.repos.accounts

    def read(conn: Tx) -> list[Account]:
        found = accounts.list_accounts(conn)
        return [accounts.get_account(conn, a.id, caller.region) for a in found]

    return await core.uow.read(read)


async def pause(core: Core, caller: Caller, name: str, region: str | None = None) -> None:
    """The operator's pause in `region` (None: every region, used or not yet): only
    `resume` lifts it, not the tenant."""
    _operator(caller, "pause")
    accounts = core.repos.accounts

    def job(conn: Tx) -> None:
        accounts.set_paused(conn, accounts.find_account(conn, name).id, region, "operator", True)

    await core.uow.write(job)


async def resume(
    core: Core, caller: Caller, name: str, region: str | None = None
) -> list[Account]:
    """Lift the operator's pause in `region` (None: every region) and the account's
    reputation review or pause (reputation is the account's, in every region): rates
    counted afresh from now. A pause the tenant made itself stays. Returns the account's
    state in the regions it has used."""
    _operator(caller, "resume")
    now, repos = core.now(), core.repos

    def job(conn: Tx) -> list[Account]:
        account = repos.accounts.find_account(conn, name)
        repos.reputation.resume(conn, account.id, now)
        repos.accounts.set_paused(conn, account.id, region, "operator", False)
        return repos.accounts.regions_of(conn, account.id)

    return await core.uow.write(job)


# -- suppression ------------------------------------------------------------------------------
async def suppressed(core: Core, caller: Caller, account_name: str) -> list[dict[str, Any]]:
    """The account's suppression list, newest first."""
    _operator(caller, "list_suppressed")
    repos = core.repos

    def job(conn: Tx) -> list[dict[str, Any]]:
        owner = repos.accounts.find_account(conn, account_name)
        return repos.suppression.entries(conn, owner.id)

    return await core.uow.read(job)


async def suppress(core: Core, caller: Caller, account_name: str, address: str, reason: str) -> str:
    """Mail to the address bounces (OnAccountSuppressionList) without an attempt."""
    _operator(caller, "suppress")
    if reason not in REASONS:
        raise InvalidParameterValue("--reason must be BOUNCE or COMPLAINT")
    addr, now, repos = parse_address(address).addr_spec, core.now(), core.repos

    def job(conn: Tx) -> None:
        owner = repos.accounts.find_account(conn, account_name)
        repos.suppression.add(conn, owner.id, addr, reason, now)

    await core.uow.write(job)
    return addr.lower()


async def unsuppress(core: Core, caller: Caller, account_name: str, address: str) -> bool:
    _operator(caller, "unsuppress")
    repos = core.repos

    def job(conn: Tx) -> bool:
        owner = repos.accounts.find_account(conn, account_name)
        return repos.suppression.remove(conn, owner.id, address)

    return await core.uow.write(job)


# -- what was sent ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rows:
    """Rows of the mailbox or the history, with every account's name by id."""

    rows: list[dict[str, Any]]
    names: dict[str, str]


def _account_id(core: Core, conn: Tx, name: str | None) -> str | None:
    return core.repos.accounts.find_account(conn, name).id if name else None


async def mailbox(core: Core, caller: Caller, account_name: str | None, limit: int) -> Rows:
    """Messages kept by capture delivery, newest first."""
    _operator(caller, "mailbox")
    repos = core.repos

    def job(conn: Tx) -> Rows:
        names = {a.id: a.name for a in repos.accounts.list_accounts(conn)}
        found = repos.messages.mailbox_rows(conn, _account_id(core, conn, account_name), limit)
        return Rows(found, names)

    return await core.uow.read(job)


async def history(
    core: Core, caller: Caller, account_name: str | None, wanted: HistoryFilter
) -> Rows:
    """Sending history, newest first (`wanted.account_id` is set from the name)."""
    _operator(caller, "history")
    repos = core.repos

    def job(conn: Tx) -> Rows:
        names = {a.id: a.name for a in repos.accounts.list_accounts(conn)}
        account_id = _account_id(core, conn, account_name)
        found = repos.messages.history_rows(conn, _with_account(wanted, account_id))
        return Rows(found, names)

    return await core.uow.read(job)


def _with_account(wanted: HistoryFilter, account_id: str | None) -> HistoryFilter:
    return replace(wanted, account_id=account_id)


async def message_timeline(core: Core, caller: Caller, message_id: str) -> dict[str, Any] | None:
    """One message's events as SES event publishing would send them (None: unknown)."""
    _operator(caller, "message_timeline")
    repos = core.repos

    def job(conn: Tx) -> dict[str, Any] | None:
        loaded = repos.messages.load_record(conn, message_id)
        if loaded is None:
            return None
        record = loaded[0]
        account = repos.accounts.load_account(conn, record.account_id)
        found = repos.messages.events_of(conn, message_id)
        return {
            "message_id": message_id,
            "account": account.name,
            "events": [ev.event_json(record, e) for e in found],
        }

    return await core.uow.read(job)

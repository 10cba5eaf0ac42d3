"""The tenant's own account-level suppression list (SES v2 Put/Get/Delete/List
SuppressedDestination(s)) and the reasons for which outcomes add to it
(PutAccountSuppressionAttributes).

One list per account: the same rows the operator's `postroom suppression` commands edit,
the delivery outcome rules add to (`domain/recording.py`) and the delivery worker checks
(a listed recipient bounces, Permanent/OnAccountSuppressionList, without an attempt).
Addresses go through the one address validator and are kept lower-cased.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.ports import Tx
from postroom.errors import InvalidParameterValue, NotFound
from postroom.wire.addresses import parse_address

REASONS = ("BOUNCE", "COMPLAINT")
MAX_PAGE_SIZE = 1000  # SES: ListSuppressedDestinations PageSize "no more than 1000"
_MAX_TOKEN = 64
_MAX_OFFSET = 10**9


@dataclass(frozen=True)
class SuppressedEntry:
    address: str
    reason: str
    last_update: float
    message_id: str | None = None  # the message whose outcome listed it, if any


@dataclass(frozen=True)
class ListSuppressed:
    reasons: tuple[str, ...] = ()  # () : every reason
    start: float | None = None
    end: float | None = None
    next_token: str | None = None
    page_size: int | None = None


@dataclass(frozen=True)
class SuppressedPage:
    entries: list[SuppressedEntry]
    next_token: str | None


def _entry(row: dict[str, Any]) -> SuppressedEntry:
    return SuppressedEntry(row["address"], row["reason"], row["created_at"], row["message_id"])


def _address(text: str) -> str:
    return parse_address(text).addr_spec.lower()


def _reasons(reasons: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(sorted(set(reasons)))
    for reason in wanted:
        if reason not in REASONS:
            raise InvalidParameterValue(f"Invalid reason {reason!r}: use BOUNCE or COMPLAINT.")
    return wanted


def _not_listed(address: str) -> NotFound:
    # SES's text for an address that is not on the list (GetSuppressedDestination).
    return NotFound(f"Email address {address} does not exist on your suppression list.")


async def put_suppressed_destination(core: Core, caller: Caller, address: str, reason: str) -> str:
    """Add (or update) the address with `reason`; returns the address as listed."""
    authorize(caller, "put_suppressed_destination")
    _reasons([reason])
    addr, account_id, now, repos = _address(address), caller.account_id, core.now(), core.repos
    await core.uow.write(lambda conn: repos.suppression.add(conn, account_id, addr, reason, now))
    return addr


async def get_suppressed_destination(core: Core, caller: Caller, address: str) -> SuppressedEntry:
    authorize(caller, "get_suppressed_destination")
    addr, account_id = _address(address), caller.account_id
    row = await core.uow.read(lambda conn: core.repos.suppression.get(conn, account_id, addr))
    if row is None:
        raise _not_listed(addr)
    return _entry(row)


async def delete_suppressed_destination(core: Core, caller: Caller, address: str) -> None:
    authorize(caller, "delete_suppressed_destination")
    addr, account_id = _address(address), caller.account_id
    removed = await core.uow.write(
        lambda conn: core.repos.suppression.remove(conn, account_id, addr)
    )
    if not removed:
        raise _not_listed(addr)


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        if len(token) > _MAX_TOKEN:
            raise ValueError(token)
        offset = int(base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii"))
        if not 0 <= offset <= _MAX_OFFSET:
            raise ValueError(token)
        return offset
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidParameterValue("Invalid NextToken.") from exc


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode("ascii")).decode("ascii")


async def list_suppressed_destinations(
    core: Core, caller: Caller, request: ListSuppressed
) -> SuppressedPage:
    """The account's entries, newest first, filtered by reason and last-update time."""
    authorize(caller, "list_suppressed_destinations")
    size = MAX_PAGE_SIZE if request.page_size is None else request.page_size
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidParameterValue(f"PageSize must be between 1 and {MAX_PAGE_SIZE}.")
    reasons = _reasons(request.reasons) or REASONS
    offset, account_id = _offset(request.next_token), caller.account_id

    def read(conn: Tx) -> list[dict[str, Any]]:
        return core.repos.suppression.page(
            conn, account_id, reasons, request.start, request.end, offset, size + 1
        )

    rows = await core.uow.read(read)
    more = len(rows) > size
    return SuppressedPage([_entry(r) for r in rows[:size]], _token(offset + size) if more else None)


async def suppressed_reasons(core: Core, caller: Caller) -> list[str]:
    authorize(caller, "suppressed_reasons")
    account_id = caller.account_id
    found = await core.uow.read(lambda conn: core.repos.suppression.reasons_of(conn, account_id))
    return sorted(found)


async def set_suppressed_reasons(core: Core, caller: Caller, reasons: Iterable[str]) -> None:
    """PutAccountSuppressionAttributes: outcomes add addresses only for these reasons."""
    authorize(caller, "set_suppressed_reasons")
    wanted, account_id = _reasons(reasons), caller.account_id
    await core.uow.write(lambda conn: core.repos.suppression.set_reasons(conn, account_id, wanted))

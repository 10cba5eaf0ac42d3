"""Production access (`domain/production_access.py`): the tenant files its account's
details and asks for access (SES v2 PutAccountDetails), the operator lists the requests
and grants or denies them (`postroom accounts requests|approve|deny`). Without a region
the operator's decision applies in every region, as an operator running one Postroom
expects; approving needs no request on file."""

from __future__ import annotations

from dataclasses import dataclass

from postroom.domain import production_access as rules
from postroom.domain.accounts import Account
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.ports import Tx
from postroom.domain.production_access import AccessRequest, AccountDetails
from postroom.errors import InvalidParameterValue, NotFound


async def put_account_details(
    core: Core, caller: Caller, details: AccountDetails, request_access: bool
) -> AccessRequest | None:
    """Record the account's details in the caller's region; with `request_access`, file a
    request for review unless the region already has production access. Returns the
    request filed, if one was. ConflictException while one is pending; Throttling when
    one was filed less than a day ago."""
    authorize(caller, "request_production_access")
    where, now, repos = (caller.account_id, caller.region), core.now(), core.repos

    def job(conn: Tx) -> AccessRequest | None:
        latest = repos.access_requests.latest(conn, *where)
        if request_access:
            rules.check_no_pending(latest)
        repos.accounts.put_details(conn, *where, details.to_json())
        if not request_access or not repos.accounts.get_account(conn, *where).sandbox:
            return None
        if not repos.rate_limits.take(conn, rules.ACCESS_REQUESTS, where, now):
            raise rules.too_soon()
        request = AccessRequest(rules.new_case_id(), *where, rules.PENDING, details, now)
        repos.access_requests.file(conn, request)
        return request

    return await core.uow.write(job)


@dataclass(frozen=True)
class PendingRequest:
    request: AccessRequest
    account_name: str


async def pending_requests(core: Core, caller: Caller) -> list[PendingRequest]:
    """Requests waiting for review, oldest first, with their accounts' names."""
    authorize(caller, "list_access_requests", operator_only=True)
    repos = core.repos

    def read(conn: Tx) -> list[PendingRequest]:
        names = {a.id: a.name for a in repos.accounts.list_accounts(conn)}
        return [PendingRequest(r, names[r.account_id]) for r in repos.access_requests.pending(conn)]

    return await core.uow.read(read)


async def approve(
    core: Core, caller: Caller, name: str, region: str | None, max_24h: float | None = None,
    max_rate: float | None = None,
) -> list[Account]:  # fmt: skip
    """Production access in `region` (None: every region, used or not yet): out of the
    sandbox with production quotas (or the ones given); pending requests there GRANTED.
    Returns the account's state in the regions it has used."""
    authorize(caller, "approve", operator_only=True)
    now, repos = core.now(), core.repos

    def job(conn: Tx) -> list[Account]:
        account = repos.accounts.find_account(conn, name)
        repos.accounts.set_production(conn, account.id, region, max_24h, max_rate)
        waiting = repos.access_requests.pending(conn, account.id, region)
        repos.access_requests.decide(conn, [r.case_id for r in waiting], rules.GRANTED, None, now)
        return repos.accounts.regions_of(conn, account.id)

    return await core.uow.write(job)


async def deny(
    core: Core, caller: Caller, name: str, region: str | None, reason: str
) -> list[AccessRequest]:
    """Deny the account's pending requests in `region` (None: every region), with the
    reason; the account stays in the sandbox. Returns the requests denied."""
    authorize(caller, "deny", operator_only=True)
    if not reason.strip():
        raise InvalidParameterValue("A denial needs a reason (--reason).")
    now, repos = core.now(), core.repos

    def job(conn: Tx) -> list[AccessRequest]:
        account = repos.accounts.find_account(conn, name)
        waiting = repos.access_requests.pending(conn, account.id, region)
        if not waiting:
            where = f" in {region}" if region else ""
            raise NotFound(f"Account {name} has no production access request pending{where}.")
        repos.access_requests.decide(conn, [r.case_id for r in waiting], rules.DENIED, reason, now)
        return waiting

    return await core.uow.write(job)

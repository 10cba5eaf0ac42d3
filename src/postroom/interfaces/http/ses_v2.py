"""SES v2 operations (rest-json): each handler translates the `sesv2` model's dicts into
use cases of the core (`domain/use_cases/`) and their typed results back, as the v1
handlers in `ses_v1.py` do, with the same `Context`.

Operations arrive one by one; an operation with no handler here is answered by the
endpoint with BadRequestException "The operation X is not supported by Postroom yet."
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from postroom.domain.accounts import Account
from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.use_cases import account
from postroom.interfaces.http.ses_v1 import Context, Handler, Output, send_quota_output

HANDLERS: dict[str, Handler] = {}


def _register(name: str, handler: Handler) -> Handler:
    HANDLERS[name] = handler
    return handler


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of the v2 operation `name` (the model's operation name)."""
    return functools.partial(_register, name)


# -- account -----------------------------------------------------------------------------
async def _account(core: Core, caller: Caller) -> Account:
    # TODO(core): belongs in domain/use_cases/account.py as a use case next to send_quota.
    authorize(caller, "account_status")
    account_id = caller.account_id
    return await core.uow.read(lambda conn: core.repos.accounts.get_account(conn, account_id))


@operation("GetAccount")
async def get_account(ctx: Context, params: Mapping[str, Any]) -> Output:
    """ses-spec.md 5: the quota as v1's GetSendQuota reports it, the sending switch, the
    sandbox (ProductionAccessEnabled false) and the reputation enforcement status."""
    quota = await account.send_quota(ctx.core, ctx.caller)
    found = await _account(ctx.core, ctx.caller)
    return {
        "SendQuota": send_quota_output(quota),
        "SendingEnabled": found.sending_enabled,
        "ProductionAccessEnabled": not found.sandbox,
        "EnforcementStatus": found.enforcement,
        "DedicatedIpAutoWarmupEnabled": False,
    }

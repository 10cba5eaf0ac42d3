"""SES v2 operations (rest-json): each handler translates the `sesv2` model's dicts into
use cases of the core (`domain/use_cases/`) and their typed results back, as the v1
handlers in `ses_v1.py` do, with the same `Context`. Handlers live in modules by area
(`ses_v2_account.py`, ...) that register here with `operation(name)`; the endpoint imports
them.

Operations arrive one by one; an operation with no handler here is answered by the
endpoint with BadRequestException "The operation X is not supported by Postroom yet."
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from postroom.interfaces.http.ses_v1 import Handler

HANDLERS: dict[str, Handler] = {}


def _register(name: str, handler: Handler) -> Handler:
    HANDLERS[name] = handler
    return handler


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of the v2 operation `name` (the model's operation name)."""
    return functools.partial(_register, name)

"""Who calls a use case, and the one place that decides whether they may.

Every interface (SES v1 today; v2, SMTP, the console and the CLI) turns its credentials
into a `Caller` and hands it to the core. `authorize` is called by every use case before
it does anything: today a tenant may do everything on its own account and only the
operator may run the operator's use cases; scoped keys (IAM-style permissions) will fill
`permissions` and be enforced here, for every interface at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from postroom.errors import AccessDenied

OPERATOR = "operator"


@dataclass(frozen=True)
class Caller:
    account_id: str
    region: str
    access_key_id: str = ""
    source_ip: str = "127.0.0.1"
    principal: str = ""  # who holds the key (an account's user; "operator" for the CLI)
    permissions: frozenset[str] | None = None  # None: every action of the account

    @property
    def is_operator(self) -> bool:
        return self.principal == OPERATOR


def operator(region: str) -> Caller:
    """The operator (the `postroom` CLI on the server): every account, operator actions."""
    return Caller(account_id="", region=region, principal=OPERATOR)


def authorize(caller: Caller, action: str, *, operator_only: bool = False) -> None:
    """Raise AccessDenied unless `caller` may run `action` (a use case's name)."""
    if operator_only and not caller.is_operator:
        raise AccessDenied(f"{action} is an operator action.")
    if caller.permissions is not None and action not in caller.permissions:
        raise AccessDenied(f"The caller is not authorized to perform {action}.")

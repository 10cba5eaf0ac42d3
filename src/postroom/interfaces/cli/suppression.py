"""`postroom suppression list|add|remove --account NAME`: the account's suppression list."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from postroom.clock import SystemClock, iso_millis
from postroom.errors import PostroomError
from postroom.interfaces.cli.main import (
    AccountName,
    DatabaseUrl,
    DataDir,
    JsonFlag,
    _run,
    app,
    console,
    fail,
    print_json,
    settings_from,
)
from postroom.store import accounts as account_store
from postroom.store import suppression as store
from postroom.wire.addresses import parse_address

suppression_app = typer.Typer(help="The account-level suppression list.", no_args_is_help=True)
app.add_typer(suppression_app, name="suppression")


@suppression_app.command("list")
def suppression_list(
    account: AccountName, data_dir: DataDir = None, database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Suppressed addresses, newest first, with their reason (BOUNCE or COMPLAINT)."""

    def job(conn: Any) -> list[dict[str, Any]]:
        owner = account_store.find_account(conn, account)
        return [
            {"address": e["address"], "reason": e["reason"],
             "last_update": iso_millis(e["created_at"]), "message_id": e["message_id"]}
            for e in store.entries(conn, owner.id)
        ]  # fmt: skip

    rows = _run(settings_from(data_dir, database_url), job)
    if as_json:
        print_json(rows)
        return
    table = Table("address", "reason", "since", "message id")
    for r in rows:
        table.add_row(r["address"], r["reason"], r["last_update"], r["message_id"] or "")
    console.print(table)


@suppression_app.command("add")
def suppression_add(
    address: str, account: AccountName,
    reason: Annotated[str, typer.Option(help="BOUNCE or COMPLAINT.")] = "BOUNCE",
    data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """Suppress ADDRESS: mail to it bounces (OnAccountSuppressionList) without an attempt."""
    if reason.upper() not in store.REASONS:
        fail("--reason must be BOUNCE or COMPLAINT", 2)
    try:
        addr = parse_address(address).addr_spec
    except PostroomError as exc:
        fail(f"{address}: {exc.message}", 2)
        return
    now = SystemClock().now()

    def job(conn: Any) -> None:
        owner = account_store.find_account(conn, account)
        store.add(conn, owner.id, addr, reason.upper(), now)

    _run(settings_from(data_dir, database_url), job)
    typer.echo(f"suppressed {addr.lower()} ({reason.upper()})")


@suppression_app.command("remove")
def suppression_remove(
    address: str, account: AccountName, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Take ADDRESS off the list."""

    def job(conn: Any) -> bool:
        owner = account_store.find_account(conn, account)
        return store.remove(conn, owner.id, address)

    if not _run(settings_from(data_dir, database_url), job):
        fail(f"{address} is not on the suppression list of {account}")
    typer.echo(f"removed {address.lower()}")

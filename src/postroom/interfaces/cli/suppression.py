"""`postroom suppression list|add|remove --account NAME`: the account's suppression list."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from postroom.clock import iso_millis
from postroom.domain.use_cases import operator as ops
from postroom.errors import PostroomError
from postroom.interfaces.cli.main import (
    AccountName,
    DatabaseUrl,
    DataDir,
    JsonFlag,
    app,
    console,
    fail,
    print_json,
    run_core,
    settings_from,
)
from postroom.wire.addresses import parse_address

suppression_app = typer.Typer(help="The account-level suppression list.", no_args_is_help=True)
app.add_typer(suppression_app, name="suppression")


@suppression_app.command("list")
def suppression_list(
    account: AccountName, data_dir: DataDir = None, database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Suppressed addresses, newest first, with their reason (BOUNCE or COMPLAINT)."""
    settings = settings_from(data_dir, database_url)
    entries = run_core(settings, lambda core, who: ops.suppressed(core, who, account))
    rows = [
        {"address": e["address"], "reason": e["reason"],
         "last_update": iso_millis(e["created_at"]), "message_id": e["message_id"]}
        for e in entries
    ]  # fmt: skip
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
    if reason.upper() not in ops.REASONS:
        fail("--reason must be BOUNCE or COMPLAINT", 2)
    try:
        parse_address(address)
    except PostroomError as exc:
        fail(f"{address}: {exc.message}", 2)
        return
    settings = settings_from(data_dir, database_url)
    added = run_core(
        settings, lambda core, who: ops.suppress(core, who, account, address, reason.upper())
    )
    typer.echo(f"suppressed {added} ({reason.upper()})")


@suppression_app.command("remove")
def suppression_remove(
    address: str, account: AccountName, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Take ADDRESS off the list."""
    settings = settings_from(data_dir, database_url)
    if not run_core(settings, lambda core, who: ops.unsuppress(core, who, account, address)):
        fail(f"{address} is not on the suppression list of {account}")
    typer.echo(f"removed {address.lower()}")

"""The `postroom` command: serve, accounts, keys, mailbox, messages.

Every command takes --data-dir/--database-url (also POSTROOM_DATA_DIR/POSTROOM_DATABASE_URL)
and works on the same database as running servers, so changes take effect at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from postroom.clock import iso_millis
from postroom.config import ConfigError, Settings, check_region, load_settings
from postroom.domain import events as ev
from postroom.domain.accounts import IssuedKey
from postroom.domain.callers import Caller, operator
from postroom.domain.core import Core
from postroom.domain.messages import HistoryFilter
from postroom.domain.use_cases import operator as ops
from postroom.errors import PostroomError
from postroom.secrets import SecretKeyError
from postroom.services import build_services

app = typer.Typer(help="Postroom: Amazon SES that you run yourself.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts (tenants) and production access.", no_args_is_help=True)
keys_app = typer.Typer(help="Access keys.", no_args_is_help=True)
mailbox_app = typer.Typer(help="Messages kept by capture delivery.", no_args_is_help=True)
messages_app = typer.Typer(help="Sending history.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(mailbox_app, name="mailbox")
app.add_typer(messages_app, name="messages")
console = Console()

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="POSTROOM_DATA_DIR", help="Data directory.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="POSTROOM_DATABASE_URL", help="postgresql://..."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
T = TypeVar("T")
AccountOpt = Annotated[str | None, typer.Option("--account", help="Account name.")]
AccountName = Annotated[str, typer.Option("--account", help="Account name.")]  # required
RegionOpt = Annotated[
    str | None,
    typer.Option("--region", help="Region (default: POSTROOM_REGION, else us-east-1)."),
]


def settings_from(data_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    try:
        return load_settings(data_dir=data_dir, database_url=database_url, **extra)
    except ConfigError as exc:
        fail(str(exc), 2)  # a usage error, like Typer's own
        raise  # unreachable


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def run_core(
    settings: Settings, use_case: Callable[[Core, Caller], Coroutine[Any, Any, T]],
    region: str | None = None,
) -> T:  # fmt: skip
    """Run one use case of the core as the operator; its errors become messages."""
    services = None
    try:
        if region is not None:
            check_region(region)
        services = build_services(settings, secret_key_now=False)
        return asyncio.run(use_case(services.core, operator(region or settings.region)))
    except ConfigError as exc:
        fail(str(exc), 2)
    except (PostroomError, SecretKeyError) as exc:
        fail(exc.message if isinstance(exc, PostroomError) else str(exc))
    finally:
        if services is not None:
            services.close()


@keys_app.command("create")
def keys_create(
    name: str, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False
) -> None:
    """Add an access key to account NAME."""
    settings = settings_from(data_dir, database_url)
    issued = run_core(settings, lambda core, caller: ops.create_key(core, caller, name))
    print_issued(issued, as_json)


def print_issued(issued: IssuedKey, as_json: bool, heading: str | None = None) -> None:
    """A new access key as `accounts create` and `keys create` print it (the secret once)."""
    if as_json:
        print_json(issued.as_json())
        return
    if heading:
        console.print(heading)
    console.print(f"access key id:     {issued.access_key_id}")
    console.print(f"secret access key: {issued.secret_access_key}")


def _summary(
    row: Any, names: dict[str, str], *, id_key: str, recipients_key: str, time_key: str
) -> dict[str, Any]:
    """The fields `mailbox list` and `messages list` share (the scripting contract)."""
    return {
        "message_id": row[id_key],
        "account": names.get(row["account_id"], ""),
        "source": row["source"],
        "destinations": json.loads(row[recipients_key]),
        "subject": row["subject"],
        "timestamp": iso_millis(row[time_key]),
    }


@mailbox_app.command("list")
def mailbox_list(
    account: AccountOpt = None,
    limit: Annotated[int, typer.Option()] = 100,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Messages kept by `capture` delivery, newest first."""
    settings = settings_from(data_dir, database_url)
    found = run_core(settings, lambda core, who: ops.mailbox(core, who, account, limit))
    keys = {"id_key": "message_id", "recipients_key": "recipients", "time_key": "delivered_at"}
    rows = [
        {**_summary(r, found.names, **keys), "raw": _as_captured(r).decode("utf-8", "replace")}
        for r in found.rows
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("time", "message id", "from", "to", "subject")
    for r in rows:
        table.add_row(
            r["timestamp"], r["message_id"], r["source"], ", ".join(r["destinations"]), r["subject"]
        )
    console.print(table)


def _as_captured(row: dict[str, Any]) -> bytes:
    """The message as capture kept it: signed, as it would have left, when DKIM is on."""
    return bytes(row["dkim_signature"] or b"") + bytes(row["raw"])


@messages_app.command("list")
def messages_list(
    account: AccountOpt = None,
    status: Annotated[str | None, typer.Option(help="Send, Delivery, Bounce, ...")] = None,
    recipient: Annotated[str | None, typer.Option()] = None,
    since: Annotated[float | None, typer.Option(help="Epoch seconds.")] = None,
    until: Annotated[float | None, typer.Option(help="Epoch seconds.")] = None,
    limit: Annotated[int, typer.Option()] = 100,
    include_internal: Annotated[
        bool, typer.Option(help="Also list Postroom's own mail (verification, auto-replies).")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Sending history, newest first; status is the latest event of each message."""
    settings = settings_from(data_dir, database_url)
    wanted = HistoryFilter(None, status, recipient, since, until, include_internal, limit)
    found = run_core(settings, lambda core, who: ops.history(core, who, account, wanted))
    keys = {"id_key": "id", "recipients_key": "destinations", "time_key": "created_at"}
    rows = [
        {**_summary(r, found.names, **keys), "status": r["status"], "operation": r["operation"]}
        for r in found.rows
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("time", "message id", "status", "from", "to", "subject")
    for r in rows:
        table.add_row(
            r["timestamp"],
            r["message_id"],
            r["status"],
            r["source"],
            ", ".join(r["destinations"]),
            r["subject"],
        )
    console.print(table)


@messages_app.command("show")
def messages_show(
    message_id: str,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """One message's timeline: each event as SES event publishing would send it."""
    settings = settings_from(data_dir, database_url)
    shown = run_core(settings, lambda core, who: ops.message_timeline(core, who, message_id))
    if shown is None:
        fail(f"message {message_id} not found")
    if as_json:
        print_json(shown)
        return
    console.print(f"message {message_id} ({shown['account']})")
    for event in shown["events"]:
        detail = event[ev.DETAIL_KEY[event["eventType"]]]
        when = detail.get("timestamp", event["mail"]["timestamp"])
        console.print(f"  {when}  {event['eventType']:<14} {json.dumps(detail)[:160]}")


from postroom.interfaces.cli import accounts as _accounts  # noqa: E402,F401  registers it
from postroom.interfaces.cli import identities as _identities  # noqa: E402,F401  registers it
from postroom.interfaces.cli import serve as _serve  # noqa: E402,F401  registers `serve`
from postroom.interfaces.cli import suppression as _suppression  # noqa: E402,F401
from postroom.interfaces.cli import webhooks as _webhooks  # noqa: E402,F401

"""The `postroom` command: serve, accounts, keys, mailbox, messages.

Every command takes --data-dir/--database-url (also POSTROOM_DATA_DIR/POSTROOM_DATABASE_URL)
and works on the same database as running servers, so changes take effect at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from postroom.clock import SystemClock, iso_millis
from postroom.config import ConfigError, Settings, load_settings
from postroom.domain import events as ev
from postroom.domain.accounts import IssuedKey
from postroom.errors import PostroomError
from postroom.secrets import SecretKeyError, open_secret_box
from postroom.services import open_database
from postroom.store import accounts as account_store
from postroom.store import messages as message_store
from postroom.store import reputation as reputation_store
from postroom.wire import ids

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
AccountOpt = Annotated[str | None, typer.Option("--account", help="Account name.")]
AccountName = Annotated[str, typer.Option("--account", help="Account name.")]  # required


def settings_from(data_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    try:
        return load_settings(data_dir=data_dir, database_url=database_url, **extra)
    except ConfigError as exc:
        fail(str(exc), 2)  # a usage error, like Typer's own
        raise  # unreachable


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _issue_key(settings: Settings, account_name: str | None, create: bool) -> IssuedKey:
    db = open_database(settings)
    secret = ids.secret_access_key()
    now = SystemClock().now()
    try:
        box = open_secret_box(settings.secret_key, settings.data_dir, db)

        def job(conn: Any) -> IssuedKey:
            assert account_name is not None
            if create:
                account = account_store.insert_account(conn, account_name, now)
            else:
                account = account_store.find_account(conn, account_name)
            key_id = account_store.insert_key(conn, account.id, box.seal(secret), now)
            return IssuedKey(account, key_id, secret)

        return db.transact(job)
    except (PostroomError, SecretKeyError) as exc:
        fail(str(exc))
        raise
    finally:
        db.close()


@accounts_app.command("create")
def accounts_create(
    name: str, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False
) -> None:
    """Create an account (in the sandbox) and its first access key."""
    issued = _issue_key(settings_from(data_dir, database_url), name, create=True)
    if as_json:
        print_json(issued.as_json())
    else:
        console.print(f"account {name} ({issued.account.id})")
        console.print(f"access key id:     {issued.access_key_id}")
        console.print(f"secret access key: {issued.secret_access_key}")


@keys_app.command("create")
def keys_create(
    name: str, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False
) -> None:
    """Add an access key to account NAME."""
    issued = _issue_key(settings_from(data_dir, database_url), name, create=False)
    if as_json:
        print_json(issued.as_json())
    else:
        console.print(f"access key id:     {issued.access_key_id}")
        console.print(f"secret access key: {issued.secret_access_key}")


def _run(settings: Settings, job: Any) -> Any:
    db = open_database(settings)
    try:
        return db.transact(job)
    except PostroomError as exc:
        fail(exc.message)
    finally:
        db.close()


@accounts_app.command("list")
def accounts_list(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False
) -> None:
    """List accounts with their sandbox state and quotas."""
    found = _run(settings_from(data_dir, database_url), account_store.list_accounts)
    rows = [
        {
            "account": a.name,
            "account_id": a.id,
            "sandbox": a.sandbox,
            "max_24h": a.max_24h,
            "max_rate": a.max_rate,
            "sending_enabled": a.sending_enabled,
            "paused_by": a.pauses,
            "enforcement": a.enforcement,
        }
        for a in found
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("account", "id", "sandbox", "max 24h", "max rate", "sending", "reputation")
    for r in rows:
        table.add_row(
            r["account"],
            r["account_id"],
            str(r["sandbox"]),
            f"{r['max_24h']:g}",
            f"{r['max_rate']:g}",
            "enabled" if r["sending_enabled"] else "paused: " + ", ".join(r["paused_by"]),
            r["enforcement"],
        )
    console.print(table)


@accounts_app.command("pause")
def accounts_pause(name: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Pause sending for account NAME; only `accounts resume` lifts it (not the tenant)."""

    def job(conn: Any) -> None:
        account = account_store.find_account(conn, name)
        account_store.set_paused(conn, account.id, "operator", True)

    _run(settings_from(data_dir, database_url), job)
    console.print(f"{name}: sending paused by the operator (postroom accounts resume {name})")


@accounts_app.command("resume")
def accounts_resume(name: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Lift the operator's pause and a reputation review or pause: rates counted afresh
    from now. A pause the tenant made itself (UpdateAccountSendingEnabled) stays."""
    now = SystemClock().now()

    def job(conn: Any) -> Any:
        account = account_store.find_account(conn, name)
        reputation_store.resume(conn, account.id, now)
        return account_store.load_account(conn, account.id)

    account = _run(settings_from(data_dir, database_url), job)
    if account.paused_by_tenant:
        console.print(
            f"{name}: reputation counted from now; sending stays paused by the tenant itself "
            "(UpdateAccountSendingEnabled Enabled=true lifts it)"
        )
    else:
        console.print(f"{name}: sending resumed, reputation counted from now")


@accounts_app.command("approve")
def accounts_approve(
    name: str,
    max_24h: Annotated[float | None, typer.Option("--max-24h")] = None,
    max_rate: Annotated[float | None, typer.Option("--max-rate")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Grant production access: lift the sandbox, quota 50,000/24 h and 14/s by default."""

    def job(conn: Any) -> Any:
        account = account_store.find_account(conn, name)
        return account_store.set_production(conn, account.id, max_24h, max_rate)

    account = _run(settings_from(data_dir, database_url), job)
    result = {
        "account": account.name,
        "sandbox": account.sandbox,
        "max_24h": account.max_24h,
        "max_rate": account.max_rate,
    }
    if as_json:
        print_json(result)
    else:
        console.print(f"{name}: production access, {account.max_24h:g}/24h, {account.max_rate:g}/s")


def _account_id(conn: Any, name: str | None) -> str | None:
    return account_store.find_account(conn, name).id if name else None


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

    def job(conn: Any) -> list[dict[str, Any]]:
        names = {a.id: a.name for a in account_store.list_accounts(conn)}
        rows = message_store.mailbox_rows(conn, _account_id(conn, account), limit)
        keys = {"id_key": "message_id", "recipients_key": "recipients", "time_key": "delivered_at"}
        return [
            {**_summary(r, names, **keys), "raw": _as_captured(r).decode("utf-8", "replace")}
            for r in rows
        ]

    rows = _run(settings_from(data_dir, database_url), job)
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

    def job(conn: Any) -> list[dict[str, Any]]:
        names = {a.id: a.name for a in account_store.list_accounts(conn)}
        wanted = message_store.HistoryFilter(
            _account_id(conn, account), status, recipient, since, until, include_internal, limit
        )
        rows = message_store.history_rows(conn, wanted)
        keys = {"id_key": "id", "recipients_key": "destinations", "time_key": "created_at"}
        return [
            {**_summary(r, names, **keys), "status": r["status"], "operation": r["operation"]}
            for r in rows
        ]

    rows = _run(settings_from(data_dir, database_url), job)
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

    def job(conn: Any) -> dict[str, Any] | None:
        loaded = message_store.load_record(conn, message_id)
        if loaded is None:
            return None
        record = loaded[0]
        account = account_store.get_account(conn, record.account_id)
        found = message_store.events_of(conn, message_id)
        return {
            "message_id": message_id,
            "account": account.name,
            "events": [ev.event_json(record, e) for e in found],
        }

    shown = _run(settings_from(data_dir, database_url), job)
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


from postroom.interfaces.cli import identities as _identities  # noqa: E402,F401  registers it
from postroom.interfaces.cli import serve as _serve  # noqa: E402,F401  registers `serve`
from postroom.interfaces.cli import suppression as _suppression  # noqa: E402,F401

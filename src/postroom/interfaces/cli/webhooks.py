"""`postroom webhooks add|list|remove|deliveries`: an account's webhooks (docs/events.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from postroom.clock import iso_millis
from postroom.domain import webhooks as rules
from postroom.domain.use_cases import webhooks as uc
from postroom.errors import PostroomError
from postroom.interfaces.cli.main import (
    AccountName,
    AccountOpt,
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

webhooks_app = typer.Typer(help="Webhooks: an account's events, posted and signed.",
                           no_args_is_help=True)  # fmt: skip
app.add_typer(webhooks_app, name="webhooks")


def _shown(listed: uc.ListedWebhook) -> dict[str, Any]:
    """A webhook as listed (the scripting contract); never its secret."""
    hook = listed.webhook
    return {
        "id": hook.id,
        "account": listed.account,
        "url": hook.url,
        "events": rules.event_names(hook.event_types),
        "created": iso_millis(hook.created_at),
    }


@webhooks_app.command("add")
def webhooks_add(
    account: AccountName,
    url: Annotated[str, typer.Option("--url", help="http(s) URL that receives the events.")],
    events: Annotated[
        str | None,
        typer.Option(help="Comma-separated: " + ",".join(rules.EVENT_NAMES) + " (default all)."),
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="Signing secret (default: generated, printed once).")
    ] = None,
    data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Post ACCOUNT's events to URL, signed with a secret (shown once)."""
    try:
        rules.check_url(url)
        rules.parse_event_types(events)
    except PostroomError as exc:
        fail(exc.message, 2)
    if secret is not None and not secret.strip():
        fail("--secret may not be empty", 2)
    settings = settings_from(data_dir, database_url)
    request = uc.AddWebhook(account, url, events, secret)
    added = run_core(settings, lambda core, who: uc.add_webhook(core, who, request))
    shown = {**_shown(uc.ListedWebhook(added.webhook, added.account)), "secret": added.secret}
    if as_json:
        print_json(shown)
        return
    typer.echo(f"webhook {shown['id']} for {account}: {url}")
    typer.echo(f"events: {','.join(shown['events'])}")
    typer.echo(f"secret: {added.secret}  (shown once: keep it to verify signatures)")


@webhooks_app.command("list")
def webhooks_list(
    account: AccountOpt = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Webhooks (of one account with --account), oldest first; secrets are never shown."""
    settings = settings_from(data_dir, database_url)
    rows = [_shown(w) for w in run_core(settings, lambda c, who: uc.list_webhooks(c, who, account))]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "account", "url", "events", "created")
    for r in rows:
        table.add_row(r["id"], r["account"], r["url"], ",".join(r["events"]), r["created"])
    console.print(table)


@webhooks_app.command("remove")
def webhooks_remove(
    webhook_id: Annotated[str, typer.Argument(metavar="ID")],
    data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """Remove webhook ID; its notifications not yet delivered are dropped."""
    settings = settings_from(data_dir, database_url)
    run_core(settings, lambda core, who: uc.remove_webhook(core, who, webhook_id))
    typer.echo(f"removed {webhook_id}")


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "message_id": row["message_id"],
        "state": row["state"],
        "created": iso_millis(row["created_at"]),
        "next_attempt": iso_millis(row["next_attempt_at"]) if row["state"] == "pending" else None,
        "attempts": [
            {"time": iso_millis(a["attempted_at"]), "status": a["status_code"],
             "error": a["error"], "duration_ms": a["duration_ms"]}
            for a in row["attempts_made"]
        ],  # fmt: skip
    }


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook_id: Annotated[str, typer.Argument(metavar="ID")],
    limit: Annotated[int, typer.Option(help="Notifications shown, newest first.")] = 100,
    data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False,
) -> None:  # fmt: skip
    """Webhook ID's notifications, newest first, with every attempt (time, status or
    error, duration)."""
    settings = settings_from(data_dir, database_url)
    found = run_core(settings, lambda c, who: uc.webhook_deliveries(c, who, webhook_id, limit))
    rows = [_delivery(r) for r in found]
    if as_json:
        print_json(rows)
        return
    table = Table("created", "event", "message id", "state", "attempts")
    for r in rows:
        tries = ", ".join(
            f"{a['time'][11:19]} {a['status'] or a['error']} ({a['duration_ms']} ms)"
            for a in r["attempts"]
        )
        table.add_row(r["created"], r["event_type"], r["message_id"], r["state"], tries)
    console.print(table)

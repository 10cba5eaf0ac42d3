"""`postroom accounts`: accounts (tenants), their state per region, pauses and production
access (`requests`, `approve`, `deny`). Commands that act in one region take --region;
without it `list` shows the default region (POSTROOM_REGION), and `approve`, `deny`,
`pause` and `resume` act in every region, as an operator running one Postroom expects."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from postroom.clock import iso_millis
from postroom.domain.accounts import Account
from postroom.domain.use_cases import operator as ops
from postroom.domain.use_cases import production_access as access
from postroom.interfaces.cli.main import (
    DatabaseUrl,
    DataDir,
    JsonFlag,
    RegionOpt,
    accounts_app,
    console,
    print_issued,
    print_json,
    run_core,
    settings_from,
)

Reason = Annotated[str, typer.Option("--reason", help="Why (the tenant's record keeps it).")]


@accounts_app.command("create")
def accounts_create(
    name: str, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False
) -> None:
    """Create an account (in the sandbox in every region) and its first access key."""
    settings = settings_from(data_dir, database_url)
    issued = run_core(settings, lambda core, caller: ops.create_account(core, caller, name))
    print_issued(issued, as_json, f"account {name} ({issued.account.id})")


def _state(a: Account) -> dict[str, Any]:
    return {
        "region": a.region,
        "sandbox": a.sandbox,
        "max_24h": a.max_24h,
        "max_rate": a.max_rate,
        "sending_enabled": a.sending_enabled,
        "paused_by": a.pauses,
        "enforcement": a.enforcement,
    }


@accounts_app.command("list")
def accounts_list(
    region: RegionOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """List accounts with their sandbox state, quotas and sending switch in a region."""
    found = run_core(settings_from(data_dir, database_url), ops.list_accounts, region)
    rows = [{"account": a.name, "account_id": a.id, **_state(a)} for a in found]
    if as_json:
        print_json(rows)
        return
    table = Table("account", "id", "region", "sandbox", "max 24h", "max rate", "sending",
                  "reputation")  # fmt: skip
    for r in rows:
        sending = "enabled" if r["sending_enabled"] else "paused: " + ", ".join(r["paused_by"])
        quota = (f"{r['max_24h']:g}", f"{r['max_rate']:g}")
        table.add_row(r["account"], r["account_id"], r["region"], str(r["sandbox"]), *quota,
                      sending, r["enforcement"])  # fmt: skip
    console.print(table)


def _where(region: str | None) -> str:
    return f" in {region}" if region else " in every region"


@accounts_app.command("pause")
def accounts_pause(
    name: str, region: RegionOpt = None, data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """Pause sending for account NAME (in --region, else everywhere); only `accounts
    resume` lifts it, not the tenant."""
    settings = settings_from(data_dir, database_url)
    run_core(settings, lambda core, who: ops.pause(core, who, name, region))
    console.print(f"{name}: sending paused by the operator{_where(region)} "
                  f"(postroom accounts resume {name})")  # fmt: skip


@accounts_app.command("resume")
def accounts_resume(
    name: str, region: RegionOpt = None, data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """Lift the operator's pause (in --region, else everywhere) and a reputation review or
    pause: rates counted afresh from now. A pause the tenant made itself
    (UpdateAccountSendingEnabled) stays."""
    settings = settings_from(data_dir, database_url)
    regions = run_core(settings, lambda core, who: ops.resume(core, who, name, region))
    held = [a.region for a in regions if a.paused_by_tenant and region in (None, a.region)]
    if held:
        console.print(
            f"{name}: reputation counted from now; sending stays paused by the tenant itself "
            f"in {', '.join(str(r) for r in held)} (UpdateAccountSendingEnabled Enabled=true "
            "lifts it)"
        )
    else:
        console.print(f"{name}: sending resumed{_where(region)}, reputation counted from now")


@accounts_app.command("requests")
def accounts_requests(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: JsonFlag = False
) -> None:
    """Production-access requests waiting for review, oldest first, with their details."""
    found = run_core(settings_from(data_dir, database_url), access.pending_requests)
    rows = [
        {
            "account": p.account_name,
            "account_id": p.request.account_id,
            "region": p.request.region,
            "case_id": p.request.case_id,
            "filed_at": iso_millis(p.request.filed_at),
            "mail_type": p.request.details.mail_type,
            "website_url": p.request.details.website_url,
            "use_case": p.request.details.use_case,
            "contact_language": p.request.details.contact_language,
            "additional_contacts": p.request.details.additional_contacts,
        }
        for p in found
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no production access requests pending")
        return
    for r in rows:
        heading = f"{r['account']} {r['region']} case {r['case_id']} filed {r['filed_at']}"
        use_case = r["use_case"] or "(no use case given)"
        for line in (f"{heading}: {r['mail_type']}, {r['website_url']}", f"  {use_case}"):
            console.print(line, markup=False, soft_wrap=True)


@accounts_app.command("approve")
def accounts_approve(
    name: str,
    region: RegionOpt = None,
    max_24h: Annotated[float | None, typer.Option("--max-24h")] = None,
    max_rate: Annotated[float | None, typer.Option("--max-rate")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Grant production access (in --region, else every region): out of the sandbox, quota
    50,000/24 h and 14/s by default; pending requests become GRANTED. No request needed."""
    settings = settings_from(data_dir, database_url)
    quotas = (max_24h, max_rate)
    run_core(settings, lambda core, who: access.approve(core, who, name, region, *quotas))
    shown = run_core(settings, lambda core, who: ops.list_accounts(core, who), region)
    account = next(a for a in shown if a.name == name)
    result = {"account": name, "region": region, "sandbox": account.sandbox,
              "max_24h": account.max_24h, "max_rate": account.max_rate}  # fmt: skip
    if as_json:
        print_json(result)
    else:
        console.print(f"{name}: production access{_where(region)}, {account.max_24h:g}/24h, "
                      f"{account.max_rate:g}/s")  # fmt: skip


@accounts_app.command("deny")
def accounts_deny(
    name: str,
    reason: Reason,
    region: RegionOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Deny account NAME's pending production-access request (in --region, else every
    region), with the reason; it stays in the sandbox and may ask again after a day."""
    settings = settings_from(data_dir, database_url)
    denied = run_core(settings, lambda core, who: access.deny(core, who, name, region, reason))
    rows = [{"account": name, "region": r.region, "case_id": r.case_id, "reason": reason}
            for r in denied]  # fmt: skip
    if as_json:
        print_json(rows)
    else:
        for r in rows:
            console.print(f"{name}: request {r['case_id']} in {r['region']} denied")

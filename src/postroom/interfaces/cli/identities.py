"""`postroom identities dns-records`: the records a domain's owner must publish."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from postroom.clock import SystemClock
from postroom.domain import dkim_service, dns_records
from postroom.errors import PostroomError
from postroom.interfaces.cli.main import (
    AccountName,
    DatabaseUrl,
    DataDir,
    _run,
    app,
    fail,
    settings_from,
)
from postroom.secrets import SecretKeyError, open_secret_box
from postroom.services import open_database
from postroom.store import accounts as account_store
from postroom.store import dkim as dkim_store
from postroom.store import identities as identity_store
from postroom.store import mail_from as mail_from_store

identities_app = typer.Typer(help="Identities and their DNS records.", no_args_is_help=True)
app.add_typer(identities_app, name="identities")
RegionOpt = Annotated[str | None, typer.Option("--region", help="Region (default: serve's).")]


@identities_app.command("dns-records")
def dns_records_command(
    domain: str,
    account: AccountName,
    region: RegionOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print, as zone-file lines, every record DOMAIN's owner must publish: the verification
    TXT, the DKIM keys, the custom MAIL FROM MX and SPF records and a suggested DMARC policy."""
    settings = settings_from(data_dir, database_url)
    chosen_region = region or settings.region
    name = domain.strip().rstrip(".").lower()

    def job(conn: Any) -> list[str] | None:
        owner = account_store.find_account(conn, account)
        identity = identity_store.get(conn, owner.id, chosen_region, name)
        keys = [k for k, _ in dkim_store.keys_of(conn, owner.id, chosen_region, name)]
        if identity is None and not keys:
            return None
        custom = mail_from_store.for_identities(conn, owner.id, chosen_region, [name])
        return dns_records.zone_records(
            name,
            verification_token=identity.token if identity else None,
            dkim_keys=keys,
            mail_from_domain=custom[name].domain if name in custom else None,
            mail_from_mx=settings.feedback_host,
            spf_include=settings.feedback_host,
        )

    lines = _run(settings, job)
    if lines is None:
        fail(f"{name} is not an identity of account {account} in {chosen_region}")
    typer.echo("\n".join(lines))


@identities_app.command("rotate-dkim")
def rotate_dkim_command(
    domain: str,
    account: AccountName,
    region: RegionOpt = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a new DKIM key to DOMAIN and print its record. Mail stays signed with the current
    key until the new record is seen in DNS, then moves to it: rotation without a gap."""
    settings = settings_from(data_dir, database_url)
    name = domain.strip().rstrip(".").lower()
    db = open_database(settings)
    try:
        box = open_secret_box(settings.secret_key, settings.data_dir, db)
        owner = db.query(lambda conn: account_store.find_account(conn, account))
        selector = asyncio.run(
            dkim_service.rotate(
                db, box, owner.id, region or settings.region, name, SystemClock().now()
            )
        )
    except (PostroomError, SecretKeyError, ValueError) as exc:
        fail(exc.message if isinstance(exc, PostroomError) else str(exc))
        return
    finally:
        db.close()
    typer.echo(f"new selector {selector}; publish it (postroom identities dns-records {name})")

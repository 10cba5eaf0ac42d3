"""`postroom identities dns-records`: the records a domain's owner must publish."""

from __future__ import annotations

import typer

from postroom.domain.use_cases import domains
from postroom.interfaces.cli.main import (
    AccountName,
    DatabaseUrl,
    DataDir,
    RegionOpt,
    app,
    fail,
    run_core,
    settings_from,
)

identities_app = typer.Typer(help="Identities and their DNS records.", no_args_is_help=True)
app.add_typer(identities_app, name="identities")


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
    lines = run_core(
        settings,
        lambda core, who: domains.dns_records_of(core, who, account, name),
        chosen_region,
    )
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
    selector = run_core(
        settings, lambda core, who: domains.rotate_dkim(core, who, account, name), region
    )
    typer.echo(f"new selector {selector}; publish it (postroom identities dns-records {name})")

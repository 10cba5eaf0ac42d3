"""Shared fixtures for the boto3 contract tests: a running server, tenants, verified identities.

Every test talks to a real `postroom serve` subprocess (capture delivery, the test DNS server
as its resolver) through the real boto3 `ses` client with retries off, and checks what a
user would check: the SDK's answer, the CLI's mailbox and history, HTTP on the wire.
Helpers that are not fixtures live in `ses_support.py`.

Two kinds of server:
- `server`: one per test, on the engine the `database_url` fixture names. That is None
  (SQLite) here; storage modules override it with `engine_url` (SQLite and PostgreSQL).
- `shared_server`: one SQLite server per module, for tests that only read, or fail before
  anything is stored, or make their own account (`shared_tenant_factory`).

`sesv2_client_for` runs a test twice, with the AWS CLI and with @aws-sdk/client-sesv2
(sesv2_clients.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from ses_support import (
    FAST_RATE,
    DomainVerifier,
    Tenant,
    TenantFactory,
    create_tenant,
    verify_domain,
)
from sesv2_clients import AWS_CLI, NODE, AwsCliForks, Sesv2ClientFor
from test_node_seed import find_node

from postroom.testing.dns import TestDnsServer
from postroom.testing.server import PostroomProcess


def _serve_args(dns: TestDnsServer) -> tuple[str, ...]:
    host, port = dns.address
    return ("--delivery", "capture", "--dns", f"{host}:{port}")


# -- a fresh server per test ---------------------------------------------------------------
@pytest.fixture
def database_url() -> str | None:
    """SQLite in the server's data dir; storage modules override this with `engine_url`."""
    return None


@pytest.fixture
def server(postroom_factory: Callable[..., PostroomProcess], dns_server: TestDnsServer,
           database_url: str | None) -> PostroomProcess:
    """`postroom serve --delivery capture --dns <test DNS>` on the module's engine."""
    return postroom_factory(*_serve_args(dns_server), database_url=database_url)


@pytest.fixture
def make_tenant(server: PostroomProcess) -> TenantFactory:
    """make_tenant(name, approve=False, max_24h=None, max_rate=None) -> Tenant."""
    return partial(create_tenant, server)


@pytest.fixture
def sandboxed(make_tenant: TenantFactory) -> Tenant:
    """A new account, still in the sandbox (200/24 h, 1/s, verified recipients only)."""
    return make_tenant("sandboxed")


@pytest.fixture
def approved(make_tenant: TenantFactory) -> Tenant:
    """An account with production access and a rate high enough never to throttle a test."""
    return make_tenant("approved", max_rate=FAST_RATE)


@pytest.fixture
def verify_domain_of(dns_server: TestDnsServer) -> DomainVerifier:
    """verify_domain_of(client, domain) -> token, through the test DNS server."""
    return partial(verify_domain, dns_server)


# -- one server per module -----------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_dns() -> Iterator[TestDnsServer]:
    with TestDnsServer() as dns:
        yield dns


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory,
                  shared_dns: TestDnsServer) -> Iterator[PostroomProcess]:
    """One SQLite server for a whole module."""
    process = PostroomProcess(data_dir=Path(tmp_path_factory.mktemp("shared")) / "data",
                              serve_args=_serve_args(shared_dns))
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def shared_tenant(shared_server: PostroomProcess, shared_dns: TestDnsServer) -> Tenant:
    """An approved account of `shared_server` (high rate) with example.com verified."""
    tenant = create_tenant(shared_server, "shared", max_rate=FAST_RATE)
    verify_domain(shared_dns, tenant.client(), "example.com")
    return tenant


@pytest.fixture(scope="module")
def shared_tenant_factory(shared_server: PostroomProcess) -> TenantFactory:
    """New accounts on `shared_server`, for tests that need fresh quota or rate state."""
    return partial(create_tenant, shared_server)


# -- the SES v2 clients we did not write -----------------------------------------------------
@pytest.fixture(scope="session")
def aws_cli_forks() -> Iterator[AwsCliForks]:
    forks = AwsCliForks()
    yield forks
    forks.close()


@pytest.fixture(params=[AWS_CLI, pytest.param(NODE, marks=pytest.mark.node)])
def sesv2_client_for(request: pytest.FixtureRequest, tmp_path: Path) -> Sesv2ClientFor:
    """sesv2_client_for(tenant) -> the AWS CLI's or @aws-sdk/client-sesv2's SES v2 client
    for the tenant; `.kind` names it ("aws-cli" or "node"), for unique names per run."""
    if request.param == AWS_CLI:
        forks = request.getfixturevalue("aws_cli_forks")
        return Sesv2ClientFor(AWS_CLI, tmp_path, forks=forks)
    return Sesv2ClientFor(NODE, tmp_path, node=find_node())

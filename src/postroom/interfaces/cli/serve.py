"""`postroom serve`: HTTP API, queue and delivery workers in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer
import uvicorn

from postroom.config import ConfigError, HostPort, RelaySettings, Settings
from postroom.domain.use_cases.account import reassess_reputation
from postroom.domain.use_cases.domains import check_pending_domains
from postroom.interfaces.cli.main import DatabaseUrl, DataDir, app, fail, settings_from
from postroom.interfaces.cli.node_processes import (
    NodePlan,
    NodeProcesses,
    Waker,
    listening_socket,
    parent_settings,
    wants_children,
)
from postroom.interfaces.http.app import create_app
from postroom.interfaces.http.server import HttpLimits, connection_budget, protocol_class
from postroom.secrets import SecretKeyError
from postroom.services import Services, build_services

log = logging.getLogger("postroom")


async def check_domains_periodically(services: Services) -> None:
    """Periodically look for the verification and DKIM records of every pending domain."""
    while True:
        await asyncio.sleep(services.settings.domain_check_interval)
        try:
            await check_pending_domains(services.core)
        except Exception:
            log.exception("periodic domain verification failed")


async def watch_reputation(services: Services) -> None:
    """Every account's bounce and complaint rates, assessed periodically (SES enforcement);
    full rate-limit buckets are forgotten on the way."""
    while True:
        await asyncio.sleep(services.settings.reputation_interval)
        try:
            await reassess_reputation(services.core)
        except Exception:
            log.exception("reputation assessment failed")


async def run_server(settings: Settings, plan: NodePlan | None = None) -> None:
    """One node: the roles in `settings`, plus child processes when asked for. `plan`
    says how a spawned child runs (see node_processes)."""
    plan = plan or NodePlan()
    children = None
    sock = None
    if "api" in settings.roles and (settings.api_processes > 1 or plan.reuse_port):
        sock = listening_socket(settings.http, reuse_port=True)
    if wants_children(settings):
        port = sock.getsockname()[1] if sock is not None else settings.http.port
        children = NodeProcesses(settings, run_server, api_port=port)
        settings = parent_settings(settings)
    services = build_services(settings)
    # Roles (ARCHITECTURE.md): a node without `worker` leaves delivery to other nodes, which
    # find the queue rows in the shared database; a node without `api` answers /healthz only.
    runs_worker = "worker" in settings.roles
    worker = services.worker if runs_worker else None
    if worker is not None:
        services.connect_wake(worker.wake)
    elif children is not None and children.workers:
        services.connect_wake(children.wake)
    elif plan.wake_targets:
        services.connect_wake(Waker(plan.wake_targets))
    application = create_app(services, api="api" in settings.roles)
    if plan.wake_fd is not None and worker is not None:
        asyncio.get_running_loop().add_reader(plan.wake_fd, _woken, plan.wake_fd, worker.wake)
    limits = http_limits(settings, runs_worker)
    config = uvicorn.Config(
        application,
        host=settings.http.host,
        port=settings.http.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http=protocol_class(limits),  # uvicorn's httptools protocol with limits
        ws="none",
        loop="none",
        server_header=False,  # no `server: uvicorn`: what runs here is nobody's business
        timeout_keep_alive=limits.keep_alive_timeout,  # type: ignore[arg-type]  # a float
        backlog=min(4096, limits.max_connections),
    )
    server = uvicorn.Server(config)
    background = []
    if worker is not None:
        background.append(asyncio.create_task(worker.run(), name="delivery"))
        # Webhook notifications are published by every worker process and node, sharing
        # the outbox through leases (issue 10).
        background.append(asyncio.create_task(services.publisher().run(), name="webhooks"))
    if worker is not None and plan.periodic:  # once per serve, however many worker processes
        background += [
            asyncio.create_task(check_domains_periodically(services), name="domains"),
            asyncio.create_task(watch_reputation(services), name="reputation"),
        ]
    if children is not None:
        background.append(asyncio.create_task(children.supervise(), name="child processes"))
    announce = asyncio.create_task(_announce(server, services, plan.label, children))
    try:
        await server.serve(sockets=[sock] if sock is not None else None)
    finally:
        for task in [*background, announce]:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        services.close()


def http_limits(settings: Settings, runs_worker: bool) -> HttpLimits:
    """The HTTP limits of this process. Descriptors kept back from client connections: 64,
    plus two per outbound delivery (SMTP and DNS) when the worker role runs here."""
    reserved = 64 + (2 * settings.workers if runs_worker else 0)
    return HttpLimits(
        max_request_line=settings.http_max_request_line,
        max_header_bytes=settings.http_max_header_bytes,
        max_headers=settings.http_max_headers,
        header_timeout=settings.http_header_timeout,
        body_idle_timeout=settings.http_body_idle_timeout,
        body_timeout=settings.http_body_timeout,
        keep_alive_timeout=settings.http_keep_alive_timeout,
        max_connections=connection_budget(settings.http_max_connections, reserved),
    )


def _woken(fd: int, wake: Callable[[], None]) -> None:
    with contextlib.suppress(BlockingIOError, InterruptedError):
        if not os.read(fd, 4096):  # the serving process is gone: stop listening
            asyncio.get_running_loop().remove_reader(fd)
            return
    wake()


async def _announce(
    server: uvicorn.Server, services: Services, label: str, children: NodeProcesses | None
) -> None:
    while not server.started:
        await asyncio.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    settings = services.settings
    if not settings.public_url:  # links must name the port really bound (--http HOST:0)
        services.set_public_url(f"http://{host}:{port}")
    roles = ",".join(settings.roles) or "none"
    if children is not None:
        roles += " + " + children.describe()
    print(
        f"{label} listening on http://{host}:{port} (roles {roles}, "
        f"delivery {settings.delivery}, "
        f"database {settings.effective_database_url.split('://')[0]})",
        flush=True,
    )


@app.command()
def serve(
    http: Annotated[str, typer.Option("--http", help="HOST:PORT to listen on.")] = "127.0.0.1:8025",
    delivery: Annotated[
        str | None,
        typer.Option(help="direct (default: to recipients' MX servers) | relay | capture"),
    ] = None,
    relay: Annotated[str | None, typer.Option(help="Smarthost HOST:PORT (relay).")] = None,
    relay_starttls: Annotated[str, typer.Option(help="off | opportunistic | require")] = (
        "opportunistic"
    ),
    relay_username: Annotated[str | None, typer.Option(envvar="POSTROOM_RELAY_USERNAME")] = None,
    relay_password: Annotated[str | None, typer.Option(envvar="POSTROOM_RELAY_PASSWORD")] = None,
    relay_cafile: Annotated[str | None, typer.Option(help="CA bundle for the smarthost.")] = None,
    dns: Annotated[str | None, typer.Option(help="DNS server HOST:PORT.")] = None,
    outbound_port: Annotated[
        int | None, typer.Option(help="Port of every MX (direct; default 25).")
    ] = None,
    retry_initial: Annotated[float | None, typer.Option(help="First retry delay, s.")] = None,
    retry_max_age: Annotated[float | None, typer.Option(help="Give-up age, s.")] = None,
    webhook_retry_initial: Annotated[
        float | None, typer.Option(help="First webhook retry delay, s (default 30).")
    ] = None,
    public_url: Annotated[str | None, typer.Option(help="Base URL of links.")] = None,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(help="Host names signed requests must name, comma-separated (default any)."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(help="Default region of the CLI and the server (POSTROOM_REGION; us-east-1)."),
    ] = None,
    roles: Annotated[
        str, typer.Option(help="api,worker (default both); nodes share the database.")
    ] = "api,worker",
    worker_processes: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Run the worker role in N child processes (default 1 with 2+ cores, else 0).",
        ),
    ] = None,
    api_processes: Annotated[
        int | None,
        typer.Option(min=1, help="Answer the API in N processes on one port (default 1)."),
    ] = None,
    verification_sender: Annotated[
        str | None,
        typer.Option(envvar="POSTROOM_VERIFICATION_SENDER", help="From of verification mail."),
    ] = None,
    http_max_connections: Annotated[
        int | None, typer.Option(min=0, help="Open connections per API process (0: auto).")
    ] = None,
    http_header_timeout: Annotated[
        float | None, typer.Option(help="Seconds for a request's head (default 20).")
    ] = None,
    http_body_timeout: Annotated[
        float | None, typer.Option(help="Seconds for a whole body (default 120).")
    ] = None,
    http_body_idle_timeout: Annotated[
        float | None, typer.Option(help="Seconds between body reads (default 30).")
    ] = None,
    http_keep_alive_timeout: Annotated[
        float | None, typer.Option(help="Idle seconds between requests (default 30).")
    ] = None,
    http_max_request_line: Annotated[
        int | None, typer.Option(help="Bytes of a request's URL (default 8190).")
    ] = None,
    http_max_header_bytes: Annotated[
        int | None, typer.Option(help="Bytes of a request's headers (default 65536).")
    ] = None,
    http_max_headers: Annotated[
        int | None, typer.Option(help="Header fields of a request (default 100).")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the HTTP API, the queue and the delivery workers (delivery in a process of its
    own on a machine with 2+ cores)."""
    try:
        relay_settings = RelaySettings()
        if relay:
            target = HostPort.parse(relay)
            relay_settings = RelaySettings(
                host=target.host,
                port=target.port,
                starttls=relay_starttls,  # type: ignore[arg-type]
                username=relay_username,
                password=relay_password,
                cafile=relay_cafile,
            )
        elif delivery == "relay":
            raise ConfigError("--delivery relay needs --relay HOST:PORT")
        settings = settings_from(
            data_dir,
            database_url,
            http=http,
            delivery=delivery,
            relay=relay_settings,
            dns=dns,
            public_url=public_url,
            allowed_hosts=allowed_hosts,
            region=region,
            verification_sender=verification_sender,
            roles=roles,
            worker_processes=worker_processes,
            api_processes=api_processes,
            outbound_port=outbound_port,
            retry_initial=retry_initial,
            retry_max_age=retry_max_age,
            webhook_retry_initial=webhook_retry_initial,
            http_max_connections=http_max_connections,
            http_header_timeout=http_header_timeout,
            http_body_timeout=http_body_timeout,
            http_body_idle_timeout=http_body_idle_timeout,
            http_keep_alive_timeout=http_keep_alive_timeout,
            http_max_request_line=http_max_request_line,
            http_max_header_bytes=http_max_header_bytes,
            http_max_headers=http_max_headers,
        )
    except ConfigError as exc:
        fail(str(exc), 2)
        return
    configure_logging()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run_loop(run_server(settings))
    except SecretKeyError as exc:  # before anything listens: a message, not a traceback
        fail(str(exc))


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on uvloop (a dependency through uvicorn[standard])."""
    import uvloop

    uvloop.run(main)

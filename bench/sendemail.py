"""SendEmail over HTTP with SigV4-signed requests: accepted/s, latency, errors, client CPU.

A benchmark, not a test. The load generator stays light so it is not what is measured:
requests are built and signed ahead of time (a pool of distinct SendEmail forms, re-signed
in a background thread well inside SigV4's 5-minute window) and written as prebuilt bytes
over N keep-alive HTTP/1.1 connections driven by asyncio protocols (uvloop when present).

    # everything in one go: a fresh server in a temp dir, an account, a verified sender
    .venv/bin/python bench/sendemail.py --start-server --concurrency 32 --duration 15
    .venv/bin/python bench/sendemail.py --start-server --rate 1000 --duration 15
    # against a running server (sender already verified, or --account to set one up)
    .venv/bin/python bench/sendemail.py --url http://127.0.0.1:8025 \\
        --access-key-id AKIA... --secret-access-key ... --source no-reply@example.com
    # the bare Starlette/uvicorn floor (bench/baseline_app.py), for comparison
    .venv/bin/python bench/sendemail.py --start-baseline --concurrency 64 --duration 15

Latency is measured from the moment a request was due (open loop: its slot in the
schedule, so a stalled server is not hidden by a waiting client; closed loop: when it was
written) to the last byte of the response. See bench/README.md.

This file parses the arguments and runs the steps in order; the work is in the modules next
to it (the script's directory is on sys.path when it runs): loadgen_requests (the message,
SigV4 signing, the pre-signed pool), loadgen_client (keep-alive connections, closed and open
loop), loadgen_setup (server or baseline, account, verified sender), loadgen_cpu (CPU
accounting), loadgen_report (percentiles, summary, delivery check) and loadgen_profile
(py-spy).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

from loadgen_client import Load
from loadgen_cpu import CpuSnapshot, cpu_report, wait_for_idle_machine
from loadgen_profile import finish_profiler, start_profiler
from loadgen_report import (
    delivery_attempts,
    follow_delivery,
    print_summary,
    source_fingerprint,
    summary,
)
from loadgen_requests import Credentials, RequestPool, Target, request_bodies
from loadgen_setup import (
    BASELINE_KEY,
    Cli,
    Processes,
    preflight,
    set_up_account,
    start_baseline,
    start_server,
    verify_sender,
)

DEFAULT_SOURCE = "no-reply@bench.postroom.test"
DEFAULT_RECIPIENT = "success@simulator.amazonses.com"


# --------------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Drive SendEmail with pre-signed SigV4 requests; print accepted/s, "
                    "latency percentiles, errors by code and the client's CPU share.")
    _add_load_options(p)
    _add_server_options(p)
    _add_sender_options(p)
    _add_delivery_options(p)
    _add_output_options(p)
    args = p.parse_args(argv)
    _settle_defaults(p, args)
    return args


def _add_load_options(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--concurrency", "-c", type=int, metavar="C",
                      help="closed loop: C connections, each sends again on each answer "
                           "(default mode, C=32)")
    mode.add_argument("--rate", "-r", type=float, metavar="R",
                      help="open loop: R requests/s on a fixed schedule")
    p.add_argument("--duration", "-d", type=float, metavar="S",
                   help="seconds to measure (default 15 unless --requests is given)")
    p.add_argument("--requests", "-n", type=int, metavar="N", help="measured requests to send")
    p.add_argument("--warmup", type=float, default=2.0, metavar="S",
                   help="seconds of the same load before measuring (default 2)")
    p.add_argument("--connections", type=int, default=64,
                   help="open loop: connections available (default 64)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    p.add_argument("--pool", type=int, default=2048, help="distinct pre-signed requests")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                   help="first wait up to S seconds for the machine to be idle (<15%% busy)")


def _add_server_options(p: argparse.ArgumentParser) -> None:
    server = p.add_argument_group("server")
    server.add_argument("--url", default="http://127.0.0.1:8025")
    server.add_argument("--start-server", action="store_true",
                        help="run `postroom serve --delivery capture` in a temp data dir")
    server.add_argument("--start-baseline", action="store_true",
                        help="run bench/baseline_app.py (no auth, no storage) instead")
    server.add_argument("--baseline-sqlite", action="store_true",
                        help="with --start-baseline: group-commit a row per request")
    server.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `postroom serve` (repeatable)")
    server.add_argument("--server-pid", type=int, help="pid of a running server, for its CPU")
    server.add_argument("--keep-data", action="store_true", help="keep the temp data dir")


def _add_sender_options(p: argparse.ArgumentParser) -> None:
    account = p.add_argument_group("credentials and sender")
    account.add_argument("--access-key-id")
    account.add_argument("--secret-access-key")
    account.add_argument("--account", metavar="NAME",
                         help="create/approve this account with the postroom CLI and verify "
                              "--source through the captured verification mail")
    account.add_argument("--data-dir", default=os.environ.get("POSTROOM_DATA_DIR"))
    account.add_argument("--database-url", default=os.environ.get("POSTROOM_DATABASE_URL"))
    account.add_argument("--region", default="ap-northeast-2")
    account.add_argument("--source", default=DEFAULT_SOURCE)
    account.add_argument("--recipient", action="append", metavar="ADDRESS",
                         help=f"To address (repeatable; default {DEFAULT_RECIPIENT})")
    account.add_argument("--reply-to", default="help@bench.postroom.test")


def _add_delivery_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--drain", type=float, default=0.0, metavar="S",
                   help="after the load, wait up to S seconds for delivery to catch up")
    p.add_argument("--no-delivery-check", action="store_true",
                   help="do not read GetSendStatistics before and after the load")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    out = p.add_argument_group("output and profiling")
    out.add_argument("--json", action="store_true", help="print the summary as JSON")
    out.add_argument("--profile", metavar="PATH",
                     help="py-spy record the server over the measured window "
                          "(.svg flamegraph, .json speedscope, else raw collapsed stacks)")
    out.add_argument("--profile-rate", type=int, default=200, help="py-spy samples/s")
    out.add_argument("--profile-gil", action="store_true",
                     help="sample only the thread holding the GIL")
    out.add_argument("--profile-top", type=int, default=25,
                     help="with a raw profile: print this many hot spots")


def _settle_defaults(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.start_server and args.start_baseline:
        p.error("--start-server and --start-baseline exclude each other")
    if args.rate is None and args.concurrency is None:
        args.concurrency = 32
    if args.duration is None and args.requests is None:
        args.duration = 15.0
    if args.start_server and not args.account:
        args.account = "bench"
    if not (args.start_baseline or args.account or (args.access_key_id and args.secret_access_key)):
        p.error("give --access-key-id/--secret-access-key, --account, --start-server "
                "or --start-baseline")


# --------------------------------------------------------------------------- steps


def prepare(args: argparse.Namespace, processes: Processes) -> tuple[str, Credentials, int | None]:
    """Start what was asked for; return (server kind, credentials, server pid)."""
    env = dict(os.environ)
    pid = args.server_pid
    args.source_fingerprint = source_fingerprint()  # as the server about to start reads it
    if args.start_baseline:
        child, args.url = start_baseline(processes, args.baseline_sqlite, env)
        kind = "baseline, " + ("sqlite group commit" if args.baseline_sqlite else "no storage")
        return kind, Credentials(*BASELINE_KEY, args.region), child.pid
    if args.start_server:
        child, args.url, args.data_dir = start_server(processes, args.data_dir,
                                                      args.database_url, args.server_arg, env)
        pid = child.pid
        kind = "postroom, " + ("postgresql" if args.database_url else "sqlite, durable")
    else:
        kind = "running server"
    if args.account:
        cli = Cli(args.data_dir, args.database_url)
        key_id, secret = set_up_account(cli, args.account)
        creds = Credentials(key_id, secret, args.region)
        verify_sender(cli, args.account, Target.parse(args.url), creds,
                      parseaddr(args.source)[1] or args.source)
        return kind, creds, pid
    return kind, Credentials(args.access_key_id, args.secret_access_key, args.region), pid


def build_load(args: argparse.Namespace, target: Target, creds: Credentials,
               recipients: list[str]) -> tuple[RequestPool, Load]:
    """The signed request pool (after one preflight SendEmail) and the load that sends it."""
    bodies = request_bodies(args.pool, args.source, recipients, args.reply_to)
    preflight(target, creds, bodies[0])
    pool = RequestPool(target, creds, bodies)
    connections = args.concurrency if args.rate is None else args.connections
    load = Load(target, pool, rate=args.rate, connections=connections, warmup=args.warmup,
                duration=args.duration, requests=args.requests, timeout=args.timeout)
    return pool, load


class MeasuredWindow:
    """What happens when the warm-up ends: the first CPU snapshot and, with --profile, py-spy."""

    def __init__(self, args: argparse.Namespace, load: Load, pid: int | None,
                 processes: Processes) -> None:
        self.args, self.load, self.pid, self.processes = args, load, pid, processes
        self.first: CpuSnapshot | None = None
        self.profiler: subprocess.Popen[bytes] | None = None

    async def open_when_due(self) -> None:
        load, args = self.load, self.args
        while load.measure_start == 0.0:
            await asyncio.sleep(0.001)
        await asyncio.sleep(max(0.0, load.measure_start - time.monotonic()))
        self.first = CpuSnapshot.take(self.pid)
        if args.profile and self.pid is not None:
            seconds = args.duration if args.duration else 30.0
            self.profiler = start_profiler(self.processes, self.pid, args.profile, seconds,
                                           args.profile_rate, args.profile_gil)


async def run(args: argparse.Namespace, kind: str, creds: Credentials,
              pid: int | None, processes: Processes) -> dict[str, Any]:
    target = Target.parse(args.url)
    recipients = args.recipient or [DEFAULT_RECIPIENT]
    pool, load = build_load(args, target, creds, recipients)
    fresh = asyncio.create_task(pool.keep_fresh())
    measured = MeasuredWindow(args, load, pid, processes)
    track = not args.start_baseline and not args.no_delivery_check
    before = await asyncio.to_thread(delivery_attempts, target, creds) if track else None
    started = time.monotonic()
    marker = asyncio.create_task(measured.open_when_due())
    try:
        window = await load.run()
    finally:
        fresh.cancel()
        marker.cancel()
    last = CpuSnapshot.take(pid)
    result = summary(args, kind, load, window, cpu_report(measured.first or last, last))
    if before is not None:
        result["delivery"] = await follow_delivery(target, creds, before, started, load,
                                                   len(recipients), args.drain)
    if measured.profiler is not None:
        result["profile"] = finish_profiler(measured.profiler, args.profile, args.profile_top)
    return result


# --------------------------------------------------------------------------- main


def event_loop_runner() -> Any:
    """uvloop's runner when it is installed, else asyncio's."""
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    return runner


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    processes = Processes()
    try:
        kind, creds, pid = prepare(args, processes)
        if args.wait_idle:
            wait_for_idle_machine(args.wait_idle)
        result = event_loop_runner()(run(args, kind, creds, pid, processes))
    finally:
        processes.cleanup(args.keep_data)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_summary(result)
        if "profile" in result:
            print(result["profile"])
    return 1 if result["accepted"] == 0 else 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())

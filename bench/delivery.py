"""Delivery end to end: N messages accepted through the SES API and delivered by
`postroom serve --delivery direct` to a local SMTP sink; then the same N messages pushed
into a throwaway Postfix instance that relays to the same kind of sink, for comparison.

A benchmark, not a test. The figure is delivered messages per second end to end: from the
first accepted message (the first SendEmail answer with a MessageId, or the first 250 after
DATA for Postfix) to the moment the sink has received the last one, as the sink reports it.
Acceptance overlaps delivery, as it would in production; its own rate is printed but is
not what is measured.

    # both, 5,000 messages each, into Postfix's smtp-sink
    .venv/bin/python bench/delivery.py
    .venv/bin/python bench/delivery.py -n 20000 --only postroom
    # with DKIM signing (keys published in the test DNS, status Success before the run)
    .venv/bin/python bench/delivery.py --only postroom --dkim

The Postroom side: a fresh data dir (embedded SQLite, durable), `postroom serve --delivery
direct --dns 127.0.0.1:DNSPORT --outbound-port SINKPORT`; a test DNS server in this process
(`postroom.testing.dns.TestDnsServer`) serving `bench.test MX 10 mx.bench.test.`,
`mx.bench.test A 127.0.0.1` and the sender domain's `_amazonses` TXT; an approved account
(`postroom accounts create/approve`); the sender domain verified with VerifyDomainIdentity;
recipients `user{i}@bench.test`, one per message. Requests are pre-signed and written over
keep-alive connections by bench/loadgen_client.py, as bench/sendemail.py does.

The Postfix side: bench/delivery_postfix.py. The sinks: bench/delivery_sink.py. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from delivery_postfix import PostfixInstance, postfix_available, submit
from delivery_sink import Sink, free_port, smtp_sink_available, tree_cpu
from loadgen_client import Load
from loadgen_cpu import machine_ticks, own_cpu, wait_for_idle_machine
from loadgen_profile import finish_profiler, start_profiler
from loadgen_report import source_fingerprint
from loadgen_requests import (
    HTML,
    SUBJECT,
    TEXT,
    Credentials,
    RequestPool,
    Target,
    call,
    form,
    send_email_form,
)
from loadgen_setup import Cli, Processes, preflight, set_up_account

from postroom.testing.dns import TestDnsServer

SENDER_DOMAIN = "postroom-bench.test"
SOURCE = f"no-reply@{SENDER_DOMAIN}"
REPLY_TO = f"help@{SENDER_DOMAIN}"
RCPT_DOMAIN = "bench.test"
MX_HOST = "mx.bench.test"
PREFLIGHT_RCPT = f"preflight@{RCPT_DOMAIN}"


# --------------------------------------------------------------------------- arguments


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="N messages through the SES API, delivered by Postroom to a local sink, "
                    "then through Postfix to the same sink: delivered/s end to end.")
    p.add_argument("--messages", "-n", type=int, default=5000, help="messages (default 5000)")
    p.add_argument("--only", choices=("postroom", "postfix"),
                   help="run one side only (default: Postroom, then Postfix)")
    p.add_argument("--postfix-first", action="store_true",
                   help="run Postfix before Postroom (to see whether the order matters)")
    p.add_argument("--sink", choices=("smtp-sink", "aiosmtpd"),
                   help="receiving server (default smtp-sink when installed)")
    p.add_argument("--connections", "-c", type=int, default=16,
                   help="submission connections, HTTP or SMTP (default 16)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="give up S seconds after the first submission (default 300)")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                   help="before each side, wait up to S s for the machine to be <15%% busy")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    pr = p.add_argument_group("postroom")
    pr.add_argument("--dkim", action="store_true",
                    help="VerifyDomainDkim and publish the keys, so every message is signed")
    pr.add_argument("--region", default="ap-northeast-2")
    pr.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for `postroom serve` (repeatable)")
    pr.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                    help="environment for the server, e.g. POSTROOM_WORKERS=32 (repeatable)")
    pr.add_argument("--keep-data", action="store_true", help="keep the temp dirs")
    pr.add_argument("--profile", metavar="PATH",
                    help="py-spy record the Postroom server from the first submission to the "
                         "last delivery (.svg, .json, else raw collapsed stacks)")
    pr.add_argument("--profile-rate", type=int, default=100, help="py-spy samples/s")
    pr.add_argument("--profile-gil", action="store_true",
                    help="sample only the thread holding the GIL")
    pr.add_argument("--profile-top", type=int, default=25)
    pf = p.add_argument_group("postfix")
    pf.add_argument("--postfix-set", action="append", default=[], metavar="'NAME = VALUE'",
                    help="extra main.cf line for the Postfix instance (repeatable)")
    args = p.parse_args(argv)
    if args.sink is None:
        args.sink = "smtp-sink" if smtp_sink_available() else "aiosmtpd"
    if args.sink == "smtp-sink" and not smtp_sink_available():
        p.error("smtp-sink not found: apt-get install postfix, or --sink aiosmtpd")
    if args.only != "postroom" and not postfix_available():
        if args.only == "postfix":
            p.error("Postfix is not installed (apt-get install postfix)")
        print("Postfix is not installed: Postroom only", file=sys.stderr)
        args.only = "postroom"
    return args


# --------------------------------------------------------------------------- measuring


class Meter:
    """CPU of the server tree, the sink and this process, and the machine, over a window."""

    def __init__(self, server_pid: int | None, sink_pid: int | None) -> None:
        self.server_pid, self.sink_pid = server_pid, sink_pid
        self.start = self._take()

    def _take(self) -> dict[str, Any]:
        return {"wall": time.monotonic(), "server": tree_cpu(self.server_pid),
                "sink": tree_cpu(self.sink_pid), "client": own_cpu(), "machine": machine_ticks()}

    def finish(self) -> dict[str, float | None]:
        end, start = self._take(), self.start
        wall = max(end["wall"] - start["wall"], 1e-9)
        out: dict[str, float | None] = {"wall_s": round(wall, 3)}
        for key in ("server", "sink", "client"):
            a, b = start[key], end[key]
            out[f"{key}_cores"] = round((b - a) / wall, 3) if a is not None and b is not None \
                else None
            out[f"{key}_cpu_s"] = round(b - a, 3) if a is not None and b is not None else None
        busy = None
        if start["machine"] and end["machine"]:
            total = end["machine"][0] - start["machine"][0]
            idle = end["machine"][1] - start["machine"][1]
            busy = round((total - idle) / total, 3) if total else None
        out["machine_busy"] = busy
        return out


def outcome(side: str, sink: Sink, baseline: int, accepted: int, errors: dict[str, int],
            first_accepted: float, last_accepted: float, started: float, finished: bool,
            cpu: dict[str, float | None], connections: int) -> dict[str, Any]:
    """The figures of one side, from the sink's timeline."""
    delivered = sink.count - baseline
    last = sink.times[-1] if sink.times else None  # when timed out: the last one seen
    if finished:
        last = sink.time_of(baseline + accepted)
    first_delivery = sink.time_of(baseline + 1)
    span = (last - first_accepted) if last is not None and math.isfinite(first_accepted) else None
    accept_span = last_accepted - first_accepted if accepted > 1 else None
    during = sink.count_at(last_accepted) - baseline if accepted else 0
    after_span = (last - last_accepted) if last is not None and accepted else None
    return {
        "side": side, "sink": sink.describe(), "connections": connections,
        "accepted": accepted, "submission_errors": errors,
        "accept_s": round(accept_span, 3) if accept_span else None,
        "accepted_per_s": round(accepted / accept_span, 1) if accept_span else None,
        "delivered": delivered, "complete": finished,
        "first_delivery_after_s": (round(first_delivery - first_accepted, 3)
                                   if first_delivery is not None and accepted else None),
        "end_to_end_s": round(span, 3) if span else None,
        "delivered_per_s": round(delivered / span, 1) if span else None,
        "delivered_while_accepting": during,
        "delivered_after_accepting": delivered - during,
        "after_accepting_s": round(after_span, 3) if after_span is not None else None,
        "delivered_per_s_after_accepting": (round((delivered - during) / after_span, 1)
                                            if after_span and after_span > 0 else None),
        "submission_to_first_accept_s": round(first_accepted - started, 3)
        if math.isfinite(first_accepted) else None,
        "cpu": cpu, "cores": os.cpu_count(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --------------------------------------------------------------------------- Postroom


class TimedLoad(Load):
    """bench/loadgen_client.Load that also remembers when the first and last answers with a
    MessageId arrived."""

    first_accepted = math.inf
    last_accepted = 0.0

    def completed(self, conn: Any, status: int, body: bytes) -> None:
        if status == 200:
            now = time.monotonic()
            self.first_accepted = min(self.first_accepted, now)
            self.last_accepted = now
        super().completed(conn, status, body)


def _xml(tag: str, body: bytes) -> str | None:
    match = re.search(rf"<{tag}>([^<]*)</{tag}>".encode(), body)
    return match.group(1).decode() if match else None


def _ses(target: Target, creds: Credentials, action: str, *pairs: tuple[str, str]) -> bytes:
    status, body = call(target, creds, form([("Action", action), ("Version", "2010-12-01"),
                                             *pairs]))
    if status != 200:
        raise SystemExit(f"{action} failed ({status}): {body.decode(errors='replace')}")
    return body


def _wait_status(target: Target, creds: Credentials, action: str, tag: str,
                 timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        body = _ses(target, creds, action, ("Identities.member.1", SENDER_DOMAIN))
        if _xml(tag, body) == "Success":
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{action}: {SENDER_DOMAIN} not Success after {timeout:g} s:\n"
                             f"{body.decode(errors='replace')}")
        time.sleep(0.5)


def verify_sender_domain(target: Target, creds: Credentials, dns_server: TestDnsServer,
                         cli: Cli, account: str, region: str, dkim: bool) -> None:
    """VerifyDomainIdentity, `_amazonses` TXT in the test DNS, then wait for Success; with
    DKIM, VerifyDomainDkim and every TXT record `postroom identities dns-records` prints."""
    token = _xml("VerificationToken",
                 _ses(target, creds, "VerifyDomainIdentity", ("Domain", SENDER_DOMAIN)))
    if not token:
        raise SystemExit("VerifyDomainIdentity returned no token")
    dns_server.add(f"_amazonses.{SENDER_DOMAIN}", "TXT", token)
    _wait_status(target, creds, "GetIdentityVerificationAttributes", "VerificationStatus")
    if not dkim:
        return
    import dns.rdatatype
    import dns.zone

    _ses(target, creds, "VerifyDomainDkim", ("Domain", SENDER_DOMAIN))
    records = cli.run("identities", "dns-records", SENDER_DOMAIN, "--account", account,
                      "--region", region).stdout
    zone = dns.zone.from_text(records, origin=SENDER_DOMAIN + ".", relativize=False,
                              check_origin=False)
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            if rdataset.rdtype == dns.rdatatype.TXT and "_domainkey" in name.to_text():
                for rdata in rdataset:
                    text = b"".join(rdata.strings).decode()
                    dns_server.add(name.to_text(omit_final_dot=True), "TXT", text)
    _wait_status(target, creds, "GetIdentityDkimAttributes", "DkimVerificationStatus")


def start_postroom(args: argparse.Namespace, processes: Processes, temp: Path, dns_port: int,
                   sink_port: int) -> tuple[int, str, Path]:
    data_dir = temp / "data"
    command = [sys.executable, "-m", "postroom", "serve", "--http", "127.0.0.1:0",
               "--delivery", "direct", "--dns", f"127.0.0.1:{dns_port}",
               "--outbound-port", str(sink_port), "--data-dir", str(data_dir),
               *args.server_arg]
    env = dict(os.environ)
    for pair in args.server_env:
        name, _, value = pair.partition("=")
        env[name] = value
    child, url = processes.start(command, temp / "server.log",
                                 r"postroom listening on (http://\S+)", env)
    return child.pid, url, data_dir


def _postroom_sides(args: argparse.Namespace) -> str:
    extra = " ".join([*args.server_env, *args.server_arg])
    return ("postroom serve --delivery direct (SQLite, durable" + (", DKIM" if args.dkim else "")
            + (f"; {extra}" if extra else "") + ")")


def run_postroom(args: argparse.Namespace, processes: Processes) -> dict[str, Any]:
    temp = Path(tempfile.mkdtemp(prefix="postroom-delivery-"))
    processes.temp_dirs.append(temp)
    sink = Sink(args.sink, "127.0.0.1", free_port(), temp / "sink.log")
    fingerprint = source_fingerprint()
    with TestDnsServer() as dns_server:
        dns_server.add(RCPT_DOMAIN, "MX", f"10 {MX_HOST}.")
        dns_server.add(MX_HOST, "A", "127.0.0.1")
        sink.start()
        try:
            pid, url, data_dir = start_postroom(args, processes, temp, dns_server.address[1],
                                                sink.port)
            target = Target.parse(url)
            cli = Cli(str(data_dir), None)
            key_id, secret = set_up_account(cli, "bench")
            creds = Credentials(key_id, secret, args.region)
            verify_sender_domain(target, creds, dns_server, cli, "bench", args.region, args.dkim)
            # One message through the whole path first: a set-up problem is one clear error.
            preflight(target, creds, send_email_form(SOURCE, [PREFLIGHT_RCPT], REPLY_TO, "x"))
            if not sink.wait_for(1, time.monotonic() + 60):
                log = (temp / "server.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"the preflight message never reached the sink:\n{log}")
            bodies = [send_email_form(SOURCE, [f"user{i}@{RCPT_DOMAIN}"], REPLY_TO,
                                      f"pw{i:08d}") for i in range(args.messages)]
            pool = RequestPool(target, creds, bodies)
            if args.wait_idle:
                wait_for_idle_machine(args.wait_idle)
            result = _runner()(_postroom_timed(args, processes, pool, sink, pid))
            result["server"] = _postroom_sides(args)
            result["postroom_source"] = fingerprint
            result["send_statistics"] = _send_statistics(target, creds)
        finally:
            sink.stop()
    return result


async def _postroom_timed(args: argparse.Namespace, processes: Processes, pool: RequestPool,
                          sink: Sink, pid: int) -> dict[str, Any]:
    baseline = sink.count
    load = TimedLoad(pool.target, pool, rate=None, connections=args.connections, warmup=0.0,
                     duration=None, requests=args.messages, timeout=30.0)
    fresh = asyncio.create_task(pool.keep_fresh())
    meter = Meter(pid, sink.pid)
    profiler = (start_profiler(processes, pid, args.profile, args.timeout, args.profile_rate,
                               args.profile_gil) if args.profile else None)
    started = time.monotonic()
    deadline = started + args.timeout
    try:
        await load.run()
    finally:
        fresh.cancel()
    accepted = load.accepted_total
    finished = await asyncio.to_thread(sink.wait_for, baseline + accepted, deadline)
    cpu = meter.finish()
    result = outcome("postroom", sink, baseline, accepted, dict(load.stats.errors),
                     load.first_accepted, load.last_accepted, started, finished, cpu,
                     args.connections)
    if profiler is not None:
        with contextlib.suppress(OSError):
            profiler.send_signal(signal.SIGINT)
        result["profile"] = finish_profiler(profiler, args.profile, args.profile_top)
    return result


def _send_statistics(target: Target, creds: Credentials) -> dict[str, int] | None:
    try:
        body = _ses(target, creds, "GetSendStatistics")
    except (OSError, SystemExit):
        return None
    return {tag: sum(int(n) for n in re.findall(rf"<{tag}>(\d+)</{tag}>".encode(), body))
            for tag in ("DeliveryAttempts", "Bounces", "Complaints", "Rejects")}


# --------------------------------------------------------------------------- Postfix


def postfix_messages(n: int) -> list[tuple[str, str, bytes]]:
    """The same mail Postroom builds for the SendEmail requests (its own MIME builder)."""
    from postroom.wire.addresses import parse_address
    from postroom.wire.mime import Content, build_simple_message

    source, reply_to = parse_address(SOURCE), parse_address(REPLY_TO)
    now = time.time()
    messages = []
    for i in range(n):
        rcpt = f"user{i}@{RCPT_DOMAIN}"
        raw = build_simple_message(
            source=source, to=[parse_address(rcpt)], cc=[], reply_to=[reply_to],
            subject=Content(SUBJECT, "UTF-8"),
            text=Content(TEXT.format(password=f"pw{i:08d}"), "UTF-8"),
            html=Content(HTML.format(password=f"pw{i:08d}"), "UTF-8"),
            message_id=uuid.uuid4().hex, mail_domain="postfix-bench.localhost", date=now,
        )
        messages.append((SOURCE, rcpt, raw))
    return messages


def run_postfix(args: argparse.Namespace, processes: Processes) -> dict[str, Any]:
    temp = Path(tempfile.mkdtemp(prefix="postfix-delivery-"))
    processes.temp_dirs.append(temp)
    sink = Sink(args.sink, "127.0.0.1", free_port(), temp / "sink.log")
    postfix = PostfixInstance(temp, free_port(), 0, args.postfix_set)
    sink.start()
    try:
        postfix.sink_port = sink.port
        postfix.configure()
        postfix.start()
        preflight_message = postfix_messages(1)[0]
        warm = _runner()(submit("127.0.0.1", postfix.port,
                                [(SOURCE, PREFLIGHT_RCPT, preflight_message[2])], 1))
        if warm.accepted != 1 or not sink.wait_for(1, time.monotonic() + 60):
            raise SystemExit(f"the preflight message never reached the sink ({warm.errors}):\n"
                             f"{postfix.maillog.read_text(errors='replace')[-3000:]}")
        messages = postfix_messages(args.messages)
        if args.wait_idle:
            wait_for_idle_machine(args.wait_idle)
        result = _runner()(_postfix_timed(args, postfix, messages, sink))
        result["server"] = ("postfix " + _postfix_version()
                            + " relayhost -> sink (defaults; queue fsync'd)"
                            + (f"; {'; '.join(args.postfix_set)}" if args.postfix_set else ""))
        result["left_in_queue"] = postfix.queue_size()
    finally:
        postfix.stop()
        sink.stop()
    return result


async def _postfix_timed(args: argparse.Namespace, postfix: PostfixInstance,
                         messages: list[tuple[str, str, bytes]], sink: Sink) -> dict[str, Any]:
    baseline = sink.count
    meter = Meter(postfix.master_pid, sink.pid)
    started = time.monotonic()
    deadline = started + args.timeout
    try:
        submitted = await asyncio.wait_for(
            submit("127.0.0.1", postfix.port, messages, args.connections), args.timeout)
    except TimeoutError:
        raise SystemExit(f"submission to Postfix took more than {args.timeout:g} s") from None
    finished = await asyncio.to_thread(sink.wait_for, baseline + submitted.accepted, deadline)
    cpu = meter.finish()
    return outcome("postfix", sink, baseline, submitted.accepted, dict(submitted.errors),
                   submitted.first_accepted, submitted.last_accepted, started, finished, cpu,
                   args.connections)


def _postfix_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["/usr/sbin/postconf", "-d", "-h", "mail_version"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return out or "?"
    return "?"


# --------------------------------------------------------------------------- report


def print_result(r: dict[str, Any]) -> None:
    cores = r["cores"] or 1
    cpu = r["cpu"]
    print(f"{r['side']:<11} {r['server']}")
    if r.get("postroom_source"):
        print(f"source      postroom {r['postroom_source']}, {r['finished_at']}")
    else:
        print(f"finished    {r['finished_at']}")
    print(f"sink        {r['sink']}")
    errors = ", ".join(f"{k}: {v}" for k, v in r["submission_errors"].items()) or "no errors"
    rate = f" ({r['accepted_per_s']:.0f}/s over {r['accept_s']:.2f} s)" if r["accept_s"] else ""
    print(f"accepted    {r['accepted']} over {r['connections']} connections{rate}; {errors}")
    if r["end_to_end_s"]:
        state = "all" if r["complete"] else "ONLY (timed out)"
        print(f"delivered   {state} {r['delivered']} at the sink, the last "
              f"{r['end_to_end_s']:.2f} s after the first acceptance "
              f"(first delivery after {r['first_delivery_after_s']:.3f} s)")
        print(f"end to end  {r['delivered_per_s']:.1f} delivered/s")
        after = r["delivered_per_s_after_accepting"]
        print(f"phases      {r['delivered_while_accepting']} delivered while accepting, "
              f"{r['delivered_after_accepting']} in the {r['after_accepting_s']:.2f} s after"
              + (f" ({after:.0f}/s)" if after else ""))
    else:
        print(f"delivered   {r['delivered']} (nothing timed)")
    if cpu["server_cores"] is not None:
        per = (1000 * cpu["server_cpu_s"] / r["delivered"]) if r["delivered"] else math.nan
        what = "postfix cpu" if r["side"] == "postfix" else "server cpu"
        share = 100 * cpu["server_cores"] / cores
        print(f"{what:<11} {cpu['server_cores']:.2f} core ({share:.0f}% of {cores} cores)"
              f" over {cpu['wall_s']:.2f} s; {per:.2f} ms CPU per message")
    print(f"other cpu   sink {cpu['sink_cores'] or 0:.2f} core, this client "
          f"{cpu['client_cores'] or 0:.2f} core")
    if cpu["machine_busy"] is not None:
        rest = (cpu["machine_busy"] * cores - (cpu["server_cores"] or 0)
                - (cpu["sink_cores"] or 0) - (cpu["client_cores"] or 0))
        print(f"machine     {100 * cpu['machine_busy']:.0f}% busy; {rest:.2f} core outside "
              "server, sink and client")
    if r.get("send_statistics"):
        s = r["send_statistics"]
        print(f"statistics  GetSendStatistics: {s['DeliveryAttempts']} delivery attempts, "
              f"{s['Bounces']} bounces, {s['Rejects']} rejects (preflight included)")
    if "left_in_queue" in r:
        print(f"queue       {r['left_in_queue']} files left in Postfix's queues")
    if r.get("profile"):
        print(r["profile"])


def _runner() -> Any:
    with contextlib.suppress(ImportError):
        import uvloop

        return uvloop.run
    return asyncio.run


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: list[dict[str, Any]] = []
    processes = Processes()
    try:
        sides = [("postroom", run_postroom), ("postfix", run_postfix)]
        for side, run in reversed(sides) if args.postfix_first else sides:
            if args.only in (None, side):
                results.append(run(args, processes))
                if not args.json:
                    print_result(results[-1])
                    print()
    finally:
        processes.cleanup(args.keep_data)
    by_side = {r["side"]: r for r in results}
    if {"postroom", "postfix"} <= set(by_side):
        a, b = by_side["postroom"]["delivered_per_s"], by_side["postfix"]["delivered_per_s"]
        ratio = round(a / b, 2) if a and b else None
        if args.json:
            results.append({"postroom_over_postfix": ratio})
        elif ratio is not None:
            print(f"postroom / postfix: {ratio:.2f}x delivered/s end to end "
                  f"({a:.1f} against {b:.1f})")
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0 if results and all(r.get("complete", True) for r in results) else 1


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())

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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import http.client
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from postroom.wire.sigv4 import SignedRequest, sign_request

HERE = Path(__file__).resolve().parent
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
DEFAULT_SOURCE = "no-reply@bench.postroom.test"
DEFAULT_RECIPIENT = "success@simulator.amazonses.com"
BASELINE_KEY = ("AKIABASELINEBENCH000", "baseline/secret/not/checked/by/the/baseline/app")
SUBJECT = "[포스트룸] 임시 비밀번호 안내"
TEXT = (
    "안녕하세요, 고객님.\n\n"
    "요청하신 임시 비밀번호는 {password} 입니다.\n"
    "로그인한 뒤 [내 정보 > 비밀번호 변경]에서 새 비밀번호로 바꿔 주세요.\n"
    "본인이 요청하지 않았다면 이 메일을 무시하셔도 됩니다.\n\n"
    "감사합니다.\n포스트룸 드림\n"
)
HTML = (
    "<html><body style=\"font-family:sans-serif\">"
    "<p>안녕하세요, 고객님.</p>"
    "<p>요청하신 임시 비밀번호는 <b style=\"font-size:18px\">{password}</b> 입니다.</p>"
    "<p>로그인한 뒤 <i>내 정보 &gt; 비밀번호 변경</i>에서 새 비밀번호로 바꿔 주세요.<br>"
    "본인이 요청하지 않았다면 이 메일을 무시하셔도 됩니다.</p>"
    "<p>감사합니다.<br>포스트룸 드림</p></body></html>"
)
RESIGN_SECONDS = 60.0  # SigV4 accepts +-5 minutes; a pool is never older than this
_CODE = re.compile(rb"<Code>([^<]*)</Code>")
_VERIFY_LINK = re.compile(r"/verify/([A-Za-z0-9_~.%-]+)")


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit(f"--url must be http://HOST:PORT[/path], got {url!r}")
        return cls(parts.hostname, parts.port or 80, parts.path or "/")

    @property
    def host_header(self) -> str:
        return self.host if self.port == 80 else f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host_header}"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    region: str


def amz_now() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def form(pairs: Sequence[tuple[str, str]]) -> bytes:
    # botocore's query serializer: percent-encode everything but RFC 3986 unreserved.
    return urlencode(pairs, safe="-_.~", quote_via=quote).encode("ascii")


def send_email_form(source: str, recipients: Sequence[str], reply_to: str | None,
                    password: str) -> bytes:
    """The seed's scenario: a temporary password, Korean subject, Text and Html parts."""
    pairs = [("Action", "SendEmail"), ("Version", "2010-12-01"), ("Source", source)]
    pairs += [(f"Destination.ToAddresses.member.{i}", r) for i, r in enumerate(recipients, 1)]
    pairs += [
        ("Message.Subject.Data", SUBJECT), ("Message.Subject.Charset", "UTF-8"),
        ("Message.Body.Text.Data", TEXT.format(password=password)),
        ("Message.Body.Text.Charset", "UTF-8"),
        ("Message.Body.Html.Data", HTML.format(password=password)),
        ("Message.Body.Html.Charset", "UTF-8"),
    ]
    if reply_to:
        pairs.append(("ReplyToAddresses.member.1", reply_to))
    return form(pairs)


def signed_headers(target: Target, creds: Credentials, body: bytes,
                   amz_date: str) -> dict[str, str]:
    headers = {"host": target.host_header, "content-type": CONTENT_TYPE}
    request = SignedRequest("POST", target.path, "", headers, body)
    headers.update(sign_request(request, creds.access_key_id, creds.secret_access_key,
                                creds.region, amz_date))
    return headers


def prebuilt_request(target: Target, creds: Credentials, body: bytes, amz_date: str) -> bytes:
    """The complete HTTP/1.1 request, ready to write."""
    h = signed_headers(target, creds, body, amz_date)
    head = (
        f"POST {target.path} HTTP/1.1\r\nHost: {h['host']}\r\nContent-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\nX-Amz-Date: {h['x-amz-date']}\r\n"
        f"Authorization: {h['authorization']}\r\nUser-Agent: postroom-bench\r\n\r\n"
    )
    return head.encode("ascii") + body


class RequestPool:
    """Distinct signed requests, used round-robin and re-signed every RESIGN_SECONDS.

    SigV4 does not forbid replays, so cycling a pool of a few thousand bodies is fine; each
    one becomes a separate accepted message.
    """

    def __init__(self, target: Target, creds: Credentials, bodies: list[bytes]) -> None:
        self.target, self.creds, self.bodies = target, creds, bodies
        self.requests = self._sign()
        self.index = 0

    def _sign(self) -> list[bytes]:
        amz_date = amz_now()
        return [prebuilt_request(self.target, self.creds, b, amz_date) for b in self.bodies]

    def next(self) -> bytes:
        requests = self.requests
        self.index += 1
        return requests[self.index % len(requests)]

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(RESIGN_SECONDS)
            self.requests = await asyncio.to_thread(self._sign)


def request_bodies(count: int, source: str, recipients: Sequence[str],
                   reply_to: str | None) -> list[bytes]:
    rng = random.Random(2010_12_01)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return [
        send_email_form(source, recipients, reply_to,
                        "".join(rng.choice(alphabet) for _ in range(10)))
        for _ in range(count)
    ]


# --------------------------------------------------------------------------- statistics


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # accepted, seconds
    error_latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    send_lag: list[float] = field(default_factory=list)  # open loop: written - due
    first_origin: float = math.inf
    last_done: float = 0.0

    def record(self, origin: float, done: float, status: int, body: bytes) -> None:
        self.first_origin = min(self.first_origin, origin)
        self.last_done = max(self.last_done, done)
        if status == 200 and b"<MessageId>" in body:
            self.latencies.append(done - origin)
            return
        self.error_latencies.append(done - origin)
        match = _CODE.search(body)
        code = match.group(1).decode("utf-8", "replace") if match else "(no code)"
        self.errors[f"{status} {code}"] += 1

    def fail(self, origin: float, done: float, what: str) -> None:
        self.first_origin = min(self.first_origin, origin)
        self.last_done = max(self.last_done, done)
        self.errors[what] += 1


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


# --------------------------------------------------------------------------- connections


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request in flight."""

    def __init__(self, load: Load) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.need = -1  # total bytes of the current response once its head is parsed
        self.body_start = 0
        self.status = 0
        self.busy = False
        self.origin = 0.0
        self.written = 0.0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def send(self, data: bytes, origin: float) -> None:
        assert self.transport is not None
        self.busy, self.origin = True, origin
        self.written = time.monotonic()
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.need < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if not head.startswith(b"http/1.1 ") or at < 0 or not self.busy:
                self._protocol_error("BadResponse")
                return
            stop = head.find(b"\r\n", at + 2)
            self.status = int(head[9:12])
            self.body_start = end + 4
            self.need = self.body_start + int(head[at + 17:stop if stop > 0 else None])
        if len(buffer) < self.need:
            return
        if len(buffer) > self.need:
            self._protocol_error("BadResponse")
            return
        body = bytes(buffer[self.body_start:])
        buffer.clear()
        self.need = -1
        self.busy = False
        self.load.completed(self, self.status, body)

    def _protocol_error(self, what: str) -> None:
        self.load.failed(self, what)
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.load.lost(self, exc)


class Load:
    """Drives the connections in closed loop (`concurrency`) or open loop (`rate`)."""

    def __init__(self, target: Target, pool: RequestPool, *, rate: float | None,
                 connections: int, warmup: float, duration: float | None,
                 requests: int | None, timeout: float) -> None:
        self.target, self.pool, self.rate = target, pool, rate
        self.connections = connections
        self.warmup, self.duration, self.limit, self.timeout = warmup, duration, requests, timeout
        self.stats = Stats()
        self.idle: list[Connection] = []
        self.live: set[Connection] = set()
        self.pending: deque[float] = deque()  # open loop: due times waiting for a connection
        self.sending = True
        self.sent = 0  # measured requests issued
        self.measure_start = 0.0
        self.done = asyncio.Event()
        self.reconnects = 0
        self.accepted_total = 0  # warm-up included: what the server must now deliver

    # -- issuing ------------------------------------------------------------------------
    def _may_issue(self, origin: float) -> bool:
        if not self.sending:
            return False
        if origin >= self.measure_start:
            over_time = self.duration is not None and origin >= self.measure_start + self.duration
            over_count = self.limit is not None and self.sent >= self.limit
            if over_time or over_count:
                self.sending = False
        if not self.sending:
            self._maybe_done()
        return self.sending

    def _issue(self, conn: Connection, origin: float) -> None:
        if origin >= self.measure_start:
            self.sent += 1
        conn.send(self.pool.next(), origin)

    def dispatch(self, due: float) -> None:
        """Open loop: a request is due now; send it, or queue it for the next free link.

        Latency counts from here: waiting for a free connection is the server's doing and is
        measured; the timer's lateness (libuv has 1 ms resolution) is the client's and is
        reported apart as send lag.
        """
        now = time.monotonic()
        if due >= self.measure_start:
            self.stats.send_lag.append(now - due)
        origin = max(now, due)
        if self.idle:
            self._issue(self.idle.pop(), origin)
        else:
            self.pending.append(origin)

    def _next_for(self, conn: Connection) -> None:
        if self.rate is not None:
            if self.pending:
                self._issue(conn, self.pending.popleft())
                return
        else:
            now = time.monotonic()
            if self._may_issue(now):
                self._issue(conn, now)
                return
        self.idle.append(conn)
        self._maybe_done()

    # -- outcomes -----------------------------------------------------------------------
    def completed(self, conn: Connection, status: int, body: bytes) -> None:
        done = time.monotonic()
        if status == 200:
            self.accepted_total += 1
        if conn.origin >= self.measure_start:
            self.stats.record(conn.origin, done, status, body)
        self._next_for(conn)

    def failed(self, conn: Connection, what: str) -> None:
        if conn.busy and conn.origin >= self.measure_start:
            self.stats.fail(conn.origin, time.monotonic(), what)
        conn.busy = False

    def lost(self, conn: Connection, exc: Exception | None) -> None:
        if conn.busy:
            self.failed(conn, f"ConnectionLost ({type(exc).__name__ if exc else 'EOF'})")
        self.live.discard(conn)
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        if self.sending or self.pending:
            self.reconnects += 1
            asyncio.get_running_loop().create_task(self._reconnect())
        self._maybe_done()

    def _maybe_done(self) -> None:
        if not self.sending and not self.pending and not any(c.busy for c in self.live):
            self.done.set()

    # -- connections --------------------------------------------------------------------
    async def _open(self) -> Connection:
        loop = asyncio.get_running_loop()
        _transport, conn = await loop.create_connection(
            lambda: Connection(self), self.target.host, self.target.port
        )
        self.live.add(conn)
        return conn

    async def _reconnect(self) -> None:
        try:
            conn = await self._open()
        except OSError:
            await asyncio.sleep(0.1)
            if self.sending or self.pending:
                asyncio.get_running_loop().create_task(self._reconnect())
            return
        self._next_for(conn)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            for conn in list(self.live):
                if conn.busy and now - conn.written > self.timeout:
                    self.failed(conn, "Timeout")
                    conn.abort()

    # -- running ------------------------------------------------------------------------
    async def run(self) -> tuple[float, float]:
        """Returns (measure_start, measure_end) on the monotonic clock."""
        opened = await asyncio.gather(*(self._open() for _ in range(self.connections)))
        start = time.monotonic()
        self.measure_start = start + self.warmup
        watchdog = asyncio.create_task(self._watchdog())
        try:
            if self.rate is None:
                for conn in opened:
                    self._next_for(conn)
            else:
                self.idle.extend(opened)
                await self._schedule(start)
            if self.duration is not None:
                await asyncio.sleep(max(0.0, self.measure_start + self.duration - time.monotonic()))
                # closed loop: connections stop issuing at their next completion
                self.sending = False
                self._maybe_done()
            else:  # bounded by --requests; the watchdog bounds every request
                while not self.done.is_set() and self.sending:
                    await asyncio.sleep(0.1)
            try:
                await asyncio.wait_for(self.done.wait(), self.timeout + 5)
            except TimeoutError:
                busy = sum(1 for c in self.live if c.busy) + len(self.pending)
                self.stats.errors["Unfinished"] += busy
        finally:
            watchdog.cancel()
        end = max(self.stats.last_done, self.measure_start)
        for conn in list(self.live):
            conn.abort()
        return self.measure_start, end

    async def _schedule(self, start: float) -> None:
        """Open loop: due times at start + k/rate; late slots are sent at once, in order."""
        assert self.rate is not None
        interval, k = 1.0 / self.rate, 0
        while True:
            now = time.monotonic()
            due = start + k * interval
            while due <= now:
                if not self._may_issue(due):
                    return
                self.dispatch(due)
                k += 1
                due = start + k * interval
            # libuv timers have 1 ms resolution; shorter sleeps would spin the CPU.
            await asyncio.sleep(max(0.001, due - time.monotonic()))


# --------------------------------------------------------------------------- CPU accounting


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int] | None:
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values[:8]), idle


def wait_for_idle_machine(limit: float, threshold: float = 0.15) -> float | None:
    """On a shared machine: wait up to `limit` s for a 2-s window under `threshold` busy."""
    deadline = time.monotonic() + limit
    busy = None
    while time.monotonic() < deadline:
        first = machine_ticks()
        time.sleep(2.0)
        last = machine_ticks()
        if not first or not last or last[0] == first[0]:
            return None
        busy = 1 - (last[1] - first[1]) / (last[0] - first[0])
        if busy < threshold:
            return busy
    print(f"machine still {100 * (busy or 0):.0f}% busy after {limit:g} s; running anyway",
          file=sys.stderr)
    return busy


@dataclass
class CpuSnapshot:
    wall: float
    client: float
    server: float | None
    machine: tuple[int, int] | None

    @classmethod
    def take(cls, server_pid: int | None) -> CpuSnapshot:
        return cls(time.monotonic(), own_cpu(), process_cpu(server_pid), machine_ticks())


def cpu_report(first: CpuSnapshot, last: CpuSnapshot) -> dict[str, float | None]:
    wall = max(last.wall - first.wall, 1e-9)
    report: dict[str, float | None] = {"client_cores": (last.client - first.client) / wall}
    server = None
    if first.server is not None and last.server is not None:
        server = (last.server - first.server) / wall
    report["server_cores"] = server
    busy = None
    if first.machine and last.machine:
        total = last.machine[0] - first.machine[0]
        idle = last.machine[1] - first.machine[1]
        busy = (total - idle) / total if total else None
    report["machine_busy"] = busy
    return report


# --------------------------------------------------------------------------- set-up


class Processes:
    """Child processes (server, baseline, py-spy) and temp dirs to clean up at exit."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []
        self.temp_dirs: list[Path] = []

    def start(self, command: list[str], log_path: Path, pattern: str, env: dict[str, str],
              timeout: float = 60.0) -> tuple[subprocess.Popen[bytes], str]:
        """Start `command` with output to `log_path`; wait for `pattern` (group 1: URL)."""
        log = log_path.open("wb")
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
        log.close()
        self.children.append(child)
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(log_path.read_text(errors="replace"))
            if match:
                url = match.group(1)
                wait_healthy(url, deadline)
                return child, url
            if child.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"{' '.join(command)} did not start:\n"
                         f"{log_path.read_text(errors='replace')}")

    def cleanup(self, keep: bool) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(5)
        for path in self.temp_dirs:
            if keep:
                print(f"kept {path}", file=sys.stderr)
            else:
                shutil.rmtree(path, ignore_errors=True)


def wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url}/healthz never answered 200")


class Cli:
    """`postroom ...` against the same database as the server."""

    def __init__(self, data_dir: str | None, database_url: str | None) -> None:
        self.options: list[str] = []
        if data_dir:
            self.options += ["--data-dir", data_dir]
        if database_url:
            self.options += ["--database-url", database_url]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "postroom", *args, *self.options]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise SystemExit(f"postroom {' '.join(args)} failed:\n{result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def set_up_account(cli: Cli, name: str) -> tuple[str, str]:
    """A new account (or a new key for an existing one) with production access."""
    created = cli.run("accounts", "create", name, "--json", check=False)
    if created.returncode == 0:
        issued = json.loads(created.stdout)
    else:
        issued = cli.json("keys", "create", name)
    cli.run("accounts", "approve", name, "--max-24h", "100000000", "--max-rate", "100000")
    return issued["access_key_id"], issued["secret_access_key"]


def call(target: Target, creds: Credentials, body: bytes,
         timeout: float = 30.0) -> tuple[int, bytes]:
    """One signed SES v1 request with the standard library (set-up and preflight)."""
    headers = signed_headers(target, creds, body, amz_now())
    connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body,
                           headers={k: v for k, v in headers.items() if k != "host"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def verify_sender(cli: Cli, account: str, target: Target, creds: Credentials,
                  address: str, timeout: float = 60.0) -> None:
    """VerifyEmailIdentity, read the link from the captured mail, open it (the real way)."""
    status, body = call(target, creds, form([("Action", "VerifyEmailIdentity"),
                                             ("Version", "2010-12-01"),
                                             ("EmailAddress", address)]))
    if status != 200:
        raise SystemExit(f"VerifyEmailIdentity failed ({status}): {body.decode()}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in cli.json("mailbox", "list", "--account", account, "--limit", "20"):
            if address.lower() not in (d.lower() for d in message["destinations"]):
                continue
            token = _verification_token(message["raw"])
            if token:
                # The link's host is the server's --public-url; ours is the one we talk to.
                with urllib.request.urlopen(f"{target.base_url}/verify/{token}",
                                            timeout=30) as response:
                    if response.status == 200:
                        return
        time.sleep(0.2)
    raise SystemExit(
        f"no verification mail for {address} in `postroom mailbox list` after {timeout:.0f}s "
        "(is the server running with --delivery capture on this database?)"
    )


def _verification_token(raw: str) -> str | None:
    message = email.message_from_string(raw, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        match = _VERIFY_LINK.search(part.get_content())  # type: ignore[attr-defined]
        if match:
            return match.group(1)
    return None


def delivery_attempts(target: Target, creds: Credentials) -> int | None:
    """Sum of GetSendStatistics' DeliveryAttempts: what the server's workers have done."""
    try:
        status, body = call(target, creds, form([("Action", "GetSendStatistics"),
                                                 ("Version", "2010-12-01")]))
    except OSError:
        return None
    if status != 200:
        return None
    return sum(int(n) for n in re.findall(rb"<DeliveryAttempts>(\d+)</DeliveryAttempts>", body))


async def follow_delivery(target: Target, creds: Credentials, before: int, started: float,
                          load: Load, recipients: int, drain: float) -> dict[str, Any] | None:
    """Did delivery keep up? Attempts recorded during the load, then (with --drain) how
    long the rest took. Simulator recipients make each attempt cheap and certain."""
    ended = time.monotonic()
    after = await asyncio.to_thread(delivery_attempts, target, creds)
    if after is None:
        return None
    owed = load.accepted_total * recipients
    done = after - before
    report: dict[str, Any] = {
        "accepted_total": load.accepted_total, "attempts_during_load": done,
        "attempts_per_s": round(done / max(ended - started, 1e-9), 1),
        "behind_at_end": max(0, owed - done), "drained_after_s": None,
    }
    deadline = ended + drain
    while done < owed and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        after = await asyncio.to_thread(delivery_attempts, target, creds)
        done = after - before if after is not None else done
    if drain and done >= owed:
        report["drained_after_s"] = round(time.monotonic() - ended, 1)
    elif drain:
        report["behind_after_drain"] = owed - done
    return report


def preflight(target: Target, creds: Credentials, body: bytes) -> None:
    """One request before the run, so a set-up problem is one clear message, not N errors."""
    status, answer = call(target, creds, body)
    if status != 200 or b"<MessageId>" not in answer:
        raise SystemExit(f"preflight SendEmail failed ({status}):\n{answer.decode()}")


# --------------------------------------------------------------------------- profiling


def start_profiler(processes: Processes, pid: int, output: str, seconds: float,
                   rate: int, gil: bool) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(Path(output).suffix, "raw")
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)),
               "--rate", str(rate), "--format", fmt, "--output", output, "--nonblocking",
               "--threads"]
    if gil:
        command.append("--gil")
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    processes.children.append(child)
    return child


def summarize_profile(path: str, top: int) -> str:
    """Sample shares from py-spy's raw (collapsed) output: by thread, by area, hot spots."""
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()  # inclusive, postroom's own functions
    areas: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[0].startswith(("thread ", "process ")):
            threads[frames[0].split("): ", 1)[-1].strip('"')] += count
            frames = frames[1:]
        total += count
        if not frames:
            continue
        leaf = _frame_name(frames[-1])
        own[leaf] += count
        areas[_area(leaf)] += count
        for name in {_frame_name(f) for f in frames if "postroom/" in f} - _ROOTS:
            ours[name] += count
    if not total:
        return "profile: no samples"

    def share(counter: Counter[str], limit: int) -> list[str]:
        return [f"    {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(limit)]

    return "\n".join([
        f"profile: {total} samples ({path})",
        "  by thread: " + ", ".join(f"{name} {100 * n / total:.0f}%"
                                    for name, n in threads.most_common()),
        "  by area (leaf frame):", *share(areas, 12),
        f"  top {top} functions by own time (leaf frame):", *share(own, top),
        f"  top {top} postroom functions by inclusive time:", *share(ours, top),
    ])


_ROOTS = {"<module> (postroom/__main__.py)", "serve (postroom/interfaces/cli/serve.py)"}


def _frame_name(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (path/to/file.py)"; site-packages cut off.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "/lib/python3.11/", "/lib/python3.12/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


def _area(leaf: str) -> str:
    name, _, where = leaf.partition(" (")
    if name.rsplit(".", 1)[-1] in ("do_execute", "do_executemany", "do_commit", "do_rollback",
                                   "do_execute_no_params"):
        return "sqlite3/DB-API driver in C (SQL execution, COMMIT + fsync)"
    if name.startswith("Sql.") and "store/fastsql.py" in where:  # thin cursor.execute()
        return "sqlite3/DB-API driver in C (SQL execution, COMMIT + fsync)"
    if name == "Runner.run":
        return "event loop in C (uvloop: sockets, callbacks)"
    package = where.rstrip(")").split("/", 1)[0]
    return {
        "sqlalchemy": "SQLAlchemy Core (Python)",
        "email": "email package (MIME build)",
        "starlette": "Starlette", "uvicorn": "uvicorn", "httptools": "uvicorn",
        "postroom": "postroom's own code",
        "asyncio": "asyncio (Python)",
        "threading.py": "threads, queues, executors", "queue.py": "threads, queues, executors",
        "concurrent": "threads, queues, executors",
    }.get(package, f"other: {package}")


# --------------------------------------------------------------------------- report


def source_fingerprint() -> str:
    """A short hash of the postroom package's .py files: which code a figure belongs to."""
    import hashlib

    import postroom

    digest = hashlib.sha256()
    root = Path(postroom.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def summary(args: argparse.Namespace, kind: str, load: Load, window: tuple[float, float],
            cpu: dict[str, float | None]) -> dict[str, Any]:
    stats = load.stats
    accepted = sorted(stats.latencies)
    errors = sum(stats.errors.values())
    span = max(stats.last_done - stats.first_origin, 1e-9) if accepted or errors else 0.0
    lag = sorted(stats.send_lag)
    ms = 1000.0
    return {
        "target": args.url, "server": kind,
        "mode": "open" if args.rate else "closed",
        "rate": args.rate, "connections": load.connections,
        "warmup_s": args.warmup, "duration_s": args.duration, "requests_limit": args.requests,
        "measured_s": round(window[1] - window[0], 3),
        "requests": len(accepted) + errors, "accepted": len(accepted), "errors": errors,
        "accepted_per_s": round(len(accepted) / span, 1) if span else 0.0,
        "latency_ms": {
            "p50": round(percentile(accepted, 50) * ms, 2),
            "p90": round(percentile(accepted, 90) * ms, 2),
            "p99": round(percentile(accepted, 99) * ms, 2),
            "max": round(accepted[-1] * ms, 2) if accepted else math.nan,
        },
        "errors_by_code": dict(stats.errors.most_common()),
        "send_lag_ms": {"p99": round(percentile(lag, 99) * ms, 2),
                        "max": round(lag[-1] * ms, 2) if lag else math.nan} if lag else None,
        "reconnects": load.reconnects,
        "cpu": {k: (round(v, 3) if v is not None else None) for k, v in cpu.items()},
        "cores": os.cpu_count(),
        "postroom_source": args.source_fingerprint,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def print_summary(s: dict[str, Any]) -> None:
    cores = s["cores"] or 1
    cpu = s["cpu"]
    if s["mode"] == "open":
        load = f"open loop at {s['rate']:g}/s over up to {s['connections']} connections"
    else:
        load = f"closed loop, {s['connections']} connections"
    bound = (f"{s['duration_s']:g} s" if s["duration_s"] else f"{s['requests_limit']} requests")
    lat = s["latency_ms"]
    print(f"target      {s['target']} ({s['server']}; postroom source "
          f"{s['postroom_source']}, {s['finished_at']})")
    print(f"load        {load}; {bound} measured after {s['warmup_s']:g} s warm-up")
    print(f"requests    {s['requests']} measured: {s['accepted']} accepted, {s['errors']} errors")
    print(f"throughput  {s['accepted_per_s']:.1f} accepted SendEmail/s")
    print(f"latency     p50 {lat['p50']:.1f} ms  p90 {lat['p90']:.1f} ms  "
          f"p99 {lat['p99']:.1f} ms  max {lat['max']:.1f} ms  (accepted requests)")
    if s["errors_by_code"]:
        print("errors      " + ", ".join(f"{code}: {n}" for code, n in s["errors_by_code"].items()))
    else:
        print("errors      none")
    share = cpu["client_cores"]
    client = f"client cpu  {share:.2f} core ({100 * share / cores:.0f}% of {cores} cores)"
    if s["send_lag_ms"]:
        client += (f"; send lag p99 {s['send_lag_ms']['p99']:.1f} ms, "
                   f"max {s['send_lag_ms']['max']:.1f} ms")
    print(client)
    if cpu["server_cores"] is not None:
        server = cpu["server_cores"]
        print(f"server cpu  {server:.2f} core ({100 * server / cores:.0f}% of {cores} cores)")
    if cpu["machine_busy"] is not None:
        rest = cpu["machine_busy"] * cores - share - (cpu["server_cores"] or 0.0)
        print(f"machine     {100 * cpu['machine_busy']:.0f}% busy; {rest:.2f} core outside "
              "client and server (kernel, other processes)")
    delivery = s.get("delivery")
    if delivery:
        line = (f"delivery    {delivery['attempts_per_s']:.1f} attempts/s during the load "
                f"(GetSendStatistics): {delivery['attempts_during_load']} attempted of "
                f"{delivery['accepted_total']} accepted incl. warm-up, "
                f"{delivery['behind_at_end']} behind at the end")
        if delivery["drained_after_s"] is not None:
            line += f"; caught up {delivery['drained_after_s']:g} s later"
        elif "behind_after_drain" in delivery:
            line += f"; still {delivery['behind_after_drain']} behind after --drain"
        print(line)
    if s["reconnects"]:
        print(f"reconnects  {s['reconnects']}")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Drive SendEmail with pre-signed SigV4 requests; print accepted/s, "
                    "latency percentiles, errors by code and the client's CPU share.")
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
    p.add_argument("--drain", type=float, default=0.0, metavar="S",
                   help="after the load, wait up to S seconds for delivery to catch up")
    p.add_argument("--no-delivery-check", action="store_true",
                   help="do not read GetSendStatistics before and after the load")
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
    args = p.parse_args(argv)
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
    return args


def prepare(args: argparse.Namespace, processes: Processes) -> tuple[str, Credentials, int | None]:
    """Start what was asked for; return (server kind, credentials, server pid)."""
    env = dict(os.environ)
    pid = args.server_pid
    args.source_fingerprint = source_fingerprint()  # as the server about to start reads it
    kind = "postroom"
    if args.start_baseline:
        temp = Path(tempfile.mkdtemp(prefix="postroom-baseline-"))
        processes.temp_dirs.append(temp)
        command = [sys.executable, str(HERE / "baseline_app.py"), "--port", "0"]
        if args.baseline_sqlite:
            command += ["--sqlite", str(temp / "baseline.db")]
        child, args.url = processes.start(command, temp / "baseline.log",
                                          r"baseline listening on (http://\S+)", env)
        kind = "baseline, " + ("sqlite group commit" if args.baseline_sqlite else "no storage")
        return kind, Credentials(*BASELINE_KEY, args.region), child.pid
    if args.start_server:
        temp = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
        processes.temp_dirs.append(temp)
        if not args.data_dir:
            args.data_dir = str(temp / "data")
        cli = Cli(args.data_dir, args.database_url)
        command = [sys.executable, "-m", "postroom", "serve", "--http", "127.0.0.1:0",
                   "--delivery", "capture", *cli.options, *args.server_arg]
        child, args.url = processes.start(command, temp / "server.log",
                                          r"postroom listening on (http://\S+)", env)
        pid = child.pid
        kind += ", " + ("postgresql" if args.database_url else "sqlite, durable")
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


async def run(args: argparse.Namespace, kind: str, creds: Credentials,
              pid: int | None, processes: Processes) -> dict[str, Any]:
    target = Target.parse(args.url)
    recipients = args.recipient or [DEFAULT_RECIPIENT]
    bodies = request_bodies(args.pool, args.source, recipients, args.reply_to)
    preflight(target, creds, bodies[0])
    pool = RequestPool(target, creds, bodies)
    connections = args.concurrency if args.rate is None else args.connections
    load = Load(target, pool, rate=args.rate, connections=connections, warmup=args.warmup,
                duration=args.duration, requests=args.requests, timeout=args.timeout)
    fresh = asyncio.create_task(pool.keep_fresh())
    snapshots: list[CpuSnapshot] = []
    profiler: subprocess.Popen[bytes] | None = None

    async def at_measure_start() -> None:
        nonlocal profiler
        while load.measure_start == 0.0:
            await asyncio.sleep(0.001)
        await asyncio.sleep(max(0.0, load.measure_start - time.monotonic()))
        snapshots.append(CpuSnapshot.take(pid))
        if args.profile and pid is not None:
            seconds = args.duration if args.duration else 30.0
            profiler = start_profiler(processes, pid, args.profile, seconds,
                                      args.profile_rate, args.profile_gil)

    track = not args.start_baseline and not args.no_delivery_check
    before = await asyncio.to_thread(delivery_attempts, target, creds) if track else None
    started = time.monotonic()
    marker = asyncio.create_task(at_measure_start())
    try:
        window = await load.run()
    finally:
        fresh.cancel()
        marker.cancel()
    last = CpuSnapshot.take(pid)
    first = snapshots[0] if snapshots else last
    result = summary(args, kind, load, window, cpu_report(first, last))
    if before is not None:
        result["delivery"] = await follow_delivery(target, creds, before, started, load,
                                                   len(recipients), args.drain)
    if profiler is not None:
        _finish_profiler(profiler, args, result)
    return result


def _finish_profiler(profiler: subprocess.Popen[bytes], args: argparse.Namespace,
                     result: dict[str, Any]) -> None:
    try:
        _out, err = profiler.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        profiler.send_signal(signal.SIGINT)
        _out, err = profiler.communicate(timeout=30)
    if profiler.returncode != 0 and not Path(args.profile).exists():
        result["profile"] = f"py-spy failed: {err.decode(errors='replace')[-500:]}"
    elif Path(args.profile).suffix in (".svg", ".json"):
        result["profile"] = f"profile written to {args.profile}"
    else:
        result["profile"] = summarize_profile(args.profile, args.profile_top)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    processes = Processes()
    try:
        kind, creds, pid = prepare(args, processes)
        if args.wait_idle:
            wait_for_idle_machine(args.wait_idle)
        runner: Any = asyncio.run
        with contextlib.suppress(ImportError):
            import uvloop

            runner = uvloop.run
        result = runner(run(args, kind, creds, pid, processes))
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

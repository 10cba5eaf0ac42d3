"""The load generator's hot path: keep-alive HTTP/1.1 connections driven in a closed or open loop.

Each `Connection` is an asyncio protocol (uvloop when the caller runs on it) that writes
prebuilt request bytes and parses only the status line, `Content-Length` and the body; one
request is in flight per connection. `Load` decides when each connection sends next and
records every outcome of the measured window in `Stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from loadgen_requests import RequestPool, Target

_CODE = re.compile(rb"<Code>([^<]*)</Code>")


@dataclass
class Stats:
    """Outcomes of the measured window: latencies, errors by code, open-loop send lag."""

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

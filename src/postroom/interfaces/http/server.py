"""The HTTP server's limits: uvicorn's httptools protocol with the bounds a production
server sets (docs/operations.md "HTTP limits"; the decision is in docs/development.md).

uvicorn (0.55, pinned with httptools in pyproject.toml: this relies on its internals) has a
keep-alive timeout and body flow control (reading pauses once 64 KiB wait for the app), but
no limit on the request line or the header section, no header or body read timeout and no
connection limit. This subclass adds them:

- request line over `max_request_line` bytes: 414; a header section over
  `max_header_bytes` or with more than `max_headers` fields: 431; the connection closes;
- the request head must arrive within `header_timeout` of the connection opening or of the
  request's first byte; a body within `body_timeout` in all and `body_idle_timeout`
  between reads (408 when a request was started and not answered, then close); time spent
  with reading paused by the server (pipelined requests waiting, a body the app has not
  taken yet) does not count against the client;
- at most `max_connections` open connections per process: over it, the connection idle
  the longest between two requests is closed to make room, otherwise the new one is closed;
- a response sent before the request's body was read closes the connection (the rest of
  the body is not read and thrown away);
- a malformed request after pipelined ones: each earlier request is answered first, then
  the error is sent and the connection closed.

Timeouts are checked by one sweep per process (every quarter of the shortest timeout, at
most every second), not a timer per request.
"""

from __future__ import annotations

import asyncio
import http
import logging
import math
import os
import resource
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("postroom")

_HEAD, _BODY, _APP, _IDLE, _DONE = range(5)  # where a connection is (see _phase)
_INF = math.inf


@dataclass(frozen=True)
class HttpLimits:
    """Bounds on what one client may make the server hold (bytes, seconds, sockets)."""

    max_request_line: int = 8190  # bytes of the request target (URL): 414 beyond
    max_header_bytes: int = 65536  # bytes of the header section: 431 beyond
    max_headers: int = 100  # header fields: 431 beyond
    header_timeout: float = 20.0  # s from connecting (or a request's first byte) to its head
    body_idle_timeout: float = 30.0  # s without a byte of body while the body is awaited
    body_timeout: float = 120.0  # s for a whole body
    keep_alive_timeout: float = 30.0  # s an idle connection stays open between requests
    max_connections: int = 0  # per process; 0: derived from RLIMIT_NOFILE (connection_budget)

    @property
    def sweep_interval(self) -> float:
        shortest = min(self.header_timeout, self.body_idle_timeout, self.body_timeout)
        return min(1.0, max(0.05, shortest / 4))


def connection_budget(configured: int, reserved: int) -> int:
    """Connections one process may hold without running out of file descriptors: the soft
    RLIMIT_NOFILE less the descriptors open now and `reserved` more (database, outbound SMTP,
    DNS, the connection being refused). `configured` (0: as many as fit) is capped by it."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        open_now = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_now = 64
    fits = soft - open_now - reserved if soft != resource.RLIM_INFINITY else 1 << 20
    fits = max(16, fits)
    if configured and configured > fits:
        log.warning(
            "http_max_connections %d exceeds what RLIMIT_NOFILE (%d) allows; using %d "
            "(raise the limit, e.g. LimitNOFILE= in systemd, to allow more)",
            configured, soft, fits,
        )  # fmt: skip
    return min(configured, fits) if configured else fits


@dataclass
class _Registry:
    """One process's connections, shared by the protocol instances of one server."""

    connections: set[LimitedHttpToolsProtocol] = field(default_factory=set)
    idle: dict[LimitedHttpToolsProtocol, None] = field(default_factory=dict)  # oldest first
    sweeper: asyncio.TimerHandle | None = None
    last_sweep: float = 0.0


def protocol_class(limits: HttpLimits) -> type[LimitedHttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)` that applies `limits`."""
    return type(
        "PostroomHttpProtocol",
        (LimitedHttpToolsProtocol,),
        {"limits": limits, "registry": _Registry()},
    )


def _error_response(status: int, text: str) -> bytes:
    body = text.encode("ascii")
    phrase = http.HTTPStatus(status).phrase
    return (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode("ascii") + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits] = HttpLimits()
    registry: ClassVar[_Registry] = _Registry()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # _HEAD: reading a request head (or waiting for one on a new connection); _BODY:
        # reading a body; _APP: the whole request is in; _IDLE: between requests; _DONE:
        # an error was or will be sent, nothing more is read.
        self._phase = _HEAD
        self._deadline = _INF
        self._idle_deadline = _INF
        self._started = False  # a byte of the current request arrived
        self._at_boundary = False  # the chunk being read began between two requests
        self._counting = False  # the current head's bytes are counted from its first byte
        self._head_bytes = 0  # bytes read of the current head (when counted from its start)
        self._field_bytes = 0  # bytes of its complete header fields
        self._fields = 0
        self._rejection: tuple[int, str] | None = None  # set by a callback, then it raises
        self._pending: tuple[int, str] | None = None  # sent once earlier requests are answered

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        registry = self.registry
        full = len(registry.connections) >= self.limits.max_connections > 0
        if full and registry.idle:  # make room: the connection idle the longest goes first
            oldest = next(iter(registry.idle))
            registry.idle.pop(oldest)
            oldest.transport.close()
            full = False
        super().connection_made(transport)
        if full:
            self._phase = _DONE
            transport.close()
            return
        registry.connections.add(self)
        self._deadline = self.loop.time() + self.limits.header_timeout
        if registry.sweeper is None:
            registry.last_sweep = self.loop.time()
            registry.sweeper = self.loop.call_later(self.limits.sweep_interval, self._sweep)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.connections.discard(self)
        self.registry.idle.pop(self, None)
        super().connection_lost(exc)

    def _sweep(self) -> None:
        registry = self.registry
        now = self.loop.time()
        elapsed = now - registry.last_sweep
        registry.last_sweep = now
        for connection in list(registry.connections):
            connection._check(now, elapsed)
        registry.sweeper = None
        if registry.connections:
            registry.sweeper = self.loop.call_later(self.limits.sweep_interval, self._sweep)

    def _check(self, now: float, elapsed: float) -> None:
        if self._deadline == _INF and self._idle_deadline == _INF:
            return
        cycle = self.cycle
        if (self.flow is not None and self.flow.read_paused) or (
            self._phase is _HEAD and cycle is not None and not cycle.response_complete
        ):
            # The server stopped reading (requests waiting their turn, a body the app has
            # not taken yet) or still owes an answer: that time is not the client's.
            self._deadline += elapsed
            self._idle_deadline += elapsed
            return
        if now >= self._deadline or now >= self._idle_deadline:
            self._expire()

    def _expire(self) -> None:
        """A head or body that did not arrive in time: 408 if a request was started and
        nothing answers it yet, then close."""
        self._deadline = self._idle_deadline = _INF
        if self.transport.is_closing():
            return
        if self._phase is _BODY:
            owed = self.cycle is not None and not self.cycle.response_started
        else:
            owed = self._started
        self._phase = _DONE
        if owed:
            self.transport.write(_error_response(408, "Request timed out."))
        self.transport.close()

    # Reading

    def data_received(self, data: bytes) -> None:
        phase = self._phase
        if phase is _DONE:
            return
        self._unset_keepalive_if_required()
        if phase is _IDLE:  # a new request begins (even a stray CRLF starts its clock)
            self.registry.idle.pop(self, None)
            self._phase = _HEAD
            self._deadline = self.loop.time() + self.limits.header_timeout
        elif phase is _BODY:
            self._idle_deadline = self.loop.time() + self.limits.body_idle_timeout
        self._at_boundary = phase is _IDLE or not self._started
        self._started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # websockets are off (serve: ws="none")
        except httptools.HttpParserError:
            status, reason = self._rejection or (400, "Invalid HTTP request received.")
            self.logger.debug("refused a request: %d %s", status, reason)
            self._fail(status, reason)
            return
        if self._phase is _HEAD:  # a head still incomplete: bound what it may grow to
            if self._counting:
                self._head_bytes += len(data)
                if self._head_bytes > self.limits.max_header_bytes:
                    self._fail(431, "Request header fields too large.")
            self._counting = True  # a head begun inside this chunk is counted from the next

    def _reject(self, status: int, reason: str) -> None:
        """From a parser callback: stop parsing and refuse the request."""
        self._rejection = (status, reason)
        raise ValueError(reason)  # httptools turns it into HttpParserCallbackError

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase is not _HEAD or self._deadline == _INF:  # pipelined behind another
            self._deadline = self.loop.time() + self.limits.header_timeout
        self._phase = _HEAD
        self._started = True
        self._counting = self._at_boundary
        self._head_bytes = 0
        self._field_bytes = 0
        self._fields = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_request_line:
            self._reject(414, "Request-URI too long.")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        self._field_bytes += len(name) + len(value) + 4
        if self._fields > self.limits.max_headers:
            self._reject(431, "Too many header fields.")
        if self._field_bytes > self.limits.max_header_bytes:
            self._reject(431, "Request header fields too large.")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        now = self.loop.time()
        self._phase = _BODY
        self._deadline = now + self.limits.body_timeout
        self._idle_deadline = now + self.limits.body_idle_timeout
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = _APP
        self._deadline = self._idle_deadline = _INF
        self._started = False
        super().on_message_complete()

    # Answering

    def on_response_complete(self) -> None:
        if self._phase is _BODY and not self.pipeline and not self.transport.is_closing():
            # Answered before the body was read (a refusal from the headers): close rather
            # than read and throw away what may be hundreds of megabytes.
            self._phase = _DONE
            self._deadline = self._idle_deadline = _INF
            self.transport.close()
        super().on_response_complete()
        if self._phase is _DONE:
            self.flow.pause_reading()  # super() resumed it
            if self._pending is not None and not self.pipeline and self.cycle.response_complete:
                self._unset_keepalive_if_required()
                self._send_error(*self._pending)
        elif self._phase is _APP and not self.pipeline and not self.transport.is_closing():
            self._phase = _IDLE  # uvicorn's keep-alive timer runs now
            self.registry.idle[self] = None

    def _fail(self, status: int, reason: str) -> None:
        """Refuse the request being read; answer every complete request before it first."""
        broken = self.cycle if self._phase is _BODY else None  # its body is incomplete
        self._phase = _DONE
        self._deadline = self._idle_deadline = _INF
        self.flow.pause_reading()
        if broken is not None and self.pipeline and self.pipeline[0][0] is broken:
            self.pipeline.popleft()  # queued, never started: dropped with the connection
            broken = None
        if broken is not None and not broken.response_started:
            self._send_error(status, reason)  # the request being answered is the broken one
        elif self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            self._pending = (status, reason)  # on_response_complete sends it in turn
        else:
            self._send_error(status, reason)

    def _send_error(self, status: int, reason: str) -> None:
        self._pending = None
        if not self.transport.is_closing():
            self.transport.write(_error_response(status, reason))
            self.transport.close()

    def timeout_keep_alive_handler(self) -> None:
        self.registry.idle.pop(self, None)
        super().timeout_keep_alive_handler()

"""The HTTP server's limits through a real server (issue 8, items 3, 4 and 10's pipelining).

Raw sockets against `postroom serve` on 127.0.0.1: unauthenticated bodies streamed without
end, 200 MB URLs and headers, thousands of idle and partial connections against a process
with few file descriptors, drips, a connection limit, and a malformed request at the end
of a pipelined batch. Limits and their defaults: docs/operations.md.
"""

from __future__ import annotations

import contextlib
import re
import resource
import select
import selectors
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from postroom.testing.server import PostroomProcess

Factory = Callable[..., PostroomProcess]
MB = 1024 * 1024
CHUNK = b"a" * 65536
# Short limits so that the tests take seconds (the defaults are in docs/operations.md).
FAST = {
    "POSTROOM_HTTP_HEADER_TIMEOUT": "2",
    "POSTROOM_HTTP_BODY_IDLE_TIMEOUT": "2",
    "POSTROOM_HTTP_BODY_TIMEOUT": "3",
    "POSTROOM_HTTP_KEEP_ALIVE_TIMEOUT": "2",
}


# --------------------------------------------------------------------------- helpers


def _address(server: PostroomProcess) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _connect(server: PostroomProcess, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(_address(server), timeout=timeout)


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (VmRSS)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
        pending += [int(child) for child in children]
    return total


def _healthy(server: PostroomProcess, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _read_all(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _signed_request(server: PostroomProcess, creds: dict[str, str], action: str) -> bytes:
    """A whole HTTP/1.1 POST of `action`, signed by botocore's SigV4Auth."""
    body = urllib.parse.urlencode({"Action": action, "Version": "2010-12-01"}).encode()
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    credentials = Credentials(creds["access_key_id"], creds["secret_access_key"])
    SigV4Auth(credentials, "ses", "us-east-1").add_auth(request)
    host = urllib.parse.urlsplit(server.url).netloc
    head = f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    return head.encode() + b"\r\n" + body


def _statuses(data: bytes) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


@contextlib.contextmanager
def _nofile(soft: int) -> Iterator[None]:
    """Processes started inside get a soft RLIMIT_NOFILE of `soft`; this one gets as many
    as the hard limit allows afterwards (the tests open thousands of sockets)."""
    old_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        wanted = hard if hard != resource.RLIM_INFINITY else 20000
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(old_soft, min(wanted, 20000)), hard))


class _Streamer(threading.Thread):
    """Sends `head`, then 64 KiB pieces (of a chunked body, or of whatever the head left
    open) generated on the fly, until `total` bytes or until the server stops reading."""

    def __init__(self, server: PostroomProcess, head: bytes, total: int, chunked: bool) -> None:
        super().__init__(daemon=True)
        self.server, self.head, self.total, self.chunked = server, head, total, chunked
        self.sent = 0
        self.stop = threading.Event()  # set by the test to give up early
        self.answer = b""
        self.error: str | None = None

    def run(self) -> None:
        piece = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if self.chunked else CHUNK
        try:
            with _connect(self.server, timeout=30) as sock:
                sock.sendall(self.head)
                try:
                    while self.sent < self.total and not self.stop.is_set():
                        sock.sendall(piece)
                        self.sent += len(CHUNK)
                except OSError as exc:  # the server closed: read what it answered
                    self.error = type(exc).__name__
                self.answer = _read_all(sock, timeout=10)
        except OSError as exc:
            self.error = type(exc).__name__


# --------------------------------------------------------------------------- item 3


def test_unauthenticated_chunked_bodies_leave_memory_bounded(postroom_factory: Factory) -> None:
    server = postroom_factory()
    assert server.process is not None
    for _ in range(20):  # warm up
        assert _healthy(server)
    time.sleep(0.5)
    before = _rss_mb(server.process.pid)
    host = urllib.parse.urlsplit(server.url).netloc
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    ).encode()
    streams = [_Streamer(server, head, 200 * MB, chunked=True) for _ in range(20)]
    for stream in streams:
        stream.start()
    peak = before
    try:
        while any(stream.is_alive() for stream in streams):
            assert _healthy(server, timeout=2.0), "/healthz did not answer during the bodies"
            peak = max(peak, _rss_mb(server.process.pid))
            assert peak - before < 64, f"resident memory grew from {before:.0f} to {peak:.0f} MB"
            time.sleep(0.1)
    finally:
        for stream in streams:
            stream.stop.set()
    peak = max(peak, _rss_mb(server.process.pid))
    assert peak - before < 64, f"resident memory grew from {before:.0f} to {peak:.0f} MB"
    for stream in streams:  # refused from the headers, long before 200 MB were read
        assert stream.sent < 50 * MB, (stream.sent, stream.error)
        if stream.answer:
            assert _statuses(stream.answer) == [403], stream.answer[:300]
    assert _healthy(server)


def test_a_200_mb_url_gets_414_and_a_200_mb_header_431(postroom_factory: Factory) -> None:
    server = postroom_factory()
    assert server.process is not None
    before = _rss_mb(server.process.pid)
    host = urllib.parse.urlsplit(server.url).netloc
    url = _Streamer(server, b"GET /", 200 * MB, chunked=False)
    header = _Streamer(
        server, f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Big: ".encode(), 200 * MB, False
    )
    for stream in (url, header):
        stream.start()
        stream.join(60)
        assert not stream.is_alive(), "the server kept reading"
    assert _statuses(url.answer) == [414], url.answer[:300]
    assert _statuses(header.answer) == [431], header.answer[:300]
    assert url.sent < 20 * MB and header.sent < 20 * MB, (url.sent, header.sent)
    assert _rss_mb(server.process.pid) - before < 64
    # Many header fields, each small, are refused too.
    with _connect(server) as sock:
        fields = "".join(f"X-F{i}: v\r\n" for i in range(500))
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n{fields}\r\n".encode())
        assert _statuses(_read_all(sock)) == [431]
    assert _healthy(server)


# --------------------------------------------------------------------------- item 4


def test_thousands_of_idle_and_partial_connections_are_closed_in_time(
    postroom_factory: Factory,
) -> None:
    with _nofile(2048):  # fewer descriptors than the connections below: the limit matters
        server = postroom_factory(env=FAST)
    assert server.process is not None
    creds = server.create_account("slow")
    signed = _signed_request(server, creds, "GetSendQuota")
    cut = signed.index(b"\r\n\r\n") + 4  # a signed head, then a body that never comes
    host = urllib.parse.urlsplit(server.url).netloc
    kinds = [
        b"",  # connects, sends nothing
        b"POST /?Action=GetSendQuota&Version=2010-12-01 HT",  # partial request line
        f"POST / HTTP/1.1\r\nHost: {host}\r\nX-Partial: yes".encode(),  # partial headers
        signed[:cut],  # authenticated head, partial body (Content-Length promises more)
        f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(),  # then idle keep-alive
    ]
    sockets: list[tuple[socket.socket, int]] = []
    for number in range(5000):
        sock = _connect(server)
        kind = number % len(kinds)
        if kinds[kind]:
            with contextlib.suppress(OSError):  # closed at once (over the limit)
                sock.sendall(kinds[kind])
        sock.setblocking(False)
        sockets.append((sock, kind))
    opened = time.monotonic()
    longest = 3.0  # the body timeout; the sweep adds at most a quarter of the shortest
    received: dict[int, bytes] = {}
    with selectors.DefaultSelector() as waiting:
        for sock, kind in sockets:
            waiting.register(sock, selectors.EVENT_READ, kind)
        healthy_at = None
        while waiting.get_map() and time.monotonic() < opened + longest + 10:
            for key, _ in waiting.select(0.05):
                sock = cast(socket.socket, key.fileobj)
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if data:
                    received[key.data] = received.get(key.data, b"") + data
                    continue
                waiting.unregister(sock)
                sock.close()
            if healthy_at is None and time.monotonic() > opened + longest:
                healthy_at = time.monotonic() if _healthy(server, 0.2) else None
        closed_by = time.monotonic()
        still_open = len(waiting.get_map())
        for key in list(waiting.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
    assert not still_open, f"{still_open} connections still open after the timeouts"
    assert closed_by <= opened + longest + 1.5, f"closed {closed_by - opened:.1f} s after"
    while healthy_at is None and time.monotonic() < opened + longest + 5:
        healthy_at = time.monotonic() if _healthy(server, 0.2) else None
    assert healthy_at is not None and healthy_at <= opened + longest + 1.0
    # Started requests that were accepted got 408; keep-alive ones their answer, then EOF.
    for kind in (1, 2, 3):
        assert set(_statuses(received.get(kind, b""))) <= {408}, (kind, received.get(kind))
    assert 408 in _statuses(received.get(3, b"")), received
    assert set(_statuses(received.get(4, b""))) <= {200}, received.get(4)
    logged = "".join(server.output)
    assert "Too many open files" not in logged and "EMFILE" not in logged, logged[-3000:]
    assert server.process.poll() is None


def test_drips_are_cut_at_the_total_timeouts(postroom_factory: Factory) -> None:
    """A byte every half second keeps every idle timer happy; the totals still apply."""
    server = postroom_factory(env=FAST)
    creds = server.create_account("drip")
    signed = _signed_request(server, creds, "GetSendQuota")
    head_end = signed.index(b"\r\n\r\n") + 4
    length = signed[head_end:]
    promised = signed[:head_end].replace(
        b"Content-Length: %d" % len(length), b"Content-Length: 100000"
    )
    # (what is sent first, what drips afterwards, the total timeout that cuts it)
    for first, drip, total in ((b"", signed[:head_end], 2.0), (promised, b"x" * 30, 3.0)):
        with _connect(server) as sock:
            sock.sendall(first)
            started = time.monotonic()
            answer = b""
            for byte in drip:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                readable, _, _ = select.select([sock], [], [], 0.5)
                if readable:
                    answer = _read_all(sock)
                    break
            took = time.monotonic() - started
        assert _statuses(answer) == [408], answer[:300]
        assert total - 0.1 <= took <= total + 1.5, took


def test_over_the_connection_limit_idle_connections_make_room(
    postroom_factory: Factory,
) -> None:
    server = postroom_factory(env={**FAST, "POSTROOM_HTTP_MAX_CONNECTIONS": "20"})
    host = urllib.parse.urlsplit(server.url).netloc
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    idle = []
    for _ in range(20):  # every slot taken by an idle keep-alive connection
        sock = _connect(server)
        sock.sendall(request)
        answer = b""
        while not answer.endswith(b"ok"):  # the whole answer, head and body
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        idle.append(sock)
    assert _healthy(server)  # the oldest idle one made room
    assert idle[0].recv(4096) == b""
    busy = []
    for _ in range(20):  # every slot taken by a request being sent
        sock = _connect(server)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: ")
        busy.append(sock)
    with _connect(server) as sock:  # no room: closed at once
        sock.sendall(request)
        assert _read_all(sock, timeout=1.0) == b""
    for sock in idle + busy:
        sock.close()
    time.sleep(0.2)
    assert _healthy(server)


# --------------------------------------------------------------------------- item 10


def test_pipelined_requests_are_answered_before_the_malformed_one(
    postroom_factory: Factory,
) -> None:
    server = postroom_factory()
    creds = server.create_account("pipe")
    quota = _signed_request(server, creds, "GetSendQuota")
    with _connect(server) as sock:
        sock.sendall(quota + quota + b"NOT HTTP AT ALL\r\n\r\n")
        answer = _read_all(sock)
    assert _statuses(answer) == [200, 200, 400], answer
    assert answer.count(b"<GetSendQuotaResponse") == 2

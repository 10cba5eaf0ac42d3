"""Postfix for comparison: a throwaway instance (own config, queue and data dirs in a temp
dir) that relays everything to the sink, and a light SMTP client that submits to it.

The instance: `/etc/postfix/master.cf` copied with every service unchrooted and the
`smtp inet` listener replaced by 127.0.0.1:PORT; a `main.cf` with `relayhost =
[127.0.0.1]:SINKPORT`, `mydestination` empty, `mynetworks = 127.0.0.0/8`, TLS off, and
Postfix's defaults for everything that shapes throughput (queue manager, `in_flow_delay`,
`default_destination_concurrency_limit = 20`, connection cache on demand, fsync'd queue
files). It runs as `postfix -c CONFDIR start` and is stopped with `postfix -c CONFDIR stop`
(then `abort`, then SIGKILL of the master if it lingers). The system's own Postfix
instance is neither configured nor started.

The client speaks SMTP over asyncio streams with pipelined MAIL/RCPT/DATA and prebuilt,
dot-stuffed message bytes, so it costs about as little per message as the pre-signed HTTP
requests the Postroom side sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import subprocess
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from delivery_sink import wait_for_port

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"


def postfix_available() -> bool:
    return Path(POSTFIX).exists() and Path("/etc/postfix/master.cf").exists()


class PostfixInstance:
    def __init__(self, root: Path, port: int, sink_port: int, extra: list[str]) -> None:
        self.root, self.port, self.sink_port, self.extra = root, port, sink_port, extra
        self.conf = root / "conf"
        self.queue = root / "queue"
        self.data = root / "data"
        self.maillog = root / "maillog"
        self.master_pid: int | None = None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            log = self.maillog.read_text(errors="replace")[-2000:] if self.maillog.exists() else ""
            raise SystemExit(f"{' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}{result.stderr}{log}")
        return result

    def configure(self) -> None:
        self.root.chmod(0o755)  # the postfix user must reach the queue and data dirs
        for path in (self.conf, self.queue, self.data):
            path.mkdir(mode=0o755)
        shutil.chown(self.data, "postfix")
        shutil.copy("/etc/postfix/master.cf", self.conf / "master.cf")
        if Path("/etc/postfix/dynamicmaps.cf").exists():
            shutil.copy("/etc/postfix/dynamicmaps.cf", self.conf / "dynamicmaps.cf")
        settings = [
            "compatibility_level = 3.6",
            f"queue_directory = {self.queue}",
            f"data_directory = {self.data}",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "myhostname = postfix-bench.localhost",
            "mydomain = localhost",
            "myorigin = $myhostname",
            "mydestination =",
            "local_recipient_maps =",
            "alias_maps =",
            "alias_database =",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            "smtpd_relay_restrictions = permit_mynetworks, reject",
            f"relayhost = [127.0.0.1]:{self.sink_port}",
            "smtp_tls_security_level = none",
            "smtpd_tls_security_level = none",
            f"maillog_file = {self.maillog}",
            f"maillog_file_prefixes = {self.root}",
            "biff = no",
            *self.extra,
        ]
        (self.conf / "main.cf").write_text("\n".join(settings) + "\n")
        conf = str(self.conf)
        self._run(POSTCONF, "-c", conf, "-MX", "smtp/inet")
        self._run(POSTCONF, "-c", conf, "-M",
                  f"{self.port}/inet={self.port} inet n - n - - smtpd")
        self._run(POSTCONF, "-c", conf, "-F", "*/*/chroot = n")

    def start(self, timeout: float = 30.0) -> None:
        self._run(POSTFIX, "-c", str(self.conf), "start")
        pid_file = self.queue / "pid" / "master.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.master_pid is None:
            with contextlib.suppress(OSError, ValueError):
                self.master_pid = int(pid_file.read_text().split()[0])
            time.sleep(0.05)
        if self.master_pid is None or not wait_for_port("127.0.0.1", self.port,
                                                        max(0.0, deadline - time.monotonic())):
            log = self.maillog.read_text(errors="replace") if self.maillog.exists() else ""
            raise SystemExit(f"postfix did not start listening on {self.port}:\n{log[-2000:]}")

    def _master_alive(self) -> bool:
        if self.master_pid is None:
            return False
        try:
            state = Path(f"/proc/{self.master_pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"

    def stop(self) -> None:
        if not self.conf.joinpath("main.cf").exists():
            return
        for action in ("stop", "abort"):
            if self.master_pid is None and action == "abort":
                break
            self._run(POSTFIX, "-c", str(self.conf), action, check=False)
            deadline = time.monotonic() + 15
            while self._master_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self._master_alive():
                return
        if self.master_pid is not None and self._master_alive():
            with contextlib.suppress(OSError):
                os.kill(self.master_pid, signal.SIGKILL)

    def queue_size(self) -> int:
        """Files left in the incoming, active and deferred queues."""
        return sum(len(files) for name in ("incoming", "active", "deferred")
                   for _dir, _sub, files in os.walk(self.queue / name))


# --------------------------------------------------------------------------- the client


def dot_stuffed(message: bytes) -> bytes:
    """RFC 5321 4.5.2 transparency, and the terminating `.` line."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"


@dataclass
class Submission:
    first_accepted: float = math.inf
    last_accepted: float = 0.0
    started: float = 0.0
    accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)


async def _reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line)
        if line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


async def _session(host: str, port: int, todo: deque[tuple[bytes, bytes]],
                   result: Submission, timeout: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await asyncio.wait_for(_reply(reader), timeout)
        writer.write(b"EHLO bench.localhost\r\n")
        await asyncio.wait_for(_reply(reader), timeout)
        while todo:
            envelope, data = todo.popleft()
            writer.write(envelope)  # MAIL, RCPT, DATA pipelined (RFC 2920)
            codes = [(await asyncio.wait_for(_reply(reader), timeout))[0] for _ in range(3)]
            if codes[2] != 354:
                result.errors[f"{codes[0]}/{codes[1]}/{codes[2]}"] += 1
                writer.write(b"RSET\r\n")
                await asyncio.wait_for(_reply(reader), timeout)
                continue
            writer.write(data)
            code, text = await asyncio.wait_for(_reply(reader), timeout)
            if code == 250:
                now = time.monotonic()
                result.accepted += 1
                result.first_accepted = min(result.first_accepted, now)
                result.last_accepted = now
            else:
                result.errors[text[:40].decode(errors="replace").strip()] += 1
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_reply(reader), 5)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def submit(host: str, port: int, messages: list[tuple[str, str, bytes]],
                 connections: int, timeout: float = 60.0) -> Submission:
    """Send (sender, recipient, message) over `connections` SMTP sessions sharing one queue."""
    todo = deque(
        (f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode("ascii"),
         dot_stuffed(message))
        for sender, rcpt, message in messages
    )
    result = Submission(started=time.monotonic())
    sessions = await asyncio.gather(
        *(_session(host, port, todo, result, timeout) for _ in range(connections)),
        return_exceptions=True,
    )
    for failure in sessions:
        if isinstance(failure, BaseException):
            result.errors[f"session: {type(failure).__name__}"] += 1
    return result

"""The delivery bench's receiving end: a local SMTP sink in a child process whose output is
read in a thread, so every delivery is counted and timestamped as the sink sees it.

Two sinks:

* `smtp-sink` (Postfix's test server, Debian package `postfix`), run as
  `smtp-sink -c -u postfix 127.0.0.1:PORT BACKLOG`. With `-c` it rewrites a counter line
  (`sess=N quit=N mesg=N`, separated by carriage returns) each time a message ends with
  ".", so the message count is read from its stdout. It is written in C and costs almost
  nothing per message, so it is never what is measured.
* `python -m postroom.testing.sink` (aiosmtpd), which prints one line per message; a
  fallback for machines without Postfix. It is Python, so on 2 cores it takes CPU from
  the server being measured; prefer smtp-sink.

Also here: the CPU of a process tree (Postfix is a master and many short-lived daemons),
and a free loopback port.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from loadgen_setup import stop_process

SMTP_SINK = "/usr/sbin/smtp-sink"
_MESG = re.compile(rb"mesg=(\d+)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float,
                  alive: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            if alive is not None and alive.poll() is not None:
                return False
            time.sleep(0.05)
    return False


def smtp_sink_available() -> bool:
    return Path(SMTP_SINK).exists() or shutil.which("smtp-sink") is not None


class Sink:
    """A sink child process; `count` is messages received so far, `times[i]` when the
    count reached `counts[i]` (monotonic clock, as this process read it)."""

    def __init__(self, kind: str, host: str, port: int, log_path: Path) -> None:
        if kind not in ("smtp-sink", "aiosmtpd"):
            raise ValueError(kind)
        self.kind, self.host, self.port, self.log_path = kind, host, port, log_path
        self.child: subprocess.Popen[bytes] | None = None
        self.count = 0
        self.times: list[float] = []
        self.counts: list[int] = []
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def describe(self) -> str:
        return f"{self.kind} on {self.host}:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "smtp-sink":
            binary = SMTP_SINK if Path(SMTP_SINK).exists() else (shutil.which("smtp-sink") or "")
            command = [binary, "-c"]
            if os.geteuid() == 0:  # smtp-sink insists on dropping privileges
                command += ["-u", "postfix"]
            # -m: simultaneous connections (default 256); last argument: listen backlog
            return command + ["-m", "1024", f"{self.host}:{self.port}", "1024"]
        return [sys.executable, "-m", "postroom.testing.sink", "--host", self.host,
                "--port", str(self.port)]

    def start(self, timeout: float = 15.0) -> None:
        log = self.log_path.open("wb")
        self.child = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log,
                                      start_new_session=True)
        log.close()
        self._reader = threading.Thread(target=self._read, name=f"sink-{self.port}",
                                        daemon=True)
        self._reader.start()
        if not wait_for_port(self.host, self.port, timeout, self.child):
            self.stop()
            raise SystemExit(f"{' '.join(self.command())} did not start:\n"
                             f"{self.log_path.read_text(errors='replace')}")

    def _read(self) -> None:
        assert self.child is not None and self.child.stdout is not None
        fd = self.child.stdout.fileno()
        tail = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            now = time.monotonic()
            if self.kind == "smtp-sink":
                data = tail + chunk
                cut = max(data.rfind(b"\r"), data.rfind(b"\n"))
                complete, tail = (data[:cut], data[cut + 1:]) if cut >= 0 else (b"", data)
                found = _MESG.findall(complete)
                count = int(found[-1]) if found else self.count
            else:  # one line per message on stdout
                count = self.count + chunk.count(b"\n")
            if count != self.count:
                with self._changed:
                    self.count = count
                    self.times.append(now)
                    self.counts.append(count)
                    self._changed.notify_all()

    def wait_for(self, n: int, deadline: float) -> bool:
        """Until `n` messages are in (True) or the monotonic `deadline` passes (False)."""
        with self._changed:
            while self.count < n:
                left = deadline - time.monotonic()
                if left <= 0 or (self.child is not None and self.child.poll() is not None):
                    return False
                self._changed.wait(min(left, 0.05))
            return True

    def first_at(self) -> float | None:
        return self.times[0] if self.times else None

    def time_of(self, n: int) -> float | None:
        """When the count first reached `n`."""
        i = bisect.bisect_left(self.counts, n)
        return self.times[i] if i < len(self.times) else None

    def count_at(self, t: float) -> int:
        """The count as it stood at monotonic time `t`."""
        i = bisect.bisect_right(self.times, t)
        return self.counts[i - 1] if i else 0

    def stop(self) -> None:
        child = self.child
        if child is None:
            return
        stop_process(child, 10)
        if self._reader is not None:
            self._reader.join(5)
        if child.stdout is not None:
            child.stdout.close()


# --------------------------------------------------------------------------- CPU


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime + stime + cutime + cstime in seconds) from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    # after the command: state ppid ... utime(12th) stime cutime cstime (fields 14-17 of proc(5))
    return int(fields[1]), sum(int(v) for v in fields[11:15]) / ticks


def tree_cpu(root: int | None) -> float | None:
    """CPU seconds of `root` and its live descendants, each with its reaped children
    (cutime/cstime), so daemons that came and went since the last reading are counted."""
    if root is None:
        return None
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                stats[int(entry)] = found
    if root not in stats:
        return None
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total

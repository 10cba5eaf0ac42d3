"""Profiling the server with py-spy over the measured window, and summarizing raw samples.

`start_profiler` runs `py-spy record` on the server; `finish_profiler` waits for it and
returns what to print: where a flame graph or speedscope file went, or for raw collapsed
stacks a summary by thread, by area (SQLAlchemy, the sqlite3 driver, the email package...)
and the hottest functions.
"""

from __future__ import annotations

import math
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from loadgen_setup import Processes

_ROOTS = {"<module> (postroom/__main__.py)", "serve (postroom/interfaces/cli/serve.py)"}


def start_profiler(processes: Processes, pid: int, output: str, seconds: float,
                   rate: int, gil: bool) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(Path(output).suffix, "raw")
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(math.ceil(seconds)),
               "--rate", str(rate), "--format", fmt, "--output", output, "--nonblocking",
               "--threads", "--subprocesses"]
    if gil:
        command.append("--gil")
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    processes.children.append(child)
    return child


def finish_profiler(profiler: subprocess.Popen[bytes], output: str, top: int) -> str:
    """Wait for py-spy; say where its file went, or summarize raw samples."""
    try:
        _out, err = profiler.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        profiler.send_signal(signal.SIGINT)
        _out, err = profiler.communicate(timeout=30)
    if profiler.returncode != 0 and not Path(output).exists():
        return f"py-spy failed: {err.decode(errors='replace')[-500:]}"
    if Path(output).suffix in (".svg", ".json"):
        return f"profile written to {output}"
    return summarize_profile(output, top)


@dataclass
class Samples:
    """Sample counts from py-spy's raw (collapsed) output."""

    total: int = 0
    threads: Counter[str] = field(default_factory=Counter)
    areas: Counter[str] = field(default_factory=Counter)  # by leaf frame
    own: Counter[str] = field(default_factory=Counter)  # leaf frame
    ours: Counter[str] = field(default_factory=Counter)  # inclusive, postroom's own functions

    @classmethod
    def read(cls, path: str) -> Samples:
        samples = cls()
        for line in Path(path).read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if stack and count_text.isdigit():
                samples.add(stack.split(";"), int(count_text))
        return samples

    def add(self, frames: list[str], count: int) -> None:
        if frames[0].startswith(("thread ", "process ")):
            self.threads[frames[0].split("): ", 1)[-1].strip('"')] += count
            frames = frames[1:]
        self.total += count
        if not frames:
            return
        leaf = _frame_name(frames[-1])
        self.own[leaf] += count
        self.areas[_area(leaf)] += count
        for name in {_frame_name(f) for f in frames if "postroom/" in f} - _ROOTS:
            self.ours[name] += count


def summarize_profile(path: str, top: int) -> str:
    """Sample shares from py-spy's raw (collapsed) output: by thread, by area, hot spots."""
    samples = Samples.read(path)
    total = samples.total
    if not total:
        return "profile: no samples"

    def share(counter: Counter[str], limit: int) -> list[str]:
        return [f"    {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(limit)]

    return "\n".join([
        f"profile: {total} samples ({path})",
        "  by thread: " + ", ".join(f"{name} {100 * n / total:.0f}%"
                                    for name, n in samples.threads.most_common()),
        "  by area (leaf frame):", *share(samples.areas, 12),
        f"  top {top} functions by own time (leaf frame):", *share(samples.own, top),
        f"  top {top} postroom functions by inclusive time:", *share(samples.ours, top),
    ])


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

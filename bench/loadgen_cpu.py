"""CPU accounting for the bench: the client's own CPU, the server's, and the whole machine's.

Figures come from `getrusage` (this process, all threads), `/proc/PID/stat` (the server) and
`/proc/stat` (all cores), read at the start and the end of the measured window.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path


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

"""What a run measured: latency percentiles, the summary dict (--json) and its text form,
whether delivery kept up (GetSendStatistics), and which postroom source was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadgen_client import Load
from loadgen_requests import Credentials, Target, call, form


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


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
    for line in _cpu_lines(s, cores, cpu):
        print(line)
    if s.get("delivery"):
        print(_delivery_line(s["delivery"]))
    if s["reconnects"]:
        print(f"reconnects  {s['reconnects']}")


def _cpu_lines(s: dict[str, Any], cores: int, cpu: dict[str, Any]) -> list[str]:
    share = cpu["client_cores"]
    client = f"client cpu  {share:.2f} core ({100 * share / cores:.0f}% of {cores} cores)"
    if s["send_lag_ms"]:
        client += (f"; send lag p99 {s['send_lag_ms']['p99']:.1f} ms, "
                   f"max {s['send_lag_ms']['max']:.1f} ms")
    lines = [client]
    if cpu["server_cores"] is not None:
        server = cpu["server_cores"]
        lines.append(f"server cpu  {server:.2f} core ({100 * server / cores:.0f}% of "
                     f"{cores} cores)")
    if cpu["machine_busy"] is not None:
        rest = cpu["machine_busy"] * cores - share - (cpu["server_cores"] or 0.0)
        lines.append(f"machine     {100 * cpu['machine_busy']:.0f}% busy; {rest:.2f} core "
                     "outside client and server (kernel, other processes)")
    return lines


def _delivery_line(delivery: dict[str, Any]) -> str:
    line = (f"delivery    {delivery['attempts_per_s']:.1f} attempts/s during the load "
            f"(GetSendStatistics): {delivery['attempts_during_load']} attempted of "
            f"{delivery['accepted_total']} accepted incl. warm-up, "
            f"{delivery['behind_at_end']} behind at the end")
    if delivery["drained_after_s"] is not None:
        line += f"; caught up {delivery['drained_after_s']:g} s later"
    elif "behind_after_drain" in delivery:
        line += f"; still {delivery['behind_after_drain']} behind after --drain"
    return line


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

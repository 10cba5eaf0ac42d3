"""Child processes of `postroom serve`: `--worker-processes N` and `--api-processes N`.

One Python process runs on one core (the GIL). Worker processes claim and deliver from the
shared queue, exactly as separate `serve --roles worker` nodes would; extra API processes
answer on the same port (SO_REUSEPORT: the kernel spreads connections over them). The
database is the only thing they share.

Children are started with the `spawn` method (a fresh interpreter, no inherited event loop
or database connections), restarted if they die, stopped with the parent, and stop by
themselves if the parent disappears without stopping them (e.g. SIGKILL). Every process
that accepts mail wakes the worker processes through one pipe per worker slot, so a worker
claims at once rather than at its next poll; the pipes outlive a restarted worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from postroom.config import HostPort, Settings

log = logging.getLogger("postroom")
_RESTART_DELAY = 1.0


@dataclass(frozen=True)
class NodePlan:
    """How a spawned node runs: its name in output, the pipe that wakes it (workers), the
    pipes it writes to when it queues mail (API nodes), and whether it shares its port."""

    label: str = "postroom"
    wake_fd: int | None = None
    wake_targets: tuple[int, ...] = field(default=())
    reuse_port: bool = False
    periodic: bool = True  # runs the periodic DNS and reputation checks (one worker does)


ServerRunner = Callable[[Settings, NodePlan], Coroutine[Any, Any, None]]


def wants_children(settings: Settings) -> bool:
    return (settings.worker_processes > 0 and "worker" in settings.roles) or (
        settings.api_processes > 1 and "api" in settings.roles
    )


def parent_settings(settings: Settings) -> Settings:
    """The serving process's own share: the worker role goes to worker processes if any."""
    if settings.worker_processes > 0:
        return replace(settings, roles=tuple(r for r in settings.roles if r != "worker"))
    return settings


def listening_socket(address: HostPort, reuse_port: bool) -> socket.socket:
    """The API's listening socket, bound here so that every API process can share it
    (SO_REUSEPORT) and `--http HOST:0` names one port for all of them."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((address.host, address.port))
    sock.set_inheritable(False)
    return sock


class Waker:
    """Wakes the worker processes when mail was queued: one byte per pipe per loop turn."""

    def __init__(self, fds: Sequence[int]) -> None:
        self.fds = tuple(fds)
        self._pending = False

    def __call__(self) -> None:
        if self.fds and not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._pending = False
        for fd in self.fds:
            # A full pipe already holds a wake its worker has not read yet.
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                os.write(fd, b"w")


def _child_main(
    settings: Settings, plan: NodePlan, parent: int, run: ServerRunner,
    wake: Connection | None, targets: list[Connection],
) -> None:  # fmt: skip
    from postroom.interfaces.cli.serve import configure_logging, run_loop

    configure_logging()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent decides when we stop
    for target in targets:
        os.set_blocking(target.fileno(), False)
    plan = replace(
        plan,
        wake_fd=wake.fileno() if wake is not None else None,
        wake_targets=tuple(t.fileno() for t in targets),
    )
    run_loop(_child(settings, plan, parent, run))


async def _child(settings: Settings, plan: NodePlan, parent: int, run: ServerRunner) -> None:
    server = asyncio.create_task(run(settings, plan))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, server.cancel)
    while not server.done():  # orphaned (the parent was killed): stop, leases expire
        if os.getppid() != parent:
            log.warning("%s: the serving process is gone, stopping", plan.label)
            server.cancel()
            break
        await asyncio.wait({server}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError):
        await server


@dataclass
class _Slot:
    label: str
    settings: Settings
    reuse_port: bool = False
    periodic: bool = False
    wake: Connection | None = None  # a worker's end of its wake pipe
    process: BaseProcess | None = None


class NodeProcesses:
    """The children of one `serve`: supervised, and woken when mail is queued."""

    def __init__(self, settings: Settings, run: ServerRunner, api_port: int) -> None:
        self.run = run
        self.context = multiprocessing.get_context("spawn")
        self.slots: list[_Slot] = []
        self._writers: list[Connection] = []
        health = HostPort(settings.http.host, 0)  # workers: any free port for /healthz
        base = replace(settings, worker_processes=0, api_processes=1)
        if "worker" in settings.roles:
            for number in range(1, settings.worker_processes + 1):
                reader, writer = self.context.Pipe(duplex=False)
                os.set_blocking(writer.fileno(), False)
                self._writers.append(writer)
                worker = replace(base, roles=("worker",), http=health)
                self.slots.append(
                    _Slot(f"worker process {number}", worker, wake=reader, periodic=number == 1)
                )
        if "api" in settings.roles:
            api = replace(base, roles=("api",), http=HostPort(settings.http.host, api_port))
            for number in range(2, settings.api_processes + 1):
                self.slots.append(_Slot(f"api process {number}", api, reuse_port=True))
        self.wake = Waker([w.fileno() for w in self._writers])

    @property
    def workers(self) -> int:
        return len(self._writers)

    def describe(self) -> str:
        parts = []
        if self.workers:
            parts.append(f"worker in {self.workers} process{'es' if self.workers > 1 else ''}")
        apis = len(self.slots) - self.workers
        if apis:
            parts.append(f"api in {apis + 1} processes")
        return " + ".join(parts)

    def _start(self, slot: _Slot) -> None:
        targets = [] if slot.wake is not None else self._writers
        child = self.context.Process(
            target=_child_main,
            args=(
                slot.settings,
                NodePlan(slot.label, reuse_port=slot.reuse_port, periodic=slot.periodic),
                os.getpid(),
                self.run, slot.wake, targets,
            ),
            name=f"postroom {slot.label}",
            daemon=True,
        )  # fmt: skip
        child.start()
        slot.process = child

    async def supervise(self) -> None:
        """Start the children, and restart any that dies, until cancelled."""
        for slot in self.slots:
            self._start(slot)
        try:
            while True:
                await asyncio.sleep(_RESTART_DELAY)
                for slot in self.slots:
                    if slot.process is not None and not slot.process.is_alive():
                        log.error(
                            "%s exited (code %s); starting it again",
                            slot.label, slot.process.exitcode,
                        )  # fmt: skip
                        self._start(slot)
        finally:
            await asyncio.to_thread(self.stop)

    def stop(self, timeout: float = 10.0) -> None:
        children = [s.process for s in self.slots if s.process is not None]
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: the child finishes its server's shutdown
        for child in children:
            child.join(timeout)
            if child.is_alive():
                child.kill()
        for slot in self.slots:
            slot.process = None

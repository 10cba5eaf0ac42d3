"""The worker role in child processes of `postroom serve` (`--worker-processes N`).

One Python process runs on one core (the GIL). With N worker processes the serving process
keeps the API and the children claim and deliver from the shared queue, exactly as
separate `serve --roles worker` nodes would: the database is the only thing they share.
Children are started with the `spawn` method (a fresh interpreter, no inherited event loop
or database connections), restarted if they die, stopped with the parent, and stop by
themselves if the parent disappears without stopping them (e.g. SIGKILL). The parent wakes
them through a pipe each when it queues mail, so a child does not wait for its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Coroutine
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from postroom.config import HostPort, Settings

log = logging.getLogger("postroom")
ServerRunner = Callable[[Settings, str, int | None], Coroutine[Any, Any, None]]
_RESTART_DELAY = 1.0


def parent_settings(settings: Settings) -> Settings:
    """The serving process's own share: every role but `worker`."""
    return replace(settings, roles=tuple(r for r in settings.roles if r != "worker"))


def child_settings(settings: Settings) -> Settings:
    """A worker-only node with its own health port (any free one)."""
    return replace(
        settings, roles=("worker",), worker_processes=0, http=HostPort(settings.http.host, 0)
    )


def _child_main(
    settings: Settings, number: int, parent: int, run: ServerRunner, wakes: Connection
) -> None:
    from postroom.interfaces.cli.serve import configure_logging, run_loop

    configure_logging()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent decides when we stop
    run_loop(_child(settings, number, parent, run, wakes.fileno()))


async def _child(
    settings: Settings, number: int, parent: int, run: ServerRunner, wake_fd: int
) -> None:
    server = asyncio.create_task(run(settings, f"worker process {number}", wake_fd))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, server.cancel)
    while not server.done():  # orphaned (the parent was killed): stop, leases expire
        if os.getppid() != parent:
            log.warning("worker process %d: the serving process is gone, stopping", number)
            server.cancel()
            break
        await asyncio.wait({server}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError):
        await server


class WorkerProcesses:
    def __init__(self, settings: Settings, count: int, run: ServerRunner) -> None:
        self.settings = child_settings(settings)
        self.count = count
        self.run = run
        self.context = multiprocessing.get_context("spawn")
        self.children: dict[int, BaseProcess] = {}
        self._wake_fds: dict[int, int] = {}
        self._wake_pending = False

    def _start(self, number: int) -> None:
        reader, writer = self.context.Pipe(duplex=False)
        child = self.context.Process(
            target=_child_main,
            args=(self.settings, number, os.getpid(), self.run, reader),
            name=f"postroom-worker-{number}",
            daemon=True,
        )
        child.start()
        reader.close()
        old = self._wake_fds.pop(number, None)
        if old is not None:
            os.close(old)
        fd = os.dup(writer.fileno())
        writer.close()
        os.set_blocking(fd, False)
        self._wake_fds[number] = fd
        self.children[number] = child

    def wake(self) -> None:
        """Mail was queued: nudge every child (coalesced to one byte per loop turn)."""
        if not self._wake_pending:
            self._wake_pending = True
            asyncio.get_running_loop().call_soon(self._send_wakes)

    def _send_wakes(self) -> None:
        self._wake_pending = False
        for fd in self._wake_fds.values():
            # A full pipe already holds a wake the child has not read; a dead child's
            # pipe is replaced when it is restarted.
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                os.write(fd, b"w")

    async def supervise(self) -> None:
        """Start the children, and restart any that dies, until cancelled."""
        for number in range(1, self.count + 1):
            self._start(number)
        try:
            while True:
                await asyncio.sleep(_RESTART_DELAY)
                for number, child in list(self.children.items()):
                    if not child.is_alive():
                        log.error(
                            "worker process %d exited (code %s); starting it again",
                            number, child.exitcode,
                        )  # fmt: skip
                        self._start(number)
        finally:
            await asyncio.to_thread(self.stop)

    def stop(self, timeout: float = 10.0) -> None:
        for child in self.children.values():
            if child.is_alive():
                child.terminate()  # SIGTERM: the child finishes its server's shutdown
        for child in self.children.values():
            child.join(timeout)
            if child.is_alive():
                child.kill()
        self.children.clear()
        for fd in self._wake_fds.values():
            os.close(fd)
        self._wake_fds.clear()

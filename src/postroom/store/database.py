"""Engines, transactions and group commit, the same for SQLite and PostgreSQL.

Writes go through `Database.write()`: a single writer thread takes every job waiting in its
queue, runs each inside its own SAVEPOINT of one transaction, commits (fsync) once and only
then answers the callers. Many requests, one commit: durable without one fsync per request.
A job that raises rolls back to its savepoint and fails alone.

`Database.write_batched(batch, item)` is for the hot paths (admitting a message, recording
a delivery): every item of the group submitted with the same `batch` goes to one call,
`batch(conn, items)`, which answers each item with a value or an exception and writes what
it accepted with one statement per table. A batch that raises as a whole is run again item
by item, each in its own savepoint, so one bad item still fails alone.

Who runs the group commits depends on the engine. SQLite has one writer at a time, so a
write transaction must be short in wall time: it runs on the event loop's own thread
(`_LoopWriter`), where no other Python thread takes the GIL between its statements (from a
writer thread, every statement gave the GIL up and waited up to a switch interval to get it
back, with SQLite's lock held all the while). PostgreSQL runs writers side by side, and its
round trips are waited out in a writer thread (`_ThreadWriter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import logging
import queue
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from postroom.store import files, migrations
from postroom.store.fastsql import Sql

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item of a batch
Job = Callable[[Connection], Any]
Batch = Callable[[Connection, list[Any]], Sequence[Any]]
log = logging.getLogger(__name__)

MAX_GROUP = 256


def _sqlite_engine(url: str, begin: str, synchronous: str = "FULL") -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's events own BEGIN so SAVEPOINTs work (pysqlite's own handling breaks
        # them); WAL + synchronous=FULL makes every COMMIT durable (fsync of the WAL).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _postgres_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class _WriteTurns:
    """Takes turns at SQLite's single write lock across processes (serve's worker
    processes, other nodes, the CLI). SQLite's own busy handler polls with sleeps of up to
    100 ms, so a process that commits back to back (an API under load) would starve the
    others. Here a writer first lines up on a queue lock, then takes the turn lock and lets
    the queue go: a process that wants the turn again while another waits must wait behind
    it, so busy processes alternate. Both are `flock`s on files next to the database (the
    kernel wakes a waiter at once)."""

    def __init__(self, database_path: str) -> None:
        self._paths = (database_path + ".write-queue", database_path + ".write-turn")
        self._fds: tuple[int, int] | None = None
        self._local = threading.Lock()  # one holder per process; flock is per open file

    def _files(self) -> tuple[int, int]:
        if self._fds is None:
            queue_fd, turn_fd = (files.private_file(Path(p)) for p in self._paths)
            self._fds = (queue_fd, turn_fd)
        return self._fds

    def take(self) -> None:
        """Wait in line for the turn."""
        self._local.acquire()
        queue_fd, turn_fd = self._files()
        fcntl.flock(queue_fd, fcntl.LOCK_EX)
        try:
            fcntl.flock(turn_fd, fcntl.LOCK_EX)
        finally:
            fcntl.flock(queue_fd, fcntl.LOCK_UN)

    def try_take(self) -> bool:
        """Take the turn if nobody holds it or waits for it; never waits."""
        if not self._local.acquire(blocking=False):
            return False
        queue_fd, turn_fd = self._files()
        try:
            fcntl.flock(queue_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                fcntl.flock(turn_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                fcntl.flock(queue_fd, fcntl.LOCK_UN)
        except BlockingIOError:
            self._local.release()
            return False
        return True

    def give(self) -> None:
        fcntl.flock(self._files()[1], fcntl.LOCK_UN)
        self._local.release()

    async def take_async(self) -> None:
        """Take the turn without blocking the event loop (the wait happens in a thread)."""
        if self.try_take():
            return
        waiting = asyncio.ensure_future(asyncio.to_thread(self.take))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:  # the turn comes anyway: hand it straight back
            waiting.add_done_callback(self._give_if_taken)
            raise

    def _give_if_taken(self, waiting: asyncio.Future[None]) -> None:
        if not waiting.cancelled() and waiting.exception() is None:
            self.give()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.take()
        try:
            yield
        finally:
            self.give()


class Database:
    """The system of record: one schema, two engines."""

    def __init__(self, url: str, *, sync_commits: bool = True) -> None:
        """`sync_commits=False` (SQLite, worker-only nodes): commits do not wait for fsync.
        They survive a crash of the process, not a power loss; see `open_database`."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._turns: _WriteTurns | None = None
        if self.is_sqlite:
            files.private_sqlite(url.removeprefix("sqlite:///"))
            self._turns = _WriteTurns(url.removeprefix("sqlite:///"))
            synchronous = "FULL" if sync_commits else "NORMAL"
            self.write_engine = _sqlite_engine(url, "BEGIN IMMEDIATE", synchronous)
            self.read_engine = _sqlite_engine(url, "BEGIN")
        elif url.startswith("postgresql"):
            self.write_engine = _postgres_engine(url)
            self.read_engine = self.write_engine
        else:
            raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
        self._writer: _ThreadWriter | None = None
        self._loop_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWriter] = (
            weakref.WeakKeyDictionary()
        )

    # -- schema -------------------------------------------------------------------------
    def create_schema(self) -> None:
        """Bring the schema to the newest Alembic revision (safe with concurrent starters:
        SQLite's BEGIN IMMEDIATE and a PostgreSQL advisory lock serialize them)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(Path(migrations.__file__).parent))
        logging.getLogger("alembic").setLevel(logging.WARNING)
        with self.write_engine.begin() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(72616673)"))
            config.attributes["connection"] = conn
            alembic_command.upgrade(config, "head")

    # -- synchronous use (CLI, writer thread, tests) ------------------------------------
    def transact(self, job: Callable[[Connection], T]) -> T:
        with self.write_turn(), self.write_engine.begin() as conn:
            return job(conn)

    def write_turn(self) -> contextlib.AbstractContextManager[None]:
        """Held around every write transaction (SQLite: a turn among processes)."""
        return self._turns.held() if self._turns is not None else contextlib.nullcontext()

    def query(self, job: Callable[[Connection], T]) -> T:
        with self.read_engine.connect() as conn:
            try:
                return job(conn)
            finally:
                conn.rollback()

    # -- asynchronous use (servers) -----------------------------------------------------
    async def write(self, job: Callable[[Connection], T]) -> T:
        """Run `job` in the next group commit; returns once it is durably committed."""
        result: T = await self._group_writer().submit(_Entry(job, None, None))
        return result

    async def write_batched(
        self, batch: Callable[[Connection, list[I]], Sequence[T | BaseException]], item: I
    ) -> T:
        """Run `item` with every other item of the next group commit submitted with the same
        `batch`; returns this item's value or raises its exception, once durably committed."""
        result: T = await self._group_writer().submit(_Entry(None, batch, item))
        return result

    def _group_writer(self) -> _LoopWriter | _ThreadWriter:
        if self._turns is not None:  # SQLite: on this event loop's thread
            loop = asyncio.get_running_loop()
            if loop not in self._loop_writers:
                self._loop_writers[loop] = _LoopWriter(self, self._turns)
            return self._loop_writers[loop]
        if self._writer is None:
            self._writer = _ThreadWriter(self)
        return self._writer

    async def read(self, job: Callable[[Connection], T]) -> T:
        return await asyncio.to_thread(self.query, job)

    async def read_now(self, job: Callable[[Connection], T]) -> T:
        """A small read on a hot path. SQLite: at once, on the caller's thread (WAL readers
        do not wait for writers, and a hop to a thread and back costs more than the read);
        PostgreSQL: in a thread, as `read`."""
        if self.is_sqlite:
            return self.query(job)
        return await self.read(job)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        for writer in list(self._loop_writers.values()):
            writer.stop()
        self._loop_writers.clear()
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


@dataclasses.dataclass(slots=True)
class _Entry:
    """A plain job, or an item for a batch."""

    job: Job | None
    batch: Batch | None
    item: Any
    future: asyncio.Future[Any] | None = None


def _commit_group(db: Database, group: list[_Entry]) -> list[tuple[bool, Any]]:
    """One transaction for the group (the caller holds the write turn)."""
    try:
        with db.write_engine.begin() as conn:
            return _run_group(conn, group)
    except Exception as exc:  # the commit itself failed: nobody's work is durable
        log.exception("group commit failed")
        return [(False, exc)] * len(group)


class _LoopWriter:
    """Group commits on the event loop's thread: wait for the turn (in a thread, if another
    process has it), take everything submitted meanwhile, commit, answer."""

    def __init__(self, db: Database, turns: _WriteTurns) -> None:
        self._db = db
        self._turns = turns
        self._pending: list[_Entry] = []
        self._ready = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    async def submit(self, entry: _Entry) -> Any:
        entry.future = self._loop.create_future()
        self._pending.append(entry)
        self._ready.set()
        return await entry.future

    def stop(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)

    async def _run(self) -> None:
        try:
            while True:
                await self._ready.wait()
                await asyncio.sleep(0)  # requests ready to run now join this group
                await self._turns.take_async()
                try:
                    group = self._pending[:MAX_GROUP]
                    del self._pending[:MAX_GROUP]
                    if not self._pending:
                        self._ready.clear()
                    outcomes = _commit_group(self._db, group)
                finally:
                    self._turns.give()
                for entry, (ok, value) in zip(group, outcomes, strict=True):
                    assert entry.future is not None
                    _settle(entry.future, ok, value)
        finally:
            for entry in self._pending:
                if entry.future is not None and not entry.future.done():
                    entry.future.set_exception(RuntimeError("the database was closed"))


class _ThreadWriter:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._jobs: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="postroom-writer", daemon=True)
        self._thread.start()

    async def submit(self, entry: _Entry) -> Any:
        entry.future = asyncio.get_running_loop().create_future()
        self._jobs.put(entry)
        return await entry.future

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _next_group(self) -> list[_Entry] | None:
        first = self._jobs.get()
        if first is None:
            return None
        group = [first]
        while len(group) < MAX_GROUP:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._jobs.put(None)
                break
            group.append(item)
        return group

    def _run(self) -> None:
        while (group := self._next_group()) is not None:
            outcomes = _commit_group(self._db, group)
            for entry, (ok, value) in zip(group, outcomes, strict=True):
                future = entry.future
                assert future is not None
                future.get_loop().call_soon_threadsafe(_settle, future, ok, value)


_SAVEPOINT = Sql("SAVEPOINT job")
_RELEASE = Sql("RELEASE SAVEPOINT job")
_ROLLBACK_TO = Sql("ROLLBACK TO SAVEPOINT job")


def _run_group(conn: Connection, group: list[_Entry]) -> list[tuple[bool, Any]]:
    """Plain jobs one by one, then each batch once over all its items; outcomes in the
    group's order."""
    outcomes: dict[int, tuple[bool, Any]] = {}
    batches: dict[Batch, list[int]] = {}
    for index, entry in enumerate(group):
        if entry.batch is not None:
            batches.setdefault(entry.batch, []).append(index)
        elif entry.job is not None:
            outcomes[index] = _run_in_savepoint(conn, entry.job)
    for batch, indexes in batches.items():
        results = _run_batch(conn, batch, [group[i].item for i in indexes])
        outcomes.update(zip(indexes, results, strict=True))
    return [outcomes[index] for index in range(len(group))]


def _run_batch(conn: Connection, batch: Batch, items: list[Any]) -> list[tuple[bool, Any]]:
    """One savepoint for the whole batch; if it raises, each item alone in its own."""
    _SAVEPOINT.run(conn, {})
    try:
        results = batch(conn, items)
        if len(results) != len(items):
            raise RuntimeError(f"a batch answered {len(results)} of {len(items)} items")
    except Exception as exc:  # noqa: BLE001 - retried item by item, or handed to the caller
        _ROLLBACK_TO.run(conn, {})
        _RELEASE.run(conn, {})
        if len(items) == 1:
            return [(False, exc)]
        return [_run_batch(conn, batch, [item])[0] for item in items]
    _RELEASE.run(conn, {})
    return [(not isinstance(r, BaseException), r) for r in results]


def _run_in_savepoint(conn: Connection, job: Job) -> tuple[bool, Any]:
    """Each job in its own SAVEPOINT (issued on the DBAPI cursor: this runs per request)."""
    _SAVEPOINT.run(conn, {})
    try:
        value = job(conn)
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
        _ROLLBACK_TO.run(conn, {})
        _RELEASE.run(conn, {})
        return False, exc
    _RELEASE.run(conn, {})
    return True, value


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def pool_for_tests(url: str) -> Engine:
    """An engine without pooling, for test set-up that creates and drops databases."""
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

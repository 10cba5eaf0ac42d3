"""SQLite writers in different processes take turns (store/database.py `_WriteTurns`):
a write waits while another process holds the turn, and goes ahead once it is let go,
without SQLite's busy-handler back-off."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from postroom.store.database import Database


def test_a_write_waits_for_the_turn_and_goes_ahead_when_it_is_free(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    db = Database(f"sqlite:///{path}")
    db.transact(lambda conn: conn.execute(text("CREATE TABLE counter (n INTEGER)")))
    # Another writer (here: another open file, which flock treats like another process)
    # holds the turn.
    other = os.open(f"{path}.write-turn", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(other, fcntl.LOCK_EX)
    done = threading.Event()

    def write() -> None:
        db.transact(lambda conn: conn.execute(text("INSERT INTO counter VALUES (1)")))
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert not done.wait(0.5)  # waits for its turn rather than writing alongside
        released = time.perf_counter()
        fcntl.flock(other, fcntl.LOCK_UN)
        assert done.wait(5)
        assert time.perf_counter() - released < 0.05  # woken at once, no back-off sleeps
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        writer.join(5)
        os.close(other)
    assert db.query(lambda conn: conn.execute(text("SELECT n FROM counter")).scalar()) == 1
    db.close()


def test_nodes_that_accept_mail_wait_for_fsync_worker_only_nodes_do_not(
    tmp_path: Path,
) -> None:
    from postroom.config import load_settings
    from postroom.services import open_database

    def synchronous(roles: str) -> int:
        settings = load_settings(environ={}, data_dir=tmp_path, roles=roles)
        db = open_database(settings)
        try:
            return int(
                db.transact(lambda conn: conn.exec_driver_sql("PRAGMA synchronous").scalar())
            )
        finally:
            db.close()

    assert synchronous("api,worker") == 2  # FULL: a MessageId only after the fsync
    assert synchronous("api") == 2
    assert synchronous("worker") == 1  # NORMAL: outcomes survive a process crash


async def test_a_server_write_waits_for_the_turn_without_stopping_its_event_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "turns.db"
    db = Database(f"sqlite:///{path}")
    db.transact(lambda conn: conn.execute(text("CREATE TABLE counter (n INTEGER)")))
    other = os.open(f"{path}.write-turn", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(other, fcntl.LOCK_EX)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    write = asyncio.create_task(
        db.write(lambda conn: conn.execute(text("INSERT INTO counter VALUES (1)")))
    )
    try:
        await asyncio.sleep(0.5)
        assert not write.done()  # waiting for the turn...
        assert ticks > 20  # ...while the loop goes on serving others
        released = time.perf_counter()
        fcntl.flock(other, fcntl.LOCK_UN)
        await asyncio.wait_for(write, 5)
        assert time.perf_counter() - released < 0.05
    finally:
        ticker.cancel()
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    assert await db.read(lambda conn: conn.execute(text("SELECT n FROM counter")).scalar()) == 1
    db.close()


async def test_a_writer_closed_while_waiting_gives_the_turn_back(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    db = Database(f"sqlite:///{path}")
    db.transact(lambda conn: conn.execute(text("CREATE TABLE counter (n INTEGER)")))
    other = os.open(f"{path}.write-turn", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(other, fcntl.LOCK_EX)
    write = asyncio.create_task(
        db.write(lambda conn: conn.execute(text("INSERT INTO counter VALUES (1)")))
    )
    await asyncio.sleep(0.2)  # waiting for the turn, in a thread
    db.close()
    with pytest.raises(RuntimeError, match="the database was closed"):
        await asyncio.wait_for(write, 5)
    fcntl.flock(other, fcntl.LOCK_UN)  # the waiting thread now gets the turn...
    await asyncio.sleep(0.2)
    again = os.open(f"{path}.write-turn", os.O_RDWR)
    try:  # ...and hands it straight back: nobody is left holding it
        fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(again)
        os.close(other)

"""Private data files (issue 8): the data directory is 0700 and every file in it 0600,
whatever the umask, because it holds every message, the capture mailbox, live
verification tokens and the secret key. Existing directories are tightened at start.

SQLite creates its -wal, -shm and -journal files with the database file's own mode, so a
database file created here 0600 keeps them 0600 too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create `path` (and its parents) if missing; a directory created here is 0700."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask


def private_file(path: Path) -> int:
    """Open (creating if missing) `path` for reading and writing, 0600; returns the fd."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def tighten(path: Path) -> None:
    """An existing data directory: 0700, every regular file directly in it 0600."""
    if not path.is_dir():
        return
    os.chmod(path, DIR_MODE)
    for entry in os.scandir(path):
        if entry.is_file(follow_symlinks=False) and stat.S_IMODE(entry.stat().st_mode) != FILE_MODE:
            os.chmod(entry.path, FILE_MODE)


def tighten_files(*paths: str) -> None:
    """These files, where they exist, 0600 (a database's files outside the data dir)."""
    for name in paths:
        try:
            os.chmod(name, FILE_MODE)
        except FileNotFoundError:
            continue


SQLITE_SIDECARS = ("-wal", "-shm", "-journal", ".write-queue", ".write-turn")


def private_sqlite(path: str) -> None:
    """The database file is created 0600 before SQLite opens it (SQLite gives its -wal,
    -shm and -journal files the database's mode); its existing files are tightened."""
    private_dir(Path(path).parent)
    os.close(private_file(Path(path)))
    tighten_files(*(path + suffix for suffix in SQLITE_SIDECARS))

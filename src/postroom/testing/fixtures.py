"""pytest fixtures: databases on both engines and a running `postroom serve`.

`engine_url` is parametrized over SQLite (a temp dir) and PostgreSQL (a fresh database on
127.0.0.1:5432 per test). With CI=true PostgreSQL must be there: no skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from postroom.testing.server import PostroomProcess

POSTGRES_ADMIN_URL = os.environ.get(
    "POSTROOM_TEST_POSTGRES", "postgresql+psycopg://127.0.0.1:5432/test"
)


def _postgres_available() -> bool:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _fresh_postgres() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not reachable at " + POSTGRES_ADMIN_URL)
        pytest.skip("PostgreSQL is not reachable")
    name = "postroom_" + uuid.uuid4().hex[:12]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL, once for each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'postroom.db'}"
    else:
        yield from _fresh_postgres()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Any]:
    """A fresh SQLite `Database` at the newest schema, in the test's temp dir."""
    from postroom.store.database import Database

    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.create_schema()
    yield database
    database.close()


@pytest.fixture
def postroom_factory(tmp_path: Path) -> Iterator[Callable[..., PostroomProcess]]:
    """Start servers: factory(*serve_args, database_url=None) -> started PostroomProcess."""
    started: list[PostroomProcess] = []

    def start(
        *serve_args: str,
        database_url: str | None = None,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> PostroomProcess:
        server = PostroomProcess(
            data_dir=data_dir or tmp_path / f"data{len(started)}",
            database_url=database_url,
            serve_args=serve_args,
            env=dict(env or {}),
        )
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


def ses_client(
    server: PostroomProcess,
    credentials: dict[str, str],
    region: str = "us-east-1",
    retries: int = 0,
    service: str = "ses",
) -> Any:
    """A real boto3 client pointed at the server; retries off so errors surface."""
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
        config=Config(retries={"total_max_attempts": retries + 1, "mode": "standard"}),
    )

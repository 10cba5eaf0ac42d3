"""Issue 8: private data files whatever the umask, and one secret key per installation."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from cryptography.fernet import Fernet

from postroom.clock import SystemClock
from postroom.secrets import SecretBox
from postroom.store import accounts as account_store
from postroom.store.database import Database
from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _modes(data_dir: Path) -> dict[str, int]:
    return {entry.name: _mode(entry) for entry in data_dir.iterdir()}


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_data_files_are_private_whatever_the_umask(postroom_factory: Any, umask: int) -> None:
    previous = os.umask(umask)  # inherited by the server and the CLI started below
    try:
        server: PostroomProcess = postroom_factory()
        created = server.create_account("private")
        ses_client(server, created).verify_email_identity(EmailAddress="me@example.com")
        modes = _modes(server.data_dir)
    finally:
        os.umask(previous)

    assert _mode(server.data_dir) == 0o700
    expected = {"postroom.db", "postroom.db-wal", "postroom.db-shm", "secret.key"}
    assert expected <= set(modes)
    assert {name: 0o600 for name in modes} == modes


def test_a_loose_data_dir_is_tightened_at_start(postroom_factory: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "loose"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    (data_dir / "secret.key").write_bytes(Fernet.generate_key())
    (data_dir / "postroom.db").touch()
    for name in ("secret.key", "postroom.db"):
        os.chmod(data_dir / name, 0o644)

    server: PostroomProcess = postroom_factory(data_dir=data_dir)

    assert _mode(server.data_dir) == 0o700
    assert set(_modes(server.data_dir).values()) == {0o600}


def _postroom(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "postroom", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("engine_url", ["postgres"], indirect=True)
def test_a_second_secret_key_is_refused(
    postroom_factory: Any, engine_url: str, tmp_path: Path
) -> None:
    server: PostroomProcess = postroom_factory(database_url=engine_url)
    server.create_account("first")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_")}
    env["POSTROOM_DATABASE_URL"] = engine_url

    # From another directory, without POSTROOM_SECRET_KEY: refused, no second key made.
    refused = _postroom(elsewhere, env, "accounts", "create", "second", "--json")
    assert refused.returncode == 1, refused.stdout
    assert "POSTROOM_SECRET_KEY" in refused.stderr
    assert str(elsewhere / "postroom-data" / "secret.key") in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (elsewhere / "postroom-data").exists()
    # A server started there refuses the same way, before listening.
    serving = _postroom(elsewhere, env, "serve", "--http", "127.0.0.1:0", "--delivery", "capture")
    assert serving.returncode == 1 and "Traceback" not in serving.stderr
    assert "no new key was created" in serving.stderr
    # Another key, given explicitly, is refused too.
    other = dict(env, POSTROOM_SECRET_KEY=Fernet.generate_key().decode())
    mismatch = _postroom(elsewhere, other, "accounts", "create", "second", "--json")
    assert mismatch.returncode == 1 and "fingerprints differ" in mismatch.stderr
    assert "Traceback" not in mismatch.stderr

    # The servers' key works from anywhere, and what it seals works on the server.
    shared = dict(env, POSTROOM_SECRET_KEY=(server.data_dir / "secret.key").read_text().strip())
    made = _postroom(elsewhere, shared, "accounts", "create", "second", "--json")
    assert made.returncode == 0, made.stderr
    quota = ses_client(server, json.loads(made.stdout)).get_send_quota()
    assert quota["Max24HourSend"] == 200.0


def test_a_secret_sealed_with_another_key_is_an_invalid_key_not_a_500(
    postroom_factory: Any, engine_url: str
) -> None:
    sqlite = engine_url.startswith("sqlite")
    server: PostroomProcess = postroom_factory(database_url=None if sqlite else engine_url)
    created = server.create_account("sealed")
    url = f"sqlite:///{server.data_dir / 'postroom.db'}" if sqlite else engine_url
    db = Database(url)
    foreign = SecretBox(Fernet.generate_key()).seal("a" * 40)
    try:
        key_id = db.transact(
            lambda conn: account_store.insert_key(
                conn, created["account_id"], foreign, SystemClock().now()
            )
        )
    finally:
        db.close()
    forged = dict(created, access_key_id=key_id, secret_access_key="a" * 40)

    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            ses_client(server, forged).get_send_quota()
        response = info.value.response
        assert response["Error"]["Code"] == "InvalidClientTokenId"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    server.stop()
    log = "".join(server.output)
    assert log.count("cannot be decrypted") == 1 and "a" * 40 not in log

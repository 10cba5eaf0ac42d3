"""Secrets at rest: access-key secrets and DKIM keys are stored encrypted (Fernet), never
logged.

The key is looked up in one place, in this order: the config's `secret_key` (the
POSTROOM_SECRET_KEY variable, which every node of a cluster must share), then
`<data-dir>/secret.key`. When neither exists, a key is created in `<data-dir>/secret.key`
(0600) - unless the database already holds secrets, which would then be sealed with two
keys. The database keeps the key's fingerprint (an HMAC of a constant under the key, which
does not reveal it), written when the first key is used; a process whose key has another
fingerprint refuses to start (`SecretKeyError`) instead of sealing with a second key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from postroom.store import files
from postroom.store import meta as meta_store
from postroom.store.database import Database

FINGERPRINT = "secret_key_fingerprint"
_FINGERPRINT_MESSAGE = b"postroom secret key fingerprint v1"
KEY_FILE = "secret.key"


class SecretKeyError(Exception):
    """No usable secret key: the process must not start (the message says what to set)."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self.fingerprint = fingerprint(key)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this key") from exc

    def can_open(self, sealed: str) -> bool:
        try:
            self.open(sealed)
        except ValueError:
            return False
        return True

    def __repr__(self) -> str:
        return "SecretBox(<hidden>)"


def fingerprint(key: bytes) -> str:
    return hmac.new(key, _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()


def open_secret_box(secret_key: str | None, data_dir: Path, db: Database) -> SecretBox:
    """The installation's one key, checked against the fingerprint in the database."""
    path = (data_dir / KEY_FILE).absolute()
    where = "POSTROOM_SECRET_KEY (secret_key in the config)" if secret_key else str(path)
    stored = db.query(lambda conn: meta_store.get(conn, FINGERPRINT))
    key = _configured_key(secret_key, path)
    if key is None:
        if stored is not None or db.query(meta_store.a_sealed_secret) is not None:
            raise SecretKeyError(
                "the database holds secrets sealed with a secret key that is not here: "
                f"{_LOOKUP.format(path=path)}, and neither is set, so no new key was "
                f"created. {_FIX}"
            )
        key = _create_key_file(data_dir, path)
    try:
        box = SecretBox(key)
    except ValueError as exc:
        raise SecretKeyError(f"the secret key in {where} is not a Fernet key. {_FIX}") from exc
    if stored is None:
        sample = db.query(meta_store.a_sealed_secret)
        if sample is None or box.can_open(sample):
            stored = db.transact(lambda conn: meta_store.claim(conn, FINGERPRINT, box.fingerprint))
    if stored != box.fingerprint:
        raise SecretKeyError(
            f"the secret key in {where} is not the one the database's secrets are sealed "
            f"with (fingerprints differ). {_LOOKUP.format(path=path)}. {_FIX}"
        )
    return box


_LOOKUP = "Postroom looks for it in POSTROOM_SECRET_KEY (secret_key in the config), then in {path}"
_FIX = (
    "Set POSTROOM_SECRET_KEY to the key the servers use (the content of their "
    "<data-dir>/secret.key), or run with --data-dir (POSTROOM_DATA_DIR) naming their data "
    "directory."
)


def _configured_key(secret_key: str | None, path: Path) -> bytes | None:
    if secret_key:
        return secret_key.encode()
    if path.exists():
        files.tighten_files(str(path))
        return path.read_bytes().strip()
    return None


def _create_key_file(data_dir: Path, path: Path) -> bytes:
    """A new key, 0600 in a 0700 data directory (a concurrent starter's key wins)."""
    files.private_dir(data_dir)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, files.FILE_MODE)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), files.FILE_MODE)
        handle.write(key)
    return key


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

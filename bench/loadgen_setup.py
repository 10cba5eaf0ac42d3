"""Setting up what the bench runs against: child processes, the server or the baseline app,
an approved account and a verified sender (through the postroom CLI and the captured mail).
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from loadgen_requests import Credentials, Target, call, form

HERE = Path(__file__).resolve().parent
BASELINE_KEY = ("AKIABASELINEBENCH000", "baseline/secret/not/checked/by/the/baseline/app")
_VERIFY_LINK = re.compile(r"/verify/([A-Za-z0-9_~.%-]+)")


def stop_process(child: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM, then SIGKILL if it is still there after `grace` seconds."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


class Processes:
    """Child processes (server, baseline, py-spy) and temp dirs to clean up at exit."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []
        self.temp_dirs: list[Path] = []

    def start(self, command: list[str], log_path: Path, pattern: str, env: dict[str, str],
              timeout: float = 60.0) -> tuple[subprocess.Popen[bytes], str]:
        """Start `command` with output to `log_path`; wait for `pattern` (group 1: URL)."""
        log = log_path.open("wb")
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
        log.close()
        self.children.append(child)
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(log_path.read_text(errors="replace"))
            if match:
                url = match.group(1)
                wait_healthy(url, deadline)
                return child, url
            if child.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"{' '.join(command)} did not start:\n"
                         f"{log_path.read_text(errors='replace')}")

    def cleanup(self, keep: bool) -> None:
        for child in reversed(self.children):
            stop_process(child, 15)
        for path in self.temp_dirs:
            if keep:
                print(f"kept {path}", file=sys.stderr)
            else:
                shutil.rmtree(path, ignore_errors=True)


def wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url}/healthz never answered 200")


class Cli:
    """`postroom ...` against the same database as the server."""

    def __init__(self, data_dir: str | None, database_url: str | None) -> None:
        self.options: list[str] = []
        if data_dir:
            self.options += ["--data-dir", data_dir]
        if database_url:
            self.options += ["--database-url", database_url]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "postroom", *args, *self.options]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise SystemExit(f"postroom {' '.join(args)} failed:\n{result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def set_up_account(cli: Cli, name: str) -> tuple[str, str]:
    """A new account (or a new key for an existing one) with production access."""
    created = cli.run("accounts", "create", name, "--json", check=False)
    if created.returncode == 0:
        issued = json.loads(created.stdout)
    else:
        issued = cli.json("keys", "create", name)
    cli.run("accounts", "approve", name, "--max-24h", "100000000", "--max-rate", "100000")
    return issued["access_key_id"], issued["secret_access_key"]


def verify_sender(cli: Cli, account: str, target: Target, creds: Credentials,
                  address: str, timeout: float = 60.0) -> None:
    """VerifyEmailIdentity, read the link from the captured mail, open it (the real way)."""
    status, body = call(target, creds, form([("Action", "VerifyEmailIdentity"),
                                             ("Version", "2010-12-01"),
                                             ("EmailAddress", address)]))
    if status != 200:
        raise SystemExit(f"VerifyEmailIdentity failed ({status}): {body.decode()}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in cli.json("mailbox", "list", "--account", account, "--limit", "20"):
            if address.lower() not in (d.lower() for d in message["destinations"]):
                continue
            token = _verification_token(message["raw"])
            if token:
                # The link's host is the server's --public-url; ours is the one we talk to.
                with urllib.request.urlopen(f"{target.base_url}/verify/{token}",
                                            timeout=30) as response:
                    if response.status == 200:
                        return
        time.sleep(0.2)
    raise SystemExit(
        f"no verification mail for {address} in `postroom mailbox list` after {timeout:.0f}s "
        "(is the server running with --delivery capture on this database?)"
    )


def _verification_token(raw: str) -> str | None:
    message = email.message_from_string(raw, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        match = _VERIFY_LINK.search(part.get_content())  # type: ignore[attr-defined]
        if match:
            return match.group(1)
    return None


def preflight(target: Target, creds: Credentials, body: bytes) -> None:
    """One request before the run, so a set-up problem is one clear message, not N errors."""
    status, answer = call(target, creds, body)
    if status != 200 or b"<MessageId>" not in answer:
        raise SystemExit(f"preflight SendEmail failed ({status}):\n{answer.decode()}")


def start_baseline(processes: Processes, with_sqlite: bool,
                   env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """bench/baseline_app.py on a free port, optionally with its SQLite group commit."""
    temp = Path(tempfile.mkdtemp(prefix="postroom-baseline-"))
    processes.temp_dirs.append(temp)
    command = [sys.executable, str(HERE / "baseline_app.py"), "--port", "0"]
    if with_sqlite:
        command += ["--sqlite", str(temp / "baseline.db")]
    return processes.start(command, temp / "baseline.log",
                           r"baseline listening on (http://\S+)", env)


def start_server(processes: Processes, data_dir: str | None, database_url: str | None,
                 extra_args: list[str],
                 env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, str]:
    """`postroom serve --delivery capture` on a free port; returns (child, URL, data dir).

    The data dir is a fresh one in a temp dir unless `data_dir` is given.
    """
    temp = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
    processes.temp_dirs.append(temp)
    if not data_dir:
        data_dir = str(temp / "data")
    cli = Cli(data_dir, database_url)
    command = [sys.executable, "-m", "postroom", "serve", "--http", "127.0.0.1:0",
               "--delivery", "capture", *cli.options, *extra_args]
    child, url = processes.start(command, temp / "server.log",
                                 r"postroom listening on (http://\S+)", env)
    return child, url, data_dir

"""Run `postroom serve` as a real subprocess on 127.0.0.1 with an OS-chosen port."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_LISTENING = re.compile(r"postroom listening on (http://\S+)")


@dataclass
class PostroomProcess:
    """A running server plus the CLI bound to the same database."""

    data_dir: Path
    database_url: str | None = None
    serve_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["POSTROOM_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["POSTROOM_DATABASE_URL"] = self.database_url
        env.update(self.env)
        return env

    def start(self, timeout: float = 30.0) -> str:
        # Tests never deliver to the real world: capture unless the test chose a mode.
        chosen = "--delivery" in self.serve_args or "POSTROOM_DELIVERY" in self.env
        mode = () if chosen else ("--delivery", "capture")
        command = [
            sys.executable, "-m", "postroom", "serve", "--http", "127.0.0.1:0",
            *mode, *self.serve_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self._env(),
        )
        found = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                match = _LISTENING.search(line)
                if match and not found.is_set():
                    self.url = match.group(1)
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("postroom serve did not start:\n" + "".join(self.output))
        self._wait_healthy(deadline)
        return self.url

    def _wait_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("postroom serve never became healthy")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "postroom", *args],
            capture_output=True,
            text=True,
            env=self._env(),
            timeout=60,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"postroom {' '.join(args)} failed: {result.stderr}")
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def create_account(self, name: str) -> dict[str, str]:
        return dict(self.cli_json("accounts", "create", name))

    def verify_address(self, ses: Any, account: str, address: str) -> None:
        """Verify an address as a user does: VerifyEmailIdentity, open the mailed link."""
        ses.verify_email_identity(EmailAddress=address)
        mails = self.cli_json("mailbox", "list", "--account", account)
        raw = next(m["raw"] for m in mails if address in m["destinations"])
        link = re.search(r"(http://\S+/verify/\S+)", raw)
        if link is None:
            raise AssertionError(f"no verification link in:\n{raw}")
        with urllib.request.urlopen(link.group(1), timeout=10) as response:
            if response.status != 200:
                raise AssertionError(f"verification link answered {response.status}")

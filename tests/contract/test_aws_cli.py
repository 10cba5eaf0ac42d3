"""The AWS CLI (v1, from PyPI) against Postroom: the README's commands work as written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from postroom.testing.server import PostroomProcess


def _aws_binary() -> str:
    found = shutil.which("aws", path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the AWS CLI is not installed in the test environment (make bootstrap)")
        pytest.skip("the AWS CLI is not installed")
    return found


def aws_env(server: PostroomProcess, creds: dict[str, str]) -> dict[str, str]:
    """The environment the CLI runs in: the account's key, ap-northeast-2, no retries."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(server.data_dir),  # no ~/.aws of the machine's user
        "AWS_ACCESS_KEY_ID": creds["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"],
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWS_MAX_ATTEMPTS": "1",
    }


def aws_args(server: PostroomProcess, service: str, *args: str) -> list[str]:
    """What follows `aws`: Postroom's endpoint, JSON output, the service's command."""
    return ["--endpoint-url", server.url, "--output", "json", service, *args]


def _aws(
    server: PostroomProcess, creds: dict[str, str], *args: str, service: str = "ses"
) -> subprocess.CompletedProcess[str]:
    command = [_aws_binary(), *aws_args(server, service, *args)]
    return subprocess.run(command, capture_output=True, text=True, env=aws_env(server, creds),
                          timeout=60)  # fmt: skip


def test_aws_cli_verifies_sends_and_reports(postroom_factory: Any) -> None:
    server: PostroomProcess = postroom_factory()
    creds = server.create_account("cli")
    verify = _aws(server, creds, "verify-email-identity", "--email-address", "me@example.com")
    assert verify.returncode == 0, verify.stderr
    [mail] = server.cli_json("mailbox", "list", "--account", "cli")
    link = next(w for w in mail["raw"].split() if "/verify/" in w)
    import urllib.request

    with urllib.request.urlopen(link, timeout=10) as response:
        assert response.status == 200

    attributes = _aws(
        server, creds, "get-identity-verification-attributes", "--identities", "me@example.com"
    )
    status = json.loads(attributes.stdout)["VerificationAttributes"]["me@example.com"]
    assert status == {"VerificationStatus": "Success"}

    sent = _aws(
        server, creds, "send-email", "--from", "me@example.com",
        "--to", "success@simulator.amazonses.com",
        "--subject", "임시 비밀번호", "--text", "비밀번호: 42",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    message_id = json.loads(sent.stdout)["MessageId"]
    assert message_id.endswith("-000000")

    quota = json.loads(_aws(server, creds, "get-send-quota").stdout)
    assert quota == {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0}

    refused = _aws(
        server, creds, "send-email", "--from", "me@example.com", "--to", "you@example.org",
        "--subject", "x", "--text", "x",
    )  # fmt: skip
    assert refused.returncode != 0
    assert "MessageRejected" in refused.stderr
    assert "failed the check in region AP-NORTHEAST-2: you@example.org" in refused.stderr

"""Contract: the examples in examples/ run as examples/README.md says, against a real server.

Each example mails a temporary password. The Python one runs with this venv's interpreter;
the Node one is copied into a temp app directory next to a `config/awsconfig.json` made from
`config/awsconfig.example.json`, and resolves aws-sdk from tests/contract/node/node_modules
(NODE_PATH), so no `npm install` inside examples/ is needed. The sender is verified through
the mailed link first, as the README tells a user to do. The server is conftest.py's
(`postroom serve --delivery capture`), the account a new one named `myapp`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from ses_support import Tenant, TenantFactory, parse_mime, text_of, wait_for
from test_node_seed import (
    NOT_VERIFIED,
    REGION,
    SIMULATOR_SUCCESS,
    NodeRunner,
    find_node,
    sent_message_id,
    verify_emails,
    wait_for_captured,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PYTHON_EXAMPLE = EXAMPLES / "python" / "send_temp_password.py"
NODE_EXAMPLE = EXAMPLES / "node" / "send-temp-password.js"
NODE_CONFIG_EXAMPLE = EXAMPLES / "node" / "config" / "awsconfig.example.json"
SENDER = "no-reply@myapp.example"
SUBJECT = "임시 비밀번호 안내"
# The examples' alphabet: no 0/O, 1/l/I.
PASSWORD = re.compile(r"[A-HJ-NP-Za-km-z2-9]{12}")

Run = Callable[[Tenant, str, Path], subprocess.CompletedProcess[str]]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(extra)
    return env


def run_python_example(account: Tenant, recipient: str,
                       workdir: Path) -> subprocess.CompletedProcess[str]:
    # AWS_REGION is left unset on purpose: the example defaults to ap-northeast-2.
    env = _clean_env(
        AWS_ACCESS_KEY_ID=account.credentials["access_key_id"],
        AWS_SECRET_ACCESS_KEY=account.credentials["secret_access_key"],
        POSTROOM_ENDPOINT=account.server.url,
    )
    return subprocess.run(
        [sys.executable, str(PYTHON_EXAMPLE), "--from", SENDER, "--to", recipient],
        cwd=workdir, env=env, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )


def node_example_runner(node: NodeRunner) -> Run:
    def run(account: Tenant, recipient: str,
            workdir: Path) -> subprocess.CompletedProcess[str]:
        app = workdir / "node-app"
        (app / "config").mkdir(parents=True, exist_ok=True)
        shutil.copy(NODE_EXAMPLE, app / NODE_EXAMPLE.name)
        config = json.loads(NODE_CONFIG_EXAMPLE.read_text())
        assert config["region"] == REGION
        config.update(
            accessKeyId=account.credentials["access_key_id"],
            secretAccessKey=account.credentials["secret_access_key"],
            endpoint=account.server.url,
        )
        (app / "config" / "awsconfig.json").write_text(json.dumps(config, indent=2))
        return node.run(NODE_EXAMPLE.name, recipient, cwd=app, env={"MAIL_FROM": SENDER})

    return run


@dataclass(frozen=True)
class Example:
    name: str
    run: Run


@pytest.fixture(params=["python", pytest.param("node", marks=pytest.mark.node)])
def example(request: pytest.FixtureRequest) -> Example:
    if request.param == "python":
        return Example("python", run_python_example)
    return Example("node", node_example_runner(find_node()))


@pytest.fixture
def account(make_tenant: TenantFactory) -> Tenant:
    """README steps 1-3: `make serve`, `accounts create myapp`, sender verified by link."""
    tenant = make_tenant("myapp")
    verify_emails(tenant, tenant.client(REGION), SENDER)
    return tenant


def test_example_sends_to_the_simulator(example: Example, account: Tenant,
                                        tmp_path: Path) -> None:
    message_id = sent_message_id(example.run(account, SIMULATOR_SUCCESS, tmp_path))

    # `postroom messages show ID --json`, once the simulator's outcome is recorded
    events = wait_for(
        lambda: (found := account.events(message_id))[-1]["eventType"] == "Delivery" and found
    )
    assert [e["eventType"] for e in events] == ["Send", "Delivery"]
    delivery = events[-1]
    assert delivery["delivery"]["recipients"] == [SIMULATOR_SUCCESS]
    assert delivery["mail"]["messageId"] == message_id
    assert delivery["mail"]["source"] == SENDER
    assert delivery["mail"]["commonHeaders"]["subject"] == SUBJECT


def test_example_mail_lands_in_the_mailbox(example: Example, account: Tenant,
                                           tmp_path: Path) -> None:
    recipient = "gildong@customer.example"
    verify_emails(account, account.client(REGION), recipient)

    message_id = sent_message_id(example.run(account, recipient, tmp_path))

    [captured] = wait_for_captured(account, message_id, {recipient})
    assert captured["source"] == SENDER
    assert captured["subject"] == SUBJECT
    message = parse_mime(captured["raw"])
    assert message["Subject"] == SUBJECT
    assert message["To"] == recipient
    text, html = (text_of(part) for part in message.iter_parts())
    [password] = PASSWORD.findall(text)
    assert f"<code>{password}</code>" in html


def test_example_reports_an_unverified_recipient(example: Example, account: Tenant,
                                                 tmp_path: Path) -> None:
    recipient = "gildong@customer.example"

    result = example.run(account, recipient, tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"MessageRejected: {NOT_VERIFIED}{recipient}\n"

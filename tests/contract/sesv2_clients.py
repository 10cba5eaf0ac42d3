"""Two SES v2 clients we did not write, behind one interface, for test_ses_v2_clients_*.py:
the AWS CLI (`aws sesv2 ...`, one command per call, each in its own process: see
aws_cli_forks.py) and @aws-sdk/client-sesv2 (all calls of a `run` in one `node` process,
through test_ses_v2_node's `run_sesv2_commands`). A test writes its calls once and runs
them with each client (the `sesv2_client_for` fixture in conftest.py is parametrized over
both).

    client = sesv2_client_for(tenant)
    created, again = client.run(
        call("CreateEmailIdentity", EmailIdentity="corp.test"),
        call("CreateEmailIdentity", EmailIdentity="corp.test"),
    )
    assert created.ok()["IdentityType"] == "DOMAIN"
    assert again.refused("AlreadyExistsException", 400) == (
        "Email identity corp.test already exist.")

What a user of each client sees is checked: the CLI's exit status, its JSON on stdout and
"An error occurred (Code) when calling the Op operation: message" on stderr; the Node
client's output, `$metadata.httpStatusCode` and `requestId`, and its error's name,
message and status. The CLI does not show HTTP statuses; for it, a refusal's status is not
checked. Both clients' calls are in the region `REGION` (ap-northeast-2).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from botocore import xform_name
from ses_support import Tenant, wait_for
from test_aws_cli import _aws_binary, aws_args, aws_env
from test_node_seed import REGION as REGION  # the region of both clients
from test_node_seed import NodeRunner
from test_ses_v2_node import run_sesv2_commands

AWS_CLI, NODE = "aws-cli", "node"
CLI_SERVICE_ERROR = 255  # the AWS CLI v1's exit status for an error answer
# A retryable error (throttling) adds " (reached max retries: 0)" after "operation".
CLI_ERROR = re.compile(
    r"\AAn error occurred \((?P<code>\w+)\) when calling the (?P<operation>\w+) operation"
    r"(?: \(reached max retries: \d+\))?: (?P<message>.*)\Z", re.DOTALL,
)  # fmt: skip
FORKS = Path(__file__).parent / "aws_cli_forks.py"


# -- calls --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Blob:
    """A blob member's bytes. The AWS CLI v1 takes a blob inside JSON as text (botocore
    base64-encodes its UTF-8), so a blob given to both clients must be UTF-8."""

    data: bytes


@dataclass(frozen=True)
class When:
    """A timestamp member."""

    at: datetime


@dataclass(frozen=True)
class Call:
    operation: str
    params: dict[str, Any]


def call(operation: str, **params: Any) -> Call:
    return Call(operation, params)


def _node_value(value: Any) -> Any:
    if isinstance(value, Blob):
        return {"$base64": base64.b64encode(value.data).decode()}
    if isinstance(value, When):
        return {"$date": value.at.isoformat()}
    if isinstance(value, dict):
        return {k: _node_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_node_value(v) for v in value]
    return value


def _cli_value(value: Any) -> Any:
    if isinstance(value, Blob):
        return value.data.decode("utf-8")
    if isinstance(value, When):
        return value.at.isoformat()
    if isinstance(value, dict):
        return {k: _cli_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cli_value(v) for v in value]
    return value


def cli_args(request: Call) -> list[str]:
    """`aws sesv2` arguments as a user types them: `get-email-identity --email-identity x`,
    `--flag`/`--no-flag` for booleans, JSON text for lists and structures."""
    args = [xform_name(request.operation, "-")]
    for name, value in request.params.items():
        flag = xform_name(name, "-")
        if isinstance(value, bool):
            args.append(f"--{flag}" if value else f"--no-{flag}")
        elif isinstance(value, (dict, list)):
            args += [f"--{flag}", json.dumps(_cli_value(value), ensure_ascii=False)]
        else:
            args += [f"--{flag}", str(_cli_value(value))]
    return args


# -- outcomes -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What one call answered, as the client showed it."""

    client: str
    operation: str
    output: dict[str, Any] | None  # None when refused
    code: str | None = None  # the error's code (CLI) or name (Node)
    message: str | None = None
    status: int | None = None  # HTTP status: Node only
    request_id: str | None = None  # Node only
    exit_status: int | None = None  # AWS CLI only
    stderr: str = ""

    def ok(self) -> dict[str, Any]:
        """The output of a successful call (`{}` for an operation without output)."""
        assert self.output is not None, f"{self.client} {self.operation} refused: " + (
            f"{self.code}: {self.message}")  # fmt: skip
        if self.client == AWS_CLI:
            assert (self.exit_status, self.stderr) == (0, ""), self.stderr
        else:
            assert self.status == 200 and self.request_id, self
        return self.output

    def refused(self, code: str, status: int, message: str | None = None) -> str:
        """Check a refusal's code, HTTP status (Node) and, if given, message; the message."""
        assert self.output is None, f"{self.client} {self.operation} answered {self.output}"
        assert self.code == code, (self.code, self.message)
        if self.client == AWS_CLI:
            assert self.exit_status == CLI_SERVICE_ERROR, self.stderr
        else:
            assert self.status == status and self.request_id, self
        assert self.message is not None
        if message is not None:
            assert self.message == message
        return self.message


def instant(value: Any) -> datetime:
    """A timestamp of an output: the CLI prints epoch seconds, Node an ISO 8601 string."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _cli_outcome(request: Call, result: subprocess.CompletedProcess[str]) -> Outcome:
    if result.returncode == 0:  # an empty output ({}) prints nothing
        output = json.loads(result.stdout) if result.stdout.strip() else {}
        return Outcome(AWS_CLI, request.operation, output, exit_status=0, stderr=result.stderr)
    error = CLI_ERROR.fullmatch(result.stderr.strip())
    assert error, f"aws {' '.join(cli_args(request))}: {result.returncode} {result.stderr}"
    assert error["operation"] == request.operation
    assert result.stdout == ""
    return Outcome(AWS_CLI, request.operation, None, error["code"], error["message"],
                   exit_status=result.returncode, stderr=result.stderr)  # fmt: skip


def _node_outcome(request: Call, found: dict[str, Any]) -> Outcome:
    if "error" in found:
        error = found["error"]
        return Outcome(NODE, request.operation, None, error["name"], error["message"],
                       error["httpStatusCode"], error["requestId"])  # fmt: skip
    return Outcome(NODE, request.operation, found["output"], status=found["httpStatusCode"],
                   request_id=found["requestId"])  # fmt: skip


# -- the clients --------------------------------------------------------------------------
class Sesv2Client(Protocol):
    kind: str

    def run(self, *calls: Call) -> list[Outcome]:
        """Each call's outcome, the calls made one after the other."""
        ...


class AwsCliForks:
    """aws_cli_forks.py: `aws` commands, each in a process of its own, without the CLI's
    start-up cost each time. `run` answers as `subprocess.run(["aws", *args])` would."""

    def __init__(self) -> None:
        _aws_binary()  # the CLI is installed (or skip; with CI=true fail)
        self.directory = Path(tempfile.mkdtemp(prefix="aws-cli-"))
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(
            [sys.executable, str(FORKS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, encoding="utf-8", env=clean,
        )  # fmt: skip

    def run(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        out, err = self.directory / "stdout", self.directory / "stderr"
        request = {"args": args, "env": env, "stdout": str(out), "stderr": str(err)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, f"aws_cli_forks.py ended: {self.process.wait(10)}"
        code = json.loads(answer)["returncode"]
        stdout, stderr = out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")
        return subprocess.CompletedProcess(["aws", *args], code, stdout, stderr)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class AwsCliSesv2:
    forks: AwsCliForks
    tenant: Tenant
    kind: str = AWS_CLI

    def run(self, *calls: Call) -> list[Outcome]:
        server, creds = self.tenant.server, self.tenant.credentials
        return [
            _cli_outcome(c, self.forks.run(aws_args(server, "sesv2", *cli_args(c)),
                                           aws_env(server, creds)))  # fmt: skip
            for c in calls
        ]


@dataclass
class NodeSesv2:
    node: NodeRunner
    workdir: Path
    tenant: Tenant
    kind: str = NODE

    def run(self, *calls: Call) -> list[Outcome]:
        commands = [(c.operation, _node_value(c.params)) for c in calls]
        found = run_sesv2_commands(self.node, self.workdir, self.tenant, commands)
        return [_node_outcome(c, f) for c, f in zip(calls, found, strict=True)]


@dataclass(frozen=True)
class Sesv2ClientFor:
    """sesv2_client_for(tenant) -> the client of this parameter (`kind`) for `tenant`."""

    kind: str
    workdir: Path
    node: NodeRunner | None = None
    forks: AwsCliForks | None = None

    def __call__(self, tenant: Tenant) -> Sesv2Client:
        if self.kind == AWS_CLI:
            assert self.forks is not None
            return AwsCliSesv2(self.forks, tenant)
        assert self.node is not None
        return NodeSesv2(self.node, self.workdir, tenant)


# -- what was sent ------------------------------------------------------------------------
def captured(tenant: Tenant, *message_ids: str, timeout: float = 15.0) -> dict[str, Any]:
    """message id -> its mailbox entry (`postroom mailbox list`), once all were kept."""

    def all_kept() -> dict[str, Any] | None:
        found = {m["message_id"]: m for m in tenant.mailbox() if m["message_id"] in message_ids}
        return found if len(found) == len(set(message_ids)) else None

    return wait_for(all_kept, timeout, interval=0.2)

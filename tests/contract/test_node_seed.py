"""Contract: the seed's Node code, verbatim, against a real `postroom serve`.

The seed (a Korean write-up) mails a temporary password with aws-sdk v2:
`AWS.config.loadFromPath('./config/awsconfig.json')` then
`new AWS.SES({apiVersion: 'latest'}).sendEmail(params).promise()`. Here that code
(tests/contract/node/seed_snippet.js.tmpl, placeholders filled in) runs with `node index.js`
in a fresh app directory whose `config/awsconfig.json` holds credentials that Postroom
issued plus one addition, `endpoint`. The v3 client (@aws-sdk/client-ses) gets the same
treatment through tests/contract/node/v3_send_email.js.

Identities are verified the way a user does it: VerifyEmailIdentity, then the link from the
verification mail is opened (ses_support.verify_email). Servers and accounts come from
tests/contract/conftest.py (`sandboxed`: capture delivery, a new account in the sandbox).
With CI=true nothing here may skip: a missing `node` or missing Node packages fail the test
with what to run. test_examples.py reuses `find_node` and the other Node helpers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from ses_support import (
    Tenant,
    create_tenant,
    parse_mime,
    text_of,
    verification_link,
    verify_email,
    wait_for,
)

from postroom.testing.server import PostroomProcess
from postroom.testing.sink import ReceivedMessage, SinkServer

NODE_DIR = Path(__file__).parent / "node"
NODE_MODULES = NODE_DIR / "node_modules"
SEED_TEMPLATE = NODE_DIR / "seed_snippet.js.tmpl"
V3_SEND = NODE_DIR / "v3_send_email.js"
REGION = "ap-northeast-2"
# SES MessageId (ses-spec.md 2.2): 16 hex (region code + Unix ms), a UUID, then -000000.
MESSAGE_ID = re.compile(
    r"^[0-9a-f]{16}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$"
)
NOT_VERIFIED = (
    "Email address is not verified. The following identities failed the check in region "
    "AP-NORTHEAST-2: "
)
SIMULATOR_SUCCESS = "success@simulator.amazonses.com"


# -- Node ---------------------------------------------------------------------------------
def _unavailable(reason: str) -> None:
    """Skip on a developer machine; with CI=true a missing toolchain is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: Node contract tests may not skip)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class NodeRunner:
    """Runs scripts with `node`, resolving packages from tests/contract/node/node_modules."""

    executable: str

    def run(self, script: str | Path, *args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        # Nothing AWS-related leaks in from the developer's shell (profiles, keys, region):
        # the scripts must work from what they are given.
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        clean["NODE_PATH"] = str(NODE_MODULES)
        # aws-sdk v2 prints an end-of-support notice on stderr; the tests read stderr.
        clean["AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE"] = "1"
        clean.update(env or {})
        return subprocess.run(
            [self.executable, str(script), *args], cwd=cwd, env=clean, capture_output=True,
            text=True, encoding="utf-8", timeout=timeout,
        )


def find_node() -> NodeRunner:
    """`node` plus the pinned aws-sdk v2 and @aws-sdk/client-ses, or skip/fail (CI)."""
    executable = shutil.which("node")
    if executable is None:
        _unavailable("`node` is not on PATH; install Node.js, then run `make node`")
    pins = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    for package, version in pins.items():
        manifest = NODE_MODULES / package / "package.json"
        if not manifest.is_file():
            _unavailable(f"{package} is not installed in {NODE_MODULES}; run `make node`")
        installed = json.loads(manifest.read_text())["version"]
        if installed != version:
            pytest.fail(f"{package} {installed} is installed in {NODE_MODULES}, package.json "
                        f"pins {version}; run `make node`", pytrace=False)
    assert executable is not None
    return NodeRunner(executable)


@pytest.fixture(scope="session")
def node() -> NodeRunner:
    return find_node()


# -- Postroom helpers (the general ones are in ses_support.py) ------------------------------
def wait_for_captured(tenant: Tenant, message_id: str,
                      recipients: set[str]) -> list[dict[str, Any]]:
    """All captured copies of `message_id` once they cover `recipients`.

    Capture keeps one copy per delivery job, and the queue makes one job per message and
    recipient domain, so To and Cc in different domains arrive as two copies.
    """
    def covered() -> list[dict[str, Any]] | None:
        copies = [m for m in tenant.mailbox() if m["message_id"] == message_id]
        return copies if {d for m in copies for d in m["destinations"]} >= recipients else None

    return wait_for(covered)


def verify_emails(tenant: Tenant, client: Any, *addresses: str) -> None:
    """Verify each address by its mailed link, then check that SES reports Success."""
    for address in addresses:
        verify_email(tenant, client, address)
    found = client.get_identity_verification_attributes(Identities=list(addresses))
    statuses = {k: v["VerificationStatus"] for k, v in found["VerificationAttributes"].items()}
    assert statuses == dict.fromkeys(addresses, "Success")


def event_types(tenant: Tenant, message_id: str) -> list[str]:
    return [event["eventType"] for event in tenant.events(message_id)]


def wait_for_events(tenant: Tenant, message_id: str, done: Callable[[list[str]], bool],
                    timeout: float = 10.0) -> list[str]:
    """The message's event types once `done` accepts them."""
    def probe() -> list[str] | None:
        types = event_types(tenant, message_id)
        return types if done(types) else None

    return wait_for(probe, timeout)


# -- the seed app ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SeedMail:
    """What fills the seed snippet's placeholders: a temporary-password mail in Korean."""

    source: str
    to: str
    cc: str
    reply_to: str
    password: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    subject: str = "임시 비밀번호 안내"

    @property
    def text(self) -> str:
        return (f"안녕하세요, 홍길동님. 요청하신 임시 비밀번호는 {self.password} 입니다. "
                "로그인한 뒤 반드시 비밀번호를 변경해 주세요.")

    @property
    def html(self) -> str:
        return (f"<h1>임시 비밀번호 안내</h1><p>안녕하세요, <b>홍길동</b>님.</p>"
                f"<p>임시 비밀번호: <code>{self.password}</code></p>"
                "<p>로그인한 뒤 반드시 비밀번호를 변경해 주세요.</p>")

    def placeholders(self) -> dict[str, str]:
        return {
            "__SOURCE__": self.source, "__TO_ADDRESS__": self.to, "__CC_ADDRESS__": self.cc,
            "__REPLY_TO__": self.reply_to, "__SUBJECT__": self.subject,
            "__HTML_BODY__": self.html, "__TEXT_BODY__": self.text,
        }


def write_seed_app(directory: Path, tenant: Tenant, mail: SeedMail) -> Path:
    """The seed's project: config/awsconfig.json (+ endpoint) and index.js (the snippet)."""
    (directory / "config").mkdir(parents=True)
    config = {
        "accessKeyId": tenant.credentials["access_key_id"],
        "secretAccessKey": tenant.credentials["secret_access_key"],
        "region": REGION,
        "endpoint": tenant.server.url,  # the only addition to the seed's file
    }
    (directory / "config" / "awsconfig.json").write_text(json.dumps(config, indent=2))
    code = SEED_TEMPLATE.read_text(encoding="utf-8")
    for placeholder, value in mail.placeholders().items():
        # The values go inside the snippet's JS string literals, untouched.
        assert not set(value) & set("'\"\\\n"), f"{placeholder} would change the code: {value!r}"
        assert placeholder in code, f"{placeholder} missing from {SEED_TEMPLATE}"
        code = code.replace(placeholder, value)
    assert not re.search(r"__[A-Z_]+__", code), "a placeholder was left in the snippet"
    (directory / "index.js").write_text(code, encoding="utf-8")
    return directory


def assert_seed_mime(message: EmailMessage, mail: SeedMail, message_id: str) -> None:
    """The mail SES would have built from the seed's params."""
    header_section = message.as_bytes().split(b"\n\n", 1)[0]
    assert header_section.isascii(), "headers must be RFC 2047 encoded, not raw UTF-8"
    assert message["Subject"] == mail.subject
    assert message["From"] == mail.source
    assert message["To"] == mail.to
    assert message["Cc"] == mail.cc
    assert message["Reply-To"] == mail.reply_to
    assert "Bcc" not in message
    assert message["Message-ID"] == f"<{message_id}@{REGION}.amazonses.com>"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part, body in zip(parts, (mail.text, mail.html), strict=True):
        assert isinstance(part, EmailMessage)
        assert part.get_content_charset() == "utf-8"
        # text_of: CRLF (RFC 2045 canonical form) as LF, without the final line break
        # that the email package ends a text part with.
        assert text_of(part) == body


def sent_message_id(result: subprocess.CompletedProcess[str]) -> str:
    """The MessageId a successful run printed (the seed's `console.log(data.MessageId)`)."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    message_id = result.stdout.removesuffix("\n")
    assert MESSAGE_ID.fullmatch(message_id), result.stdout
    return message_id


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def mail() -> SeedMail:
    return SeedMail(source="no-reply@myapp.example", to="gildong@customer.example",
                    cc="support@myapp.example", reply_to="help@myapp.example")


@pytest.fixture
def seoul(sandboxed: Tenant) -> Any:
    """boto3 `ses` in ap-northeast-2 for the sandboxed account (identities are per region)."""
    return sandboxed.client(REGION)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return tmp_path / "seed-app"


# -- aws-sdk v2: the seed's snippet ---------------------------------------------------------
@pytest.mark.node
def test_seed_snippet_sends_in_the_sandbox(node: NodeRunner, sandboxed: Tenant, seoul: Any,
                                           mail: SeedMail, app_dir: Path) -> None:
    verify_emails(sandboxed, seoul, mail.source, mail.to, mail.cc)
    write_seed_app(app_dir, sandboxed, mail)

    message_id = sent_message_id(node.run("index.js", cwd=app_dir))

    copies = wait_for_captured(sandboxed, message_id, {mail.to, mail.cc})
    assert sorted(d for c in copies for d in c["destinations"]) == sorted([mail.to, mail.cc])
    for captured in copies:
        assert captured["source"] == mail.source
        assert captured["subject"] == mail.subject
        assert captured["raw"] == copies[0]["raw"]
        assert_seed_mime(parse_mime(captured["raw"]), mail, message_id)


@pytest.mark.node
def test_seed_snippet_unverified_recipient_takes_the_catch_branch(
    node: NodeRunner, sandboxed: Tenant, seoul: Any, mail: SeedMail, app_dir: Path
) -> None:
    verify_emails(sandboxed, seoul, mail.source, mail.cc)
    write_seed_app(app_dir, sandboxed, mail)

    result = node.run("index.js", cwd=app_dir)

    # The seed's catch branch: console.error(err, err.stack); the process still exits 0.
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == f"MessageRejected: {NOT_VERIFIED}{mail.to}"
    assert "code: 'MessageRejected'" in result.stderr
    assert "statusCode: 400" in result.stderr
    assert not [m for m in sandboxed.mailbox() if m["source"] == mail.source]


@pytest.mark.node
async def test_seed_snippet_relays_through_a_smarthost(
    node: NodeRunner, postroom_factory: Callable[..., PostroomProcess], sink: SinkServer,
    mail: SeedMail, app_dir: Path,
) -> None:
    # Blocking calls run in threads: the sink lives in this test's event loop.
    server = await asyncio.to_thread(
        postroom_factory, "--delivery", "relay", "--relay", f"127.0.0.1:{sink.port}"
    )
    tenant = await asyncio.to_thread(create_tenant, server, "seedapp", approve=True)
    ses = tenant.client(REGION)

    # Production access lifts the sandbox, but the sender must still be verified: through
    # the link in the verification mail, which the smarthost received.
    await asyncio.to_thread(ses.verify_email_identity, EmailAddress=mail.source)
    [verification] = await sink.wait_for(1)
    assert verification.rcpt_tos == [mail.source]
    link = verification_link(parse_mime(verification.data.decode()))
    response = await asyncio.to_thread(httpx.get, link)
    assert response.status_code == 200, response.text
    sink.clear()

    write_seed_app(app_dir, tenant, mail)
    message_id = sent_message_id(await asyncio.to_thread(node.run, "index.js", cwd=app_dir))

    # One transaction per recipient domain (the queue's unit), so wait for To and Cc both.
    received = await _relayed(sink, message_id, {mail.to, mail.cc})
    for transaction in received:
        # The envelope sender is a VERP address naming the message, as SES's is.
        assert transaction.mail_from == f"{message_id}@bounces.postroom.localhost"
        assert_seed_mime(parse_mime(transaction.data.decode()), mail, message_id)
    assert sorted(r for t in received for r in t.rcpt_tos) == sorted([mail.to, mail.cc])
    events = await asyncio.to_thread(
        wait_for_events, tenant, message_id, lambda types: types.count("Delivery") == 2
    )
    assert events == ["Send", "Delivery", "Delivery"]


async def _relayed(sink: SinkServer, message_id: str, recipients: set[str],
                   timeout: float = 15.0) -> list[ReceivedMessage]:
    marker = f"<{message_id}@".encode()
    async with asyncio.timeout(timeout):
        while True:
            mine = [m for m in sink.messages if marker in m.data]
            if {r for m in mine for r in m.rcpt_tos} >= recipients:
                return mine
            await sink.wait_for(sink.received_count + 1, timeout)


# -- @aws-sdk/client-ses (v3) ---------------------------------------------------------------
def _run_v3(node: NodeRunner, tmp_path: Path, tenant: Tenant,
            command_input: dict[str, Any]) -> dict[str, Any]:
    request = {
        "endpoint": tenant.server.url, "region": REGION,
        "accessKeyId": tenant.credentials["access_key_id"],
        "secretAccessKey": tenant.credentials["secret_access_key"], "input": command_input,
    }
    path = tmp_path / f"request-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    result = node.run(V3_SEND, str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _v3_input(source: str, to: str, subject: str, text: str) -> dict[str, Any]:
    return {
        "Source": source,
        "Destination": {"ToAddresses": [to]},
        "Message": {
            "Subject": {"Charset": "UTF-8", "Data": subject},
            "Body": {"Text": {"Charset": "UTF-8", "Data": text}},
        },
    }


@pytest.mark.node
def test_v3_client_sends_and_is_rejected(node: NodeRunner, sandboxed: Tenant, seoul: Any,
                                         mail: SeedMail, tmp_path: Path) -> None:
    verify_emails(sandboxed, seoul, mail.source)

    sent = _run_v3(node, tmp_path, sandboxed,
                   _v3_input(mail.source, SIMULATOR_SUCCESS, mail.subject, mail.text))
    rejected = _run_v3(node, tmp_path, sandboxed,
                       _v3_input(mail.source, mail.to, mail.subject, mail.text))

    assert set(sent) == {"MessageId"}, sent
    assert MESSAGE_ID.fullmatch(sent["MessageId"])
    events = wait_for_events(sandboxed, sent["MessageId"], lambda types: "Delivery" in types)
    assert events == ["Send", "Delivery"]
    error = rejected["error"]
    assert error["name"] == "MessageRejected"
    assert error["message"] == NOT_VERIFIED + mail.to
    assert error["httpStatusCode"] == 400
    assert error["requestId"]

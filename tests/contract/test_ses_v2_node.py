"""Contract: @aws-sdk/client-sesv2 (the current JS v3 client, pinned in
tests/contract/node/package.json) against a real `postroom serve`.

The script tests/contract/node/v3_sesv2.js runs one command, or a list of them in one
process (`run_sesv2_commands`), and prints each output or error as JSON; the per-area
tests that run every served operation with this client and the AWS CLI are
test_ses_v2_clients_*.py (sesv2_clients.py). This client sends ListEmailIdentities on its
drift route `POST /v2/email/list-identities` (ses-spec.md 1.2), which must reach the
operation, not a 404. Node helpers: test_node_seed.py.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from ses_support import Tenant, TenantFactory
from test_node_seed import NODE_DIR, REGION, NodeRunner, find_node

V3_SESV2 = NODE_DIR / "v3_sesv2.js"


def _run_v3_sesv2(node: NodeRunner, tmp_path: Path, tenant: Tenant,
                  commands: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    request = {
        "endpoint": tenant.server.url, "region": REGION,
        "accessKeyId": tenant.credentials["access_key_id"],
        "secretAccessKey": tenant.credentials["secret_access_key"], **commands,
    }  # fmt: skip
    path = tmp_path / f"request-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    result = node.run(V3_SESV2, str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def run_sesv2(node: NodeRunner, tmp_path: Path, tenant: Tenant, command: str,
              command_input: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """One command: {"output", "requestId", "httpStatusCode"} or {"error": {...}}."""
    return _run_v3_sesv2(node, tmp_path, tenant,
                         {"command": command, "input": command_input or {}})  # fmt: skip


def run_sesv2_commands(
    node: NodeRunner, tmp_path: Path, tenant: Tenant, commands: list[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """(command, input) pairs run in order by one client in one `node` process: an outcome
    each, as run_sesv2's. In an input, {"$base64": ...} stands for a blob and
    {"$date": ISO 8601} for a timestamp (JSON has neither)."""
    steps = [{"command": command, "input": given} for command, given in commands]
    outcomes = _run_v3_sesv2(node, tmp_path, tenant, {"commands": steps})["outcomes"]
    assert len(outcomes) == len(commands)
    return list(outcomes)


@pytest.fixture(scope="module")
def node() -> NodeRunner:
    return find_node()


@pytest.mark.node
def test_client_sesv2_get_account_and_list_identities(
    node: NodeRunner, shared_tenant_factory: TenantFactory, tmp_path: Path
) -> None:
    tenant = shared_tenant_factory("v2-node")

    account = run_sesv2(node, tmp_path, tenant, "GetAccount")
    listed = run_sesv2(node, tmp_path, tenant, "ListEmailIdentities", {"PageSize": 10})

    assert account["requestId"]
    assert account["httpStatusCode"] == 200
    assert account["output"] == {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": False,
        "SendQuota": {"Max24HourSend": 200, "MaxSendRate": 1, "SentLast24Hours": 0},
        "SendingEnabled": True,
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    }
    assert listed["output"] == {"EmailIdentities": []}  # on its drift route

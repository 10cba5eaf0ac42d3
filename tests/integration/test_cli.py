"""The scripting contract: CLI names, JSON shapes and exit codes, against a running server."""

from __future__ import annotations

import re
import time
from typing import Any

import botocore.exceptions
import pytest

from postroom.testing.fixtures import ses_client
from postroom.testing.server import PostroomProcess


def test_accounts_and_keys(postroom_factory: Any) -> None:
    server: PostroomProcess = postroom_factory()
    created = server.create_account("shop")
    assert set(created) == {"account", "account_id", "access_key_id", "secret_access_key"}
    assert created["account"] == "shop"
    assert re.fullmatch(r"\d{12}", created["account_id"])
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", created["access_key_id"])

    second = server.cli_json("keys", "create", "shop")
    assert second["account_id"] == created["account_id"]
    assert second["access_key_id"] != created["access_key_id"]
    # A key made by the CLI works in the running server at once.
    quota = ses_client(server, second).get_send_quota()
    assert (quota["Max24HourSend"], quota["MaxSendRate"]) == (200.0, 1.0)

    [listed] = server.cli_json("accounts", "list")
    assert listed["account"] == "shop" and listed["sandbox"] is True

    approved = server.cli_json("accounts", "approve", "shop", "--max-rate", "20")
    assert approved == {"account": "shop", "region": None, "sandbox": False, "max_24h": 50000.0,
                        "max_rate": 20.0}  # fmt: skip
    quota = ses_client(server, created).get_send_quota()
    assert (quota["Max24HourSend"], quota["MaxSendRate"]) == (50000.0, 20.0)

    duplicate = server.cli("accounts", "create", "shop", "--json", check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    missing = server.cli("keys", "create", "nobody", "--json", check=False)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    bad = server.cli("accounts", "create", "bad name!", "--json", check=False)
    assert bad.returncode == 1 and "Invalid account name" in bad.stderr


def test_unknown_key_is_refused_and_secrets_stay_out_of_logs(postroom_factory: Any) -> None:
    server: PostroomProcess = postroom_factory()
    created = server.create_account("quiet")
    forged = dict(created, access_key_id="AKIAAAAAAAAAAAAAAAAA")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ses_client(server, forged).get_send_quota()
    assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"
    server.stop()
    assert created["secret_access_key"] not in "".join(server.output)
    stored = (server.data_dir / "postroom.db").read_bytes()
    assert created["secret_access_key"].encode() not in stored


def test_serve_delivers_directly_unless_told_otherwise(postroom_factory: Any) -> None:
    # An empty POSTROOM_DELIVERY counts as unset; it also stops the test harness from
    # choosing capture, so this is `postroom serve` with no delivery setting at all.
    server: PostroomProcess = postroom_factory(env={"POSTROOM_DELIVERY": ""})
    assert "delivery direct" in "".join(server.output)
    development = postroom_factory("--delivery", "capture")
    assert "delivery capture" in "".join(development.output)


def test_history_filters(postroom_factory: Any) -> None:
    server: PostroomProcess = postroom_factory()
    creds = server.create_account("hist")
    server.cli("accounts", "approve", "hist", "--max-rate", "100")
    ses = ses_client(server, creds)
    server.verify_address(ses, "hist", "app@example.com")
    started = time.time()

    def send(to: str) -> str:
        return str(
            ses.send_email(
                Source="app@example.com",
                Destination={"ToAddresses": [to]},
                Message={"Subject": {"Data": f"to {to}"}, "Body": {"Text": {"Data": "x"}}},
            )["MessageId"]
        )

    ok = send("success@simulator.amazonses.com")
    bounced = send("bounce@simulator.amazonses.com")
    deadline = time.monotonic() + 15
    while True:
        statuses = {m["message_id"]: m["status"] for m in server.cli_json("messages", "list")}
        if statuses.get(ok) == "Delivery" and statuses.get(bounced) == "Bounce":
            break
        assert time.monotonic() < deadline, statuses
        time.sleep(0.2)

    def ids(*args: str) -> list[str]:
        return [m["message_id"] for m in server.cli_json("messages", "list", *args)]

    assert ids("--status", "Bounce") == [bounced]
    assert ids("--recipient", "success@simulator.amazonses.com") == [ok]
    assert set(ids("--since", str(started))) == {ok, bounced}
    assert ids("--until", str(started)) == []  # the verification mail is Postroom's own
    assert len(ids("--until", str(started), "--include-internal")) == 1
    other = server.create_account("other")
    assert other and ids("--account", "other") == []

    shown = server.cli_json("messages", "show", bounced)
    assert shown["account"] == "hist"
    assert [e["eventType"] for e in shown["events"]] == ["Send", "Bounce"]
    missing = server.cli("messages", "show", "nope", "--json", check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr
    table = server.cli("messages", "list").stdout
    assert "Bounce" in table and "Delivery" in table


def test_serve_refuses_bad_settings(tmp_path: Any) -> None:
    server = PostroomProcess(data_dir=tmp_path)
    pigeon = server.cli("serve", "--delivery", "pigeon", check=False)
    assert pigeon.returncode == 2 and "delivery must be one of" in pigeon.stderr
    relay = server.cli("serve", "--delivery", "relay", check=False)
    assert relay.returncode == 2 and "--relay HOST:PORT" in relay.stderr
    port = server.cli("serve", "--http", "127.0.0.1:99999", check=False)
    assert port.returncode == 2 and "port out of range" in port.stderr

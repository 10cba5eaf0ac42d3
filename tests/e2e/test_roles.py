"""Nodes with separate roles share one database: an API node queues, a worker node delivers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from postroom.testing.fixtures import ses_client


def _status(server: Any, message_id: str) -> str:
    shown = server.cli_json("messages", "show", message_id)
    return str(shown["events"][-1]["eventType"])


def test_api_node_queues_and_worker_node_delivers(
    postroom_factory: Any, engine_url: str, tmp_path: Any
) -> None:
    shared = tmp_path / "shared"  # both nodes use the same secret key (data dir)
    api = postroom_factory("--roles", "api", database_url=engine_url, data_dir=shared)
    creds = api.create_account("split")
    api.cli("accounts", "approve", "split")
    ses = ses_client(api, creds, retries=2)
    ses.verify_email_identity(EmailAddress="app@example.com")
    time.sleep(1.0)
    # No worker yet: the verification mail waits in the queue.
    assert api.cli_json("mailbox", "list", "--account", "split") == []

    worker = postroom_factory("--roles", "worker", database_url=engine_url, data_dir=shared)
    assert "roles worker" in "".join(worker.output)
    deadline = time.monotonic() + 15
    while not api.cli_json("mailbox", "list", "--account", "split"):
        assert time.monotonic() < deadline, "the worker node never delivered"
        time.sleep(0.2)
    api.verify_address(ses, "split", "app@example.com")  # link served by the API node

    message_id = ses.send_email(
        Source="app@example.com",
        Destination={"ToAddresses": ["success@simulator.amazonses.com"]},
        Message={"Subject": {"Data": "split"}, "Body": {"Text": {"Data": "x"}}},
    )["MessageId"]
    while _status(api, message_id) != "Delivery":
        assert time.monotonic() < deadline + 15, "not delivered by the worker node"
        time.sleep(0.2)
    # The worker node has no API: only its health check answers.
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(worker.url + "/healthz", timeout=5) as response:
        assert response.status == 200
    try:
        urllib.request.urlopen(worker.url + "/", data=b"Action=GetSendQuota", timeout=5)
        raise AssertionError("the worker node answered the API")
    except urllib.error.HTTPError as error:
        assert error.code in (404, 405)


def _worker_pids(parent: int) -> list[int]:
    """Child processes of `parent` that run the worker role (multiprocessing spawn)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _verification_mail_delivered(server: Any, creds: dict[str, str], account: str) -> Any:
    """Ask for app@example.com's verification; returns the client once the mail is kept."""
    ses = ses_client(server, creds, retries=2)
    ses.verify_email_identity(EmailAddress="app@example.com")
    deadline = time.monotonic() + 15
    while not server.cli_json("mailbox", "list", "--account", account):
        assert time.monotonic() < deadline, "the verification mail was never delivered"
        time.sleep(0.2)
    return ses


def _send_and_await_delivery(server: Any, ses: Any, subject: str) -> None:
    message_id = ses.send_email(
        Source="app@example.com",
        Destination={"ToAddresses": ["app@example.com"]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": "x"}}},
    )["MessageId"]
    deadline = time.monotonic() + 20
    while _status(server, message_id) != "Delivery":
        assert time.monotonic() < deadline, f"{subject!r} was never delivered"
        time.sleep(0.2)


def test_worker_processes_deliver_and_end_with_their_server(
    postroom_factory: Any, engine_url: str
) -> None:
    server = postroom_factory("--worker-processes", "1", database_url=engine_url)
    output = "".join(server.output)
    assert "roles api + worker in 1 process" in output
    assert server.process is not None
    deadline = time.monotonic() + 10
    while not (workers := _worker_pids(server.process.pid)):
        assert time.monotonic() < deadline, "no worker process started"
        time.sleep(0.1)
    creds = server.create_account("procs")
    server.cli("accounts", "approve", "procs")
    ses = _verification_mail_delivered(server, creds, "procs")
    server.verify_address(ses, "procs", "app@example.com")
    _send_and_await_delivery(server, ses, "procs")

    # A worker process that dies is started again, and the new one delivers.
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while not (workers := [pid for pid in _worker_pids(server.process.pid) if _alive(pid)]):
        assert time.monotonic() < deadline, "the dead worker process was not replaced"
        time.sleep(0.2)
    _send_and_await_delivery(server, ses, "after the replacement")

    server.kill()  # SIGKILL: nothing stops the children but their own watch
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker process outlived its server"
        time.sleep(0.2)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on TCP `port` (from /proc)."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            listening.add(f"socket:[{fields[9]}]")
    try:
        held = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    except OSError:
        return False
    return bool(listening & held)


def test_api_processes_share_one_port(postroom_factory: Any) -> None:
    server = postroom_factory("--api-processes", "2", "--worker-processes", "1")
    assert "roles api + worker in 1 process + api in 2 processes" in "".join(server.output)
    assert server.process is not None
    deadline = time.monotonic() + 15
    while len(children := _worker_pids(server.process.pid)) < 2:
        assert time.monotonic() < deadline, "the child processes did not start"
        time.sleep(0.1)
    time.sleep(2)  # both API processes listening
    creds = server.create_account("shared")
    server.cli("accounts", "approve", "shared")
    port = int(server.url.rsplit(":", 1)[1])
    [api_child] = [pid for pid in children if _listens_on(pid, port)]
    assert _listens_on(server.process.pid, port)
    before = {pid: _cpu_ticks(pid) for pid in (server.process.pid, api_child)}
    for _ in range(40):  # a new client, so a new connection, each time
        client = ses_client(server, creds, retries=0)
        for _ in range(5):
            client.get_send_quota()
    used = {pid: _cpu_ticks(pid) - ticks for pid, ticks in before.items()}
    # The kernel spread the connections over both API processes: both did work.
    assert all(used.values()), used
    _verification_mail_delivered(server, creds, "shared")

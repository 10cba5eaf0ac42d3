"""A bare SendEmail endpoint to compare Postroom against: the floor of the HTTP stack.

It parses the form and answers SES's SendEmail XML, on Starlette + uvicorn with the same
settings `postroom serve` uses (httptools, uvloop, access log off, lifespan off). No SigV4
check, no validation, no MIME. With `--sqlite PATH` each request also inserts one row into
SQLite (WAL, synchronous=FULL) through a single writer thread that group-commits, which is
roughly the least a durable server must do.

    python bench/baseline_app.py --port 0            # prints "baseline listening on URL"
    python bench/baseline_app.py --port 0 --sqlite /tmp/baseline.db
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

NS = "http://ses.amazonaws.com/doc/2010-12-01/"
RESPONSE = (
    f'<SendEmailResponse xmlns="{NS}">\n'
    "  <SendEmailResult>\n    <MessageId>{message_id}</MessageId>\n  </SendEmailResult>\n"
    "  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n"
    "</SendEmailResponse>\n"
)
ERROR = (
    f'<ErrorResponse xmlns="{NS}">\n  <Error>\n    <Type>Sender</Type>\n'
    "    <Code>InvalidAction</Code>\n    <Message>Only SendEmail here.</Message>\n"
    "  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
)
MAX_GROUP = 256


def message_id() -> str:
    # The SES shape: 16 hex digits of milliseconds, a UUID, a 6-digit suffix.
    return f"{int(time.time() * 1000):016x}-{uuid.uuid4()}-000000"


class GroupCommitter:
    """One writer thread: take every waiting insert, one COMMIT (fsync), then answer."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, created REAL, body BLOB)"
        )
        self._jobs: queue.SimpleQueue[tuple[tuple[Any, ...], asyncio.Future[None]]] = (
            queue.SimpleQueue()
        )
        threading.Thread(target=self._run, name="baseline-writer", daemon=True).start()

    async def insert(self, row: tuple[Any, ...]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._jobs.put((row, future))
        await future

    def _run(self) -> None:
        while True:
            group = [self._jobs.get()]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO messages VALUES (?, ?, ?)", [row for row, _ in group]
            )
            self._conn.execute("COMMIT")
            for _row, future in group:
                future.get_loop().call_soon_threadsafe(_settle, future)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def create_app(committer: GroupCommitter | None) -> Starlette:
    async def endpoint(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        body = await request.body()
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        headers = {"x-amzn-RequestId": request_id}
        if params.get("Action") != "SendEmail" or not params.get("Source"):
            return Response(ERROR.format(request_id=request_id), status_code=400,
                            media_type="text/xml", headers=headers)
        mid = message_id()
        if committer is not None:
            await committer.insert((mid, time.time(), body))
        return Response(RESPONSE.format(message_id=mid, request_id=request_id),
                        media_type="text/xml", headers=headers)

    async def healthz(request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    return Starlette(routes=[Route("/", endpoint, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET"])])


async def serve(host: str, port: int, sqlite_path: str | None) -> None:
    committer = GroupCommitter(sqlite_path) if sqlite_path else None
    config = uvicorn.Config(
        create_app(committer), host=host, port=port, log_level="warning", access_log=False,
        lifespan="off", http="httptools", loop="none", timeout_keep_alive=30, backlog=4096,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            return
        await asyncio.sleep(0.01)
    bound_host, bound_port = server.servers[0].sockets[0].getsockname()[:2]
    print(f"baseline listening on http://{bound_host}:{bound_port} (pid {os.getpid()}, "
          f"{'sqlite ' + sqlite_path if sqlite_path else 'no storage'})", flush=True)
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--sqlite", metavar="PATH", help="group-commit one row per request")
    args = parser.parse_args()
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port, args.sqlite))


if __name__ == "__main__":
    main()

"""A bare ASGI app (reads the body, answers `ok`) on one of three HTTP servers, for
comparing the HTTP layer alone with `wrk` (docs/performance.md, "HTTP servers").

    .venv/bin/python bench/http_servers.py uvicorn 18102     # uvicorn + httptools, stock
    .venv/bin/python bench/http_servers.py postroom 18103    # the same with Postroom's limits
    /tmp/granvenv/bin/python bench/http_servers.py granian 18101  # granian (not a dependency)

Each serves on 127.0.0.1:PORT in one uvloop loop (granian: its embedded server in that loop).
"""

from __future__ import annotations

import sys
from typing import Any

import uvloop


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def serve(kind: str, port: int) -> None:
    if kind == "granian":
        from granian.constants import HTTPModes, Interfaces  # type: ignore[import-not-found]
        from granian.server.embed import Server  # type: ignore[import-not-found]

        server = Server(app, address="127.0.0.1", port=port, interface=Interfaces.ASGI,
                        http=HTTPModes.http1, log_enabled=False, backlog=4096)  # fmt: skip
        await server.serve()
        return
    import uvicorn

    http: Any = "httptools"
    if kind == "postroom":
        from postroom.interfaces.http.server import HttpLimits, connection_budget, protocol_class

        http = protocol_class(HttpLimits(max_connections=connection_budget(0, 64)))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        lifespan="off", http=http, ws="none", loop="none", timeout_keep_alive=30, backlog=4096,
    )  # fmt: skip
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    uvloop.run(serve(sys.argv[1], int(sys.argv[2])))

"""The webhook publisher: a loop in the worker role that posts the outbox's due
notifications (`use_cases.webhooks.publish_due`), over httpx.

Every worker process and node runs one; they share the outbox through leases, so
publishing scales out with the workers. The HTTP client follows no redirects (a 3xx is a
failed attempt), ignores proxy settings from the environment, times out each POST as a
whole, and reads at most RESPONSE_CAP bytes of an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping

import httpx

from postroom.domain.core import Core
from postroom.domain.ports import WebhookPoster
from postroom.domain.use_cases.webhooks import PUBLISH_BATCH, publish_due
from postroom.domain.webhooks import PostResult

log = logging.getLogger(__name__)
RESPONSE_CAP = 64 * 1024  # bytes of a receiver's answer read (then the connection closes)
ERROR_TEXT_CAP = 300


class HttpPoster:
    """POSTs with httpx: one client (connection pool) per publisher."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=PUBLISH_BATCH, max_keepalive_connections=16),
        )

    async def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):  # the whole exchange, not each read
                status = await self._post(url, body, headers)
        except (httpx.HTTPError, TimeoutError, OSError, ValueError) as exc:
            text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            return PostResult(None, text[:ERROR_TEXT_CAP], time.monotonic() - started)
        return PostResult(status, None, time.monotonic() - started)

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        request = self.client.build_request("POST", url, content=body, headers=dict(headers))
        response = await self.client.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= RESPONSE_CAP:
                    break
        finally:
            await response.aclose()
        return response.status_code

    async def close(self) -> None:
        await self.client.aclose()


class WebhookPublisher:
    """Posts due notifications until cancelled; idle, it looks every poll interval."""

    def __init__(self, core: Core, poster: WebhookPoster | None = None) -> None:
        self.core = core
        self._own_poster = poster is None
        self.poster: WebhookPoster = poster or HttpPoster(core.settings.webhook_timeout)
        self.owner = f"publisher-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                try:
                    claimed = await publish_due(self.core, self.poster, self.owner)
                except Exception:
                    log.exception("publishing webhook notifications failed")
                    claimed = 0
                if claimed < PUBLISH_BATCH:
                    with contextlib.suppress(TimeoutError):
                        interval = self.core.settings.webhook_poll_interval
                        await asyncio.wait_for(self._wake.wait(), timeout=interval)
        finally:
            if self._own_poster and isinstance(self.poster, HttpPoster):
                await self.poster.close()

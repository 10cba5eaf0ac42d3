"""Idle SMTP sessions kept for the next message to the same server (see `SessionPool`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postroom.delivery.relay import RelayConfig, SmtpSession


class SessionPool:
    """Sessions kept open after a clean transaction, per server and settings, for the next
    message to the same place (connection caching, as Postfix's scache does): no new TCP,
    EHLO, STARTTLS and AUTH for every message. Idle sessions are dropped after a while."""

    def __init__(self, idle_seconds: float = 5.0, per_server: int = 8, max_uses: int = 100) -> None:
        self.idle_seconds = idle_seconds
        self.per_server = per_server
        self.max_uses = max_uses
        self._idle: dict[RelayConfig, list[tuple[float, SmtpSession]]] = {}

    def take(self, config: RelayConfig) -> SmtpSession | None:
        now = time.monotonic()
        idle = self._idle.get(config, [])
        while idle:
            since, session = idle.pop()
            if now - since < self.idle_seconds and session.smtp.is_connected:
                return session
            session.smtp.close()
        return None

    async def give(self, config: RelayConfig, session: SmtpSession) -> None:
        idle = self._idle.setdefault(config, [])
        if len(idle) >= self.per_server or session.uses >= self.max_uses:
            await session.close()
            return
        idle.append((time.monotonic(), session))

    async def close(self) -> None:
        for idle in self._idle.values():
            for _since, session in idle:
                await session.close()
        self._idle.clear()

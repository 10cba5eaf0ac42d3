"""Direct delivery: route the recipient domain (MX), then speak SMTP to its hosts in order.

RFC 5321 section 5.1: the hosts are tried by preference; a host that cannot be reached, or
that drops or refuses the session as a whole (421, 4.4.x), sends us to the next one. A host
that answers the transaction decides the outcome. Opportunistic STARTTLS without
certificate checks is the default, as in Postfix's `may` level (RFC 7435).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Literal

from postroom.config import HostPort, Settings
from postroom.delivery.dns import make_resolver
from postroom.delivery.mta_sts import MtaSts
from postroom.delivery.relay import (
    RecipientResult,
    RelayConfig,
    TransportResult,
    relay_message,
)
from postroom.delivery.routing import Route, RouteFailure, RouteOverride, Router
from postroom.delivery.session_pool import SessionPool


def _unreachable(result: TransportResult) -> bool:
    """The host never took part in the transaction: try the next one (RFC 5321 5.1)."""
    return bool(result.recipients) and all(
        r.code == 421 or r.enhanced.startswith("4.4.") for r in result.recipients
    )


class HostSlots:
    """At most `cap` sessions at once to one MX host (address, port): many domains may
    share a mail server (hosted mail), and the per-domain cap alone would not protect it.
    A delivery waits here for a slot; idle hosts are forgotten."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._users: dict[tuple[str, int], int] = {}

    @contextlib.asynccontextmanager
    async def held(self, host: str, port: int) -> AsyncIterator[None]:
        key = (host, port)
        slot = self._slots.setdefault(key, asyncio.Semaphore(self.cap))
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with slot:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._slots[key]


class DirectTransport:
    def __init__(self, router: Router, settings: Settings, sts: MtaSts | None = None) -> None:
        self.router = router
        self.settings = settings
        self.sts = sts
        # Connections reused across messages to one MX (which may serve many domains).
        self.sessions = SessionPool(per_server=settings.workers)
        self.hosts = HostSlots(settings.per_host_concurrency)

    async def __call__(
        self, mail_from: str, recipients: Sequence[str], data: bytes, *, require_tls: bool = False
    ) -> TransportResult:
        domain = recipients[0].rpartition("@")[2]
        route = await self.router.route(domain)
        if isinstance(route, RouteFailure):
            return _failed(recipients, domain, route.code, route.enhanced, route.text)
        return await self._deliver(route, mail_from, recipients, data, require_tls)

    async def _deliver(
        self, route: Route, mail_from: str, recipients: Sequence[str], data: bytes,
        require_tls: bool = False,
    ) -> TransportResult:  # fmt: skip
        policy = await self.sts.policy(route.domain) if self.sts is not None else None
        enforce = policy is not None and policy.mode == "enforce"
        hosts = [h for h in route.hosts if policy is None or not enforce or policy.allows(h.name)]
        if not hosts:  # RFC 8461 section 4.2: no MX host fits the policy: do not deliver
            text = f"MTA-STS policy of {route.domain} names none of its MX hosts"
            return _failed(recipients, route.domain, 451, "4.7.5", text)
        # Per-domain policy "require" and a configuration set's TlsPolicy REQUIRE defer
        # rather than send in the clear (Postfix's `encrypt` level); MTA-STS enforce also
        # checks the MX's certificate; the default is opportunistic (RFC 7435).
        required = (
            enforce or require_tls or self.settings.tls_policy.get(route.domain) == "require"
        )
        starttls: Literal["require", "opportunistic"] = "require" if required else "opportunistic"
        last: TransportResult | None = None
        for host in hosts:
            for address in host.addresses or (host.name,):
                config = RelayConfig(
                    host=address,
                    port=route.port or self.settings.outbound_port,
                    starttls=starttls,
                    tls_verify=enforce,
                    cafile=self.settings.tls_cafile,
                    server_name=host.name,
                    helo_name=self.settings.helo_name,
                    timeout=self.settings.smtp_timeout,
                )
                async with self.hosts.held(config.host, config.port):
                    result = await relay_message(config, mail_from, recipients, data, self.sessions)
                result = TransportResult(result.recipients, host.name, result.remote_ip)
                if not _unreachable(result):
                    return result
                last = result
        if last is None:  # a route without addresses: a temporary failure
            text = f"No mail exchanger could be reached for {route.domain}"
            return _failed(recipients, route.domain, 451, "4.4.4", text)
        return last


def _failed(
    recipients: Sequence[str], domain: str, code: int, enhanced: str, text: str
) -> TransportResult:
    return TransportResult([RecipientResult(r, code, enhanced, text) for r in recipients],
                           domain, None)  # fmt: skip


def route_overrides(routes: Mapping[str, str]) -> dict[str, RouteOverride]:
    """Config `routes`: {"example.org": "smarthost:2526"} -> per-domain overrides."""
    found: dict[str, RouteOverride] = {}
    for domain, target in routes.items():
        parsed = HostPort.parse(target)
        found[domain.lower()] = RouteOverride(host=parsed.host, port=parsed.port)
    return found


def direct_transport(settings: Settings) -> DirectTransport:
    resolver = make_resolver(settings.dns)
    router = Router(resolver, overrides=route_overrides(settings.routes))
    sts = None
    if settings.mta_sts:
        sts = MtaSts(resolver, port=settings.mta_sts_port, cafile=settings.tls_cafile)
    return DirectTransport(router, settings, sts)

"""MTA-STS (RFC 8461): a domain can ask senders to deliver only over verified TLS, to the
MX hosts its policy names.

Discovery is a TXT record at `_mta-sts.<domain>` (`v=STSv1; id=...`); the policy itself
is fetched over HTTPS, with a valid certificate, from
`https://mta-sts.<domain>/.well-known/mta-sts.txt` and cached for its `max_age` (or until
the TXT `id` changes). Lookups go through our resolver (so tests and `--dns` work), and the
policy port is configurable for tests (443 in production).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver
import httpx

log = logging.getLogger(__name__)
MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 section 3.2: policies are small
MAX_AGE_CAP = 31_557_600  # one year, RFC 8461 section 3.2
ABSENT_SECONDS = 300.0  # how long "this domain has no policy" is believed


@dataclass(frozen=True)
class StsPolicy:
    id: str
    mode: str  # enforce | testing | none
    mx: tuple[str, ...]
    max_age: int

    def allows(self, host: str) -> bool:
        return any(mx_matches(pattern, host) for pattern in self.mx)


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 section 4.1: exact, or `*.` matching exactly one leftmost label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def parse_policy(text: str, policy_id: str) -> StsPolicy | None:
    """The `key: value` lines of a policy file; None when it is not a valid STSv1 policy."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), []).append(value.strip())
    mode = (fields.get("mode") or [""])[0]
    try:
        max_age = min(int((fields.get("max_age") or ["x"])[0]), MAX_AGE_CAP)
    except ValueError:
        return None
    if fields.get("version") != ["STSv1"] or mode not in ("enforce", "testing", "none"):
        return None
    if mode != "none" and not fields.get("mx"):
        return None
    return StsPolicy(policy_id, mode, tuple(fields.get("mx", [])), max_age)


class MtaSts:
    def __init__(
        self, resolver: dns.asyncresolver.Resolver, *, port: int = 443,
        cafile: str | None = None, clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
    ) -> None:  # fmt: skip
        self.resolver = resolver
        self.port = port
        self.context = ssl.create_default_context(cafile=cafile)
        self.clock = clock
        self.timeout = timeout
        self._cache: dict[str, tuple[float, StsPolicy]] = {}
        self._absent: dict[str, float] = {}  # domain -> until when "no policy" stands

    async def policy(self, domain: str) -> StsPolicy | None:
        """The domain's policy, or None when it has none (or it cannot be had now)."""
        now = self.clock()
        cached = self._cache.get(domain)
        if cached is None and self._absent.get(domain, 0.0) > now:
            return None  # most domains publish nothing: do not ask DNS for every message
        record_id = await self._record_id(domain)
        if cached and cached[0] > now and (record_id is None or record_id == cached[1].id):
            return cached[1]  # a cached policy outlives a missing TXT (RFC 8461 5.1)
        if record_id is None:
            if len(self._absent) > 10_000:
                self._absent.clear()
            self._absent[domain] = now + ABSENT_SECONDS
            return None
        try:
            text = await asyncio.wait_for(self._fetch(domain), self.timeout)
        except (
            OSError, ssl.SSLError, TimeoutError, ValueError, httpx.HTTPError,
            dns.exception.DNSException,
        ) as exc:  # fmt: skip
            log.info("MTA-STS policy of %s could not be fetched: %s", domain, exc)
            return cached[1] if cached else None
        found = parse_policy(text, record_id)
        if found is not None:
            self._cache[domain] = (now + found.max_age, found)
        return found

    async def _record_id(self, domain: str) -> str | None:
        try:
            answer = await self.resolver.resolve(f"_mta-sts.{domain}", "TXT")
        except dns.exception.DNSException:
            return None
        for rdata in answer:
            text = b"".join(rdata.strings).decode("ascii", "replace")
            fields = dict(
                part.strip().partition("=")[::2] for part in text.split(";") if part.strip()
            )
            if fields.get("v") == "STSv1" and fields.get("id"):
                return fields["id"]
        return None

    async def _fetch(self, domain: str) -> str:
        """GET the policy from `mta-sts.<domain>` (found through our resolver) with httpx:
        a certificate valid for that name, no redirects (RFC 8461 3.3), a size cap."""
        host = f"mta-sts.{domain}"
        answer = await self.resolver.resolve(host, "A")
        url = httpx.URL(
            scheme="https", host=answer[0].to_text(), port=self.port,
            path="/.well-known/mta-sts.txt",
        )  # fmt: skip
        async with (
            httpx.AsyncClient(verify=self.context, timeout=self.timeout, trust_env=False) as client,
            client.stream(
                "GET", url, headers={"Host": host, "User-Agent": "Postroom"},
                extensions={"sni_hostname": host},  # TLS name checked against `host`
            ) as response,
        ):  # fmt: skip
            if response.status_code != 200:
                raise ValueError(f"policy fetch answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_POLICY_BYTES:
                    raise ValueError(f"policy larger than {MAX_POLICY_BYTES} bytes")
        return body.decode("utf-8", "replace")

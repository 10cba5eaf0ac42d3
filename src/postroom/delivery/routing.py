"""Where to deliver mail for a recipient domain: MX lookup, implicit MX, null MX, overrides.

    router = Router(make_resolver(HostPort("127.0.0.1", 5353)))
    result = await router.route("bücher.example")   # Route | RouteFailure, never raises

RFC 5321 5.1: look up the domain's MX records and try the hosts by preference, in random
order among equal preference; when the lookup says the name exists but has no MX, the
domain itself is the single, implicit MX (its A/AAAA records). RFC 7505: a domain whose
only MX is ``0 .`` (null MX) accepts no mail, so recipients bounce at once with
556 5.1.10. A name that does not exist (NXDOMAIN) bounces; a lookup that fails (timeout,
SERVFAIL) defers, since the answer may come next time.

All I/O goes through the injected dnspython resolver, which follows CNAME chains found
in an answer. Answers are cached per (name, type) for the smallest TTL of the records
used (CNAMEs included), capped at an hour; negative answers for a short time; failures
are never cached. Concurrent lookups of the same (name, type) share one query. A route
built from cached answers is kept until the first of them expires, so the next message to
the domain costs a dictionary lookup (and the shuffle among equal preferences).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import ipaddress
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver

from postroom.errors import InvalidParameterValue
from postroom.wire.hostnames import check_domain

POSITIVE_TTL_MAX = 3600  # seconds; caps a long TTL so DNS changes are seen within the hour
NEGATIVE_TTL_DEFAULT = 60  # seconds; a negative answer that carries no SOA
NEGATIVE_TTL_MAX = 300  # seconds; a domain being set up should not wait long


@dataclass(frozen=True)
class MxHost:
    name: str  # MX host name, ASCII, lower-case, no trailing dot
    preference: int
    addresses: tuple[str, ...]  # A then AAAA; empty when the host's lookups failed


@dataclass(frozen=True)
class Route:
    domain: str  # ASCII (punycode) recipient domain
    hosts: tuple[MxHost, ...]  # in the order to try (RFC 5321 5.1)
    implicit: bool  # no MX: the domain's own A/AAAA is the implicit MX (RFC 5321 5.1)
    port: int | None = None  # set by an override; None means the transport's default


@dataclass(frozen=True)
class RouteFailure:
    domain: str
    permanent: bool  # True: bounce now; False: defer and retry later
    code: int
    enhanced: str
    text: str


@dataclass(frozen=True)
class RouteOverride:
    """Config: send all mail for one domain to this host (a smarthost), e.g. in tests."""

    host: str
    port: int | None = None


class _Status(enum.Enum):
    OK = "ok"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"  # the name exists, without records of this type
    TEMPFAIL = "tempfail"


@dataclass(frozen=True)
class _Lookup:
    status: _Status
    rdata: tuple[Any, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class _Addresses:
    addresses: tuple[str, ...]
    temporary: bool  # no address, and at least one lookup failed (not merely negative)


_Key = tuple[str, int]
_Entry = tuple[float, "_Lookup"]  # (expires, answer) in the cache


def _null_mx(domain: str) -> RouteFailure:
    # RFC 7505 section 4.2: "556 5.1.10 Recipient address has null MX".
    return RouteFailure(domain, True, 556, "5.1.10", "Recipient address has null MX")


def _not_found(domain: str, detail: str = "") -> RouteFailure:
    text = "Host or domain name not found" + (f": {detail}" if detail else "")
    return RouteFailure(domain, True, 550, "5.1.2", text)


def _temporary(domain: str, detail: str = "") -> RouteFailure:
    text = "DNS temporary failure" + (f": {detail}" if detail else "")
    return RouteFailure(domain, False, 451, "4.4.3", text)


def to_ascii_domain(domain: str) -> dns.name.Name:
    """The absolute DNS name of a (possibly IDN) domain; raises dns.exception.DNSException.

    IDNA 2008 with UTS 46 mapping when the `idna` package is installed (it maps "ß" as
    registries do), IDNA 2003 (the standard library's codec) otherwise.
    """
    text = domain.strip().rstrip(".").lower()
    if not text:
        raise dns.name.EmptyLabel
    codec = dns.name.IDNA_2008_Practical if dns.name.have_idna_2008 else dns.name.IDNA_2003
    return dns.name.from_unicode(text, idna_codec=codec)


def _name_text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _negative_ttl(response: dns.message.Message | None) -> int:
    """RFC 2308 5: SOA TTL / minimum when the answer carries an SOA, else a short default."""
    if not isinstance(response, dns.message.QueryMessage):
        return NEGATIVE_TTL_DEFAULT
    if not any(rrset.rdtype == dns.rdatatype.SOA for rrset in response.authority):
        return NEGATIVE_TTL_DEFAULT
    try:
        return min(response.resolve_chaining().minimum_ttl, NEGATIVE_TTL_MAX)
    except dns.exception.DNSException:
        return NEGATIVE_TTL_DEFAULT


class Router:
    """Resolves recipient domains to routes (see the module docstring)."""

    def __init__(
        self,
        resolver: dns.asyncresolver.Resolver,
        *,
        overrides: Mapping[str, RouteOverride] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        max_cache: int = 10_000,
    ) -> None:
        self._resolver = resolver
        self._overrides = {_name_text(to_ascii_domain(k)): v for k, v in (overrides or {}).items()}
        self._clock = clock
        self._rng = rng or random.Random()
        self._max_cache = max_cache
        self._cache: OrderedDict[_Key, _Entry] = OrderedDict()
        self._inflight: dict[_Key, asyncio.Task[_Lookup]] = {}
        self._routes: dict[str, tuple[float, Route, list[_Key], list[_Entry]]] = {}

    async def route(self, domain: str) -> Route | RouteFailure:
        known = self._routes.pop(domain, None)
        if known is not None and self._clock() < known[0]:
            _, route, keys, entries = known
            cache = self._cache
            if all(cache.get(k) is e for k, e in zip(keys, entries, strict=True)):
                self._routes[domain] = known  # built from what the cache still holds
                return dataclasses.replace(route, hosts=self._order(list(route.hosts)))
        try:
            # The API's own host-name check: no address literal ([192.0.2.1]), no IP
            # written as a name, whatever a queued row says (issue 8; RFC 5321 4.1.3
            # literals are not routed: SES delivers to domains only).
            check_domain(domain.strip().rstrip("."))
        except InvalidParameterValue as exc:
            return _not_found(domain, f"invalid domain name ({exc.message})")
        try:
            name = to_ascii_domain(domain)
        except (dns.exception.DNSException, UnicodeError) as exc:
            return _not_found(domain, f"invalid domain name ({exc})")
        ascii_domain = _name_text(name)
        override = self._overrides.get(ascii_domain)
        if override is not None:
            return await self._override_route(ascii_domain, override)
        mx = await self._lookup(name, dns.rdatatype.MX)
        if mx.status is _Status.OK:
            return self._remember(domain, await self._mx_route(ascii_domain, mx.rdata))
        if mx.status is _Status.NODATA:
            return self._remember(domain, await self._implicit_route(ascii_domain, name))
        if mx.status is _Status.NXDOMAIN:
            return _not_found(ascii_domain)
        return _temporary(ascii_domain, mx.detail)

    async def _mx_route(self, domain: str, rdata: tuple[Any, ...]) -> Route | RouteFailure:
        records = sorted((int(r.preference), r.exchange) for r in rdata)
        if len(records) == 1 and records[0][1] == dns.name.root:
            return _null_mx(domain)  # RFC 7505 section 3
        best: dict[dns.name.Name, int] = {}
        for preference, exchange in records:  # a "." among real MX records is ignored
            if exchange != dns.name.root:
                best.setdefault(exchange, preference)
        if not best:
            return _null_mx(domain)
        targets = list(best)
        results = await asyncio.gather(*(self._addresses(t) for t in targets))
        hosts = [
            MxHost(_name_text(target), best[target], found.addresses)
            for target, found in zip(targets, results, strict=True)
        ]
        if not any(host.addresses for host in hosts):
            # RFC 5321 5.1: no MX host has an address; retry only if a lookup failed.
            if any(found.temporary for found in results):
                return _temporary(domain, "no MX host address could be resolved")
            return _not_found(domain, "no MX host has an address")
        return Route(domain, self._order(hosts), implicit=False)

    async def _implicit_route(self, domain: str, name: dns.name.Name) -> Route | RouteFailure:
        # RFC 5321 5.1: no MX records, so the domain is its own MX with preference 0.
        found = await self._addresses(name)
        if found.addresses:
            return Route(domain, (MxHost(domain, 0, found.addresses),), implicit=True)
        if found.temporary:
            return _temporary(domain, "address lookup failed")
        return _not_found(domain, "no MX and no A/AAAA record")

    async def _override_route(self, domain: str, override: RouteOverride) -> Route | RouteFailure:
        host = override.host.strip().strip("[]")
        if _is_ip(host):
            found = _Addresses((str(ipaddress.ip_address(host)),), temporary=False)
        else:
            try:
                found = await self._addresses(to_ascii_domain(host))
            except (dns.exception.DNSException, UnicodeError) as exc:
                return _not_found(domain, f"invalid override host {host!r} ({exc})")
        if not found.addresses:
            if found.temporary:
                return _temporary(domain, f"override host {host} did not resolve")
            return _not_found(domain, f"override host {host} has no address")
        mx = MxHost(host.rstrip(".").lower(), 0, found.addresses)
        return Route(domain, (mx,), implicit=False, port=override.port)

    def _remember(self, domain: str, found: Route | RouteFailure) -> Route | RouteFailure:
        """Keep a route while every answer it was built from is still cached."""
        if not isinstance(found, Route):
            return found
        keys = [(found.domain, int(dns.rdatatype.MX))] + [
            (host.name, int(rdtype))
            for host in found.hosts
            for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
        ]
        found_entries = [self._cache.get(key) for key in keys]
        entries = [e for e in found_entries if e is not None]
        if len(entries) == len(keys):
            self._routes[domain] = (min(e[0] for e in entries), found, keys, entries)
            while len(self._routes) > self._max_cache:  # bounded like the cache
                del self._routes[next(iter(self._routes))]
        return found

    def _order(self, hosts: list[MxHost]) -> tuple[MxHost, ...]:
        """By preference, shuffled among equal preference (RFC 5321 5.1), on every call."""
        ordered: list[MxHost] = []
        for preference in sorted({h.preference for h in hosts}):
            group = sorted((h for h in hosts if h.preference == preference), key=lambda h: h.name)
            self._rng.shuffle(group)
            ordered.extend(group)
        return tuple(ordered)

    async def _addresses(self, name: dns.name.Name) -> _Addresses:
        """A then AAAA records of `name`, looked up together."""
        v4, v6 = await asyncio.gather(
            self._lookup(name, dns.rdatatype.A), self._lookup(name, dns.rdatatype.AAAA)
        )
        addresses = tuple(dict.fromkeys(str(r.address) for r in (*v4.rdata, *v6.rdata)))
        temporary = _Status.TEMPFAIL in (v4.status, v6.status)
        return _Addresses(addresses, temporary=temporary and not addresses)

    async def _lookup(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> _Lookup:
        key = (_name_text(name), int(rdtype))
        cached = self._cache_get(key)
        if cached is not None:
            return cached
        task = self._inflight.get(key)
        if task is None:  # one query for concurrent lookups of the same name and type
            task = asyncio.ensure_future(self._query(key, name, rdtype))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    def _forget(self, key: _Key, task: asyncio.Task[_Lookup]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    async def _query(
        self, key: _Key, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> _Lookup:
        try:
            answer = await self._resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN as exc:
            responses = list(exc.responses().values())
            ttl = _negative_ttl(responses[0] if responses else None)
            return self._cache_put(key, _Lookup(_Status.NXDOMAIN), ttl)
        except dns.resolver.NoAnswer as exc:
            ttl = _negative_ttl(exc.response())
            return self._cache_put(key, _Lookup(_Status.NODATA), ttl)
        except (dns.exception.DNSException, OSError) as exc:
            # Timeout, SERVFAIL (NoNameservers), unreachable server: try again later.
            detail = f"{rdtype.name} lookup for {key[0]} failed ({type(exc).__name__})"
            return _Lookup(_Status.TEMPFAIL, detail=detail)
        ttl = min(answer.chaining_result.minimum_ttl, POSITIVE_TTL_MAX)
        return self._cache_put(key, _Lookup(_Status.OK, tuple(answer)), ttl)

    def _cache_get(self, key: _Key) -> _Lookup | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, lookup = entry
        if self._clock() >= expires:
            del self._cache[key]
            return None
        return lookup

    def _cache_put(self, key: _Key, lookup: _Lookup, ttl: float) -> _Lookup:
        if ttl <= 0 or self._max_cache <= 0:
            return lookup
        self._cache.pop(key, None)
        self._cache[key] = (self._clock() + ttl, lookup)
        while len(self._cache) > self._max_cache:  # bounded: drop the oldest entry
            self._cache.popitem(last=False)
        return lookup


__all__ = ["MxHost", "Route", "RouteFailure", "RouteOverride", "Router", "to_ascii_domain"]

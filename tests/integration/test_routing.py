"""Router against the test DNS server on 127.0.0.1: MX order, implicit MX, null MX, cache."""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

import dns.asyncresolver
import dns.exception
import pytest

from postroom.config import HostPort
from postroom.delivery.dns import make_resolver
from postroom.delivery.routing import MxHost, Route, RouteFailure, RouteOverride, Router
from postroom.testing.dns import TestDnsServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyResolver(dns.asyncresolver.Resolver):
    """The test server, except that names in `failing` time out."""

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(configure=False)
        self.nameservers = [address[0]]
        self.port = address[1]
        self.lifetime = self.timeout = 1.0
        self.failing: set[str] = set()

    async def resolve(self, qname: Any, *args: Any, **kwargs: Any) -> Any:
        if str(qname).rstrip(".").lower() in self.failing:
            raise dns.exception.Timeout
        return await super().resolve(qname, *args, **kwargs)


@pytest.fixture
def resolver(dns_server: TestDnsServer) -> dns.asyncresolver.Resolver:
    return make_resolver(HostPort(*dns_server.address), timeout=1.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def router(resolver: dns.asyncresolver.Resolver, clock: FakeClock) -> Router:
    return Router(resolver, clock=clock, rng=random.Random(5))


def as_route(result: Route | RouteFailure) -> Route:
    assert isinstance(result, Route), result
    return result


def as_failure(result: Route | RouteFailure) -> RouteFailure:
    assert isinstance(result, RouteFailure), result
    return result


def mx_queries(dns_server: TestDnsServer, name: str) -> int:
    return dns_server.queries.count((name + ".", "MX"))


async def test_mx_hosts_in_preference_order(dns_server: TestDnsServer, router: Router) -> None:
    dns_server.add("example.test", "MX", "20 mx2.example.test")
    dns_server.add("example.test", "MX", "10 mx1.example.test")
    dns_server.add("example.test", "MX", "30 MX3.example.test.")
    for i in (1, 2, 3):
        dns_server.add(f"mx{i}.example.test", "A", f"127.0.0.{i + 1}")

    route = as_route(await router.route("Example.TEST."))

    assert route == Route("example.test", (
        MxHost("mx1.example.test", 10, ("127.0.0.2",)),
        MxHost("mx2.example.test", 20, ("127.0.0.3",)),
        MxHost("mx3.example.test", 30, ("127.0.0.4",)),
    ), implicit=False, port=None)


async def test_equal_preference_in_random_order(
    dns_server: TestDnsServer, resolver: dns.asyncresolver.Resolver
) -> None:
    dns_server.add("example.test", "MX", "10 a.example.test")
    dns_server.add("example.test", "MX", "10 b.example.test")
    dns_server.add("example.test", "MX", "20 c.example.test")
    for host in "abc":
        dns_server.add(f"{host}.example.test", "A", "127.0.0.1")
    router = Router(resolver, rng=random.Random(42))

    orders = set()
    for _ in range(40):  # the cache holds the records; the order is drawn on every call
        route = as_route(await router.route("example.test"))
        orders.add(tuple(host.name for host in route.hosts))

    assert orders == {
        ("a.example.test", "b.example.test", "c.example.test"),
        ("b.example.test", "a.example.test", "c.example.test"),
    }
    first = [as_route(await Router(resolver, rng=random.Random(7)).route("example.test"))
             for _ in range(2)]
    assert first[0] == first[1]  # a seeded rng gives a repeatable order


async def test_implicit_mx_from_a_record(dns_server: TestDnsServer, router: Router) -> None:
    dns_server.add("plain.test", "A", "127.0.0.5")

    route = as_route(await router.route("plain.test"))

    assert route.implicit is True
    assert route.hosts == (MxHost("plain.test", 0, ("127.0.0.5",)),)


async def test_aaaa_addresses_after_a(dns_server: TestDnsServer, router: Router) -> None:
    dns_server.add("example.test", "MX", "10 mx.example.test")
    dns_server.add("mx.example.test", "AAAA", "::1")
    dns_server.add("mx.example.test", "A", "127.0.0.1")
    dns_server.add("v6only.test", "AAAA", "::1")

    route = as_route(await router.route("example.test"))
    implicit = as_route(await router.route("v6only.test"))

    assert route.hosts[0].addresses == ("127.0.0.1", "::1")
    assert implicit.implicit and implicit.hosts[0].addresses == ("::1",)


async def test_null_mx_is_a_permanent_failure(dns_server: TestDnsServer, router: Router) -> None:
    dns_server.add("nomail.test", "MX", "0 .")
    dns_server.add("nomail.test", "A", "127.0.0.1")  # must not become an implicit MX

    failure = as_failure(await router.route("nomail.test"))

    assert failure == RouteFailure("nomail.test", True, 556, "5.1.10",
                                   "Recipient address has null MX")


async def test_nxdomain_is_a_permanent_failure(dns_server: TestDnsServer, router: Router) -> None:
    dns_server.add("exists.test", "A", "127.0.0.1")

    failure = as_failure(await router.route("missing.test"))

    assert (failure.domain, failure.permanent, failure.code, failure.enhanced) == (
        "missing.test", True, 550, "5.1.2")
    assert failure.text.startswith("Host or domain name not found")


async def test_no_mx_and_no_address_is_permanent(dns_server: TestDnsServer, router: Router) -> None:
    dns_server.add("txtonly.test", "TXT", "v=spf1 -all")

    failure = as_failure(await router.route("txtonly.test"))

    assert (failure.permanent, failure.code, failure.enhanced) == (True, 550, "5.1.2")


async def test_mx_targets_unresolvable(dns_server: TestDnsServer, router: Router) -> None:
    dns_server.add("broken.test", "MX", "10 gone.broken.test")
    dns_server.add("half.test", "MX", "10 gone.half.test")
    dns_server.add("half.test", "MX", "20 mx.half.test")
    dns_server.add("mx.half.test", "A", "127.0.0.7")

    failure = as_failure(await router.route("broken.test"))
    route = as_route(await router.route("half.test"))

    assert (failure.permanent, failure.code, failure.enhanced) == (True, 550, "5.1.2")
    assert route.hosts == (MxHost("gone.half.test", 10, ()),
                           MxHost("mx.half.test", 20, ("127.0.0.7",)))


async def test_mx_target_lookup_timeout_defers(
    dns_server: TestDnsServer, clock: FakeClock
) -> None:
    resolver = FlakyResolver(dns_server.address)
    dns_server.add("example.test", "MX", "10 mx.example.test")
    dns_server.add("mx.example.test", "A", "127.0.0.1")
    router = Router(resolver, clock=clock)
    resolver.failing = {"mx.example.test"}

    failure = as_failure(await router.route("example.test"))
    assert (failure.permanent, failure.code, failure.enhanced) == (False, 451, "4.4.3")

    resolver.failing = set()  # a failure is not cached: the next call asks again
    route = as_route(await router.route("example.test"))
    assert route.hosts == (MxHost("mx.example.test", 10, ("127.0.0.1",)),)


async def test_cname_domain_and_cname_mx_target(
    dns_server: TestDnsServer, router: Router
) -> None:
    dns_server.add("alias.test", "CNAME", "real.test")
    dns_server.add("real.test", "MX", "10 mx-alias.real.test")
    dns_server.add("mx-alias.real.test", "CNAME", "mx.real.test")
    dns_server.add("mx.real.test", "A", "127.0.0.8")
    dns_server.add("web.test", "CNAME", "host.real.test")  # no MX: implicit, via the CNAME
    dns_server.add("host.real.test", "A", "127.0.0.9")

    route = as_route(await router.route("alias.test"))
    implicit = as_route(await router.route("web.test"))

    assert route == Route("alias.test", (MxHost("mx-alias.real.test", 10, ("127.0.0.8",)),),
                          implicit=False)
    assert implicit.implicit and implicit.hosts == (MxHost("web.test", 0, ("127.0.0.9",)),)


async def test_idn_domain_uses_punycode(dns_server: TestDnsServer, router: Router) -> None:
    dns_server.add("xn--bcher-kva.example", "MX", "10 mx.xn--bcher-kva.example")
    dns_server.add("mx.xn--bcher-kva.example", "A", "127.0.0.10")

    route = as_route(await router.route("Bücher.example"))

    assert route.domain == "xn--bcher-kva.example"
    assert route.hosts == (MxHost("mx.xn--bcher-kva.example", 10, ("127.0.0.10",)),)
    assert ("xn--bcher-kva.example.", "MX") in dns_server.queries


async def test_cache_respects_ttl(
    dns_server: TestDnsServer, router: Router, clock: FakeClock
) -> None:
    dns_server.add("example.test", "MX", "10 mx.example.test", ttl=30)
    dns_server.add("mx.example.test", "A", "127.0.0.1", ttl=30)
    first = as_route(await router.route("example.test"))
    asked = len(dns_server.queries)
    dns_server.remove("example.test")

    clock.now += 29
    assert await router.route("example.test") == first  # served from the cache
    assert len(dns_server.queries) == asked

    clock.now += 2
    assert as_failure(await router.route("example.test")).code == 550  # refreshed: gone
    assert mx_queries(dns_server, "example.test") == 2


async def test_cache_uses_smallest_ttl_and_caps_long_ones(
    dns_server: TestDnsServer, router: Router, clock: FakeClock
) -> None:
    dns_server.add("example.test", "MX", "10 mx.example.test", ttl=86400)
    dns_server.add("mx.example.test", "A", "127.0.0.1", ttl=10)
    dns_server.add("mx.example.test", "AAAA", "::1", ttl=86400)
    await router.route("example.test")

    clock.now += 11  # the A record expired, the MX did not
    await router.route("example.test")
    assert dns_server.queries.count(("mx.example.test.", "A")) == 2
    assert mx_queries(dns_server, "example.test") == 1

    clock.now += 3600  # a day-long TTL is held for an hour at most
    await router.route("example.test")
    assert mx_queries(dns_server, "example.test") == 2


async def test_negative_answers_cached_briefly(
    dns_server: TestDnsServer, router: Router, clock: FakeClock
) -> None:
    dns_server.add("other.test", "A", "127.0.0.1")
    assert as_failure(await router.route("new.test")).permanent
    dns_server.add("new.test", "A", "127.0.0.11")

    clock.now += 59
    assert isinstance(await router.route("new.test"), RouteFailure)
    clock.now += 2
    assert as_route(await router.route("new.test")).hosts[0].addresses == ("127.0.0.11",)


async def test_cache_is_bounded(
    dns_server: TestDnsServer, resolver: dns.asyncresolver.Resolver
) -> None:
    for domain in ("a.test", "b.test"):
        dns_server.add(domain, "A", "127.0.0.1")
    router = Router(resolver, max_cache=3)  # one implicit route needs MX, A and AAAA

    await router.route("a.test")
    await router.route("a.test")
    assert mx_queries(dns_server, "a.test") == 1
    await router.route("b.test")  # pushes a.test's entries out
    await router.route("a.test")
    assert mx_queries(dns_server, "a.test") == 2


async def test_concurrent_routes_share_queries(
    dns_server: TestDnsServer, router: Router
) -> None:
    dns_server.add("example.test", "MX", "10 mx.example.test")
    dns_server.add("mx.example.test", "A", "127.0.0.1")

    results = await asyncio.gather(*(router.route("example.test") for _ in range(20)))

    assert all(isinstance(result, Route) for result in results)
    assert mx_queries(dns_server, "example.test") == 1


async def test_dns_timeout_is_a_temporary_failure() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    router = Router(make_resolver(HostPort("127.0.0.1", closed_port), timeout=0.3))

    failure = as_failure(await router.route("example.test"))

    assert (failure.domain, failure.permanent, failure.code, failure.enhanced) == (
        "example.test", False, 451, "4.4.3")
    assert failure.text.startswith("DNS temporary failure")


async def test_overrides(dns_server: TestDnsServer, resolver: dns.asyncresolver.Resolver) -> None:
    dns_server.add("example.org", "MX", "10 mx.example.org")  # ignored: overridden
    dns_server.add("relay.test", "A", "127.0.0.12")
    router = Router(resolver, overrides={
        "Example.ORG": RouteOverride("127.0.0.1", 2526),
        "bücher.example": RouteOverride("relay.test"),
        "nowhere.example": RouteOverride("missing.test", 25),
    })

    literal = as_route(await router.route("example.org"))
    named = as_route(await router.route("xn--bcher-kva.example"))
    failure = as_failure(await router.route("nowhere.example"))

    assert literal == Route("example.org", (MxHost("127.0.0.1", 0, ("127.0.0.1",)),),
                            implicit=False, port=2526)
    assert named == Route("xn--bcher-kva.example", (MxHost("relay.test", 0, ("127.0.0.12",)),),
                          implicit=False, port=None)
    assert (failure.permanent, failure.enhanced) == (True, "5.1.2")
    assert mx_queries(dns_server, "example.org") == 0


async def test_invalid_domain_and_address_literal(router: Router) -> None:
    failure = as_failure(await router.route("a..b.test"))
    assert (failure.permanent, failure.enhanced) == (True, "5.1.2")
    # Address literals and IPs written as names are never routed (issue 8): no connection
    # to an address of the sender's choosing.
    for literal in ("[127.0.0.1]", "[IPv6:::1]", "[a;b<c>]", "127.0.0.1", "x.[10.0.0.1]"):
        refused = as_failure(await router.route(literal))
        assert (refused.permanent, refused.code, refused.enhanced) == (True, 550, "5.1.2")
        assert "invalid domain name" in refused.text

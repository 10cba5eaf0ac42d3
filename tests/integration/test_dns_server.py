"""TestDnsServer answered through dnspython's async resolver, over UDP and TCP."""

from __future__ import annotations

import socket

import dns.asyncresolver
import dns.resolver
import pytest

from postroom.testing.dns import TestDnsServer

DKIM_KEY = "v=DKIM1; k=rsa; p=" + "M" * 400  # longer than one 255-octet TXT string


@pytest.fixture
def resolver(dns_server: TestDnsServer) -> dns.asyncresolver.Resolver:
    res = dns.asyncresolver.Resolver(configure=False)
    res.nameservers = [dns_server.address[0]]
    res.port = dns_server.address[1]
    res.lifetime = 3.0
    return res


@pytest.fixture
def zone(dns_server: TestDnsServer) -> TestDnsServer:
    dns_server.add("example.test", "MX", "10 mx1.example.test.")
    dns_server.add("example.test", "MX", "20 mx2.example.test")
    dns_server.add("example.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    dns_server.add("mx1.example.test", "A", "127.0.0.1")
    dns_server.add("mx1.example.test", "AAAA", "::1")
    dns_server.add("sel._domainkey.example.test", "TXT", DKIM_KEY)
    dns_server.add("www.example.test", "CNAME", "mx1.example.test")
    return dns_server


@pytest.fixture(params=[False, True], ids=["udp", "tcp"])
def tcp(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


async def test_mx(zone: TestDnsServer, resolver: dns.asyncresolver.Resolver, tcp: bool) -> None:
    answer = await resolver.resolve("example.test", "MX", tcp=tcp)
    assert sorted((r.preference, r.exchange.to_text()) for r in answer) == [
        (10, "mx1.example.test."), (20, "mx2.example.test."),
    ]
    assert answer.rrset is not None and answer.rrset.ttl == 60


async def test_txt(zone: TestDnsServer, resolver: dns.asyncresolver.Resolver, tcp: bool) -> None:
    spf = await resolver.resolve("EXAMPLE.test", "TXT", tcp=tcp)  # names are case-insensitive
    assert [b"".join(r.strings) for r in spf] == [b"v=spf1 ip4:127.0.0.1 -all"]
    dkim = await resolver.resolve("sel._domainkey.example.test", "TXT", tcp=tcp)
    [record] = list(dkim)
    assert len(record.strings) == 2  # split at 255 octets (RFC 1035 3.3.14)
    assert b"".join(record.strings).decode() == DKIM_KEY


async def test_a_aaaa_and_cname(
    zone: TestDnsServer, resolver: dns.asyncresolver.Resolver, tcp: bool
) -> None:
    a = await resolver.resolve("mx1.example.test", "A", tcp=tcp)
    assert [r.address for r in a] == ["127.0.0.1"]
    aaaa = await resolver.resolve("mx1.example.test", "AAAA", tcp=tcp)
    assert [r.address for r in aaaa] == ["::1"]
    via_cname = await resolver.resolve("www.example.test", "A", tcp=tcp)
    assert via_cname.canonical_name.to_text() == "mx1.example.test."
    assert [r.address for r in via_cname] == ["127.0.0.1"]


async def test_nxdomain(
    zone: TestDnsServer, resolver: dns.asyncresolver.Resolver, tcp: bool
) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("nope.example.test", "A", tcp=tcp)
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("other.test", "MX", tcp=tcp)


async def test_known_name_without_type_is_nodata(
    zone: TestDnsServer, resolver: dns.asyncresolver.Resolver, tcp: bool
) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("mx1.example.test", "MX", tcp=tcp)
    # an empty non-terminal exists too (RFC 8020): NOERROR, not NXDOMAIN
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("_domainkey.example.test", "TXT", tcp=tcp)


async def test_remove(zone: TestDnsServer, resolver: dns.asyncresolver.Resolver) -> None:
    zone.remove("example.test", "TXT")
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("example.test", "TXT")
    assert len(await resolver.resolve("example.test", "MX")) == 2
    zone.remove("mx1.example.test")
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("mx1.example.test", "A")
    zone.remove("example.test")  # still has names below it: NOERROR, no data
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("example.test", "MX")


async def test_records_change_while_running(
    dns_server: TestDnsServer, resolver: dns.asyncresolver.Resolver
) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("late.test", "A")
    dns_server.add("late.test", "A", "127.0.0.2", ttl=5)
    answer = await resolver.resolve("late.test", "A")
    assert [r.address for r in answer] == ["127.0.0.2"]
    assert ("late.test.", "A") in dns_server.queries


def test_start_stop_and_context_manager() -> None:
    server = TestDnsServer()
    with pytest.raises(RuntimeError):
        _ = server.address
    with server:
        host, port = server.address
        assert host == "127.0.0.1" and port > 0
        with socket.create_connection((host, port), timeout=2):
            pass  # TCP listens on the same port number as UDP
    with pytest.raises(RuntimeError):
        _ = server.address
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), timeout=2):
        pass

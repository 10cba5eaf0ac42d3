"""DNS lookups with dnspython's async resolver, against --dns HOST:PORT or the system's."""

from __future__ import annotations

from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver

from postroom.config import HostPort


class DnsLookupError(Exception):
    """The lookup itself failed (timeout, SERVFAIL): not the same as 'no such record'."""


def make_resolver(server: HostPort | None, timeout: float = 3.0) -> dns.asyncresolver.Resolver:
    if server is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [server.host]
        resolver.port = server.port
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


async def _records(resolver: dns.asyncresolver.Resolver, name: str, rtype: str) -> list[Any]:
    """The rdatas at `name`, [] when there are none; lookup failures raise DnsLookupError
    (a failure is not the same as "no such record")."""
    try:
        return list(await resolver.resolve(name, rtype))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DnsLookupError(str(exc)) from exc


async def txt_records(resolver: dns.asyncresolver.Resolver, name: str) -> list[str]:
    """Every TXT string at `name` (multi-string records joined), [] when there is none."""
    found = await _records(resolver, name, "TXT")
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in found]


async def mx_hosts(resolver: dns.asyncresolver.Resolver, name: str) -> list[str]:
    """The exchanges of `name`'s MX records (lower case, no trailing dot); [] if none."""
    found = await _records(resolver, name, "MX")
    return [rdata.exchange.to_text(omit_final_dot=True).lower() for rdata in found]

"""DNS lookups with dnspython's async resolver, against --dns HOST:PORT or the system's."""

from __future__ import annotations

from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver

from postroom.config import HostPort
from postroom.domain.ports import DnsLookupError as DnsLookupError


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


class Resolver:
    """The core's DNS port (`domain.ports.Dns`) over dnspython, against --dns or the system's."""

    def __init__(self, server: HostPort | None) -> None:
        self.server = server

    async def lookup_txt(self, name: str) -> list[str]:
        return await txt_records(make_resolver(self.server), name)

    async def lookup_mx(self, name: str) -> list[str]:
        return await mx_hosts(make_resolver(self.server), name)

"""A small authoritative DNS server for tests, on loopback, UDP and TCP, built on dnslib.

    with TestDnsServer() as dns_server:
        dns_server.add("example.test", "MX", "10 mx.example.test.")
        dns_server.add("mx.example.test", "A", "127.0.0.1")
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns_server.address[0]]
        resolver.port = dns_server.address[1]

Answers follow RFC 1034 4.3.2 closely enough for mail: an unknown name is NXDOMAIN, a
known name (or an empty non-terminal such as ``_domainkey.example.test`` when only
``sel._domainkey.example.test`` exists) without the asked type is NOERROR with no answer,
and a CNAME is returned (and followed once, when its target is known) for other types.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

log = logging.getLogger(__name__)

_TXT_CHUNK = 255  # RFC 1035 3.3.14: a TXT record is a list of <=255-octet strings


def _fqdn(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def _rdata(rtype: str, value: str) -> Any:
    if rtype == "TXT":
        raw = value.encode("utf-8")
        return TXT([raw[i : i + _TXT_CHUNK] for i in range(0, len(raw), _TXT_CHUNK)] or [b""])
    if rtype == "MX":
        preference, _, exchange = value.strip().partition(" ")
        return MX(_fqdn(exchange), int(preference))
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "CNAME":
        return CNAME(_fqdn(value))
    return None


def _make_rr(name: str, rtype: str, value: str, ttl: int) -> RR:
    rdata = _rdata(rtype, value)
    if rdata is None:  # any other type dnslib knows, in zone-file syntax
        return RR.fromZone(f"{name} {ttl} IN {rtype} {value}")[0]
    return RR(name, getattr(QTYPE, rtype), rdata=rdata, ttl=ttl)


class _ZoneResolver(BaseResolver):
    """Answers from an in-memory table; shared by the UDP and the TCP server."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[str, RR]]] = {}
        self.lock = threading.Lock()
        self.queries: list[tuple[str, str]] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()  # sets QR, RD from request; we are authoritative
        reply.header.aa = 1
        qname = _fqdn(str(request.q.qname))
        qtype = QTYPE.get(request.q.qtype, str(request.q.qtype))
        with self.lock:
            self.queries.append((qname, qtype))
            if not self._exists(qname):
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            for rr in self._answer(qname, qtype, follow_cname=True):
                reply.add_answer(rr)
        return reply

    def _exists(self, qname: str) -> bool:
        return qname in self.records or any(n.endswith("." + qname) for n in self.records)

    def _answer(self, qname: str, qtype: str, *, follow_cname: bool) -> list[RR]:
        entries = self.records.get(qname, [])
        found = [rr for rtype, rr in entries if qtype in (rtype, "ANY")]
        if found or qtype == "CNAME":
            return found
        cnames = [rr for rtype, rr in entries if rtype == "CNAME"]
        if cnames and follow_cname:
            target = _fqdn(str(cnames[0].rdata.label))
            return cnames[:1] + self._answer(target, qtype, follow_cname=False)
        return []


class TestDnsServer:
    """Authoritative DNS on `host`, one port for UDP and TCP, served from threads."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._resolver = _ZoneResolver()
        self._servers: list[DNSServer] = []
        self._port: int | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._port is None:
            raise RuntimeError("DNS server is not started")
        return self.host, self._port

    @property
    def queries(self) -> list[tuple[str, str]]:
        """(name, type) of every query answered so far, for assertions."""
        with self._resolver.lock:
            return list(self._resolver.queries)

    def add(self, name: str, rtype: str, value: str, ttl: int = 60) -> None:
        """Add one record; call again to add more of the same name and type."""
        fqdn, rtype = _fqdn(name), rtype.upper()
        rr = _make_rr(fqdn, rtype, value, ttl)
        with self._resolver.lock:
            self._resolver.records.setdefault(fqdn, []).append((rtype, rr))

    def remove(self, name: str, rtype: str | None = None) -> None:
        """Remove every record of `name` (only those of `rtype` when given)."""
        fqdn = _fqdn(name)
        with self._resolver.lock:
            kept = [
                e
                for e in self._resolver.records.get(fqdn, [])
                if rtype is not None and e[0] != rtype.upper()
            ]
            if kept:
                self._resolver.records[fqdn] = kept
            else:
                self._resolver.records.pop(fqdn, None)

    def clear(self) -> None:
        with self._resolver.lock:
            self._resolver.records.clear()
            self._resolver.queries.clear()

    def start(self) -> None:
        if self._servers:
            return
        udp, tcp = self._bind_pair()
        self._servers = [udp, tcp]
        self._port = int(udp.server.server_address[1])
        for server in self._servers:
            # socketserver polls for shutdown(); a short interval keeps stop() fast.
            thread = threading.Thread(
                target=server.server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"test-dns-{self._port}",
                daemon=True,
            )
            thread.start()

    def _bind_pair(self) -> tuple[DNSServer, DNSServer]:
        """Bind UDP on the requested (or a free) port, then TCP on the same number."""
        logger = DNSLogger(log="error", prefix=False, logf=log.debug)
        last_error: OSError | None = None
        for _ in range(20):
            udp = DNSServer(self._resolver, self.host, self._requested_port, logger=logger)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self._resolver, self.host, port, tcp=True, logger=logger)
            except OSError as error:  # TCP port taken by someone else: try another
                udp.server.server_close()
                last_error = error
                if self._requested_port:
                    break
                continue
            return udp, tcp
        raise OSError(f"cannot bind UDP and TCP on one port: {last_error}")

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        self._servers = []
        self._port = None

    def __enter__(self) -> TestDnsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["TestDnsServer"]

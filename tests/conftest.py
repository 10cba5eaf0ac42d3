"""Shared fixtures: a test CA (trustme), SMTP sinks and a DNS server on loopback.

Everything listens on 127.0.0.1 with an OS-chosen port (see `postroom.testing`).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

from postroom.testing.dns import TestDnsServer
from postroom.testing.sink import SinkServer

pytest_plugins = ["postroom.testing.fixtures"]

TLS_NAMES = ("localhost", "127.0.0.1", "sink.postroom.test", "mx.example.test")


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """A throwaway certificate authority for this test session."""
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_ca_file(tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of the test CA certificate (PEM), e.g. for RelayConfig.cafile."""
    path = Path(tmp_path_factory.mktemp("tls")) / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def tls_server_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    """Server-side context with a certificate for TLS_NAMES, issued by `tls_ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(*TLS_NAMES).configure_cert(context)
    return context


@pytest.fixture
async def sink() -> AsyncIterator[SinkServer]:
    """A plain (no TLS, no AUTH) SMTP sink that accepts everything."""
    server = SinkServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def tls_sink(tls_server_context: ssl.SSLContext) -> AsyncIterator[SinkServer]:
    """A sink offering STARTTLS with a certificate from `tls_ca`."""
    server = SinkServer(tls_context=tls_server_context)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def dns_server() -> Iterator[TestDnsServer]:
    """An authoritative test DNS server (UDP and TCP) with no records yet."""
    with TestDnsServer() as server:
        yield server

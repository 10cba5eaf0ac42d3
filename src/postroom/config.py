"""One typed, strict configuration: defaults < TOML file < POSTROOM_* environment < CLI flags."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

DeliveryMode = Literal["capture", "relay", "direct"]
DELIVERY_MODES: tuple[str, ...] = ("capture", "relay", "direct")
ROLES: tuple[str, ...] = ("api", "worker")
TLS_POLICIES = {"require", "opportunistic"}


class ConfigError(ValueError):
    """A setting is missing, unknown or malformed."""


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, *, default_host: str = "127.0.0.1") -> HostPort:
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = default_host, text
        host = host.strip("[]") or default_host
        try:
            number = int(port)
        except ValueError as exc:
            raise ConfigError(f"expected HOST:PORT, got {text!r}") from exc
        if not 0 <= number <= 65535:
            raise ConfigError(f"port out of range in {text!r}")
        return cls(host, number)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RelaySettings:
    host: str = "127.0.0.1"
    port: int = 25
    starttls: Literal["off", "opportunistic", "require"] = "opportunistic"
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = None
    tls_verify: bool = True
    cafile: str | None = None


def default_worker_processes(roles: tuple[str, ...] = ROLES) -> int:
    """A node with both roles runs the worker role in a process of its own where there are
    two cores or more (the API and delivery each get a core: about twice the throughput of
    one process); on one core, or with one role, everything stays in the serving process."""
    both = "api" in roles and "worker" in roles
    return 1 if both and (os.cpu_count() or 1) >= 2 else 0


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("postroom-data")
    database_url: str | None = None
    http: HostPort = field(default_factory=lambda: HostPort("127.0.0.1", 8025))
    delivery: DeliveryMode = "direct"  # production; `capture` for development
    relay: RelaySettings = field(default_factory=RelaySettings)
    dns: HostPort | None = None
    public_url: str | None = None
    # Host names a signed request's Host header must name (compared without the port,
    # case-insensitively); empty: any, so port mappings and proxies keep working.
    # Recommended in production (docs/security.md).
    allowed_hosts: tuple[str, ...] = ()
    region: str = "us-east-1"
    secret_key: str | None = None
    verification_sender: str = "no-reply@postroom.localhost"
    helo_name: str = "postroom.localhost"
    # Domain of the VERP envelope senders when an identity has no custom MAIL FROM domain;
    # its MX should point at Postroom's inbound server, so asynchronous bounces come back.
    bounce_domain: str = "bounces.postroom.localhost"
    # The host a custom MAIL FROM domain's MX must name (Postroom's inbound/feedback host).
    feedback_host: str = "feedback.postroom.localhost"
    # Remote deliveries at once (the global cap) and to one recipient domain: Postfix's
    # defaults (default_process_limit, default_destination_concurrency_limit). Each is a
    # coroutine and at most one SMTP connection, not a process.
    workers: int = 100
    per_domain_concurrency: int = 20
    # Sessions at once to one MX host (address and port), whatever domains it serves.
    per_host_concurrency: int = 20
    smtp_timeout: float = 30.0  # seconds to wait for each SMTP reply (RFC 5321 4.5.3.2)
    mta_sts: bool = True  # honour MTA-STS policies (RFC 8461) in direct delivery
    mta_sts_port: int = 443  # where policies are fetched (tests use another port)
    tls_cafile: str | None = None  # CA bundle for verified TLS (MTA-STS); system's if unset
    lease_seconds: float = 60.0
    retry_initial: float = 60.0
    retry_max_age: float = 12 * 3600.0
    domain_check_interval: float = 300.0
    reputation_interval: float = 60.0
    reputation_min_volume: int = 100
    roles: tuple[str, ...] = ROLES
    # The worker role in this many child processes of `serve` (0: in the serving process):
    # Python runs one core per process, so delivery gets a core of its own.
    worker_processes: int = field(default_factory=default_worker_processes)
    # Processes answering the API on one port (SO_REUSEPORT), the serving one included.
    api_processes: int = 1
    outbound_port: int = 25
    routes: dict[str, str] = field(default_factory=dict)  # domain -> "host:port" override
    # Per recipient domain: "require" (no delivery without STARTTLS) or "opportunistic".
    tls_policy: dict[str, str] = field(default_factory=dict)
    # HTTP limits (docs/operations.md): bytes of the request target (414 beyond), of the
    # header section and its number of fields (431 beyond); seconds for a request head,
    # for a body (idle between reads and in all; 408) and between keep-alive requests;
    # open connections per API process (0: as many as RLIMIT_NOFILE safely allows).
    http_max_request_line: int = 8190
    http_max_header_bytes: int = 65536
    http_max_headers: int = 100
    http_header_timeout: float = 20.0
    http_body_idle_timeout: float = 30.0
    http_body_timeout: float = 120.0
    http_keep_alive_timeout: float = 30.0
    http_max_connections: int = 0
    # Webhooks (issue 10): seconds for one POST (connect, send, answer), the first retry
    # delay (doubling, up to 30 min, with jitter), how long a notification is retried, and
    # how often an idle publisher looks for due notifications.
    webhook_timeout: float = 10.0
    webhook_retry_initial: float = 30.0
    webhook_retry_max_age: float = 24 * 3600.0
    webhook_poll_interval: float = 0.5

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'postroom.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.http.host}:{self.http.port}"


_ENV_PREFIX = "POSTROOM_"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")  # us-east-1, ap-northeast-2, ...
_HTTP_LIMITS: dict[str, type[int] | type[float]] = {
    "http_max_request_line": int, "http_max_header_bytes": int, "http_max_headers": int,
    "http_header_timeout": float, "http_body_idle_timeout": float, "http_body_timeout": float,
    "http_keep_alive_timeout": float, "http_max_connections": int,
}  # fmt: skip


def _coerce(name: str, value: Any) -> Any:
    if name == "data_dir":
        return Path(value)
    if name == "http" or name == "dns":
        return HostPort.parse(str(value)) if value not in (None, "") else None
    if name == "routes":
        if not isinstance(value, dict):
            raise ConfigError('routes must be a table of domain = "host:port"')
        for target in value.values():
            HostPort.parse(str(target))
        return {str(k).lower(): str(v) for k, v in value.items()}
    if name == "tls_policy":
        if not isinstance(value, dict) or not set(value.values()) <= TLS_POLICIES:
            raise ConfigError('tls_policy must map domains to "require" or "opportunistic"')
        return {str(k).lower(): str(v) for k, v in value.items()}
    if name == "mta_sts" and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ConfigError(f"mta_sts must be true or false, got {value!r}")
        return value.lower() in ("true", "1", "yes", "on")
    if name in {
        "workers", "outbound_port", "reputation_min_volume", "per_domain_concurrency",
        "per_host_concurrency",
        "mta_sts_port", "worker_processes", "api_processes",
    }:  # fmt: skip
        return int(value)
    if name in {
        "lease_seconds", "retry_initial", "retry_max_age", "domain_check_interval",
        "reputation_interval", "smtp_timeout", "webhook_timeout", "webhook_retry_initial",
        "webhook_retry_max_age", "webhook_poll_interval",
    }:  # fmt: skip
        number = float(value)
        if name.startswith("webhook_") and number <= 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")
        return number
    if name in _HTTP_LIMITS:
        number = _HTTP_LIMITS[name](value)
        if number < 0 or (number == 0 and name != "http_max_connections"):
            raise ConfigError(f"{name} must be positive, got {value!r}")
        return number
    if name == "allowed_hosts":
        return _host_names(value)
    if name == "region":
        return check_region(str(value))
    if name == "roles":
        chosen = tuple(r.strip() for r in value.split(",")) if isinstance(value, str) else value
        if not chosen or not set(chosen) <= set(ROLES):
            raise ConfigError(f"roles must be a comma-separated subset of {','.join(ROLES)}")
        return tuple(chosen)
    if name == "delivery" and value not in DELIVERY_MODES:
        raise ConfigError(f"delivery must be one of {', '.join(DELIVERY_MODES)}, got {value!r}")
    if name == "relay" and isinstance(value, str):
        target = HostPort.parse(value)
        return RelaySettings(host=target.host, port=target.port)
    if name == "relay" and isinstance(value, dict):
        known = {f.name for f in fields(RelaySettings)}
        unknown = set(value) - known
        if unknown:
            raise ConfigError(f"unknown relay settings: {', '.join(sorted(unknown))}")
        return RelaySettings(**value)
    return value


def check_region(value: str) -> str:
    """A region's name (the default region, or --region of a CLI command)."""
    if not _REGION.fullmatch(value):
        raise ConfigError(f"region must be a region name such as us-east-1, got {value!r}")
    return value


def _host_names(value: Any) -> tuple[str, ...]:
    """`a.example,b.example` or a TOML list -> lower-case names without a trailing dot."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigError("allowed_hosts must be host names, comma-separated or a list")
    names = tuple(str(item).strip().lower().rstrip(".") for item in items if str(item).strip())
    for name in names:
        if any(c in name for c in " /@") or (":" in name and not name.startswith("[")):
            raise ConfigError(f"allowed_hosts takes host names without a port, got {name!r}")
    return names


def load_settings(
    *, config_file: Path | None = None, environ: dict[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build Settings from a TOML file, POSTROOM_* variables and explicit overrides (CLI flags)."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}
    if config_file is None and env.get(_ENV_PREFIX + "CONFIG"):
        config_file = Path(env[_ENV_PREFIX + "CONFIG"])
    if config_file is not None:
        data = tomllib.loads(config_file.read_text())
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown settings in {config_file}: {', '.join(sorted(unknown))}")
        values.update(data)
    for name in known:
        env_value = env.get(_ENV_PREFIX + name.upper())
        if env_value not in (None, ""):
            values[name] = env_value
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    coerced: dict[str, Any] = {}
    for name, value in values.items():
        try:
            coerced[name] = _coerce(name, value)
        except (TypeError, ValueError) as exc:  # ConfigError is a ValueError too
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"bad value for {name}: {value!r}") from exc
    if "worker_processes" not in coerced:
        coerced["worker_processes"] = default_worker_processes(coerced.get("roles", ROLES))
    return replace(Settings(), **coerced)

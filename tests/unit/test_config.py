"""Settings: defaults < TOML file < POSTROOM_* environment < explicit values; strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from postroom.config import ConfigError, HostPort, RelaySettings, load_settings


def test_layers_override_in_order(tmp_path: Path) -> None:
    config = tmp_path / "postroom.toml"
    config.write_text(
        'delivery = "relay"\nregion = "eu-west-1"\nworkers = 4\n'
        '[relay]\nhost = "smtp.example.net"\nport = 587\nstarttls = "require"\n'
    )
    env = {"POSTROOM_CONFIG": str(config), "POSTROOM_REGION": "ap-northeast-2"}
    settings = load_settings(environ=env, workers=16)
    assert settings.delivery == "relay"
    assert settings.region == "ap-northeast-2"  # environment beats the file
    assert settings.workers == 16  # explicit values (flags) beat the environment
    assert settings.relay == RelaySettings(host="smtp.example.net", port=587, starttls="require")


def test_environment_values_are_typed() -> None:
    env = {"POSTROOM_HTTP": "0.0.0.0:9000", "POSTROOM_RELAY": "mail.example.net:2525",
           "POSTROOM_ROLES": "worker", "POSTROOM_RETRY_MAX_AGE": "600"}  # fmt: skip
    settings = load_settings(environ=env)
    assert settings.http == HostPort("0.0.0.0", 9000)
    assert (settings.relay.host, settings.relay.port) == ("mail.example.net", 2525)
    assert settings.roles == ("worker",)
    assert settings.retry_max_age == 600.0
    assert settings.effective_database_url.endswith("postroom-data/postroom.db")


@pytest.mark.parametrize(
    "env",
    [
        {"POSTROOM_DELIVERY": "carrier-pigeon"},
        {"POSTROOM_HTTP": "localhost:http"},
        {"POSTROOM_ROLES": "api,mx"},
        {"POSTROOM_WORKERS": "many"},
        {"POSTROOM_REGION": "US-EAST-1"},
        {"POSTROOM_REGION": "us-east-1;drop"},
    ],
)
def test_bad_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(environ=env)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "postroom.toml"
    config.write_text('delivery = "capture"\nspeed = "fast"\n')
    with pytest.raises(ConfigError, match="speed"):
        load_settings(config_file=config, environ={})


def test_production_delivers_directly_by_default() -> None:
    assert load_settings(environ={}).delivery == "direct"
    assert load_settings(environ={"POSTROOM_DELIVERY": "capture"}).delivery == "capture"
    assert load_settings(environ={}, delivery=None).delivery == "direct"  # no flag given


def test_delivery_gets_a_process_of_its_own_where_there_are_two_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert load_settings(environ={}).worker_processes == 1
    assert load_settings(environ={}, roles="worker").worker_processes == 0  # nothing to share
    assert load_settings(environ={}, roles="api").worker_processes == 0
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert load_settings(environ={}).worker_processes == 0
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert load_settings(environ={}).worker_processes == 0
    assert load_settings(environ={"POSTROOM_WORKER_PROCESSES": "0"}).worker_processes == 0


def test_allowed_hosts_from_a_list_or_commas(tmp_path: Path) -> None:
    assert load_settings(environ={}).allowed_hosts == ()  # off: any Host
    env = {"POSTROOM_ALLOWED_HOSTS": " Email.Example.COM, mail.example.net.,"}
    assert load_settings(environ=env).allowed_hosts == ("email.example.com", "mail.example.net")
    config = tmp_path / "postroom.toml"
    config.write_text('allowed_hosts = ["ses.example.org", "[::1]"]\n')
    assert load_settings(config_file=config, environ={}).allowed_hosts == (
        "ses.example.org",
        "[::1]",
    )
    for bad in ("ses.example.org:8025", "http://ses.example.org", 42):
        with pytest.raises(ConfigError):
            load_settings(environ={}, allowed_hosts=bad)


def test_one_default_region_for_the_server_and_the_cli() -> None:
    assert load_settings(environ={}).region == "us-east-1"
    assert load_settings(environ={"POSTROOM_REGION": "ap-northeast-2"}).region == "ap-northeast-2"

"""Settings: embedded defaults, file and environment overrides, and one clear error per bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from domainpriv.config import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "domainpriv.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_defaults_are_loopback_and_sqlite() -> None:
    s = load_settings(environ={})
    assert s.database.url == "sqlite:///var/domainpriv.sqlite3"
    assert (s.whois.host, s.whois.port) == ("127.0.0.1", 4343)
    assert (s.rdap.port, s.portal.port) == (8080, 8081)
    assert s.rdap.base_url == "http://127.0.0.1:8080/"
    assert s.registrar.iana_id > 0 and s.privacy_service.country == "US"


def test_file_overrides_only_the_keys_it_names(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[whois]\nport = 43\n[registrar]\nname = "Acme Names"\n'), environ={})
    assert s.whois.port == 43 and s.whois.host == "127.0.0.1"
    assert s.registrar.name == "Acme Names"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[portal]\nport = 9000\n")
    assert load_settings(environ={"DOMAINPRIV_CONFIG": str(path)}).portal.port == 9000


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///a.sqlite3"\n')
    env = {
        "DOMAINPRIV_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1/db",
        "DOMAINPRIV_WHOIS_PORT": "4444",
        "DOMAINPRIV_PRIVACY_SERVICE_STREET": '["1 Road", "Unit 2"]',
        "DOMAINPRIV_TEST_DATABASE_URL": "ignored: a test switch, not a setting",
    }
    s = load_settings(path, environ=env)
    assert s.database.url.startswith("postgresql+psycopg://")
    assert s.whois.port == 4444
    assert s.privacy_service.street == ("1 Road", "Unit 2")


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        ("[whois]\nprot = 43\n", {}, "whois.prot: unknown key"),
        ("[wois]\nport = 43\n", {}, "wois: unknown section"),
        ('[whois]\nport = "forty-three"\n', {}, "whois.port"),
        ("[whois]\nport = 70000\n", {}, "whois.port"),
        ("[registrar]\niana_id = -1\n", {}, "registrar.iana_id"),
        ("whois = 3\n", {}, "whois: must be a table"),
        ("[whois\n", {}, "not valid TOML"),
        ("", {"DOMAINPRIV_WHOIS_PROT": "43"}, "DOMAINPRIV_WHOIS_PROT: no such config key"),
        ("", {"DOMAINPRIV_NOSUCH": "1"}, "DOMAINPRIV_NOSUCH"),
        ("", {"DOMAINPRIV_RDAP_PORT": "http"}, "rdap.port"),
        ("", {"DOMAINPRIV_PRIVACY_SERVICE_STREET": "1 Road"}, "TOML array"),
    ],
)
def test_a_bad_key_gives_one_error_naming_it(tmp_path: Path, text: str, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text), environ=env)
    assert named in str(error.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_mail_consent_and_reset_defaults() -> None:
    s = load_settings(environ={})
    assert s.mail.poll_seconds == 5
    assert s.consent.policy_version == "2026-12"
    assert s.accounts.reset_to == "account"


def test_reset_to_takes_registrant_and_refuses_anything_else() -> None:
    assert load_settings(environ={"DOMAINPRIV_ACCOUNTS_RESET_TO": "registrant"}).accounts.reset_to == "registrant"
    with pytest.raises(ConfigError, match=r"accounts\.reset_to"):
        load_settings(environ={"DOMAINPRIV_ACCOUNTS_RESET_TO": "owner"})
    with pytest.raises(ConfigError, match=r"consent\.policy_version"):
        load_settings(environ={"DOMAINPRIV_CONSENT_POLICY_VERSION": ""})

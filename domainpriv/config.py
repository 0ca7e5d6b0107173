"""Typed settings: embedded defaults, then a config file, then DOMAINPRIV_* environment variables.

One loader so that every entry point (CLI, daemon, tests) sees the same settings and the same errors. A wrong
or unknown key fails loudly with one message naming it and where it came from, because a silently ignored
typo in a production config is worse than a refusal to start.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domainpriv.errors import DomainprivError

DEFAULTS_PATH = Path(__file__).resolve().parent.parent / "config" / "domainpriv.toml"
ENV_PREFIX = "DOMAINPRIV_"
# DOMAINPRIV_* variables that are not settings: the config file itself and the test harness switches.
ENV_NOT_SETTINGS = frozenset({"CONFIG", "TEST_DATABASE_URL", "REQUIRE_SERVICES"})


class ConfigError(DomainprivError):
    """The configuration is unreadable, or a key is unknown or has a wrong value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str
    read_url: str  # "": the public read path reads `url` too
    sqlite_busy_timeout_seconds: float = Field(gt=0)

    @property
    def public_read_url(self) -> str:
        return self.read_url or self.url


class FeedSettings(_Section):
    poll_interval_seconds: float = Field(gt=0, le=60)
    stale_grace_seconds: float = Field(ge=0)
    lag_warning_seconds: float = Field(gt=0)
    retention_hours: float = Field(ge=0)
    prune_interval_seconds: float = Field(gt=0)


class RegistrarSettings(_Section):
    name: str
    iana_id: int = Field(gt=0)
    url: str
    whois_server: str
    rdap_base_url: str = Field(pattern=r"^https?://.+/$")
    abuse_email: str
    abuse_phone: str
    terms_url: str


class PrivacyServiceSettings(_Section):
    name: str
    org: str
    street: tuple[str, ...]
    city: str
    state: str
    postal_code: str
    country: str = Field(min_length=2, max_length=2)
    phone: str
    relay_domain: str


class ListenSettings(_Section):
    host: str
    port: int = Field(ge=0, le=65535)


class PortalSettings(ListenSettings):
    base_url: str = Field(pattern=r"^https?://.+/$")  # where links in notices point; https: cookies are Secure

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


class PublicationSettings(_Section):
    email_mode: Literal["relay", "web_form"]
    web_form_url: str
    relay_secret: str = Field(min_length=16)
    cache_entries: int = Field(ge=0)
    terms_of_use: str


class WhoisSettings(ListenSettings):
    max_query_bytes: int = Field(ge=64, le=65536)
    read_timeout_seconds: float = Field(gt=0)
    max_connections: int = Field(ge=1)
    rate_per_second: float = Field(gt=0)
    rate_burst: int = Field(ge=1)
    shutdown_grace_seconds: float = Field(ge=0)


class RdapSettings(ListenSettings):
    base_url: str = Field(pattern=r"^https?://.+/$")
    terms_url: str
    help_url: str
    rate_per_second: float = Field(gt=0)
    rate_burst: int = Field(ge=1)
    max_connections: int = Field(ge=1)
    shutdown_grace_seconds: float = Field(ge=0)


class EscrowSettings(_Section):
    output_dir: Path
    gnupg_home: Path
    signing_key: str
    signing_passphrase_file: str  # "": the key has no passphrase
    agent_public_key: str  # "": escrow not set up
    profile: Literal["icann-2024", "icann-2007"]
    max_rows_per_file: int = Field(ge=2)  # the header row and at least one data row
    max_bytes_per_file: int = Field(ge=4096)
    full_cron: str = Field(min_length=1)
    incremental_cron: str  # "": no incrementals
    sftp_url: str  # "": deposits stay in output_dir
    sftp_identity_file: str
    sftp_known_hosts: str
    upload_attempts: int = Field(ge=1, le=100)
    upload_backoff_seconds: float = Field(ge=0)
    upload_timeout_seconds: float = Field(gt=0)

    @property
    def configured(self) -> bool:
        return bool(self.agent_public_key)


class MailSettings(_Section):
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(ge=1, le=65535)
    from_address: str = Field(min_length=3)
    starttls: bool
    username: str  # "": no SMTP authentication
    password: str
    timeout_seconds: float = Field(gt=0)
    max_attempts: int = Field(ge=1, le=100)
    backoff_seconds: float = Field(gt=0)
    poll_seconds: float = Field(default=5, gt=0)  # how often the daemon delivers the outbox


class ConsentSettings(_Section):
    policy_version: str = Field(min_length=1, max_length=32)  # recorded with every grant and withdrawal


class AccountsSettings(_Section):
    reset_to: Literal["account", "registrant"]  # where a password-reset link is mailed


class DnsSettings(_Section):
    server: str  # "": no DNS server configured (deactivation sets clientHold only)
    port: int = Field(ge=1, le=65535)
    tsig_key_name: str
    tsig_algorithm: Literal["hmac-sha256", "hmac-sha384", "hmac-sha512"]
    tsig_secret: str  # base64; prefer DOMAINPRIV_DNS_TSIG_SECRET to writing it here
    zones: tuple[str, ...]  # the zones the server is authoritative for (a delegation is in the longest match)
    timeout_seconds: float = Field(gt=0)

    @property
    def configured(self) -> bool:
        return bool(self.server)


class CasesSettings(_Section):
    holiday_country: str = Field(min_length=2, max_length=2)  # the business-day calendar (holidays package)
    holiday_subdivision: str  # "": the country's national holidays only
    closed_days: tuple[str, ...]  # extra closing days, ISO dates (YYYY-MM-DD)
    assurance_business_days: int = Field(ge=1)  # the customer's deadline to answer a complaint
    reminder_business_days: int = Field(ge=0)  # a reminder this many business days before a deadline
    acknowledge_business_days: int = Field(ge=1)  # disclosure requests: acknowledgement (RDP / EPDP Rec 18)
    decision_days: int = Field(ge=1)  # disclosure requests: the decision (calendar days)
    urgent_hours: int = Field(ge=1)  # urgent disclosure requests
    abuse_review_hours: int = Field(ge=1)  # law-enforcement abuse reports (RAA 3.18.2)
    deactivation: Literal["hold", "hold-and-dns", "unprivacy", "hold-and-unprivacy"]
    evidence_dir: Path  # evidence files, stored by their SHA-256
    max_evidence_bytes: int = Field(ge=1024)


class SchedulerSettings(_Section):
    enabled: bool
    leader_poll_seconds: float = Field(gt=0, le=60)
    sweep_interval_seconds: float = Field(gt=0)


class Settings(_Section):
    database: DatabaseSettings
    feed: FeedSettings
    registrar: RegistrarSettings
    privacy_service: PrivacyServiceSettings
    publication: PublicationSettings
    whois: WhoisSettings
    rdap: RdapSettings
    portal: PortalSettings
    escrow: EscrowSettings
    mail: MailSettings
    consent: ConsentSettings
    accounts: AccountsSettings
    dns: DnsSettings
    cases: CasesSettings
    scheduler: SchedulerSettings


def load_settings(config_file: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings; `config_file` defaults to $DOMAINPRIV_CONFIG. Raises ConfigError."""
    env = os.environ if environ is None else environ
    merged = _read_toml(DEFAULTS_PATH)
    sources = ["embedded defaults"]
    path = config_file if config_file is not None else env.get(ENV_PREFIX + "CONFIG")
    if path:
        _merge(merged, _read_toml(Path(path)), origin=str(path))
        sources.append(str(path))
    overrides = _env_overrides(env, merged)
    if overrides:
        _merge(merged, overrides, origin="environment")
        sources.append("environment")
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"config key {key}: {first['msg'].lower()} (sources: {', '.join(sources)})") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], extra: Mapping[str, Any], *, origin: str) -> None:
    """Overlay `extra` on `base` section by section; unknown sections and keys are errors."""
    for section, values in extra.items():
        if section not in base:
            raise ConfigError(f"config key {section}: unknown section (in {origin})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"config key {section}: must be a table (in {origin})")
        for key, value in values.items():
            if key not in base[section]:
                raise ConfigError(f"config key {section}.{key}: unknown key (in {origin})")
            base[section][key] = value


def _env_overrides(env: Mapping[str, str], known: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Map DOMAINPRIV_<SECTION>_<KEY> variables onto sections; list values are given as TOML arrays."""
    out: dict[str, dict[str, Any]] = {}
    sections = sorted(known, key=len, reverse=True)  # longest first: privacy_service before a "privacy"
    for var, raw in env.items():
        if not var.startswith(ENV_PREFIX) or var[len(ENV_PREFIX) :] in ENV_NOT_SETTINGS:
            continue
        name = var[len(ENV_PREFIX) :].lower()
        section = next((s for s in sections if name.startswith(s + "_")), None)
        key = name[len(section) + 1 :] if section else ""
        if section is None or key not in known[section]:
            raise ConfigError(f"environment variable {var}: no such config key")
        out.setdefault(section, {})[key] = _env_value(var, raw, known[section][key])
    return out


def _env_value(var: str, raw: str, default: object) -> object:
    if isinstance(default, list):
        try:
            return tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(f'environment variable {var}: expected a TOML array like ["a", "b"]') from None
    return raw

"""Hand-made registration records and their public views, for renderer tests that need no database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from domainpriv.config import load_settings
from domainpriv.privacy import PublicationPolicy, PublicRecord, public_view
from domainpriv.rdds import publication_policy
from domainpriv.registration.records import ContactRecord, DomainRecord, NameserverRecord
from domainpriv.registration.validation import validate_contact
from domainpriv.vocabulary import ConsentPurpose, PrivacyMode

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

# Values that must never appear in public output unless the mode publishes them.
REGISTRANT = {
    "name": "Jane Q. Registrant",
    "org": "Registrant Widgets GmbH",
    "street": ["Geheimstraße 7", "Hinterhaus"],
    "city": "Verborgenstadt",
    "state": "Bayern",
    "postal_code": "80999",
    "country": "DE",
    "phone": "+49.8912345678",
    "phone_ext": "42",
    "fax": "+49.8912345679",
    "fax_ext": None,
    "email": "jane.private@mailbox.example",
}
TECH = {
    "name": "Theo Techie", "org": None, "street": ["Kabelweg 3"], "city": "Netzdorf", "state": None,
    "postal_code": "12345", "country": "AT", "phone": "+43.15551234", "phone_ext": None, "fax": None,
    "fax_ext": None, "email": "theo.secret@techmail.example",
}  # fmt: skip


def policy(email_mode: str = "relay") -> PublicationPolicy:
    return replace(publication_policy(load_settings(environ={})), email_mode=email_mode)


def domain_record(
    mode: PrivacyMode = PrivacyMode.REDACTED,
    *,
    name: str = "example-domain.com",
    consents: frozenset[ConsentPurpose] = frozenset(),
    with_tech: bool = True,
    registrant: dict[str, object] | None = None,
) -> DomainRecord:
    created = datetime(2015, 3, 4, 5, 6, 7, tzinfo=UTC)
    reg = ContactRecord("CREG01", "cust-1", validate_contact(registrant or REGISTRANT), None, created, created)
    tech = ContactRecord("CTECH01", "cust-1", validate_contact(TECH), None, created, created)
    if mode is PrivacyMode.PUBLIC:
        consents = consents | {ConsentPurpose.PUBLISH_CONTACT_DATA}
    return DomainRecord(
        name=name, account="cust-1", reseller=None, reseller_name=None, registry_domain_id="2336799_DOMAIN_COM-VRSN",
        created_at=created, expires_at=datetime(2027, 3, 4, 5, 6, 7, tzinfo=UTC),
        updated_at=datetime(2026, 8, 14, 7, 1, 34, tzinfo=UTC), statuses=("clientTransferProhibited",),
        ds_records=(), privacy_mode=mode, relay_alias=None,
        contacts={"registrant": reg, "admin": reg, "tech": tech if with_tech else None, "billing": reg},
        nameservers=(NameserverRecord("a.iana-servers.net", ()), NameserverRecord("b.iana-servers.net", ())),
        consents=consents,
    )  # fmt: skip


def public_record(
    mode: PrivacyMode = PrivacyMode.REDACTED, email_mode: str = "relay", **kwargs: object
) -> PublicRecord:
    return public_view(domain_record(mode, **kwargs), policy(email_mode), NOW)  # type: ignore[arg-type]


def golden_cases(idn_name: str) -> dict[str, Callable[[], PublicRecord]]:
    """The records both renderers' golden files are made from: every privacy mode and e-mail mode, no tech
    contact, and an IDN (each renderer's golden files were written with their own IDN name)."""
    return {
        "proxy": lambda: public_record(PrivacyMode.PROXY),
        "redacted_relay": lambda: public_record(PrivacyMode.REDACTED, "relay"),
        "redacted_web_form": lambda: public_record(PrivacyMode.REDACTED, "web_form"),
        "public": lambda: public_record(PrivacyMode.PUBLIC),
        "no_tech": lambda: public_record(PrivacyMode.REDACTED, with_tech=False),
        "idn": lambda: public_record(PrivacyMode.REDACTED, name=idn_name),
    }

"""The publication policy: `public_view(record, policy, now) -> PublicRecord`, pure and the only place that
decides what of a domain's registration data the public may see (DESIGN invariant 2).

Rules (Registration Data Policy as summarised in shared/reference/rdds.md §1.6-1.7, §2.10):

* Admin and billing contacts are never published; the registrant always is; the technical contact, when there
  is one, with Name, Phone and Email only.
* `proxy`: the privacy service's full, non-personal identity replaces the customer's, with a per-domain relay
  address; only the internal contact IDs are redacted.
* `redacted`: Name, Street, City, Postal Code, Phone and Fax (with extensions) are redacted; State/Province and
  Country stay published; the e-mail is replaced by a relay address or a web-form URL; the Organization is
  published only with the customer's recorded consent (otherwise marked redacted, present or not).
* `public`: everything as entered, but only while the account's consent to publish is in force; without it the
  domain is shown as `redacted` (a defensive fallback: withdrawing consent also switches the mode).
* The registry's contact IDs (our internal handles) are never published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domainpriv.privacy.record import PublicContact, PublicRecord, RedactableField, RegistrarIdentity, Role
from domainpriv.privacy.relay import relay_address
from domainpriv.registration.records import ContactRecord, DomainRecord
from domainpriv.registration.validation import u_label
from domainpriv.vocabulary import ConsentPurpose, PrivacyMode

_ALWAYS: frozenset[RedactableField] = frozenset({"id"})
_REDACTED_REGISTRANT: frozenset[RedactableField] = frozenset(
    {"id", "name", "street", "city", "postal_code", "phone", "phone_ext", "fax", "fax_ext", "email"}
)
_REDACTED_TECH: frozenset[RedactableField] = frozenset({"id", "name", "phone", "phone_ext", "email"})


@dataclass(frozen=True, slots=True)
class ProxyIdentity:
    """The privacy service's published identity (config `privacy_service`)."""

    name: str
    org: str
    street: tuple[str, ...]
    city: str
    state: str
    postal_code: str
    country: str
    phone: str
    relay_domain: str


@dataclass(frozen=True, slots=True)
class PublicationPolicy:
    registrar: RegistrarIdentity
    proxy: ProxyIdentity
    email_mode: str  # "relay" or "web_form"
    web_form_url: str  # with {domain} and {role}
    relay_secret: str


def public_view(record: DomainRecord, policy: PublicationPolicy, now: datetime) -> PublicRecord:
    """Compute what may be published of `record` at `now`."""
    mode = effective_mode(record)
    registrant = record.contacts["registrant"]
    assert registrant is not None  # every domain has one (schema: NOT NULL)
    tech = record.contacts["tech"]
    return PublicRecord(
        name=record.name,
        unicode_name=u_label(record.name),
        registry_domain_id=record.registry_domain_id,
        registrar=policy.registrar,
        reseller=record.reseller_name,
        created_at=record.created_at,
        expires_at=record.expires_at,
        updated_at=record.updated_at,
        statuses=record.statuses,
        ds_records=record.ds_records,
        nameservers=tuple(ns.host for ns in record.nameservers),
        registrant=_contact("registrant", registrant, record, mode, policy),
        tech=None if tech is None else _contact("tech", tech, record, mode, policy),
        database_updated_at=now,
    )


def effective_mode(record: DomainRecord) -> PrivacyMode:
    if record.privacy_mode is PrivacyMode.PUBLIC and ConsentPurpose.PUBLISH_CONTACT_DATA not in record.consents:
        return PrivacyMode.REDACTED
    return record.privacy_mode


def _contact(
    role: Role, contact: ContactRecord, record: DomainRecord, mode: PrivacyMode, policy: PublicationPolicy
) -> PublicContact:
    if mode is PrivacyMode.PROXY:
        return _proxy(role, record, policy)
    data = contact.data
    if mode is PrivacyMode.PUBLIC:
        if role == "tech":  # RDP: only Name, Phone and Email exist for the technical contact
            return _published(role, name=data.name, phone=data.phone, phone_ext=data.phone_ext, email=data.email)
        return _published(
            role, name=data.name, org=data.org, street=data.street, city=data.city, state=data.state,
            postal_code=data.postal_code, country=data.country, phone=data.phone, phone_ext=data.phone_ext,
            fax=data.fax, fax_ext=data.fax_ext, email=data.email,
        )  # fmt: skip
    email, contact_uri = _replacement_email(role, record, policy)
    if role == "tech":
        return _published(role, email=email, contact_uri=contact_uri, redacted=_REDACTED_TECH)
    # An unpublished Organization is marked redacted whether or not there is one: the answer must not reveal
    # whether the registrant is an organisation, and ICANN's checker wants the entry either way (-63300).
    show_org = ConsentPurpose.PUBLISH_ORGANIZATION in record.consents and data.org is not None
    hide_org: frozenset[RedactableField] = frozenset() if show_org else frozenset({"org"})
    return _published(
        role, org=data.org if show_org else None, state=data.state, country=data.country, email=email,
        contact_uri=contact_uri, redacted=_REDACTED_REGISTRANT | hide_org,
    )  # fmt: skip


def _proxy(role: Role, record: DomainRecord, policy: PublicationPolicy) -> PublicContact:
    p = policy.proxy
    email = relay_address(policy.relay_secret, record.name, role, p.relay_domain, record.relay_alias)
    if role == "tech":
        return _published(role, name=p.name, phone=p.phone, email=email, proxy=True)
    return _published(
        role, name=p.name, org=p.org, street=p.street, city=p.city, state=p.state,
        postal_code=p.postal_code, country=p.country, phone=p.phone, email=email, proxy=True,
    )  # fmt: skip


def _published(
    role: Role,
    *,
    name: str | None = None,
    org: str | None = None,
    street: tuple[str, ...] = (),
    city: str | None = None,
    state: str | None = None,
    postal_code: str | None = None,
    country: str | None = None,
    phone: str | None = None,
    phone_ext: str | None = None,
    fax: str | None = None,
    fax_ext: str | None = None,
    email: str | None = None,
    contact_uri: str | None = None,
    redacted: frozenset[RedactableField] = _ALWAYS,
    proxy: bool = False,
) -> PublicContact:
    """A published contact with only the given fields: everything else absent, the contact IDs redacted. (One
    constructor call: it runs on every cache miss of the public servers.)"""
    return PublicContact(role, name, org, street, city, state, postal_code, country, phone, phone_ext, fax, fax_ext,
                         email, contact_uri, redacted, proxy)  # fmt: skip


def _replacement_email(role: Role, record: DomainRecord, policy: PublicationPolicy) -> tuple[str | None, str | None]:
    if policy.email_mode == "web_form":
        return None, policy.web_form_url.format(domain=record.name, role=role)
    address = relay_address(policy.relay_secret, record.name, role, policy.proxy.relay_domain, record.relay_alias)
    return address, None

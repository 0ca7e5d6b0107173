"""DESIGN invariant 3, the no-leak property: a hidden contact value appears in no public output byte.

Every generated value starts with a marker unique to its field ("qz" + role + field number + a drawn number +
"x"), so "appears" can be checked on the bytes of each output (WHOIS text, RDAP JSON) without false alarms from
common words, while the rest of the value is hostile: any script, markup, SQL, quotes, very long text.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from domainpriv.privacy import public_view
from domainpriv.rdds import rdap_json, whois_text
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.records import ContactRecord
from domainpriv.registration.validation import validate_contact
from domainpriv.vocabulary import ConsentPurpose, PrivacyMode
from support.hostile import assert_absent, hostile_contact
from support.public_records import NOW, domain_record, policy


def outputs(mode: PrivacyMode, email_mode: str, registrant: dict[str, Any], tech: dict[str, Any]) -> list[bytes]:
    record = domain_record(mode)
    try:
        reg_data, tech_data = validate_contact(registrant), validate_contact(tech)
    except ValidationError:
        from hypothesis import reject

        reject()
    contacts = dict(record.contacts)
    contacts["registrant"] = replace(contacts["registrant"], data=reg_data)  # type: ignore[arg-type]
    contacts["tech"] = ContactRecord("CTECH02", "cust-1", tech_data, None, NOW, NOW)
    public = public_view(replace(record, contacts=contacts), policy(email_mode), NOW)
    url = f"https://rdap.registrar.example/domain/{public.name}"
    rdap = rdap_json.render_domain(
        public, request_url=url, base_url="https://rdap.registrar.example/", terms_url="https://t.example/"
    )
    return [whois_text.render_domain(public, "Terms of use.").encode(), orjson.dumps(rdap)]


@settings(max_examples=150, deadline=None)
@given(registrant=hostile_contact("rg"), tech=hostile_contact("tc"), email_mode=st.sampled_from(["relay", "web_form"]))
def test_redacted_mode_publishes_only_state_and_country(
    registrant: tuple[dict[str, Any], dict[str, str]], tech: tuple[dict[str, Any], dict[str, str]], email_mode: str
) -> None:
    blobs = outputs(PrivacyMode.REDACTED, email_mode, registrant[0], tech[0])
    assert_absent(registrant[1], blobs, published={"state"})
    assert_absent(tech[1], blobs, published=set())


@settings(max_examples=150, deadline=None)
@given(registrant=hostile_contact("rg"), tech=hostile_contact("tc"))
def test_proxy_mode_publishes_nothing_of_the_customer(
    registrant: tuple[dict[str, Any], dict[str, str]], tech: tuple[dict[str, Any], dict[str, str]]
) -> None:
    blobs = outputs(PrivacyMode.PROXY, "relay", registrant[0], tech[0])
    assert_absent(registrant[1], blobs, published=set())
    assert_absent(tech[1], blobs, published=set())


@settings(max_examples=50, deadline=None)
@given(registrant=hostile_contact("rg"), tech=hostile_contact("tc"))
def test_public_mode_publishes_the_registrant_but_never_admin_or_billing(
    registrant: tuple[dict[str, Any], dict[str, str]], tech: tuple[dict[str, Any], dict[str, str]]
) -> None:
    """With consent the registrant is public; the admin and billing contacts (here: `tech` data placed in those
    roles) never are, and tech shows only name, phone and e-mail."""
    record = domain_record(PrivacyMode.PUBLIC, consents=frozenset({ConsentPurpose.PUBLISH_CONTACT_DATA}))
    try:
        other = ContactRecord("COTHER1", "cust-1", validate_contact(tech[0]), None, NOW, NOW)
        reg = replace(record.contacts["registrant"], data=validate_contact(registrant[0]))  # type: ignore[arg-type]
    except ValidationError:
        from hypothesis import reject

        reject()
    record = replace(record, contacts={"registrant": reg, "admin": other, "tech": None, "billing": other})
    public = public_view(record, policy(), NOW)
    url = f"https://rdap.registrar.example/domain/{public.name}"
    blobs = [
        whois_text.render_domain(public, "Terms of use.").encode(),
        orjson.dumps(rdap_json.render_domain(public, request_url=url, base_url=url, terms_url=url)),
    ]
    assert_absent(tech[1], blobs, published=set())
    assert registrant[1]["name"].encode() in blobs[0]

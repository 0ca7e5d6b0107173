"""The column tables: header and mapping from one source, the underlying customer in every privacy mode."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainpriv.errors import DomainprivError
from domainpriv.escrow.csvfiles import encode_row
from domainpriv.escrow.profiles import (
    PROFILES,
    Column,
    DepositContext,
    Layout,
    LayoutInvalid,
    NaiveTimestamp,
    Profile,
    UnknownProfile,
    get_profile,
)
from domainpriv.escrow.record import EscrowContact, EscrowDeletion, EscrowDomain, EscrowNameserver
from domainpriv.vocabulary import PrivacyMode

CTX = DepositContext(iana_id=9999)
P2024 = get_profile("icann-2024")
P2007 = get_profile("icann-2007")

# escrow.md §4, the Header Mapping File as used with DENIC: (spec ref, field name, abbreviation)
SECTION_4 = [
    ("8.1.1", "domain", "domainname"),
    ("8.1.2", "expiration-date", "expire"),
    ("8.1.3", "iana", "ianaid"),
    ("8.1.4", "rt-name", "rt-name"),
    ("8.1.5", "rt-street", "rt-street"),
    ("8.1.6", "rt-city", "rt-city"),
    ("8.1.7", "rt-state", "rt-state"),
    ("8.1.8", "rt-zip", "rt-zip"),
    ("8.1.9", "rt-country", "rt-country"),
    ("8.1.10", "rt-phone", "rt-phone"),
    ("8.1.11", "rt-email", "rt-mail"),
    ("RAA 3.4.1.3", "bc-name", "bc-name"),
]
RT = {"name": "rt-name", "street": "rt-street", "city": "rt-city", "state": "rt-state", "postal_code": "rt-zip",
      "country": "rt-country", "phone": "rt-phone", "email": "rt-mail", "org": "rt-org", "phone_ext": "rt-phone-ext",
      "fax": "rt-fax", "fax_ext": "rt-fax-ext", "handle": "rt-handle"}  # fmt: skip
PP = {"name": "pp-name", "street": "pp-street", "city": "pp-city", "state": "pp-state", "postal_code": "pp-zip",
      "country": "pp-country", "phone": "pp-phone", "email": "pp-mail"}  # fmt: skip


def contact(handle: str = "C-1", **changes: object) -> EscrowContact:
    base = EscrowContact(
        handle=handle,
        name="Ada Customer",
        org="Analytical Engines Ltd",
        street=("1 Main Street", "Flat 2"),
        city="London",
        state="Greater London",
        postal_code="N1 9GU",
        country="GB",
        phone="+44.2071234567",
        phone_ext="12",
        fax="+44.2071234568",
        fax_ext=None,
        email="ada@example.net",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def domain(mode: PrivacyMode = PrivacyMode.REDACTED, **changes: object) -> EscrowDomain:
    base = EscrowDomain(
        name="example.com",
        registry_domain_id="D123-COM",
        created_at=datetime(2020, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
        expires_at=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC),
        updated_at=datetime(2026, 10, 1, 0, 0, tzinfo=UTC),
        statuses=("clientTransferProhibited", "ok"),
        privacy_mode=mode,
        account="ACC-1",
        reseller=None,
        registrant=contact("C-RT"),
        admin=contact("C-AC", name="Admin Person"),
        tech=contact("C-TC", name="Tech Person"),
        billing=contact("C-BC", name="Billing Person"),
        nameservers=(
            EscrowNameserver("ns1.example.com", ("192.0.2.1", "2001:db8::1")),
            EscrowNameserver("ns2.example.net", ()),
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def as_dict(profile: Profile, d: EscrowDomain) -> dict[str, str]:
    return dict(zip(profile.domains.header(), profile.domains.row(d, CTX), strict=True))


def expected_value(c: EscrowContact, attribute: str) -> str:
    value = getattr(c, attribute)
    if attribute == "street":
        return "\n".join(value)
    return "" if value is None else str(value)


def parsed_mapping(profile: Profile) -> list[list[str]]:
    text = profile.mapping_csv()
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # CRLF record ends, no bare LF
    return list(csv.reader(io.StringIO(text, newline=""), strict=True))


# --- header and mapping ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_header_rows_and_mapping_file_come_from_one_table(name: str) -> None:
    profile = PROFILES[name]
    rows = parsed_mapping(profile)
    assert rows[0] == ["ICANN RDE Spec", "Field Name", "Abbreviation"]
    abbreviations = [r[2] for r in rows[1:]]
    assert len(abbreviations) == len(set(abbreviations))
    in_file_order = list(dict.fromkeys(a for layout in profile.layouts() for a in layout.header()))
    assert abbreviations == in_file_order
    assert abbreviations[: len(profile.domains.header())] == profile.domains.header()
    by_abbreviation = {r[2]: (r[0], r[1]) for r in rows[1:]}
    for layout in profile.layouts():
        header = layout.header()
        assert len(header) == len(set(header))
        for column in layout.columns:
            assert by_abbreviation[column.abbreviation] == (column.spec_ref, column.field_name)


def test_icann_2024_starts_with_the_section_4_table_and_says_rt_mail_in_both() -> None:
    rows = [tuple(r) for r in parsed_mapping(P2024)[1:]]
    assert rows[: len(SECTION_4)] == SECTION_4
    assert P2024.domains.header()[: len(SECTION_4)] == [abbr for _, _, abbr in SECTION_4]
    assert "rt-email" not in P2024.domains.header()


def test_the_mapping_lists_the_deletion_columns_once() -> None:
    for profile in (P2024, P2007):
        assert profile.deletions.header() == ["domainname", "deleted"]
        assert [r[2] for r in parsed_mapping(profile)].count("domainname") == 1
    assert P2024.contacts is None


def test_icann_2007_has_a_domain_file_and_a_handle_file() -> None:
    assert P2007.domains.header() == ["domain", "expiration_date", "nameservers", "rt-handle", "tc-handle",
                                      "ac-handle", "bc-handle", "prt-handle", "privacy"]  # fmt: skip
    assert P2007.contacts is not None
    assert P2007.contacts.header() == ["handle", "name", "organization", "street", "city", "state", "zip", "country",
                                       "email", "phone", "phone-ext", "fax", "fax-ext"]  # fmt: skip
    refs = {c.spec_ref for c in P2007.contacts.columns}
    assert refs == {"2007 4.1.9"}


def test_file_types_follow_the_layout_and_the_deposit_kind() -> None:
    assert P2007.domains.file_type("full") == "full"
    assert P2007.domains.file_type("incremental") == "inc"
    assert P2007.contacts is not None and P2007.contacts.file_type("incremental") == "hdl"
    assert P2024.deletions.file_type("incremental") == "del"


def test_a_layout_refuses_a_repeated_abbreviation() -> None:
    col: Column[EscrowDeletion] = Column("x", "a", "same", lambda x, _c: x.name)
    with pytest.raises(LayoutInvalid, match="same"):
        Layout("deletions", (col, replace(col, field_name="b")))


def test_a_profile_refuses_one_abbreviation_for_two_fields() -> None:
    other: Layout[EscrowDeletion] = Layout(
        "deletions", (Column("8.1.1", "not-the-domain", "domainname", lambda x, _c: x.name),)
    )
    with pytest.raises(LayoutInvalid, match="domainname"):
        Profile("broken", P2024.domains, None, other)


def test_get_profile_names_the_config_key_and_the_known_profiles() -> None:
    assert get_profile("icann-2024") is PROFILES["icann-2024"]
    with pytest.raises(UnknownProfile) as caught:
        get_profile("icann-2031")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, DomainprivError)
    message = str(caught.value)
    assert "escrow.profile" in message and "icann-2007" in message and "icann-2024" in message


# --- values ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(PrivacyMode))
def test_registrant_columns_hold_the_underlying_customer_in_every_privacy_mode(mode: PrivacyMode) -> None:
    d = domain(mode)
    row = as_dict(P2024, d)
    for attribute, column in RT.items():
        assert row[column] == expected_value(d.registrant, attribute), column
    assert row["rt-street"] == "1 Main Street\nFlat 2"
    assert row["privacy"] == mode.value
    assert as_dict(P2007, d)["rt-handle"] == "C-RT"


def test_proxy_domains_carry_the_customer_in_the_pp_columns() -> None:
    d = domain(PrivacyMode.PROXY)
    row = as_dict(P2024, d)
    for attribute, column in PP.items():
        assert row[column] == expected_value(d.registrant, attribute), column
    assert row["pp-name"] == "Ada Customer" and row["pp-mail"] == "ada@example.net"
    assert as_dict(P2007, d)["prt-handle"] == "C-RT"


@pytest.mark.parametrize("mode", [PrivacyMode.REDACTED, PrivacyMode.PUBLIC])
def test_other_modes_leave_the_pp_columns_empty(mode: PrivacyMode) -> None:
    row = as_dict(P2024, domain(mode))
    assert {row[c] for c in PP.values()} == {""}
    assert as_dict(P2007, domain(mode))["prt-handle"] == ""


def test_domain_level_values() -> None:
    row = as_dict(P2024, domain())
    assert row["domainname"] == "example.com"
    assert row["expire"] == "2027-01-02T03:04:05Z"
    assert row["created"] == "2020-01-02T03:04:05Z"  # microseconds dropped
    assert row["updated"] == "2026-10-01T00:00:00Z"
    assert row["ianaid"] == "9999"
    assert row["ns"] == "ns1.example.com ns2.example.net"
    assert row["ns-glue"] == "ns1.example.com=192.0.2.1,2001:db8::1"
    assert row["registry-domain-id"] == "D123-COM"
    assert row["status"] == "clientTransferProhibited ok"
    assert row["bc-name"] == "Billing Person" and row["bc-handle"] == "C-BC"
    assert row["ac-name"] == "Admin Person" and row["tc-name"] == "Tech Person"
    assert row["rt-fax-ext"] == ""  # absent is ""
    row_2007 = as_dict(P2007, domain())
    assert row_2007["nameservers"] == "ns1.example.com ns2.example.net"
    assert row_2007["expiration_date"] == "2027-01-02T03:04:05Z"


def test_timestamps_are_converted_to_utc() -> None:
    later = datetime(2027, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert as_dict(P2024, domain(expires_at=later))["expire"] == "2027-01-02T03:04:05Z"
    early = datetime(999, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert as_dict(P2024, domain(expires_at=early))["expire"] == "0999-03-04T05:06:07Z"


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(NaiveTimestamp, match="expire"):
        P2024.domains.row(domain(expires_at=datetime(2027, 1, 2)), CTX)


def test_an_idn_keeps_its_a_label() -> None:
    row = as_dict(P2024, domain(name="xn--bcher-kva.example"))
    assert row["domainname"] == "xn--bcher-kva.example"
    assert as_dict(P2007, domain(name="xn--bcher-kva.example"))["domain"] == "xn--bcher-kva.example"


def test_non_ascii_contact_data_is_kept_as_stored() -> None:
    registrant = contact("C-RT", name="Jürgen Müßig", street=("Königstraße 1", "東京都港区"), city="Zürich")
    row = as_dict(P2024, domain(PrivacyMode.PROXY, registrant=registrant))
    assert row["rt-name"] == "Jürgen Müßig"
    assert row["rt-street"] == "Königstraße 1\n東京都港区"
    assert row["rt-city"] == row["pp-city"] == "Zürich"


@pytest.mark.parametrize(("role", "prefix"), [("admin", "ac"), ("tech", "tc"), ("billing", "bc")])
def test_a_missing_role_leaves_all_its_columns_empty(role: str, prefix: str) -> None:
    missing: dict[str, Any] = {role: None}
    row = as_dict(P2024, replace(domain(), **missing))
    columns = [c for c in P2024.domains.header() if c.startswith(f"{prefix}-")]
    assert len(columns) == 13  # the full contact set and the handle
    assert {row[c] for c in columns} == {""}
    others = [c for c in P2024.domains.header() if c.startswith(("ac-", "tc-", "bc-")) and c not in columns]
    assert all(row[c] for c in others if not c.endswith("fax-ext"))
    assert as_dict(P2007, replace(domain(), **missing))[f"{prefix}-handle"] == ""


def test_the_handle_file_row_is_the_stored_contact() -> None:
    assert P2007.contacts is not None
    c = contact("C-9", org=None, state=None, street=("a", "b", "c"))
    row = dict(zip(P2007.contacts.header(), P2007.contacts.row(c, CTX), strict=True))
    assert row == {"handle": "C-9", "name": "Ada Customer", "organization": "", "street": "a\nb\nc",
                   "city": "London", "state": "", "zip": "N1 9GU", "country": "GB", "email": "ada@example.net",
                   "phone": "+44.2071234567", "phone-ext": "12", "fax": "+44.2071234568", "fax-ext": ""}  # fmt: skip


def test_a_deletion_row() -> None:
    gone = EscrowDeletion("gone.example", datetime(2026, 11, 5, 23, 59, 59, 999999, tzinfo=UTC))
    assert P2024.deletions.row(gone, CTX) == ["gone.example", "2026-11-05T23:59:59Z"]


# --- generated domains -----------------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(',"\r\n ;'), max_size=24)
_OPTIONAL = st.none() | _TEXT
_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2),  # naive bounds: the zone comes from `timezones`
    max_value=datetime(9998, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]),
)
_CONTACTS = st.builds(
    EscrowContact,
    handle=_TEXT,
    name=_TEXT,
    org=_OPTIONAL,
    street=st.lists(_TEXT, max_size=3).map(tuple),
    city=_TEXT,
    state=_OPTIONAL,
    postal_code=_OPTIONAL,
    country=_TEXT,
    phone=_OPTIONAL,
    phone_ext=_OPTIONAL,
    fax=_OPTIONAL,
    fax_ext=_OPTIONAL,
    email=_TEXT,
)
_DOMAINS = st.builds(
    EscrowDomain,
    name=_TEXT,
    registry_domain_id=_TEXT,
    created_at=_TIMES,
    expires_at=_TIMES,
    updated_at=_TIMES,
    statuses=st.lists(_TEXT, max_size=3).map(tuple),
    privacy_mode=st.sampled_from(PrivacyMode),
    account=_TEXT,
    reseller=_OPTIONAL,
    registrant=_CONTACTS,
    admin=st.none() | _CONTACTS,
    tech=st.none() | _CONTACTS,
    billing=st.none() | _CONTACTS,
    nameservers=st.lists(st.builds(EscrowNameserver, _TEXT, st.lists(_TEXT, max_size=2).map(tuple)), max_size=4).map(
        tuple
    ),
)


@settings(max_examples=150, deadline=None)
@given(d=_DOMAINS, iana_id=st.integers(min_value=1, max_value=10**9))
def test_any_domain_gives_a_full_width_row_that_round_trips_through_csv(d: EscrowDomain, iana_id: int) -> None:
    ctx = DepositContext(iana_id)
    for profile in (P2024, P2007):
        header = profile.domains.header()
        row = profile.domains.row(d, ctx)
        assert len(row) == len(header)
        assert all(isinstance(v, str) for v in row)
        assert profile.domains.row(d, ctx) == row  # deterministic: the drill re-projects live data the same way
        text = (encode_row(header) + encode_row(row)).decode("utf-8")
        assert list(csv.reader(io.StringIO(text, newline=""), strict=True)) == [header, row]
    values = as_dict(P2024, d)
    for attribute, column in RT.items():
        assert values[column] == expected_value(d.registrant, attribute)
    for attribute, column in PP.items():
        wanted = expected_value(d.registrant, attribute) if d.privacy_mode is PrivacyMode.PROXY else ""
        assert values[column] == wanted

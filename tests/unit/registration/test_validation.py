"""Table-driven tests of domainpriv.registration.validation: good values, bad values, and error hygiene."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import (
    EPP_DOMAIN_STATUSES,
    ContactData,
    _normalize_name_slow,
    normalize_country,
    normalize_domain_name,
    normalize_email,
    normalize_handle,
    normalize_host_name,
    normalize_ip_address,
    normalize_phone,
    normalize_phone_ext,
    normalize_statuses,
    normalize_text,
    u_label,
    validate_contact,
)

WRONG_TYPES: list[object] = [None, 42, 4.2, True, False, ["example.com"], {"a": 1}, b"example.com"]


def _raises(func: Callable[..., object], value: object, field: str = "f", **kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        func(value, field, **kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    return info.value


def _assert_value_not_in_message(error: ValidationError, value: object) -> None:
    if isinstance(value, str) and value.strip():
        assert value not in str(error)
        assert value.strip() not in str(error)


# ------------------------------------------------------------------------------------------- domain names

GOOD_DOMAINS = [
    ("example.com", "example.com"),
    ("EXAMPLE.COM", "example.com"),
    ("Example.Com.", "example.com"),
    ("a.b.c.example.co.uk", "a.b.c.example.co.uk"),
    ("123.com", "123.com"),
    ("a--b.com", "a--b.com"),
    ("a-b.com", "a-b.com"),
    ("x.org", "x.org"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("BÜCHER.DE", "xn--bcher-kva.de"),
    ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
    ("例子.广告", "xn--fsqu00a.xn--4rr70v"),
    ("example。com", "example.com"),  # ideographic full stop, UTS-46
    ("example．com", "example.com"),  # fullwidth full stop
    ("ｅｘａｍｐｌｅ.com", "example.com"),  # fullwidth letters
    ("faß.de", "xn--fa-hia.de"),  # non-transitional: ß is kept
    ("bücher.xn--bcher-kva.de", "xn--bcher-kva.xn--bcher-kva.de"),
    ("a" * 63 + ".com", "a" * 63 + ".com"),
    (".".join(["a" * 63] * 3) + "." + "b" * 61, ".".join(["a" * 63] * 3) + "." + "b" * 61),  # 253 octets
    (".".join(["a" * 63] * 3) + "." + "b" * 61 + ".", ".".join(["a" * 63] * 3) + "." + "b" * 61),
    ("example.xn--p1ai", "example.xn--p1ai"),
    ("exam\u00adple.com", "example.com"),  # soft hyphen is ignored by UTS-46
    ("例子.广告\u200b", "xn--fsqu00a.xn--4rr70v"),  # so is zero width space
]


@pytest.mark.parametrize(("raw", "expected"), GOOD_DOMAINS)
def test_normalize_domain_name_accepts(raw: str, expected: str) -> None:
    assert normalize_domain_name(raw) == expected
    assert normalize_host_name(raw, "ns") == expected
    assert normalize_domain_name(expected) == expected


BAD_DOMAINS = [
    "",
    ".",
    "com",
    "com.",
    "example..com",
    ".example.com",
    "example.com..",
    " example.com",
    "example.com ",
    "exa mple.com",
    "exa_mple.com",
    "_dmarc.example.com",
    "-abc.com",
    "abc-.com",
    "abc.-com",
    "ab--c.com",  # -- in positions 3-4 without xn
    "xn--abc.com",  # decodes to disallowed code points
    "xn--.com",
    "xn--bcher-kva-.de",
    "xn---bbk.com",  # non-canonical Punycode
    "xn--zz.com",
    "xn--example-.com",  # would decode to pure ASCII
    "a" * 64 + ".com",
    ".".join(["a" * 63] * 3) + "." + "b" * 62,  # 254 octets
    "😀.com",
    "xn--ls8h.la",  # emoji A-label
    "example.com\x00",
    "exam\tple.com",
    "example.com\n",
    "123.456",
    "example.123",
    "1.2.3.4",
    "例子.广告\u200e",  # left-to-right mark is disallowed
    "exam\u2028ple.com",
    "example.com/path",
    "user@example.com",
    "a" * 2000 + ".com",
]


@pytest.mark.parametrize("raw", BAD_DOMAINS)
def test_normalize_domain_name_rejects(raw: str) -> None:
    _raises(normalize_domain_name, raw, "domain")
    _raises(normalize_host_name, raw, "host[0]")


@pytest.mark.parametrize("raw", WRONG_TYPES)
def test_normalize_domain_name_rejects_wrong_type(raw: object) -> None:
    error = _raises(normalize_domain_name, raw, "domain")
    assert error.problem == "must be a string"


def test_domain_default_field_names() -> None:
    with pytest.raises(ValidationError) as info:
        normalize_domain_name("-x.com")
    assert info.value.field == "domain"


@pytest.mark.parametrize(
    "raw",
    [
        "example.com",
        "EXAMPLE.COM.",
        "a.b.c",
        "x--y.example",
        "com",
        "123.456",
        "a" * 64 + ".com",
        ".".join(["a" * 63] * 3) + "." + "b" * 62,
        "-a.com",
        "a-.com",
    ],
)
def test_fast_path_agrees_with_idna_path(raw: str) -> None:
    try:
        fast: str | None = normalize_domain_name(raw)
    except ValidationError:
        fast = None
    try:
        slow: str | None = _normalize_name_slow(raw, "domain")
    except ValidationError:
        slow = None
    assert fast == slow


@pytest.mark.parametrize(
    ("a_label", "unicode"),
    [
        ("xn--bcher-kva.de", "bücher.de"),
        ("example.com", "example.com"),
        ("xn--fsqu00a.xn--4rr70v", "例子.广告"),
        ("xn--fa-hia.de", "faß.de"),
    ],
)
def test_u_label(a_label: str, unicode: str) -> None:
    assert u_label(a_label) == unicode
    assert normalize_domain_name(unicode) == a_label


def test_u_label_rejects_bad_a_label() -> None:
    with pytest.raises(ValidationError):
        u_label("xn--abc.com")
    with pytest.raises(ValidationError):
        u_label(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::1", "::1"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
    ],
)
def test_normalize_ip_address_accepts(raw: str, expected: str) -> None:
    assert normalize_ip_address(raw, "addr") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "192.0.2",
        "192.0.2.256",
        "192.000.002.001",
        "01.2.3.4",
        "2001:db8::g",
        "fe80::1%eth0",
        " 192.0.2.1",
        "192.0.2.1/32",
        "example.com",
        *WRONG_TYPES,
        3232235777,
    ],
)
def test_normalize_ip_address_rejects(raw: object) -> None:
    _raises(normalize_ip_address, raw, "hosts[0].addresses[1]")


# ------------------------------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1.5555550100", "+1.5555550100"),
        ("+1 555 555 0100", "+1.5555550100"),
        ("+1 (555) 555-0100", "+1.5555550100"),
        ("+44 20 7946 0958", "+44.2079460958"),
        ("+44.2079460958", "+44.2079460958"),
        ("+49 30 1234567", "+49.301234567"),
        ("+49 0 30 1234567", "+49.301234567"),  # trunk prefix typed after the country code
        ("+39.0612345678", "+39.0612345678"),  # Italian leading zero is significant
        ("+33 1 23 45 67 89", "+33.123456789"),
        ("+81-3-1234-5678", "+81.312345678"),
    ],
)
def test_normalize_phone_accepts(raw: str, expected: str) -> None:
    assert normalize_phone(raw, "contact.phone") == expected
    assert normalize_phone(expected, "contact.phone") == expected


BAD_PHONES = [
    "",
    "12345",
    "5555550100",
    "+",
    "+12345",
    "+999.1234567",  # unassigned country code
    "+1.55",
    "+1.555555010012345678",
    "+1 800 FLOWERS",
    "+1 555 555 0100 ext 12",
    "+1.5555550100x12",
    "00 44 20 7946 0958",
    "+１.5555550100",  # fullwidth digit
    " +1.5555550100",
    "+49.003964",  # unstable: strips a different prefix each pass
    "tel:+1.5555550100",
    "+1." + "5" * 60,
]


@pytest.mark.parametrize("raw", BAD_PHONES)
def test_normalize_phone_rejects_without_echo(raw: str) -> None:
    error = _raises(normalize_phone, raw, "contact.fax")
    _assert_value_not_in_message(error, raw)


@pytest.mark.parametrize("raw", [*WRONG_TYPES, 15555550100])
def test_normalize_phone_rejects_wrong_type(raw: object) -> None:
    assert _raises(normalize_phone, raw, "contact.phone").problem == "must be a string"


@pytest.mark.parametrize("raw", ["1", "123", "0042", "1234567890"])
def test_normalize_phone_ext_accepts(raw: str) -> None:
    assert normalize_phone_ext(raw, "contact.phone_ext") == raw


@pytest.mark.parametrize("raw", ["", "12345678901", "12a", " 12", "12 ", "-7", "１２", "1.5", 12, None])
def test_normalize_phone_ext_rejects(raw: object) -> None:
    error = _raises(normalize_phone_ext, raw, "contact.phone_ext")
    if isinstance(raw, str) and len(raw.strip()) > 1:
        _assert_value_not_in_message(error, raw)


# ------------------------------------------------------------------------------------------------ country


@pytest.mark.parametrize(("raw", "expected"), [("US", "US"), ("us", "US"), ("De", "DE"), ("gb", "GB"), ("ax", "AX")])
def test_normalize_country_accepts(raw: str, expected: str) -> None:
    assert normalize_country(raw, "contact.country") == expected


@pytest.mark.parametrize("raw", ["XX", "UK", "USA", "U", "", " US", "US ", "840", "ＵＳ", "ﬀ", "eu", 1, None, True])
def test_normalize_country_rejects(raw: object) -> None:
    _raises(normalize_country, raw, "contact.country")


# -------------------------------------------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("user@example.com", "user@example.com"),
        ("User.Name+tag@Example.COM", "User.Name+tag@example.com"),
        ("用户@例子.广告", "用户@例子.广告"),
        ("x@bücher.de", "x@bücher.de"),
        ("x@xn--bcher-kva.de", "x@bücher.de"),
    ],
)
def test_normalize_email_accepts(raw: str, expected: str) -> None:
    assert normalize_email(raw, "contact.email") == expected
    assert normalize_email(expected, "contact.email") == expected


BAD_EMAILS = [
    "",
    "plainaddress",
    "@example.com",
    "user@",
    "user@@example.com",
    "user@example",
    "user@localhost",
    "user@example.test",  # special-use name
    "user name@example.com",
    '"quoted"@example.com',
    "user@[192.0.2.1]",
    "Jane Doe <jane@example.com>",
    "jane@example.com\n",
    "jane.doe.secret" + "x" * 250 + "@example.com",  # too long
]


@pytest.mark.parametrize("raw", BAD_EMAILS)
def test_normalize_email_rejects_without_echo(raw: str) -> None:
    error = _raises(normalize_email, raw, "contact.email")
    _assert_value_not_in_message(error, raw)
    local = raw.partition("@")[0]
    if len(local) > 3:
        assert local not in str(error)


@pytest.mark.parametrize("raw", WRONG_TYPES)
def test_normalize_email_rejects_wrong_type(raw: object) -> None:
    assert _raises(normalize_email, raw, "contact.email").problem == "must be a string"


# --------------------------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane Doe", "Jane Doe"),
        ("  Jane Doe \t", "Jane Doe"),
        ("Ünïcödé Straße 1", "Ünïcödé Straße 1"),
        ("東京都", "東京都"),
        ("O'Brien & Söhne, Ltd.", "O'Brien & Söhne, Ltd."),
        ("a\u00a0b", "a\u00a0b"),  # no-break space is text
        ("x" * 255, "x" * 255),
        (" " + "x" * 255 + " ", "x" * 255),
    ],
)
def test_normalize_text_accepts(raw: str, expected: str) -> None:
    assert normalize_text(raw, "contact.name", max_length=255) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "\t\n",
        "Jane\x00Doe",
        "Jane\nDoe",
        "Jane\rDoe",
        "Jane\tDoe",
        "Jane\x1bDoe",
        "Jane\x7fDoe",
        "Jane\x85Doe",
        "Jane\u2028Doe",
        "Jane\u2029Doe",
        "Jane\u202eDoe",  # bidi override (Cf)
        "Jane\u200bDoe",  # zero width space (Cf)
        "Jane\ufeffDoe",  # BOM (Cf)
        "Jane\ud800Doe",  # lone surrogate, e.g. from JSON "\ud800"
        "x" * 256,
    ],
)
def test_normalize_text_rejects_without_echo(raw: str) -> None:
    error = _raises(normalize_text, raw, "contact.street[0]", max_length=255)
    _assert_value_not_in_message(error, raw)
    assert "Jane" not in str(error)


def test_normalize_text_lengths() -> None:
    assert normalize_text("12345", "pc", max_length=16) == "12345"
    assert normalize_text("x" * 16, "pc", max_length=16) == "x" * 16
    _raises(normalize_text, "x" * 17, "pc", max_length=16)
    assert normalize_text("ab", "f", max_length=5, min_length=2) == "ab"
    error = _raises(normalize_text, " a ", "f", max_length=5, min_length=2)
    assert "at least 2" in error.problem


@pytest.mark.parametrize("raw", WRONG_TYPES)
def test_normalize_text_rejects_wrong_type(raw: object) -> None:
    assert _raises(normalize_text, raw, "contact.city", max_length=255).problem == "must be a string"


# ------------------------------------------------------------------------------------------------ handles


@pytest.mark.parametrize("raw", ["abc", "ABC-123", "C1234_5.x-y", "a" * 16, "0ab", "JD1-EXAMPLE"])
def test_normalize_handle_accepts(raw: str) -> None:
    assert normalize_handle(raw, "handle") == raw


@pytest.mark.parametrize(
    "raw",
    ["", "ab", "a" * 17, "-abc", "_abc", ".abc", "ab c", "abc\n", "abc!", "äbc", "ab\u0000c", 123, None],
)
def test_normalize_handle_rejects(raw: object) -> None:
    _raises(normalize_handle, raw, "registrant")


# ----------------------------------------------------------------------------------------------- statuses


def test_status_set_is_complete() -> None:
    assert len(EPP_DOMAIN_STATUSES) == 23
    assert "ok" in EPP_DOMAIN_STATUSES
    assert "pendingRestore" in EPP_DOMAIN_STATUSES


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["ok"], ("ok",)),
        (("inactive",), ("inactive",)),
        (
            ["clientTransferProhibited", "clientDeleteProhibited"],
            ("clientDeleteProhibited", "clientTransferProhibited"),
        ),
        (["serverHold", "clientHold", "inactive"], ("clientHold", "inactive", "serverHold")),
        (["pendingDelete", "redemptionPeriod"], ("pendingDelete", "redemptionPeriod")),
        (["pendingRestore", "pendingDelete"], ("pendingDelete", "pendingRestore")),
        (
            ["pendingDelete", "redemptionPeriod", "pendingRestore"],
            ("pendingDelete", "pendingRestore", "redemptionPeriod"),
        ),
        (["addPeriod", "clientTransferProhibited"], ("addPeriod", "clientTransferProhibited")),
        (["pendingTransfer", "clientDeleteProhibited"], ("clientDeleteProhibited", "pendingTransfer")),
        (["pendingCreate"], ("pendingCreate",)),
        (["pendingDelete", "clientTransferProhibited"], ("clientTransferProhibited", "pendingDelete")),
        (
            ["autoRenewPeriod", "renewPeriod", "transferPeriod"],
            ("autoRenewPeriod", "renewPeriod", "transferPeriod"),
        ),
    ],
)
def test_normalize_statuses_accepts(raw: object, expected: tuple[str, ...]) -> None:
    assert normalize_statuses(raw, "statuses") == expected


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "statuses"),
        ("ok", "statuses"),  # a string is not a list
        ({"ok"}, "statuses"),
        (None, "statuses"),
        (["OK"], "statuses[0]"),
        (["clientHold", "clienthold"], "statuses[1]"),
        (["clientHold", "unknownStatus"], "statuses[1]"),
        (["clientHold", 1], "statuses[1]"),
        (["clientHold", "clientHold"], "statuses[1]"),
        (["ok", "clientHold"], "statuses"),
        (["ok", "addPeriod"], "statuses"),
        (["pendingCreate", "pendingUpdate"], "statuses"),
        (["pendingDelete", "pendingTransfer"], "statuses"),
        (["pendingDelete", "clientDeleteProhibited"], "statuses"),
        (["pendingDelete", "serverDeleteProhibited"], "statuses"),
        (["pendingRenew", "clientRenewProhibited"], "statuses"),
        (["pendingRenew", "serverRenewProhibited"], "statuses"),
        (["pendingTransfer", "clientTransferProhibited"], "statuses"),
        (["pendingTransfer", "serverTransferProhibited"], "statuses"),
        (["pendingUpdate", "clientUpdateProhibited"], "statuses"),
        (["pendingUpdate", "serverUpdateProhibited"], "statuses"),
        (["redemptionPeriod"], "statuses"),
        (["pendingRestore"], "statuses"),
        (["redemptionPeriod", "pendingRestore"], "statuses"),
        (["redemptionPeriod", "clientHold"], "statuses"),
        ([*sorted(EPP_DOMAIN_STATUSES), "ok"], "statuses"),
    ],
)
def test_normalize_statuses_rejects(raw: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_statuses(raw, "statuses")
    assert info.value.field == field


# ------------------------------------------------------------------------------------------------ contact

FULL_CONTACT: dict[str, object] = {
    "name": " Jane Doe ",
    "org": "Example Inc.",
    "street": ["123 Example Dr.", "Suite 100"],
    "city": "Dulles",
    "state": "VA",
    "postal_code": "20166-6503",
    "country": "us",
    "phone": "+1 703 555 5555",
    "phone_ext": "1234",
    "fax": "+1.7035555556",
    "fax_ext": None,
    "email": "jdoe@Example.com",
}


def test_validate_contact_full() -> None:
    contact = validate_contact(FULL_CONTACT)
    assert contact == ContactData(
        name="Jane Doe",
        org="Example Inc.",
        street=("123 Example Dr.", "Suite 100"),
        city="Dulles",
        state="VA",
        postal_code="20166-6503",
        country="US",
        phone="+1.7035555555",
        phone_ext="1234",
        fax="+1.7035555556",
        fax_ext=None,
        email="jdoe@example.com",
    )
    assert validate_contact(contact.to_json()) == contact
    assert list(contact.to_json()) == list(FULL_CONTACT)
    assert contact.to_json()["street"] == ["123 Example Dr.", "Suite 100"]


def test_validate_contact_minimal_and_empty_optionals() -> None:
    minimal = {"name": "Jane", "city": "Berlin", "country": "DE", "email": "j@example.de"}
    contact = validate_contact(minimal)
    assert contact.street == ()
    assert contact.org is contact.state is contact.postal_code is contact.phone is contact.fax is None
    with_empties: dict[str, object] = dict(
        minimal, org="", state="  ", postal_code="", phone="", phone_ext="", fax=None, street=[]
    )
    assert validate_contact(with_empties) == contact
    assert validate_contact(contact.to_json()) == contact


def test_contact_is_frozen() -> None:
    contact = validate_contact(FULL_CONTACT)
    with pytest.raises(AttributeError):
        contact.name = "x"  # type: ignore[misc]
    assert not hasattr(contact, "__dict__")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "contact.name"),
        ({"name": ""}, "contact.name"),
        ({"name": 5}, "contact.name"),
        ({"name": "x" * 256}, "contact.name"),
        ({"city": None}, "contact.city"),
        ({"country": "XX"}, "contact.country"),
        ({"country": None}, "contact.country"),
        ({"email": None}, "contact.email"),
        ({"email": "not-an-address"}, "contact.email"),
        ({"org": "x" * 256}, "contact.org"),
        ({"org": 7}, "contact.org"),
        ({"state": "V\nA"}, "contact.state"),
        ({"postal_code": "x" * 17}, "contact.postal_code"),
        ({"street": "123 Example Dr."}, "contact.street"),
        ({"street": ["a", "b", "c", "d"]}, "contact.street"),
        ({"street": ["ok", ""]}, "contact.street[1]"),
        ({"street": ["ok", 3]}, "contact.street[1]"),
        ({"street": ["ok", "x" * 256]}, "contact.street[1]"),
        ({"phone": "12345"}, "contact.phone"),
        ({"phone": 15555550100}, "contact.phone"),
        ({"phone_ext": "abc"}, "contact.phone_ext"),
        ({"phone": None, "phone_ext": "12"}, "contact.phone_ext"),
        ({"fax": None, "fax_ext": "12"}, "contact.fax_ext"),
        ({"fax": "5555"}, "contact.fax"),
        ({"nickname": "JD"}, "contact.nickname"),
        ({"Name": "JD"}, "contact.Name"),
    ],
)
def test_validate_contact_rejects(changes: dict[str, object], field: str) -> None:
    raw = {**FULL_CONTACT, **changes}
    with pytest.raises(ValidationError) as info:
        validate_contact(raw)
    assert info.value.field == field
    for value in changes.values():
        if isinstance(value, str) and len(value) > 3 and field != f"contact.{value}":
            assert value not in str(info.value)


def test_validate_contact_missing_required_keys() -> None:
    for key in ("name", "city", "country", "email"):
        raw: dict[str, object] = {k: v for k, v in FULL_CONTACT.items() if k != key}
        with pytest.raises(ValidationError) as info:
            validate_contact(raw, "registrant")
        assert info.value.field == f"registrant.{key}"


def test_validate_contact_rejects_non_mapping_and_odd_keys() -> None:
    not_objects: list[object] = [None, [], "contact", 1]
    for raw in not_objects:
        with pytest.raises(ValidationError) as info:
            validate_contact(raw)  # type: ignore[arg-type]
        assert info.value.field == "contact"
    with pytest.raises(ValidationError) as info:
        validate_contact({**FULL_CONTACT, 1: "x"})  # type: ignore[dict-item]
    assert info.value.field == "contact"
    with pytest.raises(ValidationError) as info:
        validate_contact({**FULL_CONTACT, "k" * 1000: "x"})
    assert info.value.field == "contact"


# -- DS records --------------------------------------------------------------------------------------------------

_SHA256 = "2BB183AF5F22588179A53B0A98631FAD1A292118AB5F1B2D8E3A8E8C5EB4BA14"


def test_ds_records_are_normalised_and_round_trip() -> None:
    from domainpriv.registration.validation import DsRecord, normalize_ds_records

    records = normalize_ds_records([{"key_tag": 370, "algorithm": 13, "digest_type": 2, "digest": _SHA256.lower()}])
    assert records == (DsRecord(370, 13, 2, _SHA256),)
    assert DsRecord.from_text(records[0].to_text()) == records[0]
    assert normalize_ds_records([r.to_json() for r in records]) == records
    assert normalize_ds_records([]) == ()


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("12345 13 2 AB", "ds_records"),
        ([{"key_tag": 70000, "algorithm": 13, "digest_type": 2, "digest": _SHA256}], "ds_records[0].key_tag"),
        ([{"key_tag": 1, "algorithm": 0, "digest_type": 2, "digest": _SHA256}], "ds_records[0].algorithm"),
        ([{"key_tag": 1, "algorithm": 13, "digest_type": True, "digest": _SHA256}], "ds_records[0].digest_type"),
        ([{"key_tag": 1, "algorithm": 13, "digest_type": 1, "digest": _SHA256}], "ds_records[0].digest"),
        ([{"key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": "XYZ"}], "ds_records[0].digest"),
        ([{"key_tag": 1, "algorithm": 13, "digest_type": 2}], "ds_records[0]"),
        ([{"key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": _SHA256}] * 2, "ds_records[1]"),
    ],
)
def test_bad_ds_records_name_the_field(value: object, field: str) -> None:
    from domainpriv.registration.validation import normalize_ds_records

    with pytest.raises(ValidationError) as error:
        normalize_ds_records(value)
    assert error.value.field == field

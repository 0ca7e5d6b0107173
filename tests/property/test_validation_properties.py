"""Property tests of domainpriv.registration.validation (hypothesis)."""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import example, given, settings
from hypothesis import strategies as st

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

# ------------------------------------------------------------------------------------------- strategies

_LDH = "abcdefghijklmnopqrstuvwxyz0123456789"
# Letters that are PVALID in IDNA 2008 and left-to-right (no bidi rule trouble when mixed).
_UNICODE_LETTERS = (
    "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿßœ"
    + "".join(map(chr, range(0x3B1, 0x3CA)))  # Greek small letters incl. final sigma
    + "".join(map(chr, range(0x430, 0x450)))  # Cyrillic small letters
    + "例子测试中文日本語東京"
    + "".join(map(chr, range(0x3041, 0x3097)))  # Hiragana
)

ldh_labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda label: label[2:4] != "--"
)
unicode_labels = st.text(alphabet=_LDH + _UNICODE_LETTERS, min_size=1, max_size=12)
tlds = st.from_regex(r"[a-z][a-z0-9]{1,9}", fullmatch=True)


@st.composite
def valid_ascii_names(draw: st.DrawFn) -> str:
    labels = [*draw(st.lists(ldh_labels, min_size=1, max_size=4)), draw(tlds)]
    name = ".".join(labels)
    if draw(st.booleans()):
        name = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    if draw(st.booleans()):
        name += "."
    return name


@st.composite
def idn_candidates(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.one_of(ldh_labels, unicode_labels), min_size=1, max_size=3))
    labels.append(draw(st.one_of(tlds, unicode_labels)))
    if draw(st.booleans()):
        labels = [label.upper() for label in labels]
    separator = draw(st.sampled_from([".", ".", ".", "。", "．", "｡"]))
    return separator.join(labels)


def _try(func: Callable[[str], str], value: str) -> str | None:
    try:
        return func(value)
    except ValidationError:
        return None


# Any JSON-ish value, including text with lone surrogates (json.loads accepts "\ud800").
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=8,
)

# ------------------------------------------------------------------------------------------ domain names


@given(valid_ascii_names())
def test_ascii_names_are_accepted_lowercase_without_dot(name: str) -> None:
    normalized = normalize_domain_name(name)
    assert normalized == name.lower().rstrip(".")
    assert normalize_domain_name(normalized) == normalized


@given(st.one_of(valid_ascii_names(), st.text(alphabet=_LDH + "-._ ABCXYZ", max_size=40)))
@example("a" * 64 + ".com")
@example("xx--y.com")
@example("1.2")
def test_fast_path_equals_idna_path(name: str) -> None:
    assert _try(normalize_domain_name, name) == _try(lambda v: _normalize_name_slow(v, "domain"), name)


@given(idn_candidates())
@example("bücher.de")
@example("FAß.DE")
@example("ΣΊΣΥΦΟΣ.gr")
def test_normalize_domain_name_is_idempotent(name: str) -> None:
    normalized = _try(normalize_domain_name, name)
    if normalized is None:
        return
    assert normalized.isascii()
    assert normalized == normalized.lower()
    assert normalize_domain_name(normalized) == normalized
    assert normalize_host_name(normalized, "ns") == normalized


@given(idn_candidates())
@example("bücher.de")
@example("例子.广告")
def test_a_label_u_label_round_trip(name: str) -> None:
    a_label = _try(normalize_domain_name, name)
    if a_label is None:
        return
    unicode = u_label(a_label)
    assert normalize_domain_name(unicode) == a_label
    assert u_label(normalize_domain_name(unicode)) == unicode


@given(st.text(alphabet=_LDH + _UNICODE_LETTERS + "-._ \x00\u200d\u0301😀ｘＮ。".upper() + "xn--", max_size=60))
def test_domain_like_text_raises_only_validation_error(value: str) -> None:
    normalized = _try(normalize_domain_name, value)
    if normalized is not None:
        assert len(normalized) <= 253
        assert all(1 <= len(label) <= 63 for label in normalized.split("."))


# ------------------------------------------------------------------------- every function, any JSON value

_SIMPLE_FUNCTIONS: list[Callable[[object, str], object]] = [
    normalize_domain_name,
    normalize_host_name,
    normalize_ip_address,
    normalize_phone,
    normalize_phone_ext,
    normalize_country,
    normalize_email,
    normalize_handle,
    normalize_statuses,
    lambda value, field: normalize_text(value, field, max_length=255),
    lambda value, field: normalize_text(value, field, max_length=16, min_length=3),
]


@settings(max_examples=300)
@given(st.one_of(any_text, json_values), st.sampled_from(_SIMPLE_FUNCTIONS))
def test_any_input_raises_only_validation_error(value: object, func: Callable[[object, str], object]) -> None:
    try:
        func(value, "some.field")
    except ValidationError as error:
        assert error.field.startswith("some.field")


@given(st.dictionaries(st.sampled_from(["name", "org", "street", "city", "phone", "email", "x"]), json_values))
def test_validate_contact_raises_only_validation_error(raw: dict[str, object]) -> None:
    try:
        validate_contact(raw, "c")
    except ValidationError as error:
        assert error.field.startswith("c")


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300))
def test_normalize_text_is_idempotent_and_clean(value: str) -> None:
    text = _try(lambda v: normalize_text(v, "f", max_length=255), value)
    if text is None:
        return
    assert text == text.strip()
    assert 1 <= len(text) <= 255
    assert "\n" not in text and "\u2028" not in text
    assert normalize_text(text, "f", max_length=255) == text


@given(st.lists(st.sampled_from(sorted(EPP_DOMAIN_STATUSES)), max_size=6))
def test_statuses_result_is_sorted_and_stable(statuses: list[str]) -> None:
    try:
        result = normalize_statuses(statuses, "s")
    except ValidationError:
        return
    assert list(result) == sorted(set(statuses))
    assert normalize_statuses(list(reversed(result)), "s") == result


@given(st.from_regex(r"\+(1|44|49|33|39|81|86|61|7|358)[ .]?[0-9]{4,12}", fullmatch=True))
def test_normalize_phone_is_idempotent(value: str) -> None:
    phone = _try(lambda v: normalize_phone(v, "p"), value)
    if phone is None:
        return
    assert normalize_phone(phone, "p") == phone
    assert len(phone) <= 17


# ------------------------------------------------------------------------------------------------ contact

_postal_text = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\u2028\u2029"),
    min_size=1,
    max_size=40,
).filter(lambda text: text.strip() != "")
_phones = st.builds(
    lambda area, line: f"+1 {area} 555 {line:04d}",
    st.integers(min_value=201, max_value=989),
    st.integers(min_value=0, max_value=9999),
) | st.sampled_from(["+44 20 7946 0958", "+49.301234567", "+39.0612345678", "+81-3-1234-5678"])
_emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.from_regex(r"[A-Za-z0-9]{1,10}(?:[._+-][A-Za-z0-9]{1,10}){0,2}", fullmatch=True),
    st.sampled_from(["example.com", "Example.ORG", "bücher.de", "例子.广告", "mail.example.co.uk"]),
)
_optional_empty = st.sampled_from([None, "", "   "])


@st.composite
def raw_contacts(draw: st.DrawFn) -> dict[str, object]:
    raw: dict[str, object] = {
        "name": draw(_postal_text),
        "city": draw(_postal_text),
        "country": draw(st.sampled_from(["US", "de", "Gb", "jp", "FI", "br"])),
        "email": draw(_emails),
    }
    optional = {
        "org": _postal_text,
        "street": st.lists(_postal_text, max_size=3),
        "state": _postal_text,
        "postal_code": _postal_text.map(lambda text: text[:16]).filter(lambda text: text.strip() != ""),
        "phone": _phones,
        "fax": _phones,
    }
    for key, strategy in optional.items():
        choice = draw(st.sampled_from(["absent", "empty", "value"]))
        if choice == "empty":
            raw[key] = draw(_optional_empty) if key != "street" else []
        elif choice == "value":
            raw[key] = draw(strategy)
    for number, ext in (("phone", "phone_ext"), ("fax", "fax_ext")):
        value = raw.get(number)
        if isinstance(value, str) and value.strip() and draw(st.booleans()):
            raw[ext] = draw(st.from_regex(r"[0-9]{1,10}", fullmatch=True))
    return raw


@given(raw_contacts())
def test_contact_round_trip(raw: dict[str, object]) -> None:
    contact = validate_contact(raw)
    data = contact.to_json()
    assert set(data) == {
        "name", "org", "street", "city", "state", "postal_code",
        "country", "phone", "phone_ext", "fax", "fax_ext", "email",
    }  # fmt: skip
    assert validate_contact(data) == contact
    # The JSON form survives real JSON serialization too.
    assert validate_contact(json.loads(json.dumps(data))) == contact


@given(raw_contacts())
def test_contact_fields_are_normalized(raw: dict[str, object]) -> None:
    contact = validate_contact(raw)
    assert isinstance(contact, ContactData)
    assert contact.country == contact.country.upper()
    assert len(contact.street) <= 3
    for value in (contact.org, contact.state, contact.postal_code, contact.phone, contact.fax):
        assert value is None or (value != "" and value == value.strip())


# -- the e-mail fast path agrees with email_validator -----------------------------------------------------------

_EMAIL_CHARS = "abcXYZ019.+-_!#$%&'*/=?^`{|}~@\"() "


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=_EMAIL_CHARS, min_size=1, max_size=80),
        st.builds(
            lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
            st.text(alphabet="abcXYZ019.+-_!#$%&'*/=?^`{|}~", min_size=1, max_size=70),
            st.lists(st.text(alphabet="abcXYZ019-", min_size=1, max_size=64), min_size=1, max_size=3),
            st.one_of(
                st.sampled_from(["com", "example", "test", "local", "onion", "arpa", "Org", "x1"]),
                st.text(alphabet="abcxyz0", min_size=1, max_size=6),
            ),
        ),
    )
)
def test_email_fast_path_agrees_with_email_validator(text: str) -> None:
    import email_validator

    from domainpriv.registration.validation import _plain_ascii_email

    fast = _plain_ascii_email(text)
    if fast is None:
        return
    try:
        expected = email_validator.validate_email(text, check_deliverability=False).normalized
    except email_validator.EmailNotValidError:
        raise AssertionError(f"fast path accepted what email_validator rejects: {text!r}") from None
    assert fast == expected

"""Every format rule for registration data, in one place.

Domain and host names, IP addresses, phone numbers, country codes, e-mail addresses, postal text, handles and
EPP statuses arrive from many doors (EPP-like API, CLI, bulk import, escrow restore).  Each door calls the
functions here, so a rule is written, tested and tightened once.  Each function takes the *raw* value (callers
pass decoded JSON as is, so a wrong Python type is an input error, not a bug) and the dotted name of the input
field, and either returns the canonical form or raises :class:`ValidationError`.

The error names the field and the broken rule, never the rejected value: contact values are personal data and
error messages end up in logs, API answers and tickets.  Domain and host names are the one exception; they are
public and naming them makes an error actionable.

Standards followed:

* names: IDNA 2008 (RFC 5890-5893) with UTS #46 mapping, via the ``idna`` package; RFC 1035 lengths.
  Pure-ASCII letter-digit-hyphen names (the vast majority in bulk imports) take a regex fast path that gives
  the same answer without calling ``idna``.
* contacts: RFC 5733 (postalLineType 1-255 characters, postal code at most 16, e164 phone pattern,
  ISO 3166-1 alpha-2 country code).
* statuses: RFC 5731 section 2.3 and the RFC 3915 grace-period statuses.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Final

import email_validator
import idna
import phonenumbers
import pycountry

from domainpriv.registration.errors import ValidationError

__all__ = [
    "CONTACT_FIELDS",
    "EPP_DOMAIN_STATUSES",
    "ContactData",
    "DsRecord",
    "normalize_country",
    "normalize_domain_name",
    "normalize_ds_records",
    "normalize_email",
    "normalize_handle",
    "normalize_host_name",
    "normalize_ip_address",
    "normalize_phone",
    "normalize_phone_ext",
    "normalize_statuses",
    "normalize_text",
    "u_label",
    "validate_contact",
]


def _require_str(value: object, field: str) -> str:
    # Callers pass raw JSON values: null, numbers, booleans, lists and objects are input errors, not bugs.
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    return value


# --------------------------------------------------------------------------------------------- domain names

_MAX_NAME_OCTETS: Final = 253
"""RFC 1035: a name is at most 255 octets on the wire, i.e. 253 characters in dotted text without the root."""

_MAX_NAME_INPUT: Final = 1024
"""Longest raw input handed to ``idna``; UTS #46 may drop ignorable characters, so allow more than 254."""

# One LDH label: 1-63 characters, letter or digit at both ends.  Case-insensitive by listing both cases
# (faster than re.IGNORECASE).  The "--" in positions 3-4 rule is checked outside the regex.
_LDH_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST_NAME_RE: Final = re.compile(rf"(?:{_LDH_LABEL}\.)+{_LDH_LABEL}\.?")
# The same in lower case only and without trailing dot: the shape every normalized name must have.
_LOWER_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_A_LABEL_NAME_RE: Final = re.compile(rf"(?:{_LOWER_LABEL}\.)+{_LOWER_LABEL}")


def _check_a_label_name(name: str, field: str) -> str:
    """Final shape check of a lowercase A-label name without trailing dot; returns it."""
    if len(name) > _MAX_NAME_OCTETS:
        raise ValidationError(field, f"is longer than {_MAX_NAME_OCTETS} octets")
    if not _A_LABEL_NAME_RE.fullmatch(name):
        raise ValidationError(field, f"{name} is not a valid name (needs at least two labels of 1-63 LDH octets)")
    labels = name.split(".")
    for label in labels:
        if label[2:4] == "--" and not label.startswith("xn--"):
            raise ValidationError(field, f"{name}: label {label} has '--' in positions 3-4 but is not an A-label")
    if labels[-1].isdigit():
        raise ValidationError(field, f"{name}: the top-level label must not be all-numeric")
    return name


def _normalize_name_slow(value: str, field: str) -> str:
    """Full IDNA 2008 + UTS #46 processing; for names the fast path does not accept."""
    if len(value) > _MAX_NAME_INPUT:
        raise ValidationError(field, "is far too long to be a domain name")
    if not value:
        raise ValidationError(field, "must not be empty")
    try:
        mapped = idna.uts46_remap(value, std3_rules=True)
        encoded = idna.encode(mapped).decode("ascii")
    except (UnicodeError, ValueError) as exc:  # idna.IDNAError is a UnicodeError
        # idna's own message names the name and the offending code point; names may be shown.
        raise ValidationError(field, f"is not a valid IDNA 2008 name: {exc}") from None
    if encoded.endswith("."):
        encoded = encoded[:-1]
    name = _check_a_label_name(encoded, field)
    # Labels idna made from U-labels round-trip by construction; A-labels from the input must be checked.
    for label in mapped.split("."):
        if label.startswith("xn--"):
            _check_round_trip(label, name, field)
    return name


def _check_round_trip(label: str, name: str, field: str) -> None:
    """An A-label must decode to a U-label that encodes back to exactly the same A-label."""
    try:
        unicode_label = idna.ulabel(label)
        back = idna.encode(unicode_label, uts46=True, std3_rules=True).decode("ascii")
    except (UnicodeError, ValueError) as exc:
        raise ValidationError(field, f"{name}: label {label} is not a valid A-label: {exc}") from None
    if back != label or unicode_label.isascii():
        raise ValidationError(field, f"{name}: label {label} is not a valid A-label (does not round-trip)")


def normalize_domain_name(value: object, field: str = "domain") -> str:
    """Return the canonical form of a domain name: lowercase A-labels, no trailing dot.

    Accepts U-labels or A-labels (UTS #46 mapping: case folding, full-width dots and letters, ...) and one
    trailing dot.  Requires at least two labels, labels of 1-63 octets, at most 253 octets in all, LDH
    labels (no leading or trailing hyphen, ``--`` in positions 3-4 only in valid ``xn--`` A-labels) and a
    top-level label that is not all digits.
    """
    name = _require_str(value, field)
    # Fast path: plain ASCII LDH.  UTS #46 maps such a name by lowercasing only, so this equals the slow path.
    # The length guard keeps the regex from scanning megabytes of junk.
    if len(name) <= _MAX_NAME_OCTETS + 1 and _FAST_NAME_RE.fullmatch(name) and "--" not in name:
        if name[-1] == ".":
            name = name[:-1]
        if len(name) > _MAX_NAME_OCTETS:
            raise ValidationError(field, f"is longer than {_MAX_NAME_OCTETS} octets")
        if name[name.rfind(".") + 1 :].isdigit():
            raise ValidationError(field, f"{name}: the top-level label must not be all-numeric")
        return name.lower()
    return _normalize_name_slow(name, field)


def normalize_host_name(value: object, field: str = "host") -> str:
    """Return the canonical form of a name-server host name (same rules as :func:`normalize_domain_name`)."""
    return normalize_domain_name(value, field)


def u_label(a_label: str, field: str = "domain") -> str:
    """Return the Unicode (display) form of a normalized name; ASCII labels are returned unchanged."""
    name = _require_str(a_label, field)
    if "xn--" not in name.lower():
        return name.lower()
    try:
        return idna.decode(name)
    except (UnicodeError, ValueError) as exc:
        raise ValidationError(field, f"is not a valid A-label name: {exc}") from None


# ------------------------------------------------------------------------------------------------ addresses


def normalize_ip_address(value: object, field: str = "address") -> str:
    """Return an IPv4 or IPv6 address in canonical (compressed, lowercase) text form.

    IPv6 zone identifiers (``fe80::1%eth0``) are rejected: they mean nothing outside one host.
    """
    text = _require_str(value, field)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValidationError(field, "is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise ValidationError(field, "must not carry an IPv6 zone identifier")
    return str(address)


# --------------------------------------------------------------------------------------------------- phones

_E164_RE: Final = re.compile(r"\+[0-9]{1,3}\.[0-9]{1,14}")
_E164_MAX_LENGTH: Final = 17
# Accepted input: a leading plus, then digits and the usual separators.  No letters ("+1 800 FLOWERS",
# "ext. 12"): an extension has its own field, and vanity letters are not a registration format.
_PHONE_INPUT_RE: Final = re.compile(r"\+[0-9][0-9 .()/-]{0,39}")
_PHONE_EXT_RE: Final = re.compile(r"[0-9]{1,10}")


def normalize_phone(value: object, field: str = "phone") -> str:
    """Return a phone number in EPP form ``+<country code>.<national significant number>``.

    Accepts the EPP form itself or international notation with spaces, dots, hyphens, slashes or
    parentheses (``+44 20 7946 0958``).  The number must be *possible* for its country (right length);
    it need not be *valid* (assigned), so fictional 555-01xx numbers pass.
    """
    text = _require_str(value, field)
    if not _PHONE_INPUT_RE.fullmatch(text):
        raise ValidationError(field, "must be in international form (plus sign, country code, number)")
    epp = _parse_phone(text, field)
    # phonenumbers strips a national (trunk) prefix typed after the country code ("+49 0 30 ...").  Where
    # that happened, the result must be stable under a second pass, else stored data would change each
    # time it is validated again ("+49.003964" -> "+49.03964" -> "+49.3964"): reject such input.
    if epp.replace(".", "") != "+" + "".join(c for c in text if c.isdigit()) and _parse_phone(epp, field) != epp:
        raise ValidationError(field, "has an ambiguous national prefix after the country code")
    return epp


def _parse_phone(text: str, field: str) -> str:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(field, "is not a phone number with a known country code") from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(field, "is not a possible phone number for its country code")
    epp = f"+{number.country_code}.{phonenumbers.national_significant_number(number)}"
    if len(epp) > _E164_MAX_LENGTH or not _E164_RE.fullmatch(epp):
        raise ValidationError(field, "does not fit the EPP phone format +CC.NUMBER (at most 17 characters)")
    return epp


def normalize_phone_ext(value: object, field: str = "phone_ext") -> str:
    """Return a phone extension: 1-10 ASCII digits.

    RFC 5733 leaves the ``x`` attribute an unbounded token; 10 digits covers every real PBX plan while
    keeping junk out.
    """
    text = _require_str(value, field)
    if not _PHONE_EXT_RE.fullmatch(text):
        raise ValidationError(field, "must be 1-10 digits")
    return text


# -------------------------------------------------------------------------------------------------- country

_COUNTRY_CODES: Final[frozenset[str]] = frozenset(country.alpha_2 for country in pycountry.countries)


def normalize_country(value: object, field: str = "country") -> str:
    """Return an ISO 3166-1 alpha-2 country code in upper case (input is case-insensitive)."""
    text = _require_str(value, field)
    code = text.upper() if text.isascii() else ""
    if code not in _COUNTRY_CODES:
        raise ValidationError(field, "is not an ISO 3166-1 alpha-2 country code")
    return code


# ---------------------------------------------------------------------------------------------------- email

_MAX_EMAIL_LENGTH: Final = 254


# The common case, a plain ASCII dot-atom address on an ordinary domain, answered without email_validator
# (about 20 times faster; a bulk import validates hundreds of thousands). Anything unusual -- quoting, non-ASCII,
# "--" labels, numeric TLDs, special-use domains, long local parts -- falls through to email_validator, and a
# property test checks the two agree on every input the fast path accepts.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL_RE: Final = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE_SUFFIXES: Final = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _plain_ascii_email(text: str) -> str | None:
    match = _PLAIN_EMAIL_RE.fullmatch(text)
    if match is None:
        return None
    local, domain = match.group(1), match.group(2).lower()
    if len(local) > 64 or len(domain) > 253 or "--" in domain:
        return None
    last = domain.rsplit(".", 1)[-1]
    if any(domain == s or domain.endswith("." + s) or last == s for s in _SPECIAL_USE_SUFFIXES):
        return None
    return f"{local}@{domain}"


def normalize_email(value: object, field: str = "email") -> str:
    """Return the normalized form of an e-mail address (syntax only, no DNS look-up).

    Internationalized addresses (SMTPUTF8) are accepted.  The domain part is lowercased by the validator,
    the local part keeps its case.  Special-use domains (``.test``, ``.localhost``, ...) are rejected.
    """
    text = _require_str(value, field)
    if len(text) > _MAX_EMAIL_LENGTH:
        raise ValidationError(field, f"is longer than {_MAX_EMAIL_LENGTH} characters")
    fast = _plain_ascii_email(text)
    if fast is not None:
        return fast
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError:
        # The validator's message quotes parts of the address; never pass it on.
        raise ValidationError(field, "is not a valid e-mail address") from None
    normalized: str = result.normalized
    if len(normalized) > _MAX_EMAIL_LENGTH:
        raise ValidationError(field, f"is longer than {_MAX_EMAIL_LENGTH} characters")
    return normalized


# ----------------------------------------------------------------------------------------------------- text

# Control (Cc), format (Cf, e.g. bidi overrides, zero-width joiners), surrogate (Cs) and line/paragraph
# separator (Zl, Zp: U+2028, U+2029) characters break logs, terminals, WHOIS output and XML.
_FORBIDDEN_TEXT_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def normalize_text(value: object, field: str, *, max_length: int, min_length: int = 1) -> str:
    """Return free text (postal lines, names) without outer whitespace.

    Rejects control, format, surrogate and line/paragraph separator characters anywhere, and lengths outside
    ``min_length..max_length`` characters (code points, as XML Schema counts them) after stripping.
    """
    text = _require_str(value, field).strip()
    # str.isprintable() is False for a superset of the forbidden categories, so most text skips the loop.
    if not text.isprintable():
        for char in text:
            if unicodedata.category(char) in _FORBIDDEN_TEXT_CATEGORIES:
                raise ValidationError(field, "must not contain control or format characters")
    if len(text) < min_length:
        problem = "must not be empty" if min_length == 1 else f"must be at least {min_length} characters"
        raise ValidationError(field, problem)
    if len(text) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return text


# -------------------------------------------------------------------------------------------------- handles

_HANDLE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,15}")


def normalize_handle(value: object, field: str = "handle") -> str:
    """Return a handle (RFC 5730 clIDType-like): 3-16 of ``A-Z a-z 0-9 _ . -``, first a letter or digit.

    Case is preserved.
    """
    text = _require_str(value, field)
    if not _HANDLE_RE.fullmatch(text):
        raise ValidationError(field, "must be 3-16 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return text


# ------------------------------------------------------------------------------------------------- statuses

EPP_DOMAIN_STATUSES: Final[frozenset[str]] = frozenset(
    {
        # RFC 5731 section 2.3
        "ok",
        "inactive",
        "clientDeleteProhibited",
        "clientHold",
        "clientRenewProhibited",
        "clientTransferProhibited",
        "clientUpdateProhibited",
        "serverDeleteProhibited",
        "serverHold",
        "serverRenewProhibited",
        "serverTransferProhibited",
        "serverUpdateProhibited",
        "pendingCreate",
        "pendingDelete",
        "pendingRenew",
        "pendingTransfer",
        "pendingUpdate",
        # RFC 3915 (registry grace period)
        "addPeriod",
        "autoRenewPeriod",
        "renewPeriod",
        "transferPeriod",
        "redemptionPeriod",
        "pendingRestore",
    }
)
_PENDING_STATUSES: Final = frozenset(
    s for s in EPP_DOMAIN_STATUSES if s.startswith("pending") and s != "pendingRestore"
)
_MAX_STATUSES: Final = len(EPP_DOMAIN_STATUSES)


def normalize_statuses(value: object, field: str = "statuses") -> tuple[str, ...]:
    """Return a set of EPP domain statuses as a sorted tuple, after checking the combination rules.

    Rules (RFC 5731 section 2.3, RFC 3915 section 3): at least one status, exact case, no duplicates; ``ok``
    only alone; at most one of pendingCreate/Delete/Renew/Transfer/Update; ``pendingX`` not together with
    ``clientXProhibited`` or ``serverXProhibited``; ``redemptionPeriod`` and ``pendingRestore`` only with
    ``pendingDelete``.  Element errors name ``field[i]``; unknown values are not echoed.
    """
    if not isinstance(value, (list, tuple)):
        raise ValidationError(field, "must be a list of status strings")
    if not value:
        raise ValidationError(field, "must contain at least one status")
    if len(value) > _MAX_STATUSES:
        raise ValidationError(field, f"must contain at most {_MAX_STATUSES} statuses")
    seen: set[str] = set()
    for index, item in enumerate(value):
        item_field = f"{field}[{index}]"
        status = _require_str(item, item_field)
        if status not in EPP_DOMAIN_STATUSES:
            raise ValidationError(item_field, "is not an EPP domain status (RFC 5731/3915, exact case)")
        if status in seen:
            raise ValidationError(item_field, f"repeats status {status}")
        seen.add(status)
    if "ok" in seen and len(seen) > 1:
        raise ValidationError(field, "status ok must not be combined with other statuses")
    pending = sorted(seen & _PENDING_STATUSES)
    if len(pending) > 1:
        raise ValidationError(field, f"statuses {' and '.join(pending)} must not be combined")
    for status in pending:
        action = status.removeprefix("pending")
        for prohibited in (f"client{action}Prohibited", f"server{action}Prohibited"):
            if prohibited in seen:
                raise ValidationError(field, f"status {status} must not be combined with {prohibited}")
    for status in ("redemptionPeriod", "pendingRestore"):
        if status in seen and "pendingDelete" not in seen:
            raise ValidationError(field, f"status {status} requires pendingDelete")
    return tuple(sorted(seen))


# ---------------------------------------------------------------------------------------------- DS records

# RFC 4034 §5.1 DS RDATA; digest lengths of the digest types in use (RFC 4509, RFC 6605). Other registered types
# are accepted with any even-length hex digest, so a new algorithm does not need a code change to be stored.
_DS_DIGEST_HEX_LENGTHS: Final = {1: 40, 2: 64, 4: 96}
MAX_DS_RECORDS: Final = 8  # registries accept a handful; more is a broken zone, not a key rollover
_DS_KEYS: Final = frozenset({"key_tag", "algorithm", "digest_type", "digest"})


@dataclass(frozen=True, slots=True)
class DsRecord:
    key_tag: int
    algorithm: int
    digest_type: int
    digest: str  # upper-case hex

    def to_text(self) -> str:
        return f"{self.key_tag} {self.algorithm} {self.digest_type} {self.digest}"

    @classmethod
    def from_text(cls, text: str) -> DsRecord:
        key_tag, algorithm, digest_type, digest = text.split()
        return cls(int(key_tag), int(algorithm), int(digest_type), digest)

    def to_json(self) -> dict[str, object]:
        return {"key_tag": self.key_tag, "algorithm": self.algorithm, "digest_type": self.digest_type,
                "digest": self.digest}  # fmt: skip


def normalize_ds_records(value: object, field: str = "ds_records") -> tuple[DsRecord, ...]:
    """Return the DS records of a signed delegation (RFC 4034 §5.1), given as a list of objects with
    key_tag (0-65535), algorithm (1-255), digest_type (1-255) and digest (hex; checked against the
    digest type's length). An empty list means an unsigned delegation."""
    if not isinstance(value, list):
        raise ValidationError(field, "must be a list")
    if len(value) > MAX_DS_RECORDS:
        raise ValidationError(field, f"at most {MAX_DS_RECORDS} DS records")
    out: list[DsRecord] = []
    for i, raw in enumerate(value):
        item = f"{field}[{i}]"
        if not isinstance(raw, Mapping) or set(raw) != _DS_KEYS:
            raise ValidationError(item, "must be an object with key_tag, algorithm, digest_type and digest")
        key_tag = _small_int(raw["key_tag"], f"{item}.key_tag", 0, 65535)
        algorithm = _small_int(raw["algorithm"], f"{item}.algorithm", 1, 255)
        digest_type = _small_int(raw["digest_type"], f"{item}.digest_type", 1, 255)
        digest = _require_str(raw["digest"], f"{item}.digest").strip().upper()
        expected = _DS_DIGEST_HEX_LENGTHS.get(digest_type)
        if not re.fullmatch(r"(?:[0-9A-F]{2})+", digest) or (expected is not None and len(digest) != expected):
            raise ValidationError(f"{item}.digest", "must be the hexadecimal digest of its digest type")
        record = DsRecord(key_tag, algorithm, digest_type, digest)
        if record in out:
            raise ValidationError(item, "is listed twice")
        out.append(record)
    return tuple(out)


def _small_int(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, f"must be an integer from {low} to {high}")
    return value


# -------------------------------------------------------------------------------------------------- contact

_POSTAL_LINE_MAX: Final = 255
_POSTAL_CODE_MAX: Final = 16
_MAX_STREET_LINES: Final = 3
_CONTACT_KEYS: Final = (
    "name",
    "org",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "phone",
    "phone_ext",
    "fax",
    "fax_ext",
    "email",
)
_CONTACT_KEY_SET: Final = frozenset(_CONTACT_KEYS)


@dataclass(frozen=True, slots=True)
class ContactData:
    """A validated, normalized contact (RFC 5733 shape, one postal address)."""

    name: str
    org: str | None
    street: tuple[str, ...]
    city: str
    state: str | None
    postal_code: str | None
    country: str
    phone: str | None
    phone_ext: str | None
    fax: str | None
    fax_ext: str | None
    email: str

    def to_json(self) -> dict[str, object]:
        """Return the JSON form that :func:`validate_contact` maps back to an equal object."""
        return {
            "name": self.name,
            "org": self.org,
            "street": list(self.street),
            "city": self.city,
            "state": self.state,
            "postal_code": self.postal_code,
            "country": self.country,
            "phone": self.phone,
            "phone_ext": self.phone_ext,
            "fax": self.fax,
            "fax_ext": self.fax_ext,
            "email": self.email,
        }


CONTACT_FIELDS: Final = tuple(f.name for f in fields(ContactData))


def _postal_line(value: object, field: str) -> str:
    return normalize_text(value, field, max_length=_POSTAL_LINE_MAX)


def _postal_code(value: object, field: str) -> str:
    return normalize_text(value, field, max_length=_POSTAL_CODE_MAX)


def _required(raw: Mapping[str, object], key: str, field: str, check: Callable[[object, str], str]) -> str:
    value = raw.get(key)
    if value is None:
        raise ValidationError(f"{field}.{key}", "is required")
    return check(value, f"{field}.{key}")


def _optional(raw: Mapping[str, object], key: str, field: str, check: Callable[[object, str], str]) -> str | None:
    value = raw.get(key)
    # Absent, null, "" and whitespace-only all mean "not given".
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return check(value, f"{field}.{key}")


def validate_contact(raw: Mapping[str, object], field: str = "contact") -> ContactData:
    """Validate and normalize a contact given as a JSON object; errors name ``field.key``.

    Required: name, city, country, email.  Optional (absent, null or empty means none): org, street (a list
    of 0-3 lines, absent means no lines), state, postal_code, phone, phone_ext, fax, fax_ext.  An extension
    needs its number.  Unknown keys are rejected.
    """
    if not isinstance(raw, Mapping):
        raise ValidationError(field, "must be an object")
    unknown = [key for key in raw if key not in _CONTACT_KEY_SET]
    if unknown:
        named = sorted(key for key in unknown if isinstance(key, str) and key.isprintable() and len(key) <= 64)
        if named:
            raise ValidationError(f"{field}.{named[0]}", "is not a contact field")
        raise ValidationError(field, "has a key that is not a contact field")

    name = _required(raw, "name", field, _postal_line)
    org = _optional(raw, "org", field, _postal_line)
    street = _street(raw.get("street"), f"{field}.street")
    city = _required(raw, "city", field, _postal_line)
    state = _optional(raw, "state", field, _postal_line)
    postal_code = _optional(raw, "postal_code", field, _postal_code)
    country = _required(raw, "country", field, normalize_country)
    phone = _optional(raw, "phone", field, normalize_phone)
    phone_ext = _optional(raw, "phone_ext", field, normalize_phone_ext)
    fax = _optional(raw, "fax", field, normalize_phone)
    fax_ext = _optional(raw, "fax_ext", field, normalize_phone_ext)
    email = _required(raw, "email", field, normalize_email)
    if phone_ext is not None and phone is None:
        raise ValidationError(f"{field}.phone_ext", "needs a phone number")
    if fax_ext is not None and fax is None:
        raise ValidationError(f"{field}.fax_ext", "needs a fax number")
    return ContactData(
        name=name,
        org=org,
        street=street,
        city=city,
        state=state,
        postal_code=postal_code,
        country=country,
        phone=phone,
        phone_ext=phone_ext,
        fax=fax,
        fax_ext=fax_ext,
        email=email,
    )


def _street(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise ValidationError(field, "must be a list of at most 3 lines")
    if len(value) > _MAX_STREET_LINES:
        raise ValidationError(field, f"must have at most {_MAX_STREET_LINES} lines")
    return tuple(_postal_line(line, f"{field}[{index}]") for index, line in enumerate(value))

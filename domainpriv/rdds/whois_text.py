"""The port-43 WHOIS text of a domain: formatting only, from a PublicRecord (STYLE §3, "format" stage).

Why a module of its own: the privacy decision is already made in `privacy.public_view`, so this module cannot
leak what it never receives; it only lays the published values out in the 2013 RAA registrar format that real
clients parse (shared/reference/rdds.md §1: field order §1.2, value formats §1.3, footer §1.4, not-found reply
§1.5, redaction §1.6, proxy display §1.7).

Rules enforced here:

* every line ends in CR LF (RFC 3912; ICANN's WHOIS test grammar rejects LF-only lines);
* every printed value passes `clean_value`, which strips control, format and separator characters, so a stored
  value can never start a line of its own or drive a terminal (Nomulus `WhoisResponseImpl.cleanse`);
* timestamps are UTC `YYYY-MM-DDThh:mm:ssZ`;
* names (domain and name servers) are printed as lowercase A-labels, the stored canonical form;
* a redacted field prints `REDACTED FOR PRIVACY`, except the e-mail, which always prints the relay address or the
  web-form URL that replaced it (ICANN advisory of 26 May 2026: never the redaction string);
* an empty optional field prints `Key:` with nothing after the colon.

Pure: no I/O, nothing from `store/`.
"""

from __future__ import annotations

import functools
import textwrap
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from typing import Final

from domainpriv.clock import rfc3339_utc
from domainpriv.privacy.record import PublicContact, PublicRecord, RedactableField

__all__ = [
    "CRLF",
    "REDACTED",
    "TERMS_WIDTH",
    "clean_value",
    "render_domain",
    "render_error",
    "render_not_found",
]

CRLF: Final = "\r\n"
REDACTED: Final = "REDACTED FOR PRIVACY"  # rdds.md §1.6 (Temporary Specification wording, test grammar default)
TERMS_WIDTH: Final = 80  # columns; terminals and the RAA sample output wrap the legal text at 80

# rdds.md §1.2 #34: the inaccuracy-form line, exact text (the older "WHOIS Data Problem Reporting System" is obsolete).
_INACCURACY_LINE: Final = "URL of the ICANN Whois Inaccuracy Complaint Form: https://www.icann.org/wicf/"
# rdds.md §1.2, after the footer: the URL must be exactly https://icann.org/epp.
_STATUS_CODES_LINE: Final = "For more information on Whois status codes, please visit https://icann.org/epp"
_EPP_STATUS_URL: Final = "https://icann.org/epp#"

# Control (Cc: C0, DEL, C1 incl. CR, LF, ESC), format (Cf: bidi overrides, zero-width), surrogate (Cs) and
# line/paragraph separators (Zl, Zp): none of them belongs in a WHOIS value. Same set as registration.validation.
_STRIPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def clean_value(value: str | None) -> str:
    """The printable form of one value: control/format/separator characters removed, outer whitespace trimmed."""
    if not value:
        return ""
    if not value.isprintable():  # cheap test first: isprintable() is False for a superset of what we strip
        value = "".join(ch for ch in value if unicodedata.category(ch) not in _STRIPPED_CATEGORIES)
    return value.strip()


def render_domain(record: PublicRecord, terms_of_use: str) -> str:
    """The full WHOIS reply for a published domain, CR LF line endings, field order of rdds.md §1.2."""
    lines = list(_domain_lines(record))
    lines += ["", _STATUS_CODES_LINE]
    terms = _wrap_terms(terms_of_use)
    if terms:
        lines += ["", *terms]
    return "".join(line + CRLF for line in lines)


def render_not_found(name_shown: str, now: datetime) -> str:
    """The reply for a name with nothing to publish (rdds.md §1.5); hidden and unknown answer the same.

    `name_shown` is the normalised name; python-whois recognises `No match for "` as not found for .com/.net.
    """
    return f'No match for "{clean_value(name_shown)}".{CRLF}{_last_update(now)}{CRLF}'


def render_error(message: str, now: datetime) -> str:
    """A refusal or error reply: one `Error:` line with a short fixed text, then the last-update line.

    Callers pass fixed texts; at most they include the normalised name, never the raw query.
    """
    text = " ".join(clean_value(message).split())  # one line, whatever the caller passed
    return f"Error: {text}{CRLF}{_last_update(now)}{CRLF}"


# ------------------------------------------------------------------------------------------------ internals


def _field(key: str, value: str | None) -> str:
    value = clean_value(value)
    return f"{key}: {value}" if value else f"{key}:"


def _last_update(now: datetime) -> str:
    return f">>> Last update of WHOIS database: {rfc3339_utc(now)} <<<"


def _domain_lines(record: PublicRecord) -> Iterator[str]:
    registrar = record.registrar
    yield _field("Domain Name", record.name)  # the A-label (rdds.md §1.2 #1); never the U-label
    yield _field("Registry Domain ID", record.registry_domain_id)
    yield _field("Registrar WHOIS Server", registrar.whois_server)
    yield _field("Registrar URL", registrar.url)
    yield _field("Updated Date", rfc3339_utc(record.updated_at))
    yield _field("Creation Date", rfc3339_utc(record.created_at))
    yield _field("Registrar Registration Expiration Date", rfc3339_utc(record.expires_at))
    yield _field("Registrar", registrar.name)
    yield _field("Registrar IANA ID", str(registrar.iana_id))
    yield _field("Registrar Abuse Contact Email", registrar.abuse_email)
    yield _field("Registrar Abuse Contact Phone", registrar.abuse_phone)
    yield _field("Reseller", record.reseller)
    for status in record.statuses:
        status = clean_value(status)
        yield _field("Domain Status", f"{status} {_EPP_STATUS_URL}{status}")
    yield from _registrant_lines(record.registrant)
    if record.tech is not None:
        yield from _tech_lines(record.tech)
    if record.nameservers:
        for host in record.nameservers:
            yield _field("Name Server", host.lower())
    else:
        yield _field("Name Server", None)  # rdds.md §1.2 #32: one empty line when there are none
    yield _field("DNSSEC", "signedDelegation" if record.dnssec else "unsigned")
    yield _INACCURACY_LINE
    yield _last_update(record.database_updated_at)


def _value(contact: PublicContact, field: RedactableField, value: str | None) -> str | None:
    return REDACTED if field in contact.redacted else value


def _email(contact: PublicContact) -> str | None:
    # Never the redaction string: the relay address or web form that replaced the address (rdds.md §1.6).
    return contact.email if contact.email is not None else contact.contact_uri


def _registrant_lines(c: PublicContact) -> Iterator[str]:
    yield _field("Registry Registrant ID", REDACTED)  # our internal handle is never published
    yield _field("Registrant Name", _value(c, "name", c.name))
    yield _field("Registrant Organization", _value(c, "org", c.org))
    if "street" in c.redacted:
        yield _field("Registrant Street", REDACTED)
    elif c.street:
        for line in c.street:
            yield _field("Registrant Street", line)
    else:
        yield _field("Registrant Street", None)
    yield _field("Registrant City", _value(c, "city", c.city))
    yield _field("Registrant State/Province", c.state)  # published in every mode (rdds.md §1.6)
    yield _field("Registrant Postal Code", _value(c, "postal_code", c.postal_code))
    yield _field("Registrant Country", c.country)  # published in every mode (rdds.md §1.6)
    yield _field("Registrant Phone", _value(c, "phone", c.phone))
    yield _field("Registrant Phone Ext", _value(c, "phone_ext", c.phone_ext))
    yield _field("Registrant Fax", _value(c, "fax", c.fax))
    yield _field("Registrant Fax Ext", _value(c, "fax_ext", c.fax_ext))
    yield _field("Registrant Email", _email(c))


def _tech_lines(c: PublicContact) -> Iterator[str]:
    # Registration Data Policy: only Name, Phone and Email exist for the technical contact (rdds.md §1.2 #27-31).
    yield _field("Registry Tech ID", REDACTED)
    yield _field("Tech Name", _value(c, "name", c.name))
    yield _field("Tech Phone", _value(c, "phone", c.phone))
    yield _field("Tech Phone Ext", _value(c, "phone_ext", c.phone_ext))
    yield _field("Tech Email", _email(c))


@functools.lru_cache(maxsize=8)  # the configured terms: wrapped once, not on every reply
def _wrap_terms(terms_of_use: str) -> tuple[str, ...]:
    """The operator's terms, one paragraph per input line, wrapped at TERMS_WIDTH columns."""
    lines: list[str] = []
    for paragraph in terms_of_use.splitlines():
        text = " ".join(clean_value(paragraph).split())
        if not text:
            lines.append("")
            continue
        lines += textwrap.wrap(text, width=TERMS_WIDTH, break_long_words=True, break_on_hyphens=False)
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return tuple(lines)

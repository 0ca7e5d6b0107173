"""What a WHOIS query gets as an answer: query text in, reply text out, no sockets (STYLE §4).

Kept apart from `whois_server.py` so the answer can be tested, and reused by the CLI, without any network code,
the way aiosmtpd separates its protocol class from the user's handler. The server owns framing, limits and
logging; this module owns the meaning of a query:

* surrounding whitespace is ignored; a U-label or an A-label in any case, with or without a trailing dot, names
  the same domain (normalisation is `registration.validation.normalize_domain_name`, the one place for it);
* anything that is not a domain name gets a fixed error text that never echoes the query;
* a name with nothing to publish gets `No match`, whether it is unknown or hidden (RFC 7480 §5.3 reasoning,
  STYLE §3), so the answer reveals nothing about registrations that are not public.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from domainpriv.privacy.record import PublicRecord
from domainpriv.rdds.source import RecordSource
from domainpriv.rdds.whois_text import render_domain, render_error, render_not_found
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import normalize_domain_name

__all__ = [
    "MALFORMED_QUERY",
    "Outcome",
    "WhoisAnswer",
    "answer_whois",
    "answer_whois_name",
    "answer_whois_query",
    "normalize_query",
    "peek_whois_answer",
]

Outcome = Literal["found", "not-found", "error"]

MALFORMED_QUERY: Final = "malformed query; send one domain name, such as example.com, followed by CR LF"


@dataclass(frozen=True, slots=True)
class WhoisAnswer:
    """The reply text plus what the server logs about it (never any record content)."""

    text: str
    outcome: Outcome
    name: str | None  # the normalised A-label, or None for a malformed query


def normalize_query(query: str) -> str | None:
    """The A-label a query names, or None if it names no valid domain."""
    try:
        return normalize_domain_name(query.strip(), "query")
    except ValidationError:
        return None


def answer_whois_query(query: str, source: RecordSource, now: datetime, terms_of_use: str) -> WhoisAnswer:
    """Answer one query, with its outcome for the log. Looks the name up in `source`, which may block on the
    store: call it off the event loop."""
    name = normalize_query(query)
    if name is None:
        return _malformed(now)
    return _answer(name, source.lookup(name), now, terms_of_use)


def answer_whois_name(name: str, source: RecordSource, now: datetime, terms_of_use: str) -> WhoisAnswer:
    """`answer_whois_query` for a name the caller has already normalised (the server does, on its event loop):
    the lookup pool then spends nothing on IDNA again."""
    return _answer(name, source.lookup(name), now, terms_of_use)


def peek_whois_answer(query: str, source: RecordSource, now: datetime, terms_of_use: str) -> WhoisAnswer | None:
    """The answer if it needs no store access (a malformed query, or a fresh hit in the source's cache), else
    None; never blocks, so the server calls it on the event loop and falls back to `answer_whois_query`."""
    name = normalize_query(query)
    if name is None:
        return _malformed(now)
    hit, record = source.peek(name)
    return _answer(name, record, now, terms_of_use) if hit else None


def answer_whois(query: str, source: RecordSource, now: datetime, terms_of_use: str) -> str:
    """The reply text for one query: a domain record, `No match`, or an error for a malformed query."""
    return answer_whois_query(query, source, now, terms_of_use).text


def _malformed(now: datetime) -> WhoisAnswer:
    return WhoisAnswer(render_error(MALFORMED_QUERY, now), "error", None)


def _answer(name: str, record: PublicRecord | None, now: datetime, terms_of_use: str) -> WhoisAnswer:
    if record is None:  # unknown and hidden names answer alike
        return WhoisAnswer(render_not_found(name, now), "not-found", name)
    return WhoisAnswer(render_domain(record, terms_of_use), "found", name)

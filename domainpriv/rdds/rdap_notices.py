"""The fixed texts every RDAP answer must carry, in one place, each with the rule that requires it.

ICANN checks these strings and link relations literally (its conformance tool ignores only extra whitespace and
trailing punctuation), so they are constants here and nowhere else, as Nomulus keeps them in
`RdapIcannStandardInformation`. The test codes in the comments are those of ICANN's rdap-conformance-tool
(2024 gTLD profile); see shared/reference/rdds.md §2.4 and §2.8.

The 2024 RDAP Response Profile needs no remarks on a registrar's domain object: redaction is signalled by the
RFC 9537 `redacted` array (rdap_json.py), not by the 2019 "REDACTED FOR PRIVACY" remark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# rdapConformance of every answer, topmost object only (RFC 9083 §4.1; -10504/-10505).
RDAP_LEVEL_0: Final = "rdap_level_0"  # RFC 9083 §4.1
RESPONSE_PROFILE: Final = "icann_rdap_response_profile_1"  # RDAP Response Profile 2024 §1.2 (-62000)
TECHNICAL_GUIDE: Final = "icann_rdap_technical_implementation_guide_1"  # RDAP TIG 2024 §1.3 (-61000)
CONFORMANCE: Final[tuple[str, ...]] = (RDAP_LEVEL_0, RESPONSE_PROFILE, TECHNICAL_GUIDE)
# Added whenever the answer has a `redacted` member (RFC 9537 §4.1; Response Profile 2024 §1.2, -62001).
REDACTED_EXTENSION: Final = "redacted"


@dataclass(frozen=True, slots=True)
class NoticeText:
    """A notice's fixed parts; its link's `value` is the request URL, filled in per answer."""

    title: str
    description: tuple[str, ...]
    rel: str
    href: str | None  # None: taken from the settings (terms of service, help page)
    media_type: str = "text/html"


# TIG 2024 §3.3 (-61200..-61202): a notice with a "terms-of-service" link whose `href` is an http(s) URL (the
# registrar's terms, RdapSettings.terms_url) and whose `value` is the request URL. Title and text are free.
TERMS_OF_USE: Final = NoticeText(
    title="Terms of Use",
    description=("Service subject to the Terms of Use of the registrar; see the linked page.",),
    rel="terms-of-service",
    href=None,
)

# Response Profile 2024 §2.6.3 (-46601..-46606): exact title, description, href and rel "glossary".
STATUS_CODES: Final = NoticeText(
    title="Status Codes",
    description=("For more information on domain status codes, please visit https://icann.org/epp",),
    rel="glossary",
    href="https://icann.org/epp",
)

# Response Profile 2024 §2.10 (-46701..-46706): exact title, description, href and rel "help". Note the RDAP
# form: "RDDS" and https://icann.org/wicf, unlike the WHOIS footer's https://www.icann.org/wicf/.
INACCURACY_FORM: Final = NoticeText(
    title="RDDS Inaccuracy Complaint Form",
    description=("URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf",),
    rel="help",
    href="https://icann.org/wicf",
)

# The three notices of a domain answer, in the order of the profile's example (rdds.md §2.14).
DOMAIN_NOTICES: Final[tuple[NoticeText, ...]] = (TERMS_OF_USE, STATUS_CODES, INACCURACY_FORM)

# TIG 2024 §3.4 (-20701): GET /help answers 200 with rdapConformance and notices (RFC 9083 §7). The help page
# itself is RdapSettings.help_url.
HELP: Final = NoticeText(
    title="Help",
    description=(
        "This server answers RFC 9082 domain lookups: GET <base URL>domain/<name>, where <name> is an A-label "
        "or a U-label, and GET <base URL>help.",
        "Other query types (nameserver, entity, ip, autnum and searches) are not implemented (HTTP 501).",
    ),
    rel="help",
    href=None,
)

# RFC 9537 §4.2 `reason` of every redaction; the profile lets `reason` hold only lang, type and description
# (-62005). The registered redaction reasons are an open point (rdds.md §5.5), so a free description is used.
REDACTION_REASON: Final = "Server policy"

# RFC 9083 §6 error titles and texts. They never echo the query: the name is public, but a malformed query is
# arbitrary client input and has no business in an answer or a log.
ERROR_TEXTS: Final[dict[int, tuple[str, str]]] = {
    400: ("Bad Request", "The query is not a well-formed domain name."),  # RFC 7480 §5.4
    404: ("Not Found", "The object does not exist or is not published by this server."),  # RFC 7480 §5.3
    405: ("Method Not Allowed", "Only GET and HEAD are supported."),  # RFC 7480 §4.1
    429: ("Too Many Requests", "Query rate limit exceeded; retry later."),  # RFC 7480 §5.5
    500: ("Internal Server Error", "The server could not answer this query."),
    501: ("Not Implemented", "This query type is not supported by this server."),  # RFC 9082 §3 [unconfirmed]
    503: (
        "Service Unavailable",
        "The registration database is temporarily unavailable; retry later.",
    ),  # RFC 9110 §15.6.4
}

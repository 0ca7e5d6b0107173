"""Notice texts: one plain-text Jinja2 template per notice kind, in `templates/KIND.txt`.

Why templates and not f-strings in the services: the wording of every notice is in one folder, reviewed apart
from the code, and the same notice reads the same whichever service sends it (STYLE §9: templates live beside
their notice type). A template's first line is `Subject: ...`, then a blank line, then the body; a `{# ... #}`
comment at the top lists the context it needs. Undefined names are errors (StrictUndefined), so a notice can
never go out with an empty hole where a link or a domain should be.

Autoescape is off: these are text/plain mails, where HTML escaping would turn `&` in a link into `&amp;`. The
subject is one line (the outbox collapses whitespace there, against header injection); the values rendered come
from the services, and carry no contact data beyond what the recipient already knows.
"""

from __future__ import annotations

import functools
from typing import Final, NamedTuple

import jinja2

from domainpriv.vocabulary import ConsentPurpose, PrivacyMode

__all__ = ["KINDS", "Rendered", "TemplateMissing", "render"]

_ROLE_NAMES: Final = {"registrant": "registrant", "admin": "administrative contact", "tech": "technical contact",
                      "billing": "billing contact"}  # fmt: skip
_MODE_MEANINGS: Final = {
    PrivacyMode.PROXY: "the privacy service's identity and a relay address instead of yours",
    PrivacyMode.REDACTED: "your contact data redacted (state and country shown; instead of your e-mail address, a "
    "relay address or a contact form)",
    PrivacyMode.PUBLIC: "your contact data in full",
}
_PURPOSE_NAMES: Final = {
    ConsentPurpose.MARKETING: "receive our offers by e-mail",
    ConsentPurpose.PARTNER_OFFERS: "receive our partners' offers by e-mail (sent by us)",
    ConsentPurpose.RESELLER_NEWSLETTER: "receive your reseller's newsletter",
}

# The notice kinds that have a template (the file names in templates/).
KINDS: Final = frozenset({
    "password-reset", "password-changed", "contact-changed", "contact-edited", "registrant-change-confirm",
    "registrant-changed", "privacy-changed", "verification-code", "email-changed", "mailing",
    # cases (domainpriv/cases): to the requester only the reference, the outcome and the approved fields
    "case-acknowledgement", "case-customer-notice", "case-reminder", "case-deactivated", "case-disclosure",
    "case-refused", "case-info-requested", "case-customer-update",
})  # fmt: skip


class Rendered(NamedTuple):
    subject: str
    body: str


class TemplateMissing(LookupError):
    """No template for this notice kind (a programming error, not bad input)."""


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("domainpriv.notify", "templates", encoding="utf-8"),
    autoescape=False,  # noqa: S701 -- text/plain mail: HTML escaping would corrupt links and names
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["role_name"] = lambda role: _ROLE_NAMES[str(role)]
_ENV.filters["mode_meaning"] = lambda mode: _MODE_MEANINGS[PrivacyMode(mode)]
_ENV.filters["purpose_name"] = lambda purpose: _PURPOSE_NAMES[ConsentPurpose(purpose)]


def render(kind: str, **context: object) -> Rendered:
    """The subject and body of a notice of `kind`. The subject is rendered on its own, so a value with a line
    break cannot push text out of it into the body. Raises TemplateMissing, jinja2.UndefinedError (a context
    name the template needs was not given)."""
    subject, body = _compiled(kind)
    return Rendered(" ".join(subject.render(**context).split()), body.render(**context).strip("\n") + "\n")


@functools.cache
def _compiled(kind: str) -> tuple[jinja2.Template, jinja2.Template]:
    """The subject line's and the body's templates of `kind` (the leading context comment dropped)."""
    if kind not in KINDS:
        raise TemplateMissing(f"no template for notice kind {kind!r}")
    assert _ENV.loader is not None
    source = _ENV.loader.get_source(_ENV, f"{kind}.txt")[0]
    if source.startswith("{#"):
        source = source[source.index("#}") + 2 :].lstrip("\n")
    first, _, rest = source.partition("\n")
    if not first.startswith("Subject: "):
        raise TemplateMissing(f"template {kind}.txt does not start with a Subject: line")
    return _ENV.from_string(first.removeprefix("Subject: ")), _ENV.from_string(rest)

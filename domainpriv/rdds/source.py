"""Where the public servers get a PublicRecord: load (a read-only service call), then decide (public_view).

The servers depend on the small `RecordSource` protocol, so the protocol code never sees the store, and the
CLI's `domainpriv whois/rdap NAME` use the very same source as the daemons (DESIGN invariant 2).
"""

from __future__ import annotations

from typing import Protocol

from domainpriv.config import Settings
from domainpriv.privacy import ProxyIdentity, PublicationPolicy, PublicRecord, RegistrarIdentity, public_view
from domainpriv.registration import services
from domainpriv.store import UnitOfWork


class RecordSource(Protocol):
    def lookup(self, a_label: str) -> PublicRecord | None:
        """The public view of a normalised domain name, or None if there is nothing to publish."""
        ...


def publication_policy(settings: Settings) -> PublicationPolicy:
    r, p, pub = settings.registrar, settings.privacy_service, settings.publication
    return PublicationPolicy(
        registrar=RegistrarIdentity(r.name, r.iana_id, r.url, r.whois_server, r.rdap_base_url, r.abuse_email,
                                    r.abuse_phone),
        proxy=ProxyIdentity(p.name, p.org, p.street, p.city, p.state, p.postal_code, p.country, p.phone,
                            p.relay_domain),
        email_mode=pub.email_mode,
        web_form_url=pub.web_form_url,
        relay_secret=pub.relay_secret,
    )  # fmt: skip


class DatabaseSource:
    """Reads the stored record on every lookup: an answer is never older than the last commit."""

    def __init__(self, uow: UnitOfWork, policy: PublicationPolicy) -> None:
        self._uow = uow
        self._policy = policy

    def lookup(self, a_label: str) -> PublicRecord | None:
        record = services.find_domain(self._uow, a_label=a_label)
        if record is None:
            return None
        return public_view(record, self._policy, self._uow.clock())

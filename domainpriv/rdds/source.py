"""Where the public servers get a PublicRecord: load (a read-only service call), then decide (public_view).

The servers depend on the small `RecordSource` protocol, so the protocol code never sees the store, and the
CLI's `domainpriv whois/rdap NAME` use the very same source as the daemons (DESIGN invariant 2).

A database that cannot be used right now (down, not migrated, a replica gone) is raised as the store's
DatabaseUnavailable / SchemaNotReady, whose messages name the database and never a value, so the servers can
answer "temporarily unavailable" (WHOIS) and 503 (RDAP) instead of an internal error, and recover by
themselves when it is back (the pool reconnects; registration/lookup.py retries a dead connection once).
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from domainpriv.config import Settings
from domainpriv.privacy import ProxyIdentity, PublicationPolicy, PublicRecord, RegistrarIdentity, public_view
from domainpriv.rdds.cache import RecordCache
from domainpriv.registration import services
from domainpriv.store import UnitOfWork
from domainpriv.store.availability import classify

log = logging.getLogger("domainpriv.rdds")
_WARN_EVERY_SECONDS = 10.0


class RecordSource(Protocol):
    def lookup(self, a_label: str) -> PublicRecord | None:
        """The public view of a normalised domain name, or None if there is nothing to publish. May block.
        Raises DatabaseUnavailable or SchemaNotReady when the store cannot answer right now."""
        ...

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        """A non-blocking answer if one is at hand: (True, view or None), else (False, None)."""
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
    """Loads through the registration services and decides with `public_view`; with a RecordCache, only on a
    miss. A cached view is the very object returned on every hit until the change feed names its domain, so
    servers may memoise what they render from it; its `database_updated_at` is the moment it was loaded."""

    def __init__(
        self, uow: UnitOfWork, policy: PublicationPolicy, cache: RecordCache[PublicRecord] | None = None
    ) -> None:
        self._uow = uow
        self._policy = policy
        self._cache = cache
        self._last_warning = 0.0

    def lookup(self, a_label: str) -> PublicRecord | None:
        try:
            return self._load(a_label) if self._cache is None else self._cache.get(a_label, self._load)
        except Exception as exc:  # the driver's own errors too: the miss runs on the DBAPI connection
            problem = classify(exc, self._uow.engine.url)
            if problem is None:
                raise
            now = time.monotonic()
            if now - self._last_warning > _WARN_EVERY_SECONDS:  # one line per spell, not one per query
                self._last_warning = now
                log.warning("public lookups failing: %s", problem)
            raise problem from None

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        """Answer from the cache without touching the store: (True, view) on a hit, else (False, None)."""
        if self._cache is None:
            return False, None
        return self._cache.peek(a_label)

    def _load(self, a_label: str) -> PublicRecord | None:
        record = services.find_public_domain(self._uow, a_label=a_label)
        return None if record is None else public_view(record, self._policy, self._uow.clock())

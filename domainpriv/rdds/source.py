"""Where the public servers get a PublicRecord: load (a read-only service call), then decide (public_view).

The servers depend on the small `RecordSource` protocol, so the protocol code never sees the store, and the
CLI's `domainpriv whois/rdap NAME` use the very same source as the daemons (DESIGN invariant 2).

A database that cannot be used right now (down, not migrated, a replica gone) is raised as the store's
DatabaseUnavailable / SchemaNotReady, whose messages name the database and never a value, so the servers can
answer "temporarily unavailable" (WHOIS) and 503 (RDAP) instead of an internal error, and recover by
themselves when it is back (the pool reconnects; registration/lookup.py retries a dead connection once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from domainpriv.config import Settings
from domainpriv.errors import DomainprivError
from domainpriv.privacy import ProxyIdentity, PublicationPolicy, PublicRecord, RegistrarIdentity, public_view
from domainpriv.rdds.cache import Claim, RecordCache
from domainpriv.registration import services
from domainpriv.registration.lookup import AsyncLookups
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


class LoopSource(RecordSource, Protocol):
    """A source that can also look up on the event loop without blocking it (PostgreSQL's asyncio driver): the
    servers then answer a miss on the loop instead of handing it to the lookup pool."""

    @property
    def runs_on_loop(self) -> bool: ...

    async def lookup_async(self, a_label: str) -> PublicRecord | None: ...


def holds(source: RecordSource, a_label: str, record: PublicRecord | None) -> bool:
    """Whether the source hands out this very record for the name (a cached source returns the same object until
    the change feed names the domain): what a server's rendered answer stays valid, and worth keeping, for."""
    hit, current = source.peek(a_label)
    return hit and current is record


def loop_lookup(source: RecordSource) -> Callable[[str], Awaitable[PublicRecord | None]] | None:
    """The source's event-loop lookup, if it has one."""
    return cast(LoopSource, source).lookup_async if getattr(source, "runs_on_loop", False) else None


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
        self,
        uow: UnitOfWork,
        policy: PublicationPolicy,
        cache: RecordCache[PublicRecord] | None = None,
        *,
        loop_lookups: AsyncLookups | None = None,
    ) -> None:
        self._uow = uow
        self._policy = policy
        self._cache = cache
        self._async = loop_lookups
        self._pending: dict[str, tuple[asyncio.Future[PublicRecord | None], Claim | None]] = {}
        self._last_warning = 0.0

    @property
    def runs_on_loop(self) -> bool:
        return self._async is not None

    def lookup(self, a_label: str) -> PublicRecord | None:
        try:
            return self._load(a_label) if self._cache is None else self._cache.get(a_label, self._load)
        except Exception as exc:  # the driver's own errors too: the miss runs on the DBAPI connection
            problem = self._unavailable(exc)
            if problem is None:
                raise
            raise problem from None

    async def lookup_async(self, a_label: str) -> PublicRecord | None:
        """`lookup` on the event loop, with `loop_lookups` (PostgreSQL). Concurrent misses for one name share
        one query, and the cache stores the view under the same rules as its own loads (rdds/cache.py)."""
        if self._async is None:
            raise RuntimeError("this source has no event-loop lookups")
        pending = self._pending.get(a_label)
        if pending is not None and (pending[1] is None or not pending[1].stale):
            if self._cache is not None:
                self._cache.shared += 1
            return await asyncio.shield(pending[0])
        future: asyncio.Future[PublicRecord | None] = asyncio.get_running_loop().create_future()
        claim = None if self._cache is None else self._cache.claim(a_label)
        self._pending[a_label] = (future, claim)
        try:
            record = await self._async.find(a_label)
            view = None if record is None else public_view(record, self._policy, self._uow.clock())
        except BaseException as exc:
            problem = self._unavailable(exc) if isinstance(exc, Exception) else None
            future.set_exception(problem or exc)
            future.exception()  # retrieved here: joiners that are gone must not make asyncio warn
            if problem is not None:
                raise problem from None
            raise
        finally:
            if self._pending.get(a_label, (None, None))[0] is future:
                del self._pending[a_label]
        if self._cache is not None and claim is not None:
            self._cache.settle(a_label, claim, view)
        future.set_result(view)
        return view

    def _unavailable(self, exc: Exception) -> DomainprivError | None:
        """The one-line error of a database that cannot answer right now (logged once per spell), or None."""
        problem = classify(exc, self._uow.engine.url)
        if problem is not None:
            now = time.monotonic()
            if now - self._last_warning > _WARN_EVERY_SECONDS:  # one line per spell, not one per query
                self._last_warning = now
                log.warning("public lookups failing: %s", problem)
        return problem

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        """Answer from the cache without touching the store: (True, view) on a hit, else (False, None)."""
        if self._cache is None:
            return False, None
        return self._cache.peek(a_label)

    def _load(self, a_label: str) -> PublicRecord | None:
        record = services.find_public_domain(self._uow, a_label=a_label)
        return None if record is None else public_view(record, self._policy, self._uow.clock())

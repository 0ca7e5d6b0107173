"""The public servers' record cache never serves a stale answer: proof of its invalidation on both backends, and
of the RDAP answer memo built on it (rdds/memo.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from domainpriv.audit import Actor
from domainpriv.config import load_settings
from domainpriv.privacy import PublicRecord
from domainpriv.rdds import DatabaseSource, publication_policy
from domainpriv.rdds.cache import PostgresNotifications, RecordCache, change_feed_for
from domainpriv.rdds.rdap_app import RdapApp
from domainpriv.registration import services
from domainpriv.store import PrivacyMode, UnitOfWork, make_engine
from domainpriv.store.migrate import upgrade
from support.builders import make_domain
from support.databases import postgres_schema_url

ACTOR = Actor("staff", "tester")


@pytest.fixture
def cache(engine: Engine) -> Iterator[RecordCache[PublicRecord]]:
    feed = change_feed_for(engine)
    assert feed is not None
    yield RecordCache[PublicRecord](feed, max_entries=100)
    feed.close()


def source(uow: UnitOfWork, cache: RecordCache[PublicRecord]) -> DatabaseSource:
    return DatabaseSource(uow, publication_policy(load_settings(environ={})), cache)


def test_second_lookup_is_a_hit_and_a_change_is_seen_at_once(uow: UnitOfWork, cache: RecordCache[PublicRecord]) -> None:
    domain = make_domain(uow)
    _settle(cache)
    src = source(uow, cache)
    first = src.lookup(domain.name)
    assert first is not None and first.registrant.proxy is False
    assert src.peek(domain.name)[0] is True
    hits = cache.hits
    src.lookup(domain.name)
    assert cache.hits == hits + 1
    services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode=PrivacyMode.PROXY, reason="test")
    _wait_for_notification(cache, domain.name)
    after = src.lookup(domain.name)
    assert after is not None and after.registrant.proxy is True


def test_a_change_through_another_engine_invalidates(
    uow: UnitOfWork, cache: RecordCache[PublicRecord], db_url: str
) -> None:
    domain = make_domain(uow)
    src = source(uow, cache)
    assert src.lookup("later.example") is None  # a cached "not found"
    other = make_engine(db_url)  # another daemon's connection pool
    other_uow = UnitOfWork(other)
    services.create_domain(
        other_uow,
        actor=ACTOR,
        name="later.example",
        account=domain.account,
        registrant=domain.contacts["registrant"].handle,
        reason="test",
    )  # type: ignore[union-attr]
    other.dispose()
    _wait_for_notification(cache, "later.example")
    found = src.lookup("later.example")
    assert found is not None and found.name == "later.example"


def test_a_memoised_rdap_answer_is_replaced_after_a_change(uow: UnitOfWork, cache: RecordCache[PublicRecord]) -> None:
    """The first answer is rendered on the lookup path and memoised; the next one needs no store load; after a
    change the memo no longer matches the cached view and the new body is sent, then memoised in its turn."""
    domain = make_domain(uow)
    _settle(cache)
    app = RdapApp(load_settings(environ={}).rdap, source(uow, cache))
    try:
        first = _rdap_get(app, f"/domain/{domain.name}")
        misses = cache.misses
        again = _rdap_get(app, f"/domain/{domain.name}")
        assert again.content == first.content and cache.misses == misses
        assert "Privacy Service" not in first.text
        services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode=PrivacyMode.PROXY, reason="test")
        _wait_for_notification(cache, domain.name)
        after = _rdap_get(app, f"/domain/{domain.name}")
        assert after.status_code == 200 and "Privacy Service" in after.text
        assert _rdap_get(app, f"/domain/{domain.name}").content == after.content  # memoised anew
    finally:
        app.close()


def test_a_memoised_rdap_not_found_turns_into_the_domain_once_created(
    uow: UnitOfWork, cache: RecordCache[PublicRecord]
) -> None:
    domain = make_domain(uow)
    _settle(cache)
    app = RdapApp(load_settings(environ={}).rdap, source(uow, cache))
    try:
        assert _rdap_get(app, "/domain/later.example").status_code == 404
        assert _rdap_get(app, "/domain/LATER.example").status_code == 404  # another URL, another memo entry
        assert _rdap_get(app, "/domain/later.example").status_code == 404
        services.create_domain(uow, actor=ACTOR, name="later.example", account=domain.account,
                               registrant=domain.contacts["registrant"].handle, reason="test")  # type: ignore[union-attr]  # fmt: skip
        _wait_for_notification(cache, "later.example")
        for path in ("/domain/later.example", "/domain/LATER.example"):
            answer = _rdap_get(app, path)
            assert answer.status_code == 200 and answer.json()["ldhName"] == "later.example"
    finally:
        app.close()


def _rdap_get(app: RdapApp, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            return await http.get(path)

    return asyncio.run(go())


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """PostgreSQL only: the listener exists there alone (SQLite checks data_version on every lookup)."""
    with postgres_schema_url() as url:
        eng = make_engine(url)
        upgrade(eng)
        yield eng
        eng.dispose()


def test_a_lost_listener_bypasses_the_cache_instead_of_serving_stale(pg_engine: Engine) -> None:
    engine, uow = pg_engine, UnitOfWork(pg_engine)
    feed = change_feed_for(engine)
    assert isinstance(feed, PostgresNotifications) and feed.generation() is not None
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN domainpriv_change%' AND pid <> pg_backend_pid() "
                    "AND application_name = :name"
                ),
                {"name": feed.application_name},
            )
        deadline = time.monotonic() + 5
        while feed.generation() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        cache = RecordCache[PublicRecord](feed, max_entries=10)
        domain = make_domain(uow)
        # While the feed is down (or just back), answers still come from the store.
        assert source(uow, cache).lookup(domain.name) is not None
        assert feed.wait_ready(5)
        deadline = time.monotonic() + 5
        while feed.generation() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert feed.generation() is not None
    finally:
        feed.close()


def _settle(cache: RecordCache[PublicRecord]) -> None:
    """Let notifications of the set-up's own commits arrive (PostgreSQL delivers them asynchronously)."""
    feed = cache._feed
    stable_since, last = time.monotonic(), feed.generation()
    while time.monotonic() - stable_since < 0.2:
        time.sleep(0.01)
        if feed.generation() != last:
            stable_since, last = time.monotonic(), feed.generation()


def _wait_for_notification(cache: RecordCache[PublicRecord], a_label: str) -> None:
    """On PostgreSQL the NOTIFY is delivered at commit, asynchronously: allow the listener up to 2 s, and prove
    that until it arrives the entry is still served only if the feed says nothing changed. On SQLite the check
    is synchronous and this returns at once."""
    deadline = time.monotonic() + 2
    while cache.peek(a_label)[0] and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not cache.peek(a_label)[0]

"""The public servers' record cache never serves a stale answer and drops only what changed: per-domain
invalidation from the change feed, for every kind of change, on both backends; the RDAP answer memo built on it
(rdds/memo.py); freshness across processes within the poll interval."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from domainpriv import demo
from domainpriv.audit import Actor
from domainpriv.changes import follower as follower_module
from domainpriv.changes.services import prune_changes
from domainpriv.config import load_settings
from domainpriv.privacy import PublicRecord
from domainpriv.rdds import DatabaseSource, publication_policy
from domainpriv.rdds.cache import RecordCache
from domainpriv.rdds.rdap_app import RdapApp
from domainpriv.registration import services
from domainpriv.registration.lookup import AsyncLookups
from domainpriv.registration.validation import validate_contact
from domainpriv.store import ConsentPurpose, PrivacyMode, UnitOfWork, make_read_engine
from domainpriv.store.availability import DatabaseUnavailable
from domainpriv.transfer import import_registrations
from support.builders import contact_fields, make_account, make_contact, make_domain
from support.feeds import followed_cache

ACTOR = Actor("staff", "tester")
POLICY = publication_policy(load_settings(environ={}))


@pytest.fixture
def cached(engine: Engine) -> Iterator[RecordCache[PublicRecord]]:
    with followed_cache(engine) as (cache, _):
        yield cache


def source(uow: UnitOfWork, cache: RecordCache[PublicRecord]) -> DatabaseSource:
    return DatabaseSource(uow, POLICY, cache)


def kept(src: DatabaseSource, views: dict[str, PublicRecord | None]) -> set[str]:
    """The names whose cached view is still the very object looked up before (not reloaded)."""
    return {name for name, view in views.items() if src.peek(name) == (True, view)}


def test_second_lookup_is_a_hit_and_a_local_change_shows_in_the_next_answer(
    uow: UnitOfWork, cached: RecordCache[PublicRecord]
) -> None:
    domain = make_domain(uow)
    src = source(uow, cached)
    first = src.lookup(domain.name)
    assert first is not None and first.registrant.proxy is False
    hits = cached.hits
    assert src.lookup(domain.name) is first and cached.hits == hits + 1
    services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode=PrivacyMode.PROXY, reason="test")
    # No waiting: a commit in this process is applied to its followers before the service returns.
    after = src.lookup(domain.name)
    assert after is not None and after.registrant.proxy is True


def test_each_kind_of_change_drops_exactly_the_domains_it_affects(
    uow: UnitOfWork, cached: RecordCache[PublicRecord]
) -> None:
    """Contact edits reach every domain using the contact in any role, consent changes the account's domains;
    nothing else is dropped."""
    acct, other_acct = make_account(uow).handle, make_account(uow).handle
    shared = make_contact(uow, acct)
    a = make_domain(uow, account=acct, registrant=shared.handle)
    b = make_domain(uow, account=acct, registrant=make_contact(uow, acct).handle, tech=shared.handle)
    c = make_domain(uow, account=acct, registrant=make_contact(uow, acct).handle, billing=shared.handle)
    d = make_domain(uow, account=other_acct)
    src = source(uow, cached)
    names = [a.name, b.name, c.name, d.name, "not-yet.example"]

    def change(action: Callable[[], object]) -> set[str]:
        views = {n: src.lookup(n) for n in names}
        assert kept(src, views) == set(names)
        action()
        return set(names) - kept(src, views)

    edited = validate_contact(contact_fields(city="Paris"))
    assert change(lambda: services.update_contact(uow, actor=ACTOR, handle=shared.handle, data=edited,
                                                  reason="t")) == {a.name, b.name, c.name}  # fmt: skip
    assert change(lambda: services.set_privacy_mode(uow, actor=ACTOR, domain=d.name, mode="proxy",
                                                    reason="t")) == {d.name}  # fmt: skip
    ns = [("ns1.example.net", [])]
    assert change(lambda: services.set_nameservers(uow, actor=ACTOR, domain=a.name, nameservers=ns,
                                                   reason="t")) == {a.name}  # fmt: skip
    assert change(lambda: services.set_domain_contact(uow, actor=ACTOR, domain=c.name, role="tech",
                                                      contact=shared.handle, reason="t")) == {c.name}  # fmt: skip
    assert change(lambda: services.record_consent(uow, actor=ACTOR, account=acct,
                                                  purpose=ConsentPurpose.PUBLISH_ORGANIZATION, granted=True,
                                                  source="portal", reason="t")) == {a.name, b.name, c.name}  # fmt: skip
    assert change(lambda: make_domain(uow, "not-yet.example", account=other_acct)) == {"not-yet.example"}
    assert src.lookup("not-yet.example") is not None  # the cached "not found" did not outlive the creation
    assert change(lambda: make_contact(uow, acct)) == set()  # a new contact is used by no domain yet


def test_changes_that_affect_everything_reset_the_cache(uow: UnitOfWork, cached: RecordCache[PublicRecord]) -> None:
    domain = make_domain(uow)
    src = source(uow, cached)
    view = src.lookup(domain.name)
    resets = cached.resets
    lines = (orjson.dumps(r) for r in demo.demo_records(3, 7))
    import_registrations(uow, actor=ACTOR, lines=lines, reason="test")
    assert cached.resets == resets + 1 and src.peek(domain.name) == (False, None)
    assert src.lookup(domain.name) == view  # reloaded (equal, not the same object)
    settings = load_settings(environ={}).privacy_service.model_copy(update={"name": "Another Privacy Service"})
    services.sync_privacy_service(uow, actor=ACTOR, settings=settings)
    assert cached.resets == resets + 2 and src.peek(domain.name) == (False, None)


def test_a_memoised_rdap_answer_is_replaced_after_a_change(uow: UnitOfWork, cached: RecordCache[PublicRecord]) -> None:
    """The first answer is rendered on the lookup path and memoised; the next one needs no store load; after a
    change the memo no longer matches the cached view and the new body is sent, then memoised in its turn."""
    domain, other = make_domain(uow), make_domain(uow)
    app = RdapApp(load_settings(environ={}).rdap, source(uow, cached))
    try:
        first = _rdap_get(app, f"/domain/{domain.name}")
        other_first = _rdap_get(app, f"/domain/{other.name}")
        misses = cached.misses
        again = _rdap_get(app, f"/domain/{domain.name}")
        assert again.content == first.content and cached.misses == misses
        assert "Privacy Service" not in first.text
        services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode=PrivacyMode.PROXY, reason="test")
        after = _rdap_get(app, f"/domain/{domain.name}")
        assert after.status_code == 200 and "Privacy Service" in after.text
        assert cached.misses == misses + 1
        assert _rdap_get(app, f"/domain/{domain.name}").content == after.content  # memoised anew
        assert _rdap_get(app, f"/domain/{other.name}").content == other_first.content
        assert cached.misses == misses + 1  # the other domain's memoised answer was not touched
    finally:
        app.close()


def test_a_memoised_rdap_not_found_turns_into_the_domain_once_created(
    uow: UnitOfWork, cached: RecordCache[PublicRecord]
) -> None:
    domain = make_domain(uow)
    app = RdapApp(load_settings(environ={}).rdap, source(uow, cached))
    try:
        assert _rdap_get(app, "/domain/later.example").status_code == 404
        assert _rdap_get(app, "/domain/LATER.example").status_code == 404  # another URL, another memo entry
        assert _rdap_get(app, "/domain/later.example").status_code == 404
        services.create_domain(uow, actor=ACTOR, name="later.example", account=domain.account,
                               registrant=domain.contacts["registrant"].handle, reason="test")  # type: ignore[union-attr]  # fmt: skip
        for path in ("/domain/later.example", "/domain/LATER.example"):
            answer = _rdap_get(app, path)
            assert answer.status_code == 200 and answer.json()["ldhName"] == "later.example"
    finally:
        app.close()


@pytest.mark.parametrize("listen", [True, False], ids=["notify", "poll-only"])
def test_a_change_committed_by_another_process_is_seen_within_the_poll_interval(
    uow: UnitOfWork, engine: Engine, db_url: str, listen: bool
) -> None:
    """Another daemon, the portal or the CLI commits in another process: no after-commit hook here, the follower
    finds it by its poll (or, on PostgreSQL, a NOTIFY wakes it at once). Measured from the other process's exit."""
    domain, neighbour = make_domain(uow), make_domain(uow)
    poll = 0.2
    with followed_cache(engine, poll_interval_seconds=poll, listen=listen) as (cache, _):
        src = source(uow, cache)
        before, neighbour_view = src.lookup(domain.name), src.lookup(neighbour.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_")}
        env["DOMAINPRIV_DATABASE_URL"] = db_url
        subprocess.run([sys.executable, "-m", "domainpriv", "privacy", "set", domain.name, "proxy"],
                       env=env, check=True, capture_output=True, timeout=60)  # fmt: skip
        committed = time.monotonic()
        while src.peek(domain.name)[0] and time.monotonic() - committed < 5:
            time.sleep(0.002)
        seen_after = time.monotonic() - committed
        after = src.lookup(domain.name)
        assert src.peek(neighbour.name) == (True, neighbour_view)
    assert before is not None and after is not None and after.registrant.proxy and not before.registrant.proxy
    assert seen_after < poll + 0.3, f"seen {seen_after:.3f} s after the commit (poll interval {poll} s)"


def test_a_follower_behind_the_pruning_horizon_resets_its_cache(uow: UnitOfWork, engine: Engine) -> None:
    """A follower that was not polling while the feed was pruned past its position cannot know what it missed:
    it drops everything instead of serving what may be stale."""
    domain, other = make_domain(uow), make_domain(uow)
    with followed_cache(engine, poll_interval_seconds=30, listen=False) as (cache, follower):
        src = source(uow, cache)
        views = {domain.name: src.lookup(domain.name), other.name: src.lookup(other.name)}
        follower_module._LOCAL_FOLLOWERS.discard(follower)  # as if in another process: no after-commit poll
        services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode="proxy", reason="test")
        report = prune_changes(uow, older_than=uow.clock() + timedelta(seconds=1))
        assert report.rows >= 1 and kept(src, views) == set(views)  # not polled yet: both still cached
        resets = cache.resets
        assert follower.poll_now()
        assert cache.resets == resets + 1 and follower.resets == 1
        assert kept(src, views) == set()
        after = src.lookup(domain.name)
        assert after is not None and after.registrant.proxy


def test_a_change_while_a_load_is_in_flight_is_not_cached(uow: UnitOfWork, cached: RecordCache[PublicRecord]) -> None:
    """The load read the old row; the change committed (and was applied) before the load finished: the old view
    is answered to the lookup that was already running, but never stored."""
    domain = make_domain(uow)
    src = source(uow, cached)
    loaded, release = threading.Event(), threading.Event()
    real_load = src._load

    def slow_load(name: str) -> PublicRecord | None:
        view = real_load(name)
        loaded.set()
        release.wait(10)
        return view

    results: list[PublicRecord | None] = []
    worker = threading.Thread(target=lambda: results.append(cached.get(domain.name, slow_load)))
    worker.start()
    assert loaded.wait(10)
    services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode="proxy", reason="test")
    release.set()
    worker.join(10)
    assert results and results[0] is not None and not results[0].registrant.proxy
    assert src.peek(domain.name) == (False, None)
    after = src.lookup(domain.name)
    assert after is not None and after.registrant.proxy


def _rdap_get(app: RdapApp, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            return await http.get(path)

    return asyncio.run(go())


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """PostgreSQL only: the asyncio lookups exist there alone (SQLite's misses go to the lookup pool)."""
    from domainpriv.store.migrate import upgrade
    from support.databases import postgres_schema_url

    with postgres_schema_url() as url:
        eng = make_read_engine(url, pool_size=4)
        upgrade(eng)
        yield eng
        eng.dispose()


def test_misses_on_the_event_loop_share_one_query_and_never_cache_a_view_overtaken_by_a_change(
    pg_engine: Engine,
) -> None:
    """The daemon's PostgreSQL path: `lookup_async` on psycopg's asyncio connections. Eight concurrent misses for
    one name are one query; a change applied while that query runs is not cached; a lookup after it loads anew."""
    uow = UnitOfWork(pg_engine)
    domain = make_domain(uow)
    with followed_cache(pg_engine) as (cache, _):

        async def scenario() -> tuple[list[PublicRecord | None], PublicRecord | None, int]:
            lookups = AsyncLookups(pg_engine, 4)
            src = DatabaseSource(uow, POLICY, cache, loop_lookups=lookups)
            queries = 0
            real_find = lookups.find

            async def counted_find(name: str) -> object:
                nonlocal queries
                queries += 1
                record = await real_find(name)
                if queries == 1:  # the change commits (and is applied) while the first query's view is in hand
                    await asyncio.to_thread(services.set_privacy_mode, uow, actor=ACTOR, domain=domain.name,
                                            mode="proxy", reason="test")  # fmt: skip
                return record

            lookups.find = counted_find  # type: ignore[method-assign]
            try:
                first = await asyncio.gather(*(src.lookup_async(domain.name) for _ in range(8)))
                shared = queries
                assert src.peek(domain.name) == (False, None)  # overtaken by the change: not cached
                after = await src.lookup_async(domain.name)
                assert src.peek(domain.name) == (True, after)
            finally:
                await lookups.close()
            return first, after, shared

        first, after, shared = asyncio.run(scenario())
    assert shared == 1 and all(view is first[0] for view in first)
    assert first[0] is not None and not first[0].registrant.proxy
    assert after is not None and after.registrant.proxy


def test_an_event_loop_miss_against_a_database_that_is_away_raises_database_unavailable(tmp_path: Path) -> None:
    from support.ports import free_port

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing-listens-here"
    engine = make_read_engine(url, pool_size=2)

    async def scenario() -> None:
        lookups = AsyncLookups(engine, 2)
        src = DatabaseSource(UnitOfWork(engine), POLICY, None, loop_lookups=lookups)
        with pytest.raises(DatabaseUnavailable) as raised:
            await src.lookup_async("example.com")
        assert "connection refused" in str(raised.value)
        await lookups.close()

    asyncio.run(scenario())
    engine.dispose()


class _Recorder:
    """A feed consumer that keeps what it was told, and when."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, frozenset[str]]] = []

    def invalidate(self, names: Collection[str]) -> None:
        self.calls.append((time.monotonic(), frozenset(names)))

    def reset(self) -> None:
        pass

    def set_serving(self, serving: bool) -> None:
        pass


def test_a_stream_of_other_processes_commits_is_read_in_few_polls_and_none_is_missed(
    uow: UnitOfWork, engine: Engine
) -> None:
    """Each commit of another process sends a NOTIFY; at 200 commits/s the follower must not poll 200 times a
    second (each poll is a query on the primary and work in every daemon), yet see every change soon after."""
    if engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY wake-ups are PostgreSQL's")
    import psycopg

    recorder = _Recorder()
    settings = follower_module.FollowerSettings(poll_interval_seconds=5.0)  # only the wake-ups can find them in time
    follower = follower_module.ChangeFollower(
        engine, recorder, settings=settings, primary_engine=engine, listen_dsn=follower_module.listen_dsn_for(engine)
    )
    follower.start()
    names = [f"stream-{i}.example" for i in range(60)]
    try:
        time.sleep(0.2)  # listening
        with psycopg.connect(follower_module.listen_dsn_for(engine) or "", autocommit=True) as writer:
            started = time.monotonic()
            for name in names:  # as another daemon's audited changes write them: a feed row and a NOTIFY
                with writer.transaction():
                    writer.execute(
                        "INSERT INTO domain_change (domain, audit_seq, changed_at) VALUES (%s, 0, now())", [name]
                    )
                    writer.execute(f"NOTIFY {follower_module.CHANNEL}")
                time.sleep(0.005)
            last_commit = time.monotonic()
        deadline = last_commit + 2.0
        while time.monotonic() < deadline and set(names) - {n for _, seen in recorder.calls for n in seen}:
            time.sleep(0.005)
    finally:
        follower.close()
    seen = {n for _, batch in recorder.calls for n in batch}
    assert seen >= set(names)
    last_seen = max(t for t, batch in recorder.calls if names[-1] in batch)
    assert last_seen - last_commit < 0.5, "the last change was seen late"
    elapsed = last_commit - started
    assert len(recorder.calls) <= elapsed * 20 + 3, (len(recorder.calls), elapsed)  # at most 20 polls a second

"""Audited writes under concurrency, on both backends: changes of one domain are applied and audited one after
the other, writers that lock rows and the audit chain never deadlock, and a read keeps PostgreSQL's prepared
statements (the cheap write path of issue 7)."""

from __future__ import annotations

import contextlib
import itertools

import orjson
import pytest
from sqlalchemy import Engine, select, text

from domainpriv.audit import verify_chain
from domainpriv.registration import services
from domainpriv.registration.errors import ConsentMissing
from domainpriv.store import AuditEvent, PrivacyMode, UnitOfWork
from support.builders import ACTOR, grant_publish_consent, make_account, make_contact, make_domain
from support.threads import run_threads


def privacy_events(uow: UnitOfWork, name: str) -> list[dict[str, str]]:
    with uow.reading() as r:
        rows = r.session.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.object_key == name, AuditEvent.action == "domain:privacy:set")
            .order_by(AuditEvent.seq)
        )
        return [orjson.loads(d) for d in rows]


def test_concurrent_changes_of_one_domain_are_audited_in_the_order_applied(engine: Engine, uow: UnitOfWork) -> None:
    """Each event's `from` is the previous event's `to`: no change read a state another had already replaced."""
    name = make_domain(uow).name
    writers, per_writer = 4, 10
    modes = (PrivacyMode.PROXY, PrivacyMode.REDACTED)

    def toggle(k: int) -> None:
        mine = UnitOfWork(engine, clock=uow.clock)
        for i in range(per_writer):
            services.set_privacy_mode(mine, actor=ACTOR, domain=name, mode=modes[(k + i) % 2], reason="race")

    run_threads(toggle, writers)
    events = privacy_events(uow, name)
    assert len(events) == writers * per_writer
    first = services.get_domain(uow, name=name)
    for before, after in itertools.pairwise(events):
        assert after["from"] == before["to"]
    assert events[-1]["to"] == first.privacy_mode.value
    with uow.reading() as r:
        verify_chain(r.session)


def test_withdrawing_consent_while_its_domains_change_neither_deadlocks_nor_loses_a_change(
    engine: Engine, uow: UnitOfWork
) -> None:
    """The withdrawal writes many domains and several events; the toggles lock one domain each. Row locks are
    taken before the chain's lock, so the two kinds of writer wait for each other but never in a cycle."""
    acct = make_account(uow).handle
    reg = make_contact(uow, acct).handle
    names = [make_domain(uow, f"d{i}.example", account=acct, registrant=reg).name for i in range(6)]
    rounds = 12

    def work(k: int) -> None:
        mine = UnitOfWork(engine, clock=uow.clock)
        for i in range(rounds):
            if k == 0:
                grant_publish_consent(mine, acct, granted=i % 2 == 0)
            else:
                name = names[(k + i) % len(names)]
                mode = (PrivacyMode.PUBLIC, PrivacyMode.PROXY, PrivacyMode.REDACTED)[(k + i) % 3]
                with contextlib.suppress(ConsentMissing):  # withdrawn a moment ago: refused, nothing written
                    services.set_privacy_mode(mine, actor=ACTOR, domain=name, mode=mode, reason="race")

    run_threads(work, 4)
    for name in names:
        events = privacy_events(uow, name)
        for before, after in itertools.pairwise(events):
            assert after["from"] == before["to"]
        if events:
            assert services.get_domain(uow, name=name).privacy_mode.value == events[-1]["to"]
    with uow.reading() as r:
        verify_chain(r.session)


def test_a_withdrawal_redacts_every_public_domain_with_one_event_each(uow: UnitOfWork) -> None:
    acct = make_account(uow).handle
    reg = make_contact(uow, acct).handle
    grant_publish_consent(uow, acct)
    public = [make_domain(uow, f"p{i}.example", account=acct, registrant=reg).name for i in range(3)]
    for name in public:
        services.set_privacy_mode(uow, actor=ACTOR, domain=name, mode="public", reason="test")
    proxied = make_domain(uow, "q.example", account=acct, registrant=reg, mode=PrivacyMode.PROXY).name
    grant_publish_consent(uow, acct, granted=False)
    for name in public:
        assert services.get_domain(uow, name=name).privacy_mode is PrivacyMode.REDACTED
        assert privacy_events(uow, name)[-1] == {"from": "public", "to": "redacted"}
    assert services.get_domain(uow, name=proxied).privacy_mode is PrivacyMode.PROXY
    assert privacy_events(uow, proxied) == []


def test_reads_keep_the_connections_prepared_statements(engine: Engine, uow: UnitOfWork) -> None:
    """psycopg prepares a statement run five times on a connection, and forgets them all on ROLLBACK: a read
    that ended in ROLLBACK made every later statement pay PostgreSQL's planning again (about 1.5 ms for a
    domain's record)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    name = make_domain(uow).name
    for _ in range(8):
        services.get_domain(uow, name=name)
    with engine.connect() as conn:
        prepared = conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("FROM domain JOIN account" in s for s in prepared), prepared

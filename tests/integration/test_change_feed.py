"""The change feed inside the database: what each audited change writes, in its own transaction, and how readers
follow it safely past pruning. Both backends."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from sqlalchemy import Engine, select

from domainpriv import demo
from domainpriv.audit import Actor
from domainpriv.changes import feed_position, read_changes
from domainpriv.changes.services import prune_changes
from domainpriv.config import load_settings
from domainpriv.registration import services
from domainpriv.registration.errors import ConsentMissing
from domainpriv.registration.validation import validate_contact
from domainpriv.store import AuditEvent, DomainChange, PrivacyMode, UnitOfWork
from domainpriv.transfer import import_registrations
from support.builders import contact_fields, grant_publish_consent, make_account, make_contact, make_domain

ACTOR = Actor("staff", "tester")


def feed_after(engine: Engine, position: int) -> list[tuple[str | None, str]]:
    """(domain, audit action) of each feed row after `position`, in feed order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(DomainChange.domain, AuditEvent.action)
            .join(AuditEvent, AuditEvent.seq == DomainChange.audit_seq)
            .where(DomainChange.position > position)
            .order_by(DomainChange.position)
        )
        return [(d, a) for d, a in rows]


def head(engine: Engine) -> int:
    with engine.connect() as conn:
        return feed_position(conn)


def test_each_service_records_the_domains_it_affected(uow: UnitOfWork, engine: Engine) -> None:
    acct = make_account(uow).handle
    shared = make_contact(uow, acct)
    a = make_domain(uow, "a.example", account=acct, registrant=shared.handle)
    b = make_domain(uow, "b.example", account=acct, registrant=make_contact(uow, acct).handle, admin=shared.handle)
    make_domain(uow, "c.example")
    start = head(engine)
    services.update_contact(uow, actor=ACTOR, handle=shared.handle, data=validate_contact(contact_fields()), reason="t")
    assert sorted(feed_after(engine, start)) == [("a.example", "contact::update"), ("b.example", "contact::update")]
    start = head(engine)
    services.set_privacy_mode(uow, actor=ACTOR, domain=b.name, mode="proxy", reason="t")
    services.set_nameservers(uow, actor=ACTOR, domain=a.name, nameservers=[("ns.example.net", [])], reason="t")
    services.set_domain_contact(uow, actor=ACTOR, domain=a.name, role="tech", contact=shared.handle, reason="t")
    assert feed_after(engine, start) == [
        ("b.example", "domain:privacy:set"),
        ("a.example", "domain:nameservers:set"),
        ("a.example", "domain:contact:tech"),
    ]


def test_withdrawing_consent_records_the_account_domains_and_their_mode_switch(uow: UnitOfWork, engine: Engine) -> None:
    acct = make_account(uow).handle
    public = make_domain(uow, "public.example", account=acct, mode=PrivacyMode.PUBLIC)
    make_domain(uow, "quiet.example", account=acct)
    make_domain(uow, "elsewhere.example")
    start = head(engine)
    grant_publish_consent(uow, acct, granted=False)
    assert sorted(feed_after(engine, start)) == [
        ("public.example", "account:consent:withdraw"),
        ("public.example", "domain:privacy:set"),
        ("quiet.example", "account:consent:withdraw"),
    ]
    assert services.get_domain(uow, name=public.name).privacy_mode.value == "redacted"


def test_a_refused_change_writes_no_feed_row(uow: UnitOfWork, engine: Engine) -> None:
    domain = make_domain(uow)
    start = head(engine)
    with pytest.raises(ConsentMissing):
        services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode="public", reason="t")
    assert feed_after(engine, start) == []


def test_an_import_and_a_new_privacy_service_identity_say_everything(uow: UnitOfWork, engine: Engine) -> None:
    start = head(engine)
    import_registrations(uow, actor=ACTOR, lines=(orjson.dumps(r) for r in demo.demo_records(5, 3)), reason="t")
    settings = load_settings(environ={}).privacy_service.model_copy(update={"city": "Elsewhere"})
    services.sync_privacy_service(uow, actor=ACTOR, settings=settings)
    assert feed_after(engine, start) == [(None, "registration:import:run"), (None, "privacy:service:sync")]
    with engine.connect() as conn:
        batch = read_changes(conn, start)
    assert batch.everything and not batch.behind_horizon and batch.rows == 2


def test_creating_accounts_and_contacts_records_nothing(uow: UnitOfWork, engine: Engine) -> None:
    start = head(engine)
    make_contact(uow, make_account(uow).handle)
    assert feed_after(engine, start) == []


def test_a_reader_follows_in_batches_and_resets_once_behind_the_pruning_horizon(
    uow: UnitOfWork, engine: Engine
) -> None:
    names = [make_domain(uow, f"d{i}.example").name for i in range(5)]
    with engine.connect() as conn:
        first = read_changes(conn, 0, limit=2)
        assert first.rows == 2 and first.more and not first.everything
        rest = read_changes(conn, first.position)
        assert not rest.more and first.names | rest.names == set(names)
        assert read_changes(conn, rest.position).empty
    report = prune_changes(uow, older_than=uow.clock() + timedelta(seconds=1), keep_after=first.position)
    assert report.rows == 2 and report.pruned_through == first.position  # escrow's watermark is respected
    with engine.connect() as conn:
        assert not read_changes(conn, first.position).behind_horizon  # exactly at the horizon: nothing missed
        behind = read_changes(conn, 0)
    assert behind.behind_horizon and behind.everything and behind.position == rest.position
    report = prune_changes(uow, older_than=uow.clock() + timedelta(seconds=1))
    assert report.pruned_through == rest.position
    assert prune_changes(uow, older_than=uow.clock() + timedelta(seconds=1)).rows == 0  # idempotent
    with engine.connect() as conn:
        assert feed_position(conn) == rest.position  # everything pruned: a new reader starts at the horizon
    make_domain(uow, "after.example")
    with engine.connect() as conn:
        after = read_changes(conn, rest.position)
    assert after.names == {"after.example"} and after.position > rest.position  # positions are never reused
    with uow.reading() as r:
        actions = list(r.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "changes:feed:prune")))
    assert actions == ["changes:feed:prune", "changes:feed:prune"]  # audited when something was pruned

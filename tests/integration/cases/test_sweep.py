"""The cases part of the sweep on both backends: two sweeps at once act exactly once per timer, an interrupted
sweep is finished by the next without doubling, a failing step is retried visibly and succeeds once the cause is
gone, and an idle sweep costs one indexed read however many cases are open."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Engine, event, inspect, select

from domainpriv.cases import act, get_case, process_due
from domainpriv.config import Settings
from domainpriv.registration import services as registration
from domainpriv.store import CaseEvent, UnitOfWork
from domainpriv.sweep import sweep
from support.builders import make_contact, make_domain
from support.threads import run_threads
from tests.integration.cases.conftest import STAFF, World, notices, open_complaint


def notified_complaints(uow: UnitOfWork, settings: Settings, n: int) -> list[int]:
    """n complaints, each against its own domain of cust-1, accepted and the customer notified."""
    reg = make_contact(uow, "cust-1", "REG-S")
    ids = []
    for i in range(n):
        name = f"sweep-{i}.example"
        make_domain(uow, name, account="cust-1", registrant=reg.handle)
        case = open_complaint(uow, settings, domain=name)
        act(uow, case.id, "accept", settings=settings, actor=STAFF)
        act(uow, case.id, "notify-customer", settings=settings, actor=STAFF)
        ids.append(case.id)
    return ids


def actions(uow: UnitOfWork) -> Counter[tuple[int, str]]:
    with uow.reading() as r:
        return Counter((e.case_id, e.action) for e in r.session.scalars(select(CaseEvent)))


def test_two_sweeps_at_once_act_on_each_timer_exactly_once(
    engine: Engine, uow: UnitOfWork, settings: Settings, world: World, clock: Any
) -> None:
    ids = notified_complaints(uow, settings, 6)
    deadline = get_case(uow, ids[0], actor=STAFF).customer_deadline_at
    reminder = get_case(uow, ids[0], actor=STAFF).reminder_at
    assert deadline is not None and reminder is not None
    for moment in (reminder, deadline):
        clock.now = moment

        def one_sweep(_: int) -> None:
            process_due(UnitOfWork(engine, clock=clock), settings, clock.now)

        run_threads(one_sweep, 3)
    counts = actions(uow)
    for case_id in ids:
        assert [counts[(case_id, a)] for a in ("remind", "deadline-passed", "deactivate")] == [1, 1, 1]
        assert get_case(uow, case_id, actor=STAFF).state == "deactivated"
    assert len(notices(uow, "case-reminder")) == 2 * len(ids)  # the customer and the reseller, once each
    assert len(notices(uow, "case-deactivated")) == 2 * len(ids)


def test_an_interrupted_sweep_is_finished_by_the_next_and_nothing_is_doubled(
    uow: UnitOfWork, settings: Settings, world: World, clock: Any
) -> None:
    ids = notified_complaints(uow, settings, 3)
    clock.advance(days=40)
    first = process_due(uow, settings, clock.now, max_steps=2)  # stopped after two steps (a restart)
    assert first.acted == 2
    rest = process_due(uow, settings, clock.now)
    assert first.acted + rest.acted == 2 * len(ids)  # deadline-passed and deactivate, per case
    assert process_due(uow, settings, clock.now).acted == 0
    counts = actions(uow)
    assert all(counts[(i, "deactivate")] == 1 and counts[(i, "deadline-passed")] == 1 for i in ids)


def test_a_failing_escalation_is_retried_visibly_and_succeeds_once_the_cause_is_gone(
    uow: UnitOfWork, settings: Settings, world: World, clock: Any
) -> None:
    first = open_complaint(uow, settings)
    second = open_complaint(uow, settings)
    for case in (first, second):
        act(uow, case.id, "accept", settings=settings, actor=STAFF)
        act(uow, case.id, "notify-customer", settings=settings, actor=STAFF)
    clock.advance(days=40)
    report = sweep(uow, settings, clock.now)
    assert report.cases.failed == 1 and any("already deactivated by case" in line for line in report.lines())
    stuck = get_case(uow, second.id, actor=STAFF)
    assert stuck.state == "deadline_passed" and stuck.attempts == 1
    assert stuck.last_error == f"domain shop.example is already deactivated by case {first.reference}"
    assert stuck.due_at is not None and stuck.due_at > clock.now  # paused, still pending
    assert process_due(uow, settings, clock.now).acted == 0  # not before its pause
    act(uow, first.id, "reactivate", settings=settings, actor=STAFF, reason="assurances arrived late")
    clock.advance(minutes=2)
    assert process_due(uow, settings, clock.now).lines == (f"case {second.reference}: domain shop.example deactivated",)
    fixed = get_case(uow, second.id, actor=STAFF)
    assert fixed.state == "deactivated" and fixed.attempts == 0 and fixed.last_error is None
    assert "clientHold" in registration.get_domain(uow, name="shop.example").statuses


def test_an_idle_sweep_is_one_read_of_the_partial_due_index(
    engine: Engine, uow: UnitOfWork, settings: Settings, world: World, clock: Any
) -> None:
    notified_complaints(uow, settings, 3)
    closed = open_complaint(uow, settings)
    act(uow, closed.id, "reject", settings=settings, actor=STAFF, reason="not specific")
    assert get_case(uow, closed.id, actor=STAFF).due_at is None  # out of the index
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert process_due(uow, settings, clock.now).acted == 0
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    (index,) = [ix for ix in inspect(engine).get_indexes("legal_case") if ix["column_names"] == ["due_at"]]
    where = index.get("dialect_options", {})
    assert "due_at IS NOT NULL" in str(where.get("postgresql_where", where.get("sqlite_where", "")))

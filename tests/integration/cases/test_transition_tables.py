"""Every transition of every kind's table, and every illegal one, generated from the tables (cases/states.py) and
run through the service on both backends: a legal action from each of its states enters its state; any other
action is refused naming the current state and changes nothing; who may act is enforced."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from domainpriv.audit import SYSTEM
from domainpriv.cases import TABLES, IllegalTransition, Kind, NotAllowedToAct, UnknownAction, Who, act, states
from domainpriv.cases.states import states_of, terminal, transition
from domainpriv.config import Settings
from domainpriv.store import AuditEvent, Case, Deactivation, UnitOfWork
from tests.integration.cases.conftest import CLI, World, open_complaint

LEGAL = [(kind, action, source) for kind, table in TABLES.items() for action, t in table.items() for source in
         sorted(t.sources)]  # fmt: skip


def test_the_tables_are_well_formed() -> None:
    for kind, table in TABLES.items():
        reachable = {states.RECEIVED}
        for t in table.values():
            assert t.who and t.action == next(a for a, x in table.items() if x is t)
            if t.target is not None:
                reachable.add(t.target)
        assert states_of(kind) <= reachable | {s for t in table.values() for s in t.sources}
        assert states.CLOSED in reachable and not terminal(kind, states.RECEIVED)
    assert transition("complaint", "customer_notified", "deadline-passed").who == {Who.SYSTEM}
    with pytest.raises(UnknownAction, match="not an action of abuse cases"):
        transition("abuse", "received", "disclose")


def test_the_package_states_its_public_names() -> None:
    import domainpriv.cases

    exported = domainpriv.cases.__all__
    assert len(exported) == len(set(exported)) and all(hasattr(domainpriv.cases, n) for n in exported)
    assert not [n for n in exported if n.startswith("_")]


def force(uow: UnitOfWork, case_id: int, state: str, *, deactivated: bool) -> None:
    """Put the case in `state` with every precondition of its actions met: the customer notified and the deadline
    passed, a deactivation in force when one is to be reversed (test set-up only)."""
    now = uow.clock()
    with uow:
        s = uow.session
        s.execute(delete(Deactivation).where(Deactivation.case_id == case_id))
        s.execute(update(Case).where(Case.id == case_id).values(
            state=state, customer_notified_at=now - timedelta(days=30), customer_deadline_at=now - timedelta(days=1),
            reminder_at=None, due_at=None, decided_at=None, closed_at=None, legal_order_at=None,
        ))  # fmt: skip
        if deactivated:
            s.add(Deactivation(case_id=case_id, domain_name="shop.example", state="active", statuses_before="ok",
                               statuses_added="", dns="none", dns_attempts=0, deactivated_at=now))  # fmt: skip
        uow.commit()


def audit_count(uow: UnitOfWork) -> int:
    with uow.reading() as r:
        return len(list(r.session.scalars(select(AuditEvent.seq))))


@pytest.mark.parametrize("kind", list(Kind))
def test_every_transition_and_every_illegal_one(uow: UnitOfWork, settings: Settings, world: World, kind: Kind) -> None:
    case = open_complaint(uow, settings, kind=kind.value, urgent=True, legal_basis="court order 12/2026")
    table = TABLES[kind]
    for state in sorted(states_of(kind)):
        for action, t in sorted(table.items()):
            actor = SYSTEM if Who.SYSTEM in t.who else CLI
            force(uow, case.id, state, deactivated=action == "reactivate")
            if state not in t.sources:
                before = audit_count(uow)
                with pytest.raises(IllegalTransition) as refused:
                    act(uow, case.id, action, settings=settings, actor=actor, reason="r", fields="registrant.name",
                        balancing_notes="b")  # fmt: skip
                assert refused.value.state == state and f"is {state}" in str(refused.value), (kind, state, action)
                assert audit_count(uow) == before
                continue
            after = act(uow, case.id, action, settings=settings, actor=actor, reason="because",
                        fields="registrant.name", balancing_notes="weighed")  # fmt: skip
            assert after.state == t.leads_from(state), (kind, state, action)
            assert after.history[-1].action == action and after.history[-1].from_state == state


@pytest.mark.parametrize("kind", [Kind.COMPLAINT, Kind.DISCLOSURE])
def test_only_the_system_passes_a_deadline_and_only_staff_decide(
    uow: UnitOfWork, settings: Settings, world: World, kind: Kind
) -> None:
    case = open_complaint(uow, settings, kind=kind.value)
    force(uow, case.id, "customer_notified", deactivated=False)
    with pytest.raises(NotAllowedToAct, match="for: system"):
        act(uow, case.id, "deadline-passed", settings=settings, actor=CLI)
    force(uow, case.id, "deadline_passed", deactivated=False)
    with pytest.raises(NotAllowedToAct, match="for: staff"):
        act(uow, case.id, "disclose", settings=settings, actor=SYSTEM, fields="registrant.name")

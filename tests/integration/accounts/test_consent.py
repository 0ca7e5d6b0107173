"""The consent ledger on real SQLite and PostgreSQL: every grant and withdrawal kept in order with its source and
policy version, purposes independent of each other, sources a closed set, audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from domainpriv.accounts import consent
from domainpriv.registration import services
from domainpriv.registration.errors import AccountNotFound, ValidationError
from domainpriv.store import AuditEvent, ConsentPurpose, PrivacyMode, UnitOfWork
from support.builders import ACTOR, make_account, make_domain

POLICY = "2026-12"
M, P, N = ConsentPurpose.MARKETING, ConsentPurpose.PARTNER_OFFERS, ConsentPurpose.RESELLER_NEWSLETTER


def test_the_ledger_lists_every_grant_and_withdrawal_in_order(uow: UnitOfWork, clock: object) -> None:
    handle = make_account(uow).handle
    steps = [(consent.grant, M, "portal", "2026-06"), (consent.grant, P, "api", POLICY),
             (consent.withdraw, M, "staff-email-request", POLICY), (consent.withdraw, M, "portal", POLICY),
             (consent.grant, M, "cli", None)]  # fmt: skip
    for step, purpose, source, version in steps:
        clock.advance(minutes=5)  # type: ignore[attr-defined]
        step(uow, actor=ACTOR, account=handle, purpose=purpose, source=source, policy_version=version, reason="t")
    entries = consent.ledger(uow, handle)
    assert [(e.purpose, e.granted, e.source, e.policy_version) for e in entries] == [
        (M, True, "portal", "2026-06"), (P, True, "api", POLICY), (M, False, "staff-email-request", POLICY),
        (M, False, "portal", POLICY), (M, True, "cli", None),
    ]  # fmt: skip
    times = [e.time for e in entries]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[-1] == clock.now  # type: ignore[attr-defined]


def test_purposes_are_separate_and_in_force_covers_every_purpose(uow: UnitOfWork) -> None:
    handle = make_account(uow).handle
    assert consent.in_force(uow, handle) == dict.fromkeys(ConsentPurpose, False)
    for purpose in (M, P, N):
        consent.grant(uow, actor=ACTOR, account=handle, purpose=purpose, source="portal", policy_version=POLICY,
                      reason="t")  # fmt: skip
    consent.withdraw(uow, actor=ACTOR, account=handle, purpose=P, source="portal", policy_version=POLICY, reason="t")
    state = consent.in_force(uow, handle)
    assert (state[M], state[P], state[N]) == (True, False, True)
    assert state[ConsentPurpose.PUBLISH_CONTACT_DATA] is False


@pytest.mark.parametrize("source", ["", "web", "Portal", "unsubscribe", "portal\n"])
def test_a_source_outside_the_closed_set_is_refused_naming_the_field(uow: UnitOfWork, source: str) -> None:
    handle = make_account(uow).handle
    with pytest.raises(ValidationError) as refused:
        consent.grant(uow, actor=ACTOR, account=handle, purpose=M, source=source, policy_version=POLICY, reason="t")
    assert refused.value.field == "source" and "staff-email-request" in str(refused.value)
    assert consent.ledger(uow, handle) == []


def test_a_bad_policy_version_is_refused_naming_the_field(uow: UnitOfWork) -> None:
    handle = make_account(uow).handle
    with pytest.raises(ValidationError) as refused:
        consent.grant(uow, actor=ACTOR, account=handle, purpose=M, source="portal", policy_version="x" * 33,
                      reason="t")  # fmt: skip
    assert refused.value.field == "policy_version"


def test_an_unknown_account_is_named(uow: UnitOfWork) -> None:
    with pytest.raises(AccountNotFound, match="nobody"):
        consent.grant(uow, actor=ACTOR, account="nobody", purpose=M, source="portal", policy_version=POLICY,
                      reason="t")  # fmt: skip
    with pytest.raises(AccountNotFound):
        consent.ledger(uow, "nobody")


def test_each_grant_and_withdrawal_is_audited_with_source_and_policy_version(uow: UnitOfWork) -> None:
    handle = make_account(uow).handle
    consent.grant(uow, actor=ACTOR, account=handle, purpose=M, source="portal", policy_version=POLICY, reason="t")
    consent.withdraw(uow, actor=ACTOR, account=handle, purpose=M, source="api", policy_version=POLICY, reason="t")
    with uow.reading() as r:
        events = list(r.session.scalars(select(AuditEvent).where(AuditEvent.object_key == handle,
                                                                 AuditEvent.action.like("account:consent:%"))
                                        .order_by(AuditEvent.seq)))  # fmt: skip
    assert [(e.action, json.loads(e.details)) for e in events] == [
        ("account:consent:grant", {"purpose": "marketing", "source": "portal", "policy_version": POLICY}),
        ("account:consent:withdraw", {"purpose": "marketing", "source": "api", "policy_version": POLICY}),
    ]


def test_withdrawing_consent_to_publish_still_unpublishes_through_the_ledger(uow: UnitOfWork) -> None:
    handle = make_account(uow).handle
    domain = make_domain(uow, account=handle, mode=PrivacyMode.PUBLIC).name
    consent.withdraw(uow, actor=ACTOR, account=handle, purpose=ConsentPurpose.PUBLISH_CONTACT_DATA,
                     source="portal", policy_version=POLICY, reason="t")  # fmt: skip
    assert services.get_domain(uow, name=domain).privacy_mode is PrivacyMode.REDACTED


def test_a_rolled_back_transaction_records_no_consent(uow: UnitOfWork) -> None:
    handle = make_account(uow).handle
    with uow:
        consent.grant(uow, actor=ACTOR, account=handle, purpose=M, source="portal", policy_version=POLICY,
                      reason="t")  # fmt: skip
        # the outer block leaves without commit: the joined grant is rolled back with it
    assert consent.ledger(uow, handle) == []

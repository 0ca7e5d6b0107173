"""Cases (domainpriv/cases): complaints, disclosure requests and abuse reports, their history, evidence, the
disclosure ledger and the saved state of a deactivation.

Deadlines are data (DESIGN invariant 5): every clock of a case is a column, and `due_at` is the earliest moment
the sweep has something to do for it (cases/deadlines.py computes it from the clocks after every change). Its
index holds only the rows with something pending (`due_at IS NOT NULL`): closed cases leave it, so an idle sweep
is one probe of a small index whatever the number of cases.

The table is `legal_case` (CASE is an SQL keyword). Field lists (`fields_requested`, `fields` of the ledger) are
public field names (cases/fields.py) separated by spaces, sorted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domainpriv.store.base import Base, UTCDateTime


class Case(Base):
    __tablename__ = "legal_case"
    __table_args__ = (
        Index(None, "due_at", postgresql_where=text("due_at IS NOT NULL"), sqlite_where=text("due_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)  # given to the requester, e.g. DIS-2026-000042
    kind: Mapped[str] = mapped_column(String(16))  # complaint | disclosure | abuse
    state: Mapped[str] = mapped_column(String(32), index=True)
    domain_name: Mapped[str] = mapped_column(String(253), index=True)  # lowercase A-label, kept if the domain goes
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domain.id", ondelete="SET NULL"), index=True)
    # The requester, as they gave themselves (RDP: identity, organisation, address, phone, e-mail).
    requester_name: Mapped[str] = mapped_column(String(255))
    requester_email: Mapped[str] = mapped_column(String(254))
    requester_org: Mapped[str | None] = mapped_column(String(255))
    requester_address: Mapped[str | None] = mapped_column(String(800))
    requester_phone: Mapped[str | None] = mapped_column(String(17))
    authentication: Mapped[str] = mapped_column(String(32))  # none | verified | law-enforcement
    urgent: Mapped[bool] = mapped_column(Boolean)  # threat to life, critical infrastructure, child exploitation
    allegation: Mapped[str] = mapped_column(Text)  # the complaint, the request, the report
    legal_basis: Mapped[str | None] = mapped_column(Text)  # the rights or the law the requester relies on
    fields_requested: Mapped[str] = mapped_column(String(1024))
    legal_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # an urgent legal order accepted
    # The clocks of the disclosure register (and of the other kinds where they apply).
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(32))  # disclosed | partial | refused | rejected | ...
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The customer's side: the notice, its deadline and the reminder before it.
    customer_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    customer_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    customer_notice: Mapped[str | None] = mapped_column(Text)  # the text the customer was sent
    reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline_passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refusal_reasons: Mapped[str | None] = mapped_column(Text)
    balancing_notes: Mapped[str | None] = mapped_column(Text)
    missed_clocks: Mapped[str] = mapped_column(String(64))  # "acknowledgement decision": marked by the sweep
    # The sweep: when it next has something to do (NULL: nothing), and a failed attempt's pause and reason.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[CaseEvidence]] = relationship(
        back_populates="case", order_by="CaseEvidence.id", cascade="all, delete-orphan"
    )
    deactivations: Mapped[list[Deactivation]] = relationship(
        back_populates="case", order_by="Deactivation.id", cascade="all, delete-orphan"
    )


class CaseEvent(Base):
    """One step of a case's history: a transition (from → to) or a sweep's mark (from = to)."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("legal_case.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(80))  # as the audit log names it
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # JSON object
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="events")


class CaseEvidence(Base):
    """An evidence file sent with a case, stored under cases.evidence_dir by its SHA-256."""

    __tablename__ = "case_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("legal_case.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))  # as sent (a base name)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    added_by: Mapped[str] = mapped_column(String(80))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="evidence")


class DisclosureEntry(Base):
    """The disclosure ledger: who received which fields of whose registration, when, on what basis, under which
    case. The registrant sees it (portal, export); rows are never changed."""

    __tablename__ = "disclosure_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("legal_case.id"), index=True)
    domain_name: Mapped[str] = mapped_column(String(253))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"), index=True)
    recipient_name: Mapped[str] = mapped_column(String(255))
    recipient_org: Mapped[str | None] = mapped_column(String(255))
    recipient_email: Mapped[str] = mapped_column(String(254))
    fields: Mapped[str] = mapped_column(String(1024))
    basis: Mapped[str] = mapped_column(Text)
    legal_order: Mapped[bool] = mapped_column(Boolean)  # released on an urgent legal order, without prior notice
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Deactivation(Base):
    """What a deactivation changed, saved so that `reactivate` restores exactly that: the EPP statuses before and
    the ones added, the privacy mode before and after, and the DNS delegation removed (SavedDelegation JSON).

    `state`: active → restoring → restored. `dns`: none (not configured or not wanted) | suspending | suspended |
    restoring | restored; while suspending or restoring, `dns_next_attempt_at` is when the sweep tries (again),
    `dns_last_error` why the last try failed: a visible retry state, never a silent half-done one."""

    __tablename__ = "case_deactivation"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("legal_case.id", ondelete="CASCADE"), index=True)
    domain_name: Mapped[str] = mapped_column(String(253), index=True)
    state: Mapped[str] = mapped_column(String(16))
    statuses_before: Mapped[str] = mapped_column(String(512))
    statuses_added: Mapped[str] = mapped_column(String(512))
    privacy_before: Mapped[str | None] = mapped_column(String(16))  # NULL: privacy was not changed
    privacy_set: Mapped[str | None] = mapped_column(String(16))
    dns: Mapped[str] = mapped_column(String(16))
    dns_saved: Mapped[str | None] = mapped_column(Text)  # the removed delegation, SavedDelegation.to_json()
    dns_attempts: Mapped[int] = mapped_column(Integer)
    dns_next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dns_last_error: Mapped[str | None] = mapped_column(String(500))
    dns_retryable: Mapped[bool | None] = mapped_column(Boolean)
    deactivated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship(back_populates="deactivations")

"""Frozen snapshots of cases, handed out by the services instead of live rows (`case show --json` prints
`CaseSnapshot.to_json()`; the portal shows a customer `customer_json()`, without the requester's address and
phone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from domainpriv.cases.fields import split_fields
from domainpriv.registration.records import iso
from domainpriv.store import Case, CaseEvent, CaseEvidence, Deactivation, DisclosureEntry

__all__ = ["CaseEventRecord", "CaseSnapshot", "DeactivationRecord", "EvidenceRecord", "LedgerEntry", "snapshot"]


@dataclass(frozen=True, slots=True)
class CaseEventRecord:
    action: str
    from_state: str
    to_state: str
    actor: str
    reason: str
    details: dict[str, Any]
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "from": self.from_state, "to": self.to_state, "actor": self.actor,
                "reason": self.reason, "details": self.details, "at": iso(self.at)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    name: str
    bytes: int
    sha256: str
    added_by: str
    added_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.bytes, "sha256": self.sha256, "added_by": self.added_by,
                "added_at": iso(self.added_at)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeactivationRecord:
    id: int
    domain: str
    state: str  # active | restoring | restored
    statuses_before: tuple[str, ...]
    statuses_added: tuple[str, ...]
    privacy_before: str | None
    privacy_set: str | None
    dns: str  # none | suspending | suspended | restoring | restored
    dns_attempts: int
    dns_next_attempt_at: datetime | None
    dns_last_error: str | None
    deactivated_at: datetime
    restored_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "domain": self.domain, "state": self.state, "statuses_before": list(self.statuses_before),
            "statuses_added": list(self.statuses_added), "privacy_before": self.privacy_before,
            "privacy_set": self.privacy_set, "dns": self.dns, "dns_attempts": self.dns_attempts,
            "dns_next_attempt_at": iso(self.dns_next_attempt_at), "dns_last_error": self.dns_last_error,
            "deactivated_at": iso(self.deactivated_at), "restored_at": iso(self.restored_at),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One disclosure as the registrant sees it: who received which fields of which domain, when, why."""

    case: str  # the case reference
    domain: str
    recipient_name: str
    recipient_org: str | None
    fields: tuple[str, ...]
    basis: str
    legal_order: bool
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "domain": self.domain, "recipient_name": self.recipient_name,
                "recipient_org": self.recipient_org, "fields": list(self.fields), "basis": self.basis,
                "legal_order": self.legal_order, "at": iso(self.at)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CaseSnapshot:
    id: int
    reference: str
    kind: str
    state: str
    domain: str
    requester_name: str
    requester_email: str
    requester_org: str | None
    requester_address: str | None
    requester_phone: str | None
    authentication: str
    urgent: bool
    allegation: str
    legal_basis: str | None
    fields_requested: tuple[str, ...]
    legal_order_at: datetime | None
    received_at: datetime
    ack_due_at: datetime | None
    acknowledged_at: datetime | None
    decision_due_at: datetime | None
    decided_at: datetime | None
    decision: str | None
    closed_at: datetime | None
    customer_notified_at: datetime | None
    customer_deadline_at: datetime | None
    reminder_at: datetime | None
    reminder_sent_at: datetime | None
    deadline_passed_at: datetime | None
    refusal_reasons: str | None
    balancing_notes: str | None
    missed_clocks: tuple[str, ...]
    due_at: datetime | None
    attempts: int
    last_error: str | None
    history: tuple[CaseEventRecord, ...]
    evidence: tuple[EvidenceRecord, ...]
    deactivations: tuple[DeactivationRecord, ...]
    disclosures: tuple[LedgerEntry, ...]
    related: tuple[str, ...] = ()  # the references of the other cases about the same domain (get_case fills it)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "reference": self.reference, "kind": self.kind, "state": self.state,
            "domain": self.domain,
            "requester": {"name": self.requester_name, "email": self.requester_email, "org": self.requester_org,
                          "address": self.requester_address, "phone": self.requester_phone,
                          "authentication": self.authentication},
            "urgent": self.urgent, "allegation": self.allegation, "legal_basis": self.legal_basis,
            "fields_requested": list(self.fields_requested), "legal_order_at": iso(self.legal_order_at),
            "clocks": {
                "received_at": iso(self.received_at), "ack_due_at": iso(self.ack_due_at),
                "acknowledged_at": iso(self.acknowledged_at), "decision_due_at": iso(self.decision_due_at),
                "decided_at": iso(self.decided_at), "closed_at": iso(self.closed_at),
                "customer_notified_at": iso(self.customer_notified_at),
                "customer_deadline_at": iso(self.customer_deadline_at), "reminder_at": iso(self.reminder_at),
                "reminder_sent_at": iso(self.reminder_sent_at), "deadline_passed_at": iso(self.deadline_passed_at),
                "missed": list(self.missed_clocks),
            },
            "decision": self.decision, "refusal_reasons": self.refusal_reasons,
            "balancing_notes": self.balancing_notes, "due_at": iso(self.due_at),
            "sweep": {"attempts": self.attempts, "last_error": self.last_error},
            "history": [e.to_json() for e in self.history],
            "evidence": [e.to_json() for e in self.evidence],
            "deactivations": [d.to_json() for d in self.deactivations],
            "disclosures": [d.to_json() for d in self.disclosures],
            "related": list(self.related),
        }  # fmt: skip

    def customer_json(self) -> dict[str, Any]:
        """What the customer sees of a case against its domain: the requester's name, organisation and (for a
        complaint, whom the customer may contact) e-mail, never the address or phone."""
        doc = self.to_json()
        requester = {"name": self.requester_name, "org": self.requester_org}
        if self.kind == "complaint":
            requester["email"] = self.requester_email
        doc["requester"] = requester
        for key in ("balancing_notes", "sweep", "due_at"):
            doc.pop(key)
        return doc


def snapshot(case: Case, disclosures: list[DisclosureEntry]) -> CaseSnapshot:
    """The snapshot of a loaded case row (its events, evidence and deactivations loaded with it)."""
    return CaseSnapshot(
        id=case.id, reference=case.reference, kind=case.kind, state=case.state, domain=case.domain_name,
        requester_name=case.requester_name, requester_email=case.requester_email, requester_org=case.requester_org,
        requester_address=case.requester_address, requester_phone=case.requester_phone,
        authentication=case.authentication, urgent=case.urgent, allegation=case.allegation,
        legal_basis=case.legal_basis, fields_requested=split_fields(case.fields_requested),
        legal_order_at=case.legal_order_at, received_at=case.received_at, ack_due_at=case.ack_due_at,
        acknowledged_at=case.acknowledged_at, decision_due_at=case.decision_due_at, decided_at=case.decided_at,
        decision=case.decision, closed_at=case.closed_at, customer_notified_at=case.customer_notified_at,
        customer_deadline_at=case.customer_deadline_at, reminder_at=case.reminder_at,
        reminder_sent_at=case.reminder_sent_at, deadline_passed_at=case.deadline_passed_at,
        refusal_reasons=case.refusal_reasons, balancing_notes=case.balancing_notes,
        missed_clocks=tuple(case.missed_clocks.split()), due_at=case.due_at, attempts=case.attempts,
        last_error=case.last_error,
        history=tuple(_event(e) for e in case.events),
        evidence=tuple(_evidence(e) for e in case.evidence),
        deactivations=tuple(deactivation_record(d) for d in case.deactivations),
        disclosures=tuple(ledger_entry(d, case.reference) for d in disclosures),
    )  # fmt: skip


def _event(e: CaseEvent) -> CaseEventRecord:
    return CaseEventRecord(e.action, e.from_state, e.to_state, e.actor, e.reason, orjson.loads(e.details), e.at)


def _evidence(e: CaseEvidence) -> EvidenceRecord:
    return EvidenceRecord(e.name, e.bytes, e.sha256, e.added_by, e.added_at)


def deactivation_record(d: Deactivation) -> DeactivationRecord:
    return DeactivationRecord(
        d.id, d.domain_name, d.state, tuple(d.statuses_before.split()), tuple(d.statuses_added.split()),
        d.privacy_before, d.privacy_set, d.dns, d.dns_attempts, d.dns_next_attempt_at, d.dns_last_error,
        d.deactivated_at, d.restored_at,
    )  # fmt: skip


def ledger_entry(d: DisclosureEntry, reference: str) -> LedgerEntry:
    return LedgerEntry(reference, d.domain_name, d.recipient_name, d.recipient_org, split_fields(d.fields), d.basis,
                       d.legal_order, d.at)  # fmt: skip

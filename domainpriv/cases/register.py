"""The disclosure-request register for ICANN Compliance (EPDP Phase 1 Rec 18: keep logs of requests,
acknowledgements and responses): every request with its requester, basis, fields requested and released, the
clocks (received, acknowledgement due and done, decision due and done, customer notice, closure) and which
clocks were missed, as JSON documents or CSV.

A clock counts as missed when the sweep marked it, or when it was met late, or when it is still open past its
time at the moment of the export (so an export made while the sweep was not running still tells the truth).
Reading the register changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from domainpriv.accounts.access import Permission, Principal, require
from domainpriv.cases.records import CaseSnapshot
from domainpriv.cases.transitions import CaseActor
from domainpriv.cases.views import list_cases
from domainpriv.registration.records import iso
from domainpriv.store import UnitOfWork

__all__ = ["COLUMNS", "missed_clocks", "register_csv", "register_rows"]

COLUMNS: Final = (
    "reference", "kind", "domain", "state", "urgent", "requester_name", "requester_org", "requester_email",
    "requester_address", "requester_phone", "authentication", "legal_basis", "fields_requested", "fields_released",
    "received_at", "ack_due_at", "acknowledged_at", "ack_missed", "decision_due_at", "decided_at",
    "decision_missed", "decision", "refusal_reasons", "balancing_notes", "customer_notified_at", "closed_at",
)  # fmt: skip


def missed_clocks(case: CaseSnapshot, now: datetime) -> tuple[bool, bool]:
    """(acknowledgement missed, decision missed) at `now`."""

    def missed(name: str, due: datetime | None, done: datetime | None) -> bool:
        if name in case.missed_clocks:
            return True
        return due is not None and (done or now) > due

    return (
        missed("acknowledgement", case.ack_due_at, case.acknowledged_at),
        missed("decision", case.decision_due_at, case.decided_at or case.closed_at),
    )


def register_rows(
    uow: UnitOfWork, *, actor: CaseActor, kind: str | None = "disclosure", now: datetime | None = None
) -> list[dict[str, Any]]:
    """The register (by default the disclosure requests; kind None: every case) as JSON-ready rows, oldest
    first. Raises Forbidden."""
    if isinstance(actor, Principal):
        require(actor, Permission.CASES)
    at = now or uow.clock()
    return [_row(c, at) for c in list_cases(uow, actor=actor, kind=kind)]


def register_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV (RFC 4180, a header line, lists joined by spaces, booleans as true/false)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row[k]) for k in COLUMNS})
    return out.getvalue()


def _row(c: CaseSnapshot, now: datetime) -> dict[str, Any]:
    ack_missed, decision_missed = missed_clocks(c, now)
    released = sorted({f for d in c.disclosures for f in d.fields}, key=c.fields_requested.index)
    return {
        "reference": c.reference, "kind": c.kind, "domain": c.domain, "state": c.state, "urgent": c.urgent,
        "requester_name": c.requester_name, "requester_org": c.requester_org, "requester_email": c.requester_email,
        "requester_address": c.requester_address, "requester_phone": c.requester_phone,
        "authentication": c.authentication, "legal_basis": c.legal_basis,
        "fields_requested": list(c.fields_requested), "fields_released": released,
        "received_at": iso(c.received_at), "ack_due_at": iso(c.ack_due_at), "acknowledged_at": iso(c.acknowledged_at),
        "ack_missed": ack_missed, "decision_due_at": iso(c.decision_due_at), "decided_at": iso(c.decided_at),
        "decision_missed": decision_missed, "decision": c.decision, "refusal_reasons": c.refusal_reasons,
        "balancing_notes": c.balancing_notes, "customer_notified_at": iso(c.customer_notified_at),
        "closed_at": iso(c.closed_at),
    }  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)

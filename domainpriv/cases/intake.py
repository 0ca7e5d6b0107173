"""Case intake: a complaint, a disclosure request or an abuse report from the public form, the API or
`domainpriv case open`, validated, stored with its evidence, acknowledged to the requester with its reference.

Rules:
* the domain must be registered here (an unknown one is DomainNotFound: the public can see that in WHOIS anyway);
* the requester's name and e-mail are required (the e-mail validated as everywhere, registration/validation.py),
  organisation, address and phone optional (the RDRS asks for them, workflows.md §2);
* fields are public field names (cases/fields.py); a disclosure request names at least one;
* evidence files are stored under `cases.evidence_dir` by their SHA-256 (`ab/abcdef…`), at most
  `cases.max_evidence_bytes` each; a file is written before the transaction commits, so a failed intake can
  leave an unreferenced file behind, never a case without its file (content-addressed: the same file is stored
  once);
* clocks start at receipt: a disclosure request's acknowledgement (business days) and decision (calendar days,
  or `cases.urgent_hours` when urgent); an urgent or law-enforcement abuse report's review
  (`cases.abuse_review_hours`, RAA 3.18.2).

The acknowledgement e-mail carries the reference and nothing of the customer's data.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import Final

from sqlalchemy import select

from domainpriv.audit import Actor
from domainpriv.cases import states
from domainpriv.cases.calendar import calendar_for
from domainpriv.cases.clocks import refresh_due
from domainpriv.cases.fields import join_fields, parse_fields
from domainpriv.cases.history import queue_notice, record_step
from domainpriv.cases.records import CaseSnapshot, snapshot
from domainpriv.config import CasesSettings, Settings
from domainpriv.registration.errors import DomainNotFound, ValidationError
from domainpriv.registration.validation import normalize_domain_name, normalize_email, normalize_phone, normalize_text
from domainpriv.store import Case, CaseEvidence, Domain, UnitOfWork

__all__ = [
    "AUTHENTICATION", "Evidence", "Requester", "check_evidence", "free_text", "open_case", "store_evidence", "when",
]  # fmt: skip

AUTHENTICATION: Final = ("none", "verified", "law-enforcement")
_PREFIX: Final = {states.Kind.COMPLAINT: "CMP", states.Kind.DISCLOSURE: "DIS", states.Kind.ABUSE: "ABU"}
MAX_TEXT: Final = 20000
_ALLOWED_CONTROLS: Final = frozenset("\n\t")


@dataclass(frozen=True, slots=True)
class Requester:
    """Who files the case, as they give themselves."""

    name: str
    email: str
    org: str | None = None
    address: str | None = None
    phone: str | None = None
    authentication: str = "none"  # none | verified | law-enforcement (an authenticated requester)


@dataclass(frozen=True, slots=True)
class Evidence:
    """An evidence file as sent: its name and content."""

    name: str
    content: bytes


def open_case(
    uow: UnitOfWork,
    settings: Settings,
    *,
    actor: Actor,
    kind: str,
    domain: str,
    requester: Requester,
    text: str,
    legal_basis: str | None = None,
    fields: str | Iterable[str] = (),
    urgent: bool = False,
    evidence: Sequence[Evidence] = (),
) -> CaseSnapshot:
    """Open a case in state `received` and queue its acknowledgement to the requester, in one transaction.
    Raises ValidationError (naming the field: kind, domain, requester.name, requester.email, requester.org,
    requester.address, requester.phone, requester.authentication, text, legal_basis, fields, evidence[i]),
    DomainNotFound."""
    if kind not in states.KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(states.KINDS)}")
    case_kind = states.Kind(kind)
    a_label = normalize_domain_name(domain, "domain")
    name = normalize_text(requester.name, "requester.name", max_length=255)
    email = normalize_email(requester.email, "requester.email")
    org = _optional(requester.org, "requester.org", 255)
    address = None if requester.address is None or not requester.address.strip() else free_text(
        requester.address, "requester.address", max_length=800
    )  # fmt: skip
    phone = None if not requester.phone else normalize_phone(requester.phone, "requester.phone")
    if requester.authentication not in AUTHENTICATION:
        raise ValidationError("requester.authentication", f"must be one of {', '.join(AUTHENTICATION)}")
    allegation = free_text(text, "text", max_length=MAX_TEXT)
    basis = None if legal_basis is None or not legal_basis.strip() else free_text(legal_basis, "legal_basis",
                                                                                  max_length=MAX_TEXT)  # fmt: skip
    requested = parse_fields(fields)
    if case_kind is states.Kind.DISCLOSURE and not requested:
        raise ValidationError("fields", "a disclosure request names the fields it asks for")
    files = [check_evidence(e, f"evidence[{i}]", settings.cases) for i, e in enumerate(evidence)]
    calendar = calendar_for(settings.cases)
    with uow:
        now = uow.clock()
        s = uow.session
        domain_id = s.scalar(select(Domain.id).where(Domain.name == a_label))
        if domain_id is None:
            raise DomainNotFound(a_label)
        row = Case(
            reference=f"new-{secrets.token_hex(8)}", kind=case_kind.value, state=states.RECEIVED, domain_name=a_label,
            domain_id=domain_id, requester_name=name, requester_email=email, requester_org=org,
            requester_address=address, requester_phone=phone, authentication=requester.authentication,
            urgent=urgent, allegation=allegation, legal_basis=basis, fields_requested=join_fields(requested),
            received_at=now, missed_clocks="", attempts=0, updated_at=now,
        )  # fmt: skip
        c = settings.cases
        if case_kind is states.Kind.DISCLOSURE:
            row.ack_due_at = calendar.add_business_days(now, c.acknowledge_business_days)
            row.decision_due_at = now + (timedelta(hours=c.urgent_hours) if urgent else timedelta(days=c.decision_days))
        elif case_kind is states.Kind.ABUSE and (urgent or requester.authentication == "law-enforcement"):
            row.decision_due_at = now + timedelta(hours=c.abuse_review_hours)
        s.add(row)
        s.flush()  # flush: the reference is made from the new row's id
        row.reference = f"{_PREFIX[case_kind]}-{now.year}-{row.id:06d}"
        for file_name, content in files:
            digest = store_evidence(settings.cases.evidence_dir, content)
            row.evidence.append(CaseEvidence(name=file_name, bytes=len(content), sha256=digest, added_by=str(actor),
                                             added_at=now))  # fmt: skip
        refresh_due(row)
        record_step(s, row, now=now, actor=actor, action="open", from_state="", reason=f"{case_kind.value} received",
                    details={"fields": list(requested), "urgent": urgent, "evidence": len(files)})  # fmt: skip
        queue_notice(s, now=now, kind="case-acknowledgement", to=email, reference=row.reference,
                     case_kind=case_kind.value, domain=a_label, urgent=urgent,
                     decision_due=when(row.decision_due_at))  # fmt: skip
        uow.commit()
        return snapshot(row, [])


def when(at: datetime | None) -> str:
    """A clock as notices show it: 2026-11-03 12:00 UTC ("" for none)."""
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")


def free_text(value: object, field: str, *, max_length: int) -> str:
    """Multi-line free text (an allegation, reasons): lines and tabs allowed, other control and format characters
    refused, at most `max_length` characters after stripping. Raises ValidationError naming `field`."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    text = value.replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError(field, "must not be empty")
    if len(text) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    for char in text:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            raise ValidationError(field, "must not contain control or format characters")
    return text


def _optional(value: str | None, field: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    return normalize_text(value, field, max_length=max_length)


def check_evidence(evidence: Evidence, field: str, settings: CasesSettings) -> tuple[str, bytes]:
    """The file's base name and content, checked. Raises ValidationError naming `field` (not bytes, too large,
    a bad name)."""
    if not isinstance(evidence.content, bytes):
        raise ValidationError(field, "must be the file's bytes")
    if len(evidence.content) > settings.max_evidence_bytes:
        raise ValidationError(field, f"is larger than {settings.max_evidence_bytes} bytes")
    base = PurePath(str(evidence.name).replace("\\", "/")).name
    return normalize_text(base or "evidence", f"{field}.name", max_length=255), evidence.content


def store_evidence(folder: Path, content: bytes) -> str:
    """Store `content` under `folder` by its SHA-256 (written beside and renamed: never a partial file); returns
    the digest. The same content is stored once."""
    digest = hashlib.sha256(content).hexdigest()
    target = Path(folder) / digest[:2] / digest
    if target.is_file() and target.stat().st_size == len(content):
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{digest}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest

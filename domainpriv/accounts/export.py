"""The personal-data export of an account (seed 004: "personal data can be exported as JSON"; issue 9 point 7).

One JSON document of everything the system holds about one account: the account, its contacts and domains, the
consent ledger, the notices sent to it, its sessions, login attempts and API tokens, changes of registrant of its
domains, the audit events about all of these, and the open one-time links made for it. Its shape is
`docs/export-schema.json` (JSON Schema 2020-12), explained in `docs/export.md`.

Never in it, so that a copy of the export lets nobody log in or use a link: the password hash, the TOTP secret,
the digests of sessions, tokens, recovery codes, reset, unsubscribe, verification and confirmation links, the
bodies of notices (a password-reset mail holds a live link) and the audit chain's digests. Nor anything of
another account: a reseller's export holds the reseller's own data, not its customers' (each has its own export);
a contact of the reseller used on a customer's domain appears there by handle only.

Reading costs a fixed number of set-based statements whatever the number of domains (no statement per domain);
the large sections (domains, name servers, audit events) come through server-side cursors as plain rows, and
name servers are merged into the domain stream, both ordered by name.

The export is itself an access to personal data: `account:export` is recorded in the same transaction (STYLE §2),
with the section counts as details and the digest of the document as `after` (what was handed out can be proved
later, the log holds none of it). The reads come first, so the audit chain's lock is held only for the append;
this export's own event shows in the next one. Who may export whose data is not decided here (accounts/access.py
and the routes decide; `actor` is recorded).

Known limits: audit events carry no account, so they are found through what the account holds now (the account's
handle, its contacts' handles, its domains' names): events about a domain or contact since deleted are not
listed. On PostgreSQL the transaction is READ COMMITTED (the audit append needs it), so a change committed while
an export runs may show in one section and not yet in another; the next export shows it everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final, cast

import orjson
from sqlalchemy import ColumnElement, Row, Select, Table, func, select, union_all
from sqlalchemy.orm import Session, aliased

from domainpriv.accounts.rows import account_row
from domainpriv.audit import Actor, record_event
from domainpriv.cases.disclosure import ledger_rows
from domainpriv.changes import NOTHING
from domainpriv.registration.records import iso
from domainpriv.registration.rows import contact_data
from domainpriv.registration.validation import DsRecord, u_label
from domainpriv.store import (
    Account,
    ApiToken,
    AuditEvent,
    Consent,
    Contact,
    Domain,
    LoginAttempt,
    LoginSession,
    Nameserver,
    Notice,
    PasswordReset,
    RecoveryCode,
    RegistrantChange,
    UnitOfWork,
    UnsubscribeLink,
    VerificationCode,
)

__all__ = ["SCHEMA_ID", "export_account"]

# The document's `schema` and the `$id` of docs/export-schema.json. A change that can break a reader (a key
# removed, renamed or retyped) takes a new number.
SCHEMA_ID: Final = "urn:domainpriv:account-export:1"

_STREAM: Final = {"yield_per": 1000}  # server-side cursor batches for the sections that grow with the domains
_CONTACT = cast(Table, Contact.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)


def export_account(uow: UnitOfWork, *, actor: Actor, account: str, reason: str) -> dict[str, Any]:
    """Everything stored about `account` as one JSON-serialisable document (docs/export-schema.json), recorded
    as `account:export` in the same transaction. The caller has checked that `actor` may see it.
    Raises AccountNotFound."""
    with uow:
        now = uow.clock()
        s = uow.session
        row = account_row(uow, account)
        dialect = uow.dialect
        document: dict[str, Any] = {
            "schema": SCHEMA_ID,
            "generated_at": iso(now),
            "account": _account(s, row),
            "contacts": list(_contacts(s, row.id, dialect)),
            "domains": list(_domains(s, row.id, dialect)),
            "consents": list(_consents(s, row.id)),
            "notices": list(_notices(s, row.id)),
            "sessions": list(_sessions(s, row.id)),
            "logins": list(_logins(s, row.handle)),
            "api_tokens": list(_api_tokens(s, row.id)),
            "registrant_changes": list(_registrant_changes(s, row.id, now)),
            "password_resets": list(_password_resets(s, row.id)),
            "verification_codes": list(_verification_codes(s, row.id)),
            "unsubscribe_links": list(_unsubscribe_links(s, row.id)),
            "disclosures": [entry.to_json() for entry in ledger_rows(s, row.id)],
            "audit_events": list(_audit_events(s, row.id, row.handle)),
        }
        record_event(
            s,
            now=now,
            actor=actor,
            action="account:export",
            object_type="account",
            object_key=row.handle,
            reason=reason,
            after=document,  # digested: proves later what was handed out, stores none of it
            details={key: len(value) for key, value in document.items() if isinstance(value, list)},
            affects=NOTHING,
        )
        uow.commit()
    return document


def _by_code_point(column: Any, dialect: str) -> Any:
    """Text ordered by code point on both backends (PostgreSQL's locale collation would not), so the same data
    gives the same document, and the name-server merge below compares names the way Python does."""
    return column.collate("C") if dialect == "postgresql" else column


def _account(s: Session, row: Account) -> dict[str, Any]:
    codes_left = s.scalar(select(func.count()).where(RecoveryCode.account_id == row.id, RecoveryCode.used_at.is_(None)))
    reseller = s.scalar(select(Account.handle).where(Account.id == row.parent_id)) if row.parent_id else None
    return {
        "handle": row.handle,
        "kind": row.kind.value,
        "reseller": reseller,
        "name": row.name,
        "email": row.email,
        "created_at": iso(row.created_at),
        "last_activity_at": iso(row.last_activity_at),
        "staff_role": row.staff_role.value if row.staff_role is not None else None,
        "password_set": row.password_hash is not None,
        "two_factor": {
            "enabled": row.totp_enabled_at is not None,
            "enabled_at": iso(row.totp_enabled_at),
            "recovery_codes_left": codes_left or 0,
        },
    }


def _contacts(s: Session, account_id: int, dialect: str) -> Iterator[dict[str, Any]]:
    owned = _CONTACT.c.account_id == account_id
    stmt = select(_CONTACT).where(owned).order_by(_by_code_point(_CONTACT.c.handle, dialect))
    for c in s.execute(stmt.execution_options(**_STREAM)):
        yield {
            "handle": c.handle,
            **contact_data(c).to_json(),
            "verified_at": iso(c.verified_at),
            "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at),
        }


def _domains(s: Session, account_id: int, dialect: str) -> Iterator[dict[str, Any]]:
    reg, adm, tec, bil = (aliased(Contact) for _ in range(4))
    domains = (
        select(
            Domain.name,
            Domain.registry_domain_id,
            Domain.created_at,
            Domain.expires_at,
            Domain.updated_at,
            Domain.statuses,
            Domain.ds_records,
            Domain.privacy_mode,
            Domain.relay_alias,
            Domain.transfer_locked_until,
            reg.handle.label("registrant"),
            adm.handle.label("admin"),
            tec.handle.label("tech"),
            bil.handle.label("billing"),
        )
        .join(reg, Domain.registrant_id == reg.id)
        .outerjoin(adm, Domain.admin_id == adm.id)
        .outerjoin(tec, Domain.tech_id == tec.id)
        .outerjoin(bil, Domain.billing_id == bil.id)
        .where(Domain.account_id == account_id)
        .order_by(_by_code_point(Domain.name, dialect))
    )
    nameservers = (
        select(Domain.name, Nameserver.host, Nameserver.addresses)
        .join(Domain, Nameserver.domain_id == Domain.id)
        .where(Domain.account_id == account_id)
        .order_by(_by_code_point(Domain.name, dialect), Nameserver.position)
    )
    ns_rows: Iterator[Row[str, str, str]] = iter(s.execute(nameservers.execution_options(**_STREAM)))
    pending = next(ns_rows, None)
    for d in s.execute(domains.execution_options(**_STREAM)):
        # Both streams are ordered by name. Names are ASCII A-labels, so Python's order is the database's; a
        # domain added between the two statements (READ COMMITTED) has name servers but no row here: skipped.
        while pending is not None and pending[0] < d.name:
            pending = next(ns_rows, None)
        ns: list[dict[str, Any]] = []
        while pending is not None and pending[0] == d.name:
            ns.append({"host": pending[1], "addresses": pending[2].split()})
            pending = next(ns_rows, None)
        yield {
            "name": d.name,
            "unicode_name": u_label(d.name),
            "registry_domain_id": d.registry_domain_id,
            "created_at": iso(d.created_at),
            "expires_at": iso(d.expires_at),
            "updated_at": iso(d.updated_at),
            "statuses": d.statuses.split(),
            "privacy_mode": d.privacy_mode.value,
            "relay_alias": d.relay_alias,
            "transfer_locked_until": iso(d.transfer_locked_until),
            "contacts": {"registrant": d.registrant, "admin": d.admin, "tech": d.tech, "billing": d.billing},
            "nameservers": ns,
            "ds_records": [DsRecord.from_text(line).to_json() for line in d.ds_records.splitlines()],
        }


def _consents(s: Session, account_id: int) -> Iterator[dict[str, Any]]:
    stmt = (
        select(Consent.purpose, Consent.granted, Consent.recorded_at, Consent.source, Consent.policy_version)
        .where(Consent.account_id == account_id)
        .order_by(Consent.id)
    )
    for c in s.execute(stmt):
        yield {
            "purpose": c.purpose.value,
            "granted": c.granted,
            "recorded_at": iso(c.recorded_at),
            "source": c.source,
            "policy_version": c.policy_version,
        }


def _notices(s: Session, account_id: int) -> Iterator[dict[str, Any]]:
    # No body: a password-reset notice holds a link that must not be usable from a copy of the export, and the
    # other bodies are the templates' texts around facts listed elsewhere in the document.
    stmt = (
        select(
            Notice.kind,
            Notice.mandatory,
            Notice.to_address,
            Notice.subject,
            Notice.created_at,
            Notice.state,
            Notice.sent_at,
        )
        .where(Notice.account_id == account_id)
        .order_by(Notice.id)
    )
    for n in s.execute(stmt):
        yield {
            "kind": n.kind,
            "mandatory": n.mandatory,
            "to_address": n.to_address,
            "subject": n.subject,
            "created_at": iso(n.created_at),
            "state": n.state,
            "sent_at": iso(n.sent_at),
        }


def _sessions(s: Session, account_id: int) -> Iterator[dict[str, Any]]:
    stmt = (
        select(
            LoginSession.id,
            LoginSession.created_at,
            LoginSession.last_seen_at,
            LoginSession.expires_at,
            LoginSession.ended_at,
            LoginSession.reverified_at,
            LoginSession.source,
        )
        .where(LoginSession.account_id == account_id)
        .order_by(LoginSession.id)
    )
    for x in s.execute(stmt):
        yield {
            "id": x.id,  # the `session_id` of the audit events `account:session:*`
            "created_at": iso(x.created_at),
            "last_seen_at": iso(x.last_seen_at),
            "expires_at": iso(x.expires_at),
            "ended_at": iso(x.ended_at),
            "reverified_at": iso(x.reverified_at),
            "source": x.source,
        }


def _logins(s: Session, handle: str) -> Iterator[dict[str, Any]]:
    stmt = (
        select(LoginAttempt.at, LoginAttempt.source, LoginAttempt.succeeded)
        .where(LoginAttempt.account == handle)
        .order_by(LoginAttempt.at, LoginAttempt.id)
    )
    for a in s.execute(stmt.execution_options(**_STREAM)):
        yield {"at": iso(a.at), "source": a.source, "succeeded": a.succeeded}


def _api_tokens(s: Session, account_id: int) -> Iterator[dict[str, Any]]:
    stmt = (
        select(ApiToken.id, ApiToken.name, ApiToken.created_at, ApiToken.revoked_at)
        .where(ApiToken.account_id == account_id)
        .order_by(ApiToken.id)
    )
    for t in s.execute(stmt):
        # `id`: the `token_id` of the audit events `account:token:*`, and what revoking a token names.
        yield {"id": t.id, "name": t.name, "created_at": iso(t.created_at), "revoked_at": iso(t.revoked_at)}


def _registrant_changes(s: Session, account_id: int, now: datetime) -> Iterator[dict[str, Any]]:
    stmt = (
        select(
            Domain.name,
            RegistrantChange.requested_by,
            RegistrantChange.lock_opt_out,
            RegistrantChange.created_at,
            RegistrantChange.expires_at,
            RegistrantChange.confirmed_at,
            RegistrantChange.cancelled_at,
            RegistrantChange.new_data,
        )
        .join(Domain, RegistrantChange.domain_id == Domain.id)
        .where(Domain.account_id == account_id)
        .order_by(RegistrantChange.id)
    )
    for c in s.execute(stmt):
        if c.confirmed_at is not None:
            state = "confirmed"
        elif c.cancelled_at is not None:
            state = "cancelled"
        else:
            state = "pending" if now < c.expires_at else "expired"
        yield {
            "domain": c.name,
            "state": state,
            "requested_by": c.requested_by,
            "lock_opt_out": c.lock_opt_out,
            "created_at": iso(c.created_at),
            "expires_at": iso(c.expires_at),
            "confirmed_at": iso(c.confirmed_at),
            "cancelled_at": iso(c.cancelled_at),
            "new_registrant": orjson.loads(c.new_data),
        }


def _password_resets(s: Session, account_id: int) -> Iterator[dict[str, Any]]:
    stmt = (
        select(PasswordReset.created_at, PasswordReset.expires_at, PasswordReset.used_at)
        .where(PasswordReset.account_id == account_id)
        .order_by(PasswordReset.id)
    )
    for r in s.execute(stmt):
        yield {"created_at": iso(r.created_at), "expires_at": iso(r.expires_at), "used_at": iso(r.used_at)}


def _verification_codes(s: Session, account_id: int) -> Iterator[dict[str, Any]]:
    stmt = (
        select(
            VerificationCode.created_at,
            VerificationCode.expires_at,
            VerificationCode.used_at,
            VerificationCode.attempts,
        )
        .where(VerificationCode.account_id == account_id)
        .order_by(VerificationCode.id)
    )
    for v in s.execute(stmt):
        yield {"created_at": iso(v.created_at), "expires_at": iso(v.expires_at), "used_at": iso(v.used_at),
               "attempts": v.attempts}  # fmt: skip


def _unsubscribe_links(s: Session, account_id: int) -> Iterator[dict[str, Any]]:
    stmt = (
        select(UnsubscribeLink.purpose, UnsubscribeLink.created_at)
        .where(UnsubscribeLink.account_id == account_id)
        .order_by(UnsubscribeLink.id)
    )
    for u in s.execute(stmt):
        yield {"purpose": u.purpose.value, "created_at": iso(u.created_at)}


def _audit_events(s: Session, account_id: int, handle: str) -> Iterator[dict[str, Any]]:
    """The events about the account, its contacts and its domains, oldest first. One statement: the three
    parts each go through the (object_type, object_key) index from the account's own rows."""
    a = _AUDIT.c
    columns = (a.seq, a.occurred_at, a.actor, a.action, a.object_type, a.object_key, a.reason, a.details)
    about_account = select(*columns).where(a.object_type == "account", a.object_key == handle)
    about_contacts = _about(columns, "contact", Contact, Contact.handle, Contact.account_id == account_id)
    about_domains = _about(columns, "domain", Domain, Domain.name, Domain.account_id == account_id)
    events = union_all(about_account, about_contacts, about_domains).subquery()
    stmt = select(events).order_by(events.c.seq)
    for e in s.execute(stmt.execution_options(**_STREAM)):
        yield {
            "seq": e.seq,
            "occurred_at": iso(e.occurred_at),
            "actor": e.actor,
            "action": e.action,
            "object_type": e.object_type,
            "object_key": e.object_key,
            "reason": e.reason,
            "details": orjson.loads(e.details),
        }


def _about(
    columns: tuple[Any, ...], object_type: str, owner: type[Contact | Domain], key: Any, owned: ColumnElement[bool]
) -> Select[Any]:
    """The events about the objects of one type that the account owns, joined on the object's natural key."""
    a = _AUDIT.c
    return (
        select(*columns).join_from(_AUDIT, owner, (a.object_type == object_type) & (a.object_key == key)).where(owned)
    )

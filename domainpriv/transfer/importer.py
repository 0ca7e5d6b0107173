"""Bulk import of JSON-lines registration data: streamed, validated, all-or-nothing, audited once.

The file is read line by line and written in batches with COPY (PostgreSQL) or executemany (SQLite), so memory
stays flat whatever the file size; only the handle -> id maps of accounts and contacts are kept, because later
lines refer to them. Every line goes through the same validation and rules as the per-object services. The
whole import is one transaction: the first bad line aborts it and names its line number, and nothing is kept.
One audit event records the import (counts and the file's SHA-256), not one per row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domainpriv.audit import Actor, record_event
from domainpriv.changes import EVERYTHING
from domainpriv.errors import DomainprivError
from domainpriv.registration import rules
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.rows import consents_in_force
from domainpriv.store import (
    Account,
    AccountKind,
    ConsentPurpose,
    Contact,
    Domain,
    UnitOfWork,
)
from domainpriv.transfer import jsonl
from domainpriv.transfer.errors import ImportRejected
from domainpriv.transfer.writers import DBAPI_INTEGRITY_ERRORS, Row, RowWriter, writer_for

INTEGRITY_ERRORS: tuple[type[Exception], ...] = (IntegrityError, *DBAPI_INTEGRITY_ERRORS)
BATCH_ROWS = 5000
MAX_LINE_BYTES = 1 << 20  # one domain line is ~1 KiB; a megabyte is a broken file, not a record

ACCOUNT_COLUMNS = ("id", "handle", "kind", "parent_id", "name", "email", "created_at")
CONSENT_COLUMNS = ("id", "account_id", "purpose", "granted", "recorded_at", "source")
CONTACT_COLUMNS = (
    "id",
    "handle",
    "account_id",
    "name",
    "org",
    "street1",
    "street2",
    "street3",
    "city",
    "state",
    "postal_code",
    "country",
    "phone",
    "phone_ext",
    "fax",
    "fax_ext",
    "email",
    "verified_at",
    "created_at",
    "updated_at",
)
DOMAIN_COLUMNS = (
    "id",
    "name",
    "account_id",
    "registry_domain_id",
    "created_at",
    "expires_at",
    "updated_at",
    "statuses",
    "ds_records",
    "privacy_mode",
    "relay_alias",
    "registrant_id",
    "admin_id",
    "tech_id",
    "billing_id",
)
NAMESERVER_COLUMNS = ("id", "domain_id", "position", "host", "addresses")
# Insert order within a batch: every row's foreign keys point to rows written before it.
TABLES = (
    ("account", ACCOUNT_COLUMNS),
    ("consent", CONSENT_COLUMNS),
    ("contact", CONTACT_COLUMNS),
    ("domain", DOMAIN_COLUMNS),
    ("nameserver", NAMESERVER_COLUMNS),
)


@dataclass
class ImportStats:
    lines: int = 0
    accounts: int = 0
    consents: int = 0
    contacts: int = 0
    domains: int = 0
    nameservers: int = 0
    sha256: str = ""


@dataclass(slots=True)
class _AccountRef:
    id: int
    kind: AccountKind
    parent_id: int | None
    consents: set[ConsentPurpose]  # in force, as of the lines read so far


@dataclass
class _Batch:
    rows: dict[str, list[Row]] = field(default_factory=lambda: {t: [] for t, _ in TABLES})
    lines: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t, _ in TABLES})
    size: int = 0

    def add(self, table: str, row: Row, line: int) -> None:
        self.rows[table].append(row)
        self.lines[table].append(line)
        self.size += 1


class _Ids:
    """Hands out primary keys in blocks, so a batch needs one round trip per table, not one per row."""

    def __init__(self, writer: RowWriter) -> None:
        self._writer = writer
        self._blocks: dict[str, Any] = {}

    def next(self, table: str) -> int:
        block = self._blocks.get(table)
        value = next(block, None) if block is not None else None
        if value is None:
            block = self._writer.allocate_ids(table, BATCH_ROWS)
            self._blocks[table] = block
            value = next(block)
        return value


def import_registrations(
    uow: UnitOfWork,
    *,
    actor: Actor,
    lines: Iterable[bytes],
    reason: str,
    source_name: str = "-",
    progress: Callable[[int], None] | None = None,
) -> ImportStats:
    """Import a JSON-lines stream (docs/jsonl-format.md). Raises ImportRejected naming the first bad line;
    then nothing was written. `progress` is called with the bytes read since its last call."""
    with uow:
        now = uow.clock()
        run = _Import(uow.session, now)
        for raw in lines:
            run.feed(raw)
            if progress is not None and run.stats.lines % 2000 == 0:
                progress(run.take_bytes())
        run.finish()
        if progress is not None:
            progress(run.take_bytes())
        stats = run.stats
        record_event(
            uow.session,
            now=now,
            actor=actor,
            action="registration:import:run",
            object_type="import",
            object_key=stats.sha256,
            reason=reason,
            details={
                "source": source_name,
                "lines": stats.lines,
                "accounts": stats.accounts,
                "consents": stats.consents,
                "contacts": stats.contacts,
                "domains": stats.domains,
                "nameservers": stats.nameservers,
                "sha256": stats.sha256,
            },
            affects=EVERYTHING,  # cached "not found" answers of the imported names, at least
        )
        uow.commit()
    return stats


class _Import:
    def __init__(self, session: Session, now: Any) -> None:
        self.session = session
        self.now = now
        self.writer = writer_for(session)
        self.ids = _Ids(self.writer)
        self.stats = ImportStats()
        self.digest = hashlib.sha256()
        self.batch = _Batch()
        self.accounts: dict[str, _AccountRef] = {}
        self.contacts: dict[str, tuple[int, int]] = {}  # handle -> (id, account id)
        self.domain_names: set[str] = set()  # names in the current batch only
        self.seen_header = False
        self._bytes = 0
        # Into an empty table there is nothing stored to look up: skip one query per new handle.
        self.stored_accounts = session.scalar(select(Account.id).limit(1)) is not None
        self.stored_contacts = session.scalar(select(Contact.id).limit(1)) is not None

    def take_bytes(self) -> int:
        n, self._bytes = self._bytes, 0
        return n

    # -- reading ---------------------------------------------------------------------------------------------

    def feed(self, raw: bytes) -> None:
        self.stats.lines += 1
        line_no = self.stats.lines
        self.digest.update(raw)
        self._bytes += len(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise ImportRejected(line_no, f"line longer than {MAX_LINE_BYTES} bytes")
        if not raw.strip():
            return
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ImportRejected(line_no, "not valid JSON") from None
        if not isinstance(obj, dict):
            raise ImportRejected(line_no, "must be a JSON object")
        try:
            self._dispatch(obj, line_no)
        except ValidationError as exc:
            raise ImportRejected(line_no, str(exc)) from None
        except ImportRejected:
            raise
        except DomainprivError as exc:
            raise ImportRejected(line_no, str(exc)) from None
        if self.batch.size >= BATCH_ROWS:
            self._flush()

    def _dispatch(self, obj: dict[str, Any], line_no: int) -> None:
        kind = obj.get("type")
        if not self.seen_header:
            if kind != "header":
                raise ValidationError(
                    "type",
                    "the first line must be the header "
                    f'{{"type": "header", "format": "{jsonl.FORMAT}", "version": {jsonl.VERSION}}}',
                )
            jsonl.parse_header(obj)
            self.seen_header = True
        elif kind == "domain":
            self._domain(jsonl.parse_domain(obj), line_no)
        elif kind == "contact":
            self._contact(jsonl.parse_contact(obj, self.now), line_no)
        elif kind == "account":
            self._account(jsonl.parse_account(obj), line_no)
        elif kind == "consent":
            self._consent(jsonl.parse_consent(obj), line_no)
        elif kind == "header":
            raise ValidationError("type", "a second header")
        else:
            raise ValidationError("type", "must be one of header, account, consent, contact, domain")

    def finish(self) -> None:
        if not self.seen_header:
            raise ImportRejected(0, "the file is empty (no header line)")
        self._flush()
        self.stats.sha256 = self.digest.hexdigest()

    # -- records ---------------------------------------------------------------------------------------------

    def _account(self, a: jsonl.AccountLine, line_no: int) -> None:
        if self._find_account(a.handle) is not None:
            raise ValidationError("handle", f"account {a.handle} already exists")
        parent = None
        if a.parent is not None:
            parent = self._require_account(a.parent, "parent")
        rules.check_hierarchy(a.kind, parent.kind if parent else None)
        ref = _AccountRef(self.ids.next("account"), a.kind, parent.id if parent else None, set())
        self.accounts[a.handle] = ref
        self.batch.add(
            "account", (ref.id, a.handle, a.kind.value, ref.parent_id, a.name, a.email, a.created_at), line_no
        )
        self.stats.accounts += 1

    def _consent(self, c: jsonl.ConsentLine, line_no: int) -> None:
        ref = self._require_account(c.account, "account")
        (ref.consents.add if c.granted else ref.consents.discard)(c.purpose)
        self.batch.add(
            "consent", (self.ids.next("consent"), ref.id, c.purpose.value, c.granted, c.recorded_at, c.source), line_no
        )
        self.stats.consents += 1

    def _contact(self, c: jsonl.ContactLine, line_no: int) -> None:
        if self._find_contact(c.handle) is not None:
            raise ValidationError("handle", f"contact {c.handle} already exists")
        owner = self._require_account(c.account, "account")
        cid = self.ids.next("contact")
        self.contacts[c.handle] = (cid, owner.id)
        d = c.data
        street = (*d.street, None, None, None)
        self.batch.add(
            "contact",
            (
                cid,
                c.handle,
                owner.id,
                d.name,
                d.org,
                street[0],
                street[1],
                street[2],
                d.city,
                d.state,
                d.postal_code,
                d.country,
                d.phone,
                d.phone_ext,
                d.fax,
                d.fax_ext,
                d.email,
                c.verified_at,
                c.created_at,
                c.updated_at,
            ),
            line_no,
        )
        self.stats.contacts += 1

    def _domain(self, d: jsonl.DomainLine, line_no: int) -> None:
        if d.name in self.domain_names:
            raise ValidationError("name", f"domain {d.name} appears twice")
        owner = self._require_account(d.account, "account")
        contact_ids: list[int | None] = []
        for role, handle in d.contacts.items():
            if handle is None:
                contact_ids.append(None)
                continue
            found = self._find_contact(handle)
            if found is None:
                raise ValidationError(f"contacts.{role}", f"contact {handle} not found (define it on an earlier line)")
            rules.check_contact_owner(
                contact_handle=handle,
                contact_account_id=found[1],
                owner_id=owner.id,
                owner_handle=d.account,
                owner_parent_id=owner.parent_id,
            )
            contact_ids.append(found[0])
        rules.check_publication_consent(d.privacy_mode, account=d.account, consents=frozenset(owner.consents))
        did = self.ids.next("domain")
        self.domain_names.add(d.name)
        self.batch.add(
            "domain",
            (
                did,
                d.name,
                owner.id,
                d.registry_domain_id,
                d.created_at,
                d.expires_at,
                d.updated_at,
                " ".join(d.statuses),
                "\n".join(ds.to_text() for ds in d.ds_records),
                d.privacy_mode.value,
                d.relay_alias,
                *contact_ids,
            ),
            line_no,
        )
        for position, (host, addresses) in enumerate(d.nameservers):
            self.batch.add(
                "nameserver", (self.ids.next("nameserver"), did, position, host, " ".join(addresses)), line_no
            )
        self.stats.domains += 1
        self.stats.nameservers += len(d.nameservers)

    # -- lookups: this file first, then what is already stored ------------------------------------------------

    def _find_account(self, handle: str) -> _AccountRef | None:
        ref = self.accounts.get(handle)
        if ref is None and self.stored_accounts:
            row = self.session.execute(
                select(Account.id, Account.kind, Account.parent_id).where(Account.handle == handle)
            ).first()
            if row is not None:
                consents = consents_in_force(self.session, row.id)
                ref = _AccountRef(row.id, row.kind, row.parent_id, set(consents))
                self.accounts[handle] = ref
        return ref

    def _require_account(self, handle: str, field_name: str) -> _AccountRef:
        ref = self._find_account(handle)
        if ref is None:
            raise ValidationError(field_name, f"account {handle} not found (define it on an earlier line)")
        return ref

    def _find_contact(self, handle: str) -> tuple[int, int] | None:
        found = self.contacts.get(handle)
        if found is None and self.stored_contacts:
            row = self.session.execute(select(Contact.id, Contact.account_id).where(Contact.handle == handle)).first()
            if row is not None:
                found = (row.id, row.account_id)
                self.contacts[handle] = found
        return found

    # -- writing ---------------------------------------------------------------------------------------------

    def _flush(self) -> None:
        batch, self.batch = self.batch, _Batch()
        names, self.domain_names = self.domain_names, set()
        if not batch.size:
            return
        try:
            with self.session.begin_nested():
                for table, columns in TABLES:
                    self.writer.write(table, columns, batch.rows[table])
        except INTEGRITY_ERRORS:
            raise self._explain_conflict(batch, names) from None

    def _explain_conflict(self, batch: _Batch, names: set[str]) -> ImportRejected:
        """A write failed on a unique key: find which line collided with stored data."""
        stored = set(self.session.scalars(select(Domain.name).where(Domain.name.in_(names)))) if names else set()
        for row, line_no in zip(batch.rows["domain"], batch.lines["domain"], strict=True):
            if row[1] in stored:
                return ImportRejected(line_no, f"name: domain {row[1]} already exists")
        first = min((lines[0] for lines in batch.lines.values() if lines), default=0)
        return ImportRejected(first, "the batch starting here conflicts with stored data")

"""Escrow deposits as audited state transitions: open (or resume) a deposit, build it, upload it, verify it.

Each transition is its own transaction with its audit event (DESIGN invariant 4, states in escrow/states.py).
The long work between transitions (reading the snapshot, gzip, gpg, SFTP) runs outside any write transaction.

Exactly once: every run holds the escrow work lock (PostgreSQL advisory lock / SQLite file lock, the scheduler's
LeaderLock under another name) for its whole duration, so a deposit found `building` or `uploading` was left by a
run that died, and is resumed; a scheduled deposit is keyed by the fire time it fulfils, so a doubled trigger finds
it done. Ctrl-C marks the deposit `failed` (resumable) before the interrupt goes on.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from domainpriv.audit import Actor, record_event
from domainpriv.changes import NOTHING
from domainpriv.config import EscrowSettings, Settings
from domainpriv.errors import DomainprivError, NotFound
from domainpriv.escrow import build, states
from domainpriv.escrow.naming import DEFAULT_NAMING, DepositName, Naming
from domainpriv.escrow.openpgp import DepositCrypto
from domainpriv.escrow.profiles import DepositContext, get_profile
from domainpriv.escrow.record import EscrowDeletion, EscrowDomain
from domainpriv.escrow.sftp import SftpTarget, upload_files
from domainpriv.escrow.snapshot import FeedPruned, Snapshot, open_snapshot
from domainpriv.escrow.views import DepositView, deposit_label, deposit_view
from domainpriv.scheduling.leader import LeaderLock
from domainpriv.store import EscrowDeposit, EscrowFile, UnitOfWork

log = logging.getLogger(__name__)

Kind = Literal["full", "incremental"]
KINDS: tuple[Kind, ...] = ("full", "incremental")
WORK_LOCK = "domainpriv-escrow-work"


class EscrowError(DomainprivError):
    """A deposit cannot be made or checked; the message says why and what to do."""


class EscrowNotConfigured(EscrowError):
    def __init__(self) -> None:
        super().__init__("escrow is not set up: set escrow.agent_public_key (see the README, 'Escrow')")


class EscrowBusy(EscrowError):
    def __init__(self) -> None:
        super().__init__("another escrow run is in progress (in this or another daemon): try again when it ends")


class DepositNotFound(NotFound):
    def __init__(self, deposit_id: int) -> None:
        super().__init__(f"escrow deposit {deposit_id} not found")


@dataclass(frozen=True, slots=True)
class RunProgress:
    """Hooks for a progress bar: `start(phase, total)` then `advance(n)`; total None when unknown."""

    start: Callable[[str, int | None], None]
    advance: Callable[[int], None]


def crypto_for(settings: EscrowSettings) -> DepositCrypto:
    """The registrar's OpenPGP side as configured, checked (raises a clear error naming the key). Use it as a
    context manager: leaving it stops the gpg-agent it started."""
    if not settings.configured:
        raise EscrowNotConfigured()
    passphrase = None
    if settings.signing_passphrase_file:
        try:
            passphrase = Path(settings.signing_passphrase_file).read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError):
            raise EscrowError(
                f"escrow.signing_passphrase_file {settings.signing_passphrase_file}: unreadable or empty"
            ) from None
    crypto = DepositCrypto(
        gnupg_home=settings.gnupg_home,
        agent_public_key=Path(settings.agent_public_key),
        signing_key=settings.signing_key,
        passphrase=passphrase,
    )
    try:
        crypto.check()
    except BaseException:
        crypto.close()  # stops the gpg-agent the check started
        raise
    return crypto


@contextlib.contextmanager
def work_lock(uow: UnitOfWork) -> Iterator[None]:
    """Hold the escrow work lock, or raise EscrowBusy."""
    lock = LeaderLock(uow.engine.url.render_as_string(hide_password=False), name=WORK_LOCK)
    try:
        if not lock.try_acquire():
            raise EscrowBusy()
        yield
    finally:
        lock.close()


def run_deposit(
    uow: UnitOfWork,
    settings: Settings,
    *,
    kind: Kind,
    actor: Actor,
    upload: bool | None = None,
    scheduled_for: datetime | None = None,
    progress: RunProgress | None = None,
    naming: Naming = DEFAULT_NAMING,
) -> DepositView:
    """Make one deposit now (or finish the one a killed or failed run left): build it, and upload it when
    `upload` (default: when escrow.sftp_url is set). Returns the deposit; raises EscrowError (the deposit then
    stays `failed`, resumable, with the reason in last_error)."""
    es = settings.escrow
    with crypto_for(es) as crypto:
        return _run(uow, settings, crypto, kind=kind, actor=actor, upload=upload, scheduled_for=scheduled_for,
                    progress=progress, naming=naming)  # fmt: skip


def _run(
    uow: UnitOfWork,
    settings: Settings,
    crypto: DepositCrypto,
    *,
    kind: Kind,
    actor: Actor,
    upload: bool | None,
    scheduled_for: datetime | None,
    progress: RunProgress | None,
    naming: Naming,
) -> DepositView:
    es = settings.escrow
    want_upload = bool(es.sftp_url) if upload is None else upload
    if want_upload and not es.sftp_url:
        raise EscrowError("escrow.sftp_url is empty: nowhere to upload (use --no-upload to keep the deposit local)")
    with work_lock(uow):
        deposit_id, created = _open(uow, es, kind=kind, actor=actor, upload=want_upload, scheduled_for=scheduled_for)
        current = get_deposit(uow, deposit_id)
        try:
            if current.built_at is None:
                _build(uow, settings, deposit_id, crypto=crypto, actor=actor, progress=progress, naming=naming,
                       resumed=not created)  # fmt: skip
            current = get_deposit(uow, deposit_id)
            if current.upload_wanted and current.state != states.UPLOADED:
                _upload(uow, es, deposit_id, actor=actor, progress=progress)
            elif not current.upload_wanted and current.state == states.FAILED:
                _transition(uow, deposit_id, states.BUILT, actor=actor)  # its failed upload is no longer wanted
        except BaseException as exc:  # Ctrl-C included: leave a failed, resumable deposit, never a half one
            _fail(uow, deposit_id, actor=actor, error=_describe(exc))
            if isinstance(exc, (DomainprivError, FeedPruned, OSError)) and not isinstance(exc, EscrowError):
                raise EscrowError(f"escrow deposit {current.label} failed: {_describe(exc)}") from exc
            raise
    return get_deposit(uow, deposit_id)


def list_deposits(uow: UnitOfWork, *, limit: int = 100) -> list[DepositView]:
    """The newest deposits first."""
    with uow.reading() as r:
        rows = r.session.scalars(
            select(EscrowDeposit)
            .options(selectinload(EscrowDeposit.files))
            .order_by(EscrowDeposit.id.desc())
            .limit(limit)
        )
        return [deposit_view(row) for row in rows]


def get_deposit(uow: UnitOfWork, deposit_id: int) -> DepositView:
    with uow.reading() as r:
        row = r.session.get(EscrowDeposit, deposit_id, options=[selectinload(EscrowDeposit.files)])
        if row is None:
            raise DepositNotFound(deposit_id)
        return deposit_view(row)


def deposit_folder(settings: EscrowSettings, deposit: DepositView) -> Path:
    """Where a deposit's stored files are: one folder per deposit under output_dir."""
    return settings.output_dir / f"{deposit.deposit_date.isoformat()}-{deposit.kind}-r{deposit.revision}"


def work_folder(settings: EscrowSettings, deposit_id: int) -> Path:
    """The private folder of a build's plain-text intermediates."""
    return settings.output_dir / ".work" / str(deposit_id)


# -- transitions (each one transaction with its audit event) ----------------------------------------------------


def _open(
    uow: UnitOfWork, es: EscrowSettings, *, kind: Kind, actor: Actor, upload: bool, scheduled_for: datetime | None
) -> tuple[int, bool]:
    """The deposit this run works on: the scheduled one, an unfinished one of today, or a new revision
    (then created: True)."""
    with uow:
        s = uow.session
        now = uow.clock()
        if scheduled_for is not None:
            existing = s.scalar(
                select(EscrowDeposit).where(EscrowDeposit.kind == kind, EscrowDeposit.scheduled_for == scheduled_for)
            )
            deposit_date = scheduled_for.date()
        else:
            deposit_date = now.date()
            existing = s.scalar(
                select(EscrowDeposit)
                .where(EscrowDeposit.deposit_date == deposit_date, EscrowDeposit.kind == kind)
                .order_by(EscrowDeposit.revision.desc())
                .limit(1)
            )
            if existing is not None and is_complete(existing):
                existing = None  # done today already: this run is a new revision
        if existing is not None:
            if existing.upload_wanted != upload:  # this run decides whether the unfinished deposit goes out
                existing.upload_wanted = upload
                existing.updated_at = now
                uow.commit()
            return existing.id, False
        revision = s.scalar(
            select(func.coalesce(func.max(EscrowDeposit.revision) + 1, 0)).where(
                EscrowDeposit.deposit_date == deposit_date, EscrowDeposit.kind == kind
            )
        )
        row = EscrowDeposit(
            deposit_date=deposit_date,
            kind=kind,
            revision=int(revision or 0),
            state=states.BUILDING,
            profile=es.profile,
            trigger="manual" if scheduled_for is None else "schedule",
            scheduled_for=scheduled_for,
            upload_wanted=upload,
            attempts=1,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        s.flush()
        _audit(s, row, now=now, actor=actor, details={"to": states.BUILDING, "attempt": 1, "trigger": row.trigger})
        uow.commit()
        return row.id, True


def is_complete(row: EscrowDeposit) -> bool:
    """Done for good: uploaded, or built and meant to stay local. Anything else a later run resumes."""
    return row.state == states.UPLOADED or (row.state == states.BUILT and not row.upload_wanted)


def _transition(
    uow: UnitOfWork, deposit_id: int, wanted: str, *, actor: Actor, error: str | None = None, **values: object
) -> EscrowDeposit:
    with uow:
        s = uow.session
        now = uow.clock()
        row = s.get(EscrowDeposit, deposit_id, with_for_update=True)
        if row is None:
            raise DepositNotFound(deposit_id)
        label = deposit_label(row.deposit_date, row.kind, row.revision)
        states.check_transition(label, row.state, wanted)
        before = row.state
        row.state = wanted
        row.updated_at = now
        row.last_error = error
        if wanted in (states.BUILDING, states.UPLOADING):
            row.attempts += 1
        for key, value in values.items():
            setattr(row, key, value)
        details: dict[str, object] = {"from": before, "to": wanted, "attempt": row.attempts}
        if error is not None:
            details["error"] = error
        _audit(s, row, now=now, actor=actor, details=details)
        uow.commit()
        return row


def _transition_view(uow: UnitOfWork, deposit_id: int, wanted: str, *, actor: Actor) -> DepositView:
    _transition(uow, deposit_id, wanted, actor=actor)
    return get_deposit(uow, deposit_id)


def _fail(uow: UnitOfWork, deposit_id: int, *, actor: Actor, error: str) -> None:
    try:
        _transition(uow, deposit_id, states.FAILED, actor=actor, error=error)
    except Exception:  # the database itself may be what failed: the next run resumes from the state it finds
        log.exception("escrow deposit %s: could not record the failure", deposit_id)


def _audit(s: Session, row: EscrowDeposit, *, now: datetime, actor: Actor, details: dict[str, object]) -> None:
    record_event(
        s,
        now=now,
        actor=actor,
        action=f"escrow:deposit:{row.state}",
        object_type="escrow_deposit",
        object_key=deposit_label(row.deposit_date, row.kind, row.revision),
        reason="escrow run" if row.trigger == "manual" else "scheduled escrow deposit",
        details={"id": row.id, **details},
        affects=NOTHING,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, (DomainprivError, FeedPruned)):
        return str(exc)
    if isinstance(exc, OSError):  # a file of the deposit: its path, never its contents
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    return f"{type(exc).__name__} (see the daemon's log)"


# -- building --------------------------------------------------------------------------------------------------


def _build(
    uow: UnitOfWork,
    settings: Settings,
    deposit_id: int,
    *,
    crypto: DepositCrypto,
    actor: Actor,
    progress: RunProgress | None,
    naming: Naming,
    resumed: bool,
) -> None:
    es = settings.escrow
    if resumed:
        deposit = _transition_view(uow, deposit_id, states.BUILDING, actor=actor)
    else:
        deposit = get_deposit(uow, deposit_id)
    profile = get_profile(deposit.profile)
    name = DepositName(settings.registrar.iana_id, deposit.deposit_date, deposit.kind, deposit.revision)  # type: ignore[arg-type]
    work = build.private_folder(work_folder(es, deposit_id))
    final = build.private_folder(deposit_folder(es, deposit))  # never uploaded (not built yet): start clean
    limits = build.Limits(es.max_rows_per_file, es.max_bytes_per_file)
    ctx = DepositContext(settings.registrar.iana_id)
    try:
        with open_snapshot(uow) as snap:
            base = _base_of(uow, deposit) if deposit.kind == "incremental" else None
            content, total, deleted_names = _content(snap, deposit, base, with_contacts=profile.contacts is not None,
                                                     record_sql=profile.domains.sql_fields(ctx))  # fmt: skip
            if progress is not None:
                progress.start("reading and writing rows", total)
            seen = [0]
            records = None if content.records is None else build.counted(content.records, seen)
            counted = build.Content(build.counted(content.domains, seen), content.contacts, content.deletions, records)
            parts = build.write_csvs(
                work, counted, profile=profile, name=name, naming=naming, ctx=ctx, limits=limits,
                progress=progress.advance if progress else None,
            )  # fmt: skip
            watermark, position = snap.watermark, snap.feed_position
        if progress is not None:
            progress.start("compressing, encrypting and signing", len(parts))
        files = build.seal(parts, work=work, final=final, crypto=crypto, hash_name=naming.hash_file(name))
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the plain-text intermediates, whatever happened
    with uow:
        s = uow.session
        dep = s.get(EscrowDeposit, deposit_id)
        assert dep is not None
        dep.files.clear()
        s.flush()
        dep.files.extend(
            EscrowFile(name=f.name, role=f.role, bytes=f.bytes, sha256=f.sha256, csv_name=f.csv_name, rows=f.rows,
                       csv_bytes=f.csv_bytes, csv_sha256=f.csv_sha256)
            for f in files
        )  # fmt: skip
        uow.commit()
    _transition(
        uow,
        deposit_id,
        states.BUILT,
        actor=actor,
        watermark=watermark,
        feed_position=position,
        base_deposit_id=base.id if base else None,
        base_position=base.feed_position if base else None,
        domains=seen[0],
        deletions=deleted_names[0] if deleted_names else 0,
        built_at=uow.clock(),
    )


def _base_of(uow: UnitOfWork, deposit: DepositView) -> EscrowDeposit:
    """The deposit an incremental continues from: the newest other deposit that was completely built."""
    with uow.reading() as r:
        base = r.session.scalar(
            select(EscrowDeposit)
            .where(EscrowDeposit.id != deposit.id, EscrowDeposit.built_at.is_not(None))
            .order_by(EscrowDeposit.feed_position.desc(), EscrowDeposit.id.desc())
            .limit(1)
        )
    if base is None or base.feed_position is None:
        raise EscrowError("an incremental deposit needs an earlier deposit: run a full deposit first")
    return base


def _content(
    snap: Snapshot, deposit: DepositView, base: EscrowDeposit | None, *, with_contacts: bool, record_sql: str | None
) -> tuple[build.Content, int | None, list[int] | None]:
    if base is None:
        contacts = snap.contacts() if with_contacts else None
        return build.Content(snap.domains(), contacts, None, snap.records(record_sql)), snap.count_domains(), None
    assert base.feed_position is not None
    try:
        changed = snap.changed_since(base.feed_position)
    except FeedPruned as exc:
        raise EscrowError(
            f"the change feed no longer holds every change since deposit {base.id} ({exc}): run a full deposit"
        ) from None
    if changed.everything:
        contacts = snap.contacts() if with_contacts else None
        return build.Content(snap.domains(), contacts, (), snap.records(record_sql)), snap.count_domains(), [0]
    names = sorted(changed.last_change)
    present: set[str] = set()

    def domains() -> Iterator[EscrowDomain]:
        for domain in snap.domains_named(names):
            present.add(domain.name)
            yield domain

    deleted = [0]

    def deletions() -> Iterator[EscrowDeletion]:  # read after the domains: `present` is complete by then
        for n in names:
            if n not in present:
                deleted[0] += 1
                yield EscrowDeletion(n, changed.last_change[n])

    contacts = snap.contacts(names) if with_contacts else None
    return build.Content(domains(), contacts, deletions()), len(names), deleted


# -- uploading -------------------------------------------------------------------------------------------------


def _upload(
    uow: UnitOfWork, es: EscrowSettings, deposit_id: int, *, actor: Actor, progress: RunProgress | None
) -> None:
    target = SftpTarget.parse(es.sftp_url)
    deposit = _transition_view(uow, deposit_id, states.UPLOADING, actor=actor)
    folder = deposit_folder(es, deposit)
    files = [folder / f.name for f in deposit.files]
    for f in deposit.files:  # what goes out is exactly what was built
        path = folder / f.name
        if not path.is_file() or build.size_and_digest(path) != (f.bytes, f.sha256):
            raise EscrowError(f"escrow file {f.name} is missing or changed since it was built: rebuild the deposit")
    if progress is not None:
        progress.start("uploading", sum(f.bytes for f in deposit.files))
    done = {"bytes": 0}

    def on_progress(_name: str, sent: int, _total: int) -> None:
        if progress is not None:
            progress.advance(max(0, sent - done["bytes"]))
            done["bytes"] = max(done["bytes"], sent)

    upload_files(
        target,
        files,
        identity_file=Path(es.sftp_identity_file),
        known_hosts=Path(es.sftp_known_hosts),
        attempts=es.upload_attempts,
        backoff_seconds=es.upload_backoff_seconds,
        timeout_seconds=es.upload_timeout_seconds,
        progress=on_progress if progress is not None else None,
    )
    now = uow.clock()
    with uow:
        s = uow.session
        for stored in s.scalars(select(EscrowFile).where(EscrowFile.deposit_id == deposit_id)):
            stored.uploaded_at = now
        uow.commit()
    _transition(uow, deposit_id, states.UPLOADED, actor=actor, uploaded_at=now)

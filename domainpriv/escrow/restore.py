"""The restore drill: prove that a deposit rebuilds the registration data it claims to hold.

With the agent's (test) secret key, every data file is decrypted (its signature must be the registrar's), gunzipped
and checked against the hash file; the rows are loaded into a scratch SQLite database, one table per file type;
then the live data, read from one snapshot and projected through the same profile columns, is compared with it
field by field, domain by domain. Domains the change feed shows changed after the deposit's watermark are not
compared (they are reported as such): the drill diffs the deposit against the live data *as of the watermark*.
An incremental is also checked for completeness: it must carry exactly the domains the feed says changed between
its base deposit and its watermark (changed ones as rows, deleted ones in the deletions file).

Differences name the domain (or contact handle) and the column, never the values: the drill's output must not
become a copy of the personal data.
"""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainpriv.config import Settings
from domainpriv.escrow import csvfiles
from domainpriv.escrow.build import size_and_digest
from domainpriv.escrow.openpgp import OpenPgpError, decrypt_with_agent_key, export_public_key
from domainpriv.escrow.profiles import DepositContext, Layout, Profile, get_profile
from domainpriv.escrow.services import EscrowError, crypto_for, deposit_folder, get_deposit
from domainpriv.escrow.snapshot import FeedPruned, Snapshot, open_snapshot
from domainpriv.escrow.views import DepositView
from domainpriv.store import UnitOfWork


@dataclass(frozen=True, slots=True)
class Difference:
    key: str  # a domain name, or a contact handle
    column: str  # the deposit column, or "(row)" for a missing or extra row
    problem: str

    def __str__(self) -> str:
        return f"{self.key} {self.column}: {self.problem}"


@dataclass(slots=True)
class RestoreReport:
    deposit: DepositView
    files: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # file type -> data rows restored
    compared: int = 0  # live domains compared
    changed_since: int = 0  # domains changed after the watermark (not compared)
    differences: list[Difference] = field(default_factory=list)
    more_differences: int = 0  # beyond the ones kept

    @property
    def identical(self) -> bool:
        return not self.differences

    def add(self, difference: Difference, keep: int) -> None:
        if len(self.differences) < keep:
            self.differences.append(difference)
        else:
            self.more_differences += 1


def restore_test(
    uow: UnitOfWork,
    settings: Settings,
    deposit_id: int,
    *,
    agent_secret_key: Path,
    agent_passphrase: str | None = None,
    keep: int = 20,
) -> RestoreReport:
    """Run the drill on deposit `deposit_id`; the report says whether it is identical and, if not, where."""
    deposit = get_deposit(uow, deposit_id)
    if deposit.built_at is None or deposit.feed_position is None:
        raise EscrowError(f"escrow deposit {deposit.label} was never completely built ({deposit.state})")
    if not agent_secret_key.is_file():
        raise EscrowError(f"agent secret key {agent_secret_key}: no such file")
    es = settings.escrow
    profile = get_profile(deposit.profile)
    report = RestoreReport(deposit)
    folder = deposit_folder(es, deposit)
    with crypto_for(es) as crypto, _scratch() as scratch:
        registrar_key = export_public_key(es.gnupg_home, crypto.signing_fingerprint)
        db = sqlite3.connect(scratch / "restored.sqlite3")
        try:
            digests = _hash_file(folder, deposit, crypto_verify=crypto.verify_detached)
            for f in deposit.files:
                if f.role != "data":
                    continue
                plain = _decrypt(folder / f.name, scratch, agent_secret_key, registrar_key, agent_passphrase)
                assert f.csv_name is not None
                _check_digest(plain, f.csv_name, f.csv_sha256, digests)
                layout, file_type = _layout_of(profile, f.csv_name)
                report.rows[file_type] = report.rows.get(file_type, 0) + _load(
                    db, file_type, layout, plain, report, keep
                )
                plain.unlink()
                report.files += 1
            _compare(uow, settings, db, profile, deposit, report, keep)
        finally:
            db.close()
    return report


@contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="domainpriv-restore-"))
    try:
        folder.chmod(0o700)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _hash_file(folder: Path, deposit: DepositView, *, crypto_verify: Any) -> dict[str, str]:
    """csv name -> digest, from the deposit's hash file, after checking its detached signature."""
    hashes = [f for f in deposit.files if f.role == "hash"]
    if len(hashes) != 1:
        raise EscrowError(f"escrow deposit {deposit.label} has {len(hashes)} hash files")
    path = folder / hashes[0].name
    try:
        crypto_verify(path, path.with_name(f"{path.name}.sig"))
    except OpenPgpError as exc:
        raise EscrowError(f"hash file {path.name}: {exc}") from None
    try:
        return csvfiles.read_hash_file(path)
    except csvfiles.DepositFileError as exc:
        raise EscrowError(str(exc)) from None


def _decrypt(encrypted: Path, scratch: Path, secret: Path, registrar_key: str, passphrase: str | None) -> Path:
    if not encrypted.is_file():
        raise EscrowError(f"escrow file {encrypted.name} is missing from {encrypted.parent}")
    gz = scratch / encrypted.name.removesuffix(".gpg")
    decrypt_with_agent_key(encrypted, gz, agent_secret_key=secret, registrar_public_key=registrar_key,
                           passphrase=passphrase)  # fmt: skip
    plain = scratch / gz.name.removesuffix(".gz")
    with gzip.open(gz, "rb") as src, plain.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    gz.unlink()
    return plain


def _check_digest(plain: Path, csv_name: str, recorded: str | None, digests: dict[str, str]) -> None:
    _, actual = size_and_digest(plain)
    if digests.get(csv_name) != actual:
        raise EscrowError(f"{csv_name}: its SHA-256 does not match the deposit's hash file")
    if recorded != actual:
        raise EscrowError(f"{csv_name}: its SHA-256 does not match the digest recorded when it was built")


def _layout_of(profile: Profile, csv_name: str) -> tuple[Layout[Any], str]:
    """Which layout a data file has, from its file type in the name (<...>_<type>_<n>...)."""
    for file_type, layout in (("hdl", profile.contacts), ("del", profile.deletions), ("full", profile.domains),
                              ("inc", profile.domains)):  # fmt: skip
        if layout is not None and f"_{file_type}_" in csv_name:
            return layout, "domains" if file_type in ("full", "inc") else file_type
    raise EscrowError(f"{csv_name}: not a file type of profile {profile.name}")


def _load(
    db: sqlite3.Connection, table: str, layout: Layout[Any], plain: Path, report: RestoreReport, keep: int
) -> int:
    header = layout.header()
    columns = ", ".join(f'"{c}"' for c in header)
    db.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({columns}, PRIMARY KEY ("{header[0]}"))')
    placeholders = ", ".join("?" for _ in header)
    rows = 0
    with db:  # one transaction for the file
        for values in csvfiles.read_csv(plain, header):
            try:
                db.execute(f'INSERT INTO "{table}" VALUES ({placeholders})', values)  # noqa: S608 - our own names
            except sqlite3.IntegrityError:
                report.add(Difference(values[0], "(row)", "deposited more than once"), keep)
            rows += 1
    return rows


def _compare(
    uow: UnitOfWork, settings: Settings, db: sqlite3.Connection, profile: Profile, deposit: DepositView,
    report: RestoreReport, keep: int,
) -> None:  # fmt: skip
    assert deposit.feed_position is not None
    ctx = DepositContext(settings.registrar.iana_id)
    header = profile.domains.header()
    restored = {row[0]: list(row) for row in db.execute('SELECT * FROM "domains"')} if _has(db, "domains") else {}
    deleted = {row[0] for row in db.execute('SELECT * FROM "del"')} if _has(db, "del") else set()
    with open_snapshot(uow) as snap:
        try:
            later = snap.changed_since(deposit.feed_position)
        except FeedPruned:
            raise EscrowError(
                f"the change feed no longer reaches back to deposit {deposit.label}: cannot tell which domains "
                "changed after its watermark"
            ) from None
        if later.everything:
            raise EscrowError(
                f"every domain changed after deposit {deposit.label} (a bulk import or a publication-wide change): "
                "there is nothing left to compare it with; make a new deposit and drill that"
            )
        changed = set(later.last_change)
        report.changed_since = len(changed)
        if deposit.kind == "full":
            expected = None
            live = snap.domains()
        else:
            assert deposit.base_deposit_id is not None
            expected = _expected_names(snap, deposit)
            live = snap.domains_named(sorted(expected - changed)) if expected is not None else snap.domains()
        seen: set[str] = set()
        for domain in live:
            seen.add(domain.name)
            if domain.name in changed:
                continue
            report.compared += 1
            got = restored.get(domain.name)
            if got is None:
                report.add(Difference(domain.name, "(row)", "in the live data but not in the deposit"), keep)
                continue
            for column, want, have in zip(header, profile.domains.row(domain, ctx), got, strict=True):
                if want != have:
                    report.add(Difference(domain.name, column, "differs from the live data"), keep)
        for name in sorted(set(restored) - seen - changed):
            if expected is None or name in expected:
                report.add(Difference(name, "(row)", "in the deposit but not in the live data"), keep)
        if expected is not None:
            for name in sorted(expected - set(restored) - deleted - changed):
                if name not in seen:
                    continue  # deleted later and not reported: caught below
                report.add(Difference(name, "(row)", "changed since the base deposit but not in the deposit"), keep)
            for name in sorted((set(restored) | deleted) - expected):
                report.add(Difference(name, "(row)", "in the deposit but not changed since the base deposit"), keep)
            for name in sorted(deleted & seen - changed):
                report.add(Difference(name, "(row)", "reported deleted but exists in the live data"), keep)


def _expected_names(snap: Snapshot, deposit: DepositView) -> set[str] | None:
    """The domains an incremental must carry: changed in (base position, its position]; None: every domain
    (or the feed no longer tells)."""
    assert deposit.base_position is not None and deposit.feed_position is not None
    try:
        span = snap.changed_since(deposit.base_position, until=deposit.feed_position)
    except FeedPruned:
        return None
    return None if span.everything else set(span.last_change)


def _has(db: sqlite3.Connection, table: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None

"""Building a deposit's files: snapshot rows -> split CSVs, gzipped as they are written -> encrypt + sign ->
detached signatures -> hash file, each step its own module (STYLE §5); this one only chains them.

The plain CSV never reaches the disk (it is piped into gzip). The gzip still holds personal data unencrypted, so
it lives only in a private work folder (mode 0700) and is deleted as soon as its encrypted form exists; the work
folder of a killed run is wiped by the next one. Final files are written under a temporary name and renamed when
complete, so a final name never shows a partial file; a `kill -9` at any moment leaves a deposit still `building`,
whose folder the next run empties and rebuilds.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from domainpriv.escrow import csvfiles
from domainpriv.escrow.naming import DepositName, Naming
from domainpriv.escrow.openpgp import DepositCrypto
from domainpriv.escrow.profiles import DepositContext, Layout, Profile
from domainpriv.escrow.record import EscrowContact, EscrowDeletion, EscrowDomain

T = TypeVar("T")
Progress = Callable[[int], None]  # called with the number of rows just written


@dataclass(frozen=True, slots=True)
class BuiltFile:
    name: str
    role: str  # data | signature | hash
    bytes: int
    sha256: str
    csv_name: str | None = None
    rows: int | None = None
    csv_bytes: int | None = None
    csv_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Content:
    """What goes into one deposit, as streams read from one snapshot."""

    domains: Iterable[EscrowDomain]
    contacts: Iterable[EscrowContact] | None  # profiles with a handle file
    deletions: Iterable[EscrowDeletion] | None  # incrementals
    records: Iterable[bytes] | None = None  # the domains' rows already rendered (Snapshot.records), instead


@dataclass(frozen=True, slots=True)
class Limits:
    max_rows: int
    max_bytes: int


def private_folder(path: Path) -> Path:
    """Create `path` (and parents) readable by its owner only; emptied when it already exists."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    path.chmod(0o700)
    return path


def write_csvs(
    work: Path,
    content: Content,
    *,
    profile: Profile,
    name: DepositName,
    naming: Naming,
    ctx: DepositContext,
    limits: Limits,
    progress: Progress | None = None,
) -> list[csvfiles.CsvPart]:
    """Stream the content into split CSVs in `work` (inside the snapshot's transaction)."""
    file_type = "full" if name.kind == "full" else "inc"
    domains: Iterable[Any] = content.domains if content.records is None else content.records
    parts = _write_layout(work, domains, profile.domains, name, naming, file_type, ctx, limits, progress,
                          encoded=content.records is not None)  # fmt: skip
    if profile.contacts is not None and content.contacts is not None:
        parts += _write_layout(work, content.contacts, profile.contacts, name, naming, "hdl", ctx, limits, None)
    if content.deletions is not None:
        parts += _write_layout(work, content.deletions, profile.deletions, name, naming, "del", ctx, limits, None)
    return parts


def _write_layout(
    work: Path,
    items: Iterable[Any],
    layout: Layout[Any],
    name: DepositName,
    naming: Naming,
    file_type: str,
    ctx: DepositContext,
    limits: Limits,
    progress: Progress | None,
    *,
    encoded: bool = False,
) -> list[csvfiles.CsvPart]:
    writer = csvfiles.SplitCsvWriter(
        work,
        lambda seq: naming.data_file(name, file_type, seq),
        layout.header(),
        max_rows=limits.max_rows,
        max_bytes=limits.max_bytes,
        gzip_level=csvfiles.GZIP_LEVEL,
    )
    with writer:
        pending = 0
        for item in items:
            if encoded:
                writer.write_encoded(item)
            else:
                writer.write(layout.row(item, ctx))
            pending += 1
            if progress is not None and pending == 1000:
                progress(pending)
                pending = 0
        if progress is not None and pending:
            progress(pending)
    return writer.parts


def seal(
    parts: list[csvfiles.CsvPart], *, work: Path, final: Path, crypto: DepositCrypto, hash_name: str
) -> list[BuiltFile]:
    """Encrypt + sign and detach-sign each (gzipped) CSV into `final`, then the hash file; the compressed plain
    text is deleted as soon as it is sealed. Returns the stored files, data first, hash file last."""
    final.mkdir(parents=True, exist_ok=True)
    built: list[BuiltFile] = []
    for part in parts:
        gz = part.path  # compressed while it was written (csvfiles.SplitCsvWriter, gzip_level)
        sealed = final / f"{gz.name}.gpg"
        _atomically(sealed, functools.partial(crypto.encrypt_and_sign, gz))
        gz.unlink()
        built.append(
            BuiltFile(sealed.name, "data", *size_and_digest(sealed), part.csv_name, part.rows, part.bytes, part.sha256)
        )
        built.append(_signature(sealed, crypto))
    hash_file = final / hash_name
    csvfiles.write_hash_file(hash_file, parts)
    built.append(BuiltFile(hash_file.name, "hash", *size_and_digest(hash_file)))
    built.append(_signature(hash_file, crypto))
    return built


def _signature(path: Path, crypto: DepositCrypto) -> BuiltFile:
    sig = path.with_name(f"{path.name}.sig")
    _atomically(sig, functools.partial(crypto.sign_detached, path))
    return BuiltFile(sig.name, "signature", *size_and_digest(sig))


def _atomically(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def size_and_digest(path: Path) -> tuple[int, str]:
    """(bytes, SHA-256 hex) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def counted(items: Iterable[T], seen: list[int]) -> Iterator[T]:
    """Pass `items` through, counting them in seen[0]."""
    for item in items:
        seen[0] += 1
        yield item

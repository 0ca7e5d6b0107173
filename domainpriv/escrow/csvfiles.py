"""Rows become deposit files: RFC 4180 CSV split at the agreed limits, hashed while written, gzipped, read back.

escrow.md §9: a header row, RFC 4180 quoting (CRLF record ends, quotes only where needed, `"` doubled), a new part
before a row would break the row or byte limit (2024 v1.3 §4.1.1/§4.1.17, default 1,000,000 rows and 1 GB), the
SHA-256 of each uncompressed CSV in a `sha256sum` hash file, then gzip.

* **The header row counts as a row** toward `max_rows` (whether it does is [unconfirmed], escrow.md §9; counting it
  can only make a part smaller, so a part never breaks the limit under either reading). `CsvPart.rows` includes it.
* Every part starts with the header; a part holds at least one data row, so a row that cannot fit next to the
  header alone is refused (RowTooLarge) instead of making an oversized part.
* Crash safety: each file is written as `NAME.tmp` in its final directory, flushed, fsynced, then renamed with
  `os.replace` and the directory fsynced, so a final name always holds a complete file. Names are deterministic,
  so a re-run overwrites a killed run's leftovers. Leaving a `SplitCsvWriter` on an exception removes its temporary
  file and the parts it already finished (the caller never got their list, so it could not clean them up).
* Streaming: rows are encoded and written one at a time, the digest and the byte count are updated from the same
  bytes (no re-read), so memory is flat in the number of rows.
* gzip is deterministic (mtime 0, no file name in the header, fixed level): a rebuilt deposit is byte-identical
  with the same zlib.
* `read_csv` (the restore drill) is stricter than `csv.reader(strict=True)`: besides strict UTF-8, the header and a
  constant width, every record must be exactly what this module writes (so a bare quote in an unquoted field, a
  bare-LF record end or needless quoting, which Python's reader accepts, are refused). Errors name the file and the
  1-based physical line, never a value (values are personal data).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, cast

from domainpriv.errors import DomainprivError

__all__ = [
    "CsvInvalid",
    "CsvPart",
    "DepositFileError",
    "LimitTooSmall",
    "RowRejected",
    "RowTooLarge",
    "SplitCsvWriter",
    "encode_row",
    "gzip_file",
    "read_csv",
    "write_hash_file",
]

GZIP_LEVEL: Final = 6  # gzip(1)'s default; level 9 took 17% longer for the same size on a synthetic 33 MB deposit CSV
_CHUNK_BYTES: Final = 1 << 20
_TMP_SUFFIX: Final = ".tmp"


class DepositFileError(DomainprivError):
    """Base of the deposit-file errors::

    DepositFileError
    ├── LimitTooSmall      the split limits leave no room for a data row (also a ValueError)
    ├── RowRejected        a row cannot be written (wrong width, not encodable as UTF-8)
    │   └── RowTooLarge    a single row does not fit next to the header within max_bytes
    └── CsvInvalid         read_csv: the file is not what the deposit writes (names the file and line)
    """


class LimitTooSmall(DepositFileError, ValueError):
    pass


class RowRejected(DepositFileError):
    pass


class RowTooLarge(RowRejected):
    pass


class CsvInvalid(DepositFileError):
    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}: line {line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CsvPart:
    path: Path  # the complete plain CSV, under its final name
    rows: int  # data rows + the header row
    bytes: int  # size of the uncompressed CSV
    sha256: str  # hex digest of the uncompressed CSV

    @property
    def csv_name(self) -> str:
        """The plain CSV's name (also for a part compressed while written: `path` is then NAME.gz)."""
        return self.path.name.removesuffix(".gz")


class _RowEncoder:
    """One reusable csv.writer: RFC 4180, QUOTE_MINIMAL, CRLF."""

    def __init__(self) -> None:
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)

    def text(self, row: Iterable[str]) -> str:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow(row)
        return self._buf.getvalue()


def encode_row(row: Sequence[str]) -> bytes:
    """One record exactly as the deposit writes it (UTF-8, CRLF)."""
    return _RowEncoder().text(row).encode("utf-8")


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX: the new directory entry is on disk once the directory is fsynced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(fh: BinaryIO, tmp: Path, final: Path) -> None:
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()
    tmp.replace(final)
    _fsync_directory(final.parent)


def _plain_name(name: str) -> str:
    if not name or name in {".", ".."} or "/" in name or "\0" in name or name.endswith(_TMP_SUFFIX):
        raise DepositFileError(f"{name!r} is not a usable deposit file name")
    return name


class _OpenPart:
    def __init__(self, directory: Path, name: str, header: bytes) -> None:
        self.final = directory / name
        self.tmp = directory / (name + _TMP_SUFFIX)
        self._start(self.tmp.open("wb", buffering=_CHUNK_BYTES), header)

    def _start(self, fh: BinaryIO, header: bytes) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()
        self.bytes = 0
        self.rows = 0
        try:
            self.write(header)
        except BaseException:
            self.discard()
            raise

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.digest.update(data)
        self.bytes += len(data)
        self.rows += 1

    def finish(self) -> CsvPart:
        _commit(self.fh, self.tmp, self.final)
        return CsvPart(self.final, self.rows, self.bytes, self.digest.hexdigest())

    def discard(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


class _GzipPart(_OpenPart):
    """A part compressed while it is written: the plain text goes through a pipe into `gzip -n` (deterministic:
    no name, no time stamp), so it never reaches the disk and the compression runs on another core while rows
    are still being produced. Size and digest stay those of the plain CSV. The part is `NAME.gz`."""

    def __init__(self, directory: Path, name: str, header: bytes, level: int) -> None:
        self._out = (directory / (name + ".gz" + _TMP_SUFFIX)).open("wb")
        try:
            command = ["gzip", "-n", f"-{level}", "-c"]  # fixed arguments; gzip from PATH (S603 below)
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=self._out, bufsize=_CHUNK_BYTES)  # noqa: S603
        except OSError as exc:
            self._out.close()
            raise DepositFileError(f"cannot run gzip: {exc.strerror}") from None
        assert self._proc.stdin is not None
        self.final = directory / (name + ".gz")
        self.tmp = directory / (name + ".gz" + _TMP_SUFFIX)
        self._start(cast(BinaryIO, self._proc.stdin), header)

    def finish(self) -> CsvPart:
        self.fh.close()
        if self._proc.wait() != 0:
            self._out.close()
            raise DepositFileError(f"gzip failed on {self.final.name} (exit status {self._proc.returncode})")
        _commit(self._out, self.tmp, self.final)
        return CsvPart(self.final, self.rows, self.bytes, self.digest.hexdigest())

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        self._proc.kill()
        self._proc.wait()
        self._out.close()
        self.tmp.unlink(missing_ok=True)


class SplitCsvWriter:
    """Writes rows into parts named `name_for(1)`, `name_for(2)`, ... each within max_rows and max_bytes.

    Use as a context manager; `close()` (also called on a normal exit) returns the parts, at least one (header
    only when no row was written). Raises LimitTooSmall, RowRejected, RowTooLarge, DepositFileError.
    """

    def __init__(
        self,
        directory: Path,
        name_for: Callable[[int], str],
        header: Sequence[str],
        *,
        max_rows: int,
        max_bytes: int,
        gzip_level: int | None = None,
    ) -> None:
        self._gzip_level = gzip_level  # None: plain CSV parts; else NAME.gz parts, compressed while written
        self._encoder = _RowEncoder()
        self._header = self._encoder.text(header).encode("utf-8")
        if max_rows < 2:
            raise LimitTooSmall(f"max_rows {max_rows}: a part needs the header row and at least one data row")
        if len(self._header) >= max_bytes:
            raise LimitTooSmall(f"max_bytes {max_bytes}: the header alone takes {len(self._header)} bytes")
        self._directory = directory
        self._name_for = name_for
        self._width = len(header)
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._parts: list[CsvPart] = []
        self._current: _OpenPart | None = None
        self._written = 0  # data rows so far, all parts
        self._closed = False

    def __enter__(self) -> SplitCsvWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()

    def write(self, row: Sequence[str]) -> None:
        self._check_open()
        number = self._written + 1
        if len(row) != self._width:
            raise RowRejected(f"row {number}: {len(row)} fields where the header has {self._width}")
        try:
            data = self._encoder.text(row).encode("utf-8")
        except UnicodeEncodeError:
            raise RowRejected(f"row {number}: a value is not encodable as UTF-8") from None
        self.write_encoded(data)

    def write_encoded(self, data: bytes) -> None:
        """One record already encoded exactly as `write` would (UTF-8, RFC 4180, CRLF): the PostgreSQL fast path
        of escrow/snapshot.py renders records in the database."""
        self._check_open()
        number = self._written + 1
        room = self._max_bytes - len(self._header)
        if len(data) > room:
            raise RowTooLarge(
                f"row {number} (for {self._part_name()}): {len(data)} bytes, but only {room} fit next to the header "
                f"in a part of at most {self._max_bytes} bytes"
            )
        part = self._current
        if part is not None and (part.rows + 1 > self._max_rows or part.bytes + len(data) > self._max_bytes):
            self._finish_part()
            part = None
        if part is None:
            part = self._open_part()
        part.write(data)
        self._written = number

    @property
    def parts(self) -> list[CsvPart]:
        """The parts finished so far (all of them once closed)."""
        return list(self._parts)

    def close(self) -> list[CsvPart]:
        """Finish the last part and return every part; idempotent."""
        if not self._closed:
            if self._current is None and not self._parts:
                self._open_part()
            if self._current is not None:
                self._finish_part()
            self._closed = True
        return list(self._parts)

    def abort(self) -> None:
        """Remove the temporary file and every part finished so far."""
        if self._current is not None:
            self._current.discard()
            self._current = None
        for part in self._parts:
            part.path.unlink(missing_ok=True)
        self._parts.clear()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise DepositFileError("the CSV writer is already closed")

    def _part_name(self) -> str:
        if self._current is not None:
            return self._current.final.name
        return self._name_for(len(self._parts) + 1)

    def _open_part(self) -> _OpenPart:
        name = _plain_name(self._name_for(len(self._parts) + 1))
        if any(p.path.name == name for p in self._parts):
            raise DepositFileError(f"the name {name} was given to two parts")
        if self._gzip_level is None:
            self._current = _OpenPart(self._directory, name, self._header)
        else:
            self._current = _GzipPart(self._directory, name, self._header, self._gzip_level)
        return self._current

    def _finish_part(self) -> None:
        assert self._current is not None
        part, self._current = self._current, None
        try:
            self._parts.append(part.finish())
        except BaseException:
            part.discard()
            raise


def gzip_file(src: Path, dst: Path, *, level: int = GZIP_LEVEL) -> int:
    """Compress src into dst (streaming, deterministic, temp name + rename); return dst's size in bytes."""
    tmp = dst.with_name(dst.name + _TMP_SUFFIX)
    try:
        with src.open("rb") as fin:
            fh: BinaryIO = tmp.open("wb")
            try:
                # filename="" writes no FNAME field; mtime=0 leaves the MTIME field zero.
                with gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=level, mtime=0) as gz:
                    shutil.copyfileobj(fin, gz, _CHUNK_BYTES)
                size = fh.tell()
                _commit(fh, tmp, dst)
            finally:
                fh.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size


def write_hash_file(path: Path, parts: Sequence[CsvPart]) -> None:
    """`<hex>  <name>` per part (sha256sum -c format). Names only: `sha256sum -c` runs where the plain CSVs are
    (after decryption and gunzip), which need not be where the hash file is written."""
    lines = []
    for part in parts:
        name = part.csv_name
        if any(c in name for c in "\n\r\\"):  # sha256sum escapes such names; keep the plain two-space form
            raise DepositFileError(f"{name!r} cannot be listed in a sha256sum file")
        lines.append(f"{part.sha256}  {name}\n")
    tmp = path.with_name(path.name + _TMP_SUFFIX)
    try:
        fh: BinaryIO = tmp.open("wb")
        try:
            fh.write("".join(lines).encode("utf-8"))
            _commit(fh, tmp, path)
        finally:
            fh.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_hash_file(path: Path) -> dict[str, str]:
    """CSV name -> SHA-256 hex, from a file `write_hash_file` wrote. Raises DepositFileError on a line that is not
    in `sha256sum` form."""
    listed: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise DepositFileError(f"{path.name}: line {number} is not in `sha256sum` form")
        listed[name] = digest
    return listed


def read_csv(path: Path, expected_header: Sequence[str]) -> Iterator[list[str]]:
    """The data rows of a deposit CSV, checked as they are read. Raises CsvInvalid (file and line)."""
    expected = list(expected_header)
    with path.open("rb") as fh:
        reader = _StrictReader(fh, path)
        header = reader.next_record()
        if header is None:
            raise CsvInvalid(path, 1, "empty file: no header row")
        _check_header(path, header, expected)
        while True:
            line = reader.next_line
            row = reader.next_record()
            if row is None:
                return
            if len(row) != len(expected):
                raise CsvInvalid(path, line, f"{len(row)} fields where the header has {len(expected)}")
            yield row


def _check_header(path: Path, header: list[str], expected: list[str]) -> None:
    """Names only the expected columns: a wrong file's first line could hold anything."""
    for index, name in enumerate(expected):
        if index >= len(header) or header[index] != name:
            raise CsvInvalid(path, 1, f"header column {index + 1} is not {name!r} (the profile's header)")
    if len(header) != len(expected):
        raise CsvInvalid(path, 1, f"the header has {len(header)} columns, the profile {len(expected)}")


class _StrictReader:
    """csv.reader(strict=True) over strictly decoded physical lines, remembering each record's raw text."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self._path = path
        self._raw: list[str] = []
        self._lines_read = 0
        self._reader = csv.reader(self._decoded(fh), strict=True)
        self._encoder = _RowEncoder()

    @property
    def next_line(self) -> int:
        """The physical line the next record starts on."""
        return self._lines_read + 1

    def _decoded(self, fh: BinaryIO) -> Iterator[str]:
        for raw in fh:  # b"\n" never occurs inside a UTF-8 multi-byte sequence, so splitting first is safe
            self._lines_read += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CsvInvalid(self._path, self._lines_read, f"not UTF-8 (byte {exc.start + 1})") from None
            self._raw.append(text)
            yield text

    def next_record(self) -> list[str] | None:
        self._raw.clear()
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:  # the message names the syntax ("',' expected after '\"'"), never a value
            raise CsvInvalid(self._path, self._lines_read, f"not RFC 4180: {exc}") from None
        written = "".join(self._raw)
        if written != self._encoder.text(row):
            raise CsvInvalid(self._path, self._lines_read, _why_not_canonical(written))
        return row


def _why_not_canonical(written: str) -> str:
    if not written.endswith("\r\n"):
        return "the record does not end with CRLF"
    return "a quote outside a quoted field, or quotes where none are needed (not RFC 4180 as deposited)"

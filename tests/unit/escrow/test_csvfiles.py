"""Split, hashed, gzipped deposit CSVs, and the strict reader of the restore drill."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainpriv.escrow.csvfiles import (
    CsvInvalid,
    CsvPart,
    LimitTooSmall,
    RowRejected,
    RowTooLarge,
    SplitCsvWriter,
    encode_row,
    gzip_file,
    read_csv,
    write_hash_file,
)

HEADER = ["domainname", "rt-name", "rt-street"]


def name_for(sequence: int) -> str:
    return f"9999_RDE_2026-11-06_full_{sequence}.csv"


def rows(n: int) -> list[list[str]]:
    """Rows of equal encoded length: example0001.com ... (no quoting needed)."""
    return [[f"example{i:04d}.com", f"Name {i:04d}", f"Street {i:04d}"] for i in range(1, n + 1)]


def write_all(
    directory: Path, data: list[list[str]], *, max_rows: int = 1000, max_bytes: int = 1 << 20
) -> list[CsvPart]:
    with SplitCsvWriter(directory, name_for, HEADER, max_rows=max_rows, max_bytes=max_bytes) as writer:
        for row in data:
            writer.write(row)
    return writer.close()


def read_all(parts: list[CsvPart]) -> list[list[str]]:
    return [row for part in parts for row in read_csv(part.path, HEADER)]


# --- writing ---------------------------------------------------------------------------------------------------


def test_rfc_4180_crlf_minimal_quoting_and_doubled_quotes(tmp_path: Path) -> None:
    (part,) = write_all(tmp_path, [["a.example", 'Ann "the" Owner, Jr.', "1 Road\nFlat 2"], ["b.example", "", "x"]])
    assert part.path.read_bytes() == (
        b'domainname,rt-name,rt-street\r\na.example,"Ann ""the"" Owner, Jr.","1 Road\nFlat 2"\r\nb.example,,x\r\n'
    )
    assert part.rows == 3


@pytest.mark.parametrize(("count", "sizes"), [(2, [3]), (4, [3, 3]), (5, [3, 3, 2]), (0, [1])])
def test_parts_split_by_rows_with_the_header_counted(tmp_path: Path, count: int, sizes: list[int]) -> None:
    data = rows(count)
    parts = write_all(tmp_path, data, max_rows=3)
    assert [p.rows for p in parts] == sizes
    assert [p.path.name for p in parts] == [name_for(i) for i in range(1, len(sizes) + 1)]
    assert read_all(parts) == data
    for part in parts:
        assert len(part.path.read_bytes().split(b"\r\n")) - 1 == part.rows


def test_parts_split_by_bytes_exactly_at_the_limit(tmp_path: Path) -> None:
    header, row = len(encode_row(HEADER)), len(encode_row(rows(1)[0]))
    data = rows(5)
    (tmp_path / "exact").mkdir()
    (tmp_path / "tight").mkdir()
    exact = write_all(tmp_path / "exact", data, max_bytes=header + 2 * row)
    assert [p.rows for p in exact] == [3, 3, 2]
    assert [p.bytes for p in exact] == [header + 2 * row, header + 2 * row, header + row]
    tight = write_all(tmp_path / "tight", data, max_bytes=header + 2 * row - 1)
    assert [p.rows for p in tight] == [2] * 5
    for part in exact + tight:
        assert part.path.stat().st_size == part.bytes
        assert part.path.read_bytes().startswith(encode_row(HEADER))
    assert read_all(exact) == read_all(tight) == data


def test_digest_and_size_are_those_of_the_file(tmp_path: Path) -> None:
    parts = write_all(tmp_path, [*rows(50), ["ü.example", "名前", "a\r\nb"]], max_rows=20)
    assert len(parts) == 3
    for part in parts:
        content = part.path.read_bytes()
        assert part.sha256 == hashlib.sha256(content).hexdigest()
        assert part.bytes == len(content)
    assert not list(tmp_path.glob("*.tmp"))


def test_sha256sum_accepts_the_hash_file_and_notices_a_change(tmp_path: Path) -> None:
    sha256sum = shutil.which("sha256sum")
    assert sha256sum is not None, "coreutils sha256sum is part of the toolchain"
    parts = write_all(tmp_path, rows(7), max_rows=3)
    hash_file = tmp_path / "9999_RDE_2026-11-06_hash.txt"
    write_hash_file(hash_file, parts)
    lines = hash_file.read_text(encoding="utf-8").splitlines()
    assert lines == [f"{p.sha256}  {p.path.name}" for p in parts]
    ok = subprocess.run([sha256sum, "--strict", "-c", hash_file.name], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    with parts[1].path.open("ab") as fh:
        fh.write(b"x")
    bad = subprocess.run([sha256sum, "-c", hash_file.name], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0
    assert f"{parts[1].path.name}: FAILED" in bad.stdout


def test_gzip_is_deterministic_and_valid(tmp_path: Path) -> None:
    (part,) = write_all(tmp_path, rows(300))
    first = gzip_file(part.path, tmp_path / "one.csv.gz")
    os.utime(part.path, (1_000_000_000, 1_000_000_000))  # a later rebuild: another mtime, another name
    second = gzip_file(part.path, tmp_path / "two.csv.gz")
    one, two = (tmp_path / "one.csv.gz").read_bytes(), (tmp_path / "two.csv.gz").read_bytes()
    assert one == two
    assert first == second == len(one)
    assert one[3] == 0  # FLG: no FNAME, no comment, no extra field
    assert one[4:8] == b"\0\0\0\0"  # MTIME
    assert gzip.decompress(one) == part.path.read_bytes()
    gz = shutil.which("gzip")
    assert gz is not None
    assert subprocess.run([gz, "-t", str(tmp_path / "one.csv.gz")], check=False).returncode == 0
    assert not list(tmp_path.glob("*.tmp"))


def test_an_exception_inside_the_writer_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(KeyError), SplitCsvWriter(tmp_path, name_for, HEADER, max_rows=3, max_bytes=1 << 20) as w:
        for row in rows(5):  # two parts finished, the third open under its .tmp name
            w.write(row)
        assert sorted(p.name for p in tmp_path.iterdir()) == [name_for(1), name_for(2), name_for(3) + ".tmp"]
        raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_a_part_appears_under_its_final_name_only_when_complete(tmp_path: Path) -> None:
    with SplitCsvWriter(tmp_path, name_for, HEADER, max_rows=10, max_bytes=1 << 20) as w:
        w.write(rows(1)[0])
        assert not (tmp_path / name_for(1)).exists()
        assert (tmp_path / (name_for(1) + ".tmp")).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name_for(1)]
    assert w.parts == w.close()


def test_a_row_too_large_for_any_part_is_refused_by_number(tmp_path: Path) -> None:
    header = len(encode_row(HEADER))
    secret = "Very Personal Name " * 10
    with (
        pytest.raises(RowTooLarge) as caught,
        SplitCsvWriter(tmp_path, name_for, HEADER, max_rows=10, max_bytes=header + 40) as w,
    ):
        w.write(["a.example", "x", "y"])
        w.write(["b.example", secret, "y"])
    message = str(caught.value)
    assert "row 2" in message and name_for(1) in message and secret.strip() not in message
    assert list(tmp_path.iterdir()) == []


def test_a_row_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(RowRejected, match="2 fields where the header has 3"),
        SplitCsvWriter(tmp_path, name_for, HEADER, max_rows=10, max_bytes=1 << 20) as w,
    ):
        w.write(["a.example", "x"])


def test_limits_that_leave_no_room_for_a_row_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LimitTooSmall, match="max_rows 1"):
        SplitCsvWriter(tmp_path, name_for, HEADER, max_rows=1, max_bytes=1 << 20)
    with pytest.raises(LimitTooSmall, match="max_bytes"):
        SplitCsvWriter(tmp_path, name_for, HEADER, max_rows=10, max_bytes=len(encode_row(HEADER)))


def peak_memory_writing(directory: Path, count: int) -> tuple[int, int]:
    """(peak traced bytes, CSV bytes written) for `count` rows of 49 bytes."""
    row = ["example.com", "Ada Customer", "1 Main Street\nFlat 2"]
    tracemalloc.start()
    try:
        with SplitCsvWriter(directory, name_for, HEADER, max_rows=10**6, max_bytes=1 << 30) as w:
            for _ in range(count):
                w.write(row)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, w.parts[0].bytes


def test_memory_stays_flat_in_the_number_of_rows(tmp_path: Path) -> None:
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    small, _ = peak_memory_writing(tmp_path / "small", 5_000)
    large, written = peak_memory_writing(tmp_path / "large", 60_000)
    assert written > 2_900_000
    assert large < 1_500_000  # the 1 MiB write buffer and a few rows
    assert large - small < 64_000  # 55,000 more rows (2.7 MB) cost next to nothing


# --- reading ---------------------------------------------------------------------------------------------------


def write_raw(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "9999_RDE_2026-11-06_full_1.csv"
    path.write_bytes(content)
    return path


def refused(path: Path, header: list[str] = HEADER) -> CsvInvalid:
    with pytest.raises(CsvInvalid) as caught:
        list(read_csv(path, header))
    assert str(path) in str(caught.value)
    return caught.value


GOOD_HEAD = b'domainname,rt-name,rt-street\r\na.example,Ann,"1 Road\nFlat 2"\r\n'


def test_read_csv_rejects_a_header_that_is_not_the_profiles(tmp_path: Path) -> None:
    err = refused(write_raw(tmp_path, b"domainname,rt-email,rt-street\r\n"))
    assert err.line == 1 and "'rt-name'" in err.problem
    err = refused(write_raw(tmp_path, b"domainname,rt-name,rt-street,extra\r\n"))
    assert err.line == 1 and "4 columns" in err.problem
    assert refused(write_raw(tmp_path, b"")).line == 1
    assert refused(write_raw(tmp_path, b"\xef\xbb\xbf" + GOOD_HEAD)).line == 1  # a BOM is not part of the header


def test_read_csv_rejects_a_ragged_row_naming_its_physical_line(tmp_path: Path) -> None:
    err = refused(write_raw(tmp_path, GOOD_HEAD + b"b.example,Bob\r\n"))
    assert err.line == 4  # the quoted newline of line 2-3 counts
    assert "2 fields where the header has 3" in err.problem


def test_read_csv_rejects_a_bare_quote(tmp_path: Path) -> None:
    err = refused(write_raw(tmp_path, GOOD_HEAD + b'b.example,Bo"b Secret,x\r\n'))
    assert err.line == 4 and "quote" in err.problem
    assert "Secret" not in str(err)
    err = refused(write_raw(tmp_path, GOOD_HEAD + b'b.example,"Bob"x,y\r\n'))
    assert err.line == 4
    err = refused(write_raw(tmp_path, GOOD_HEAD + b'b.example,"Bob,y\r\nc.example,z,z\r\n'))  # never closed
    assert err.line == 5


def test_read_csv_rejects_invalid_utf8(tmp_path: Path) -> None:
    err = refused(write_raw(tmp_path, GOOD_HEAD + b"b.example,B\xffb,x\r\n"))
    assert err.line == 4 and "UTF-8" in err.problem


def test_read_csv_rejects_what_the_deposit_never_writes(tmp_path: Path) -> None:
    err = refused(write_raw(tmp_path, GOOD_HEAD + b"b.example,Bob,x\n"))
    assert err.line == 4 and "CRLF" in err.problem
    assert refused(write_raw(tmp_path, GOOD_HEAD + b'b.example,"Bob",x\r\n')).line == 4  # needless quotes
    assert refused(write_raw(tmp_path, GOOD_HEAD + b"b.example,Bob,x")).line == 4  # last record unterminated


def test_read_csv_yields_the_data_rows(tmp_path: Path) -> None:
    assert list(read_csv(write_raw(tmp_path, GOOD_HEAD), HEADER)) == [["a.example", "Ann", "1 Road\nFlat 2"]]


_VALUE = st.text(st.characters(codec="utf-8") | st.sampled_from(',"\r\n '), max_size=12)


@settings(max_examples=100, deadline=None)
@given(data=st.lists(st.lists(_VALUE, min_size=3, max_size=3), max_size=12), max_rows=st.integers(2, 5))
def test_whatever_is_written_reads_back_unchanged(data: list[list[str]], max_rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parts = write_all(Path(tmp), data, max_rows=max_rows)
        assert read_all(parts) == data
        assert all(p.rows <= max_rows for p in parts)


# --- parts gzipped while written -------------------------------------------------------------------------------


def test_gzipped_parts_hold_exactly_the_plain_parts_and_are_deterministic(tmp_path: Path) -> None:
    data = [*rows(25), ["ü.example", 'Quote "q", comma', "line\nbreak"]]
    plain_dir, gz_dirs = tmp_path / "plain", [tmp_path / "gz1", tmp_path / "gz2"]
    for d in (plain_dir, *gz_dirs):
        d.mkdir()
    plain = write_all(plain_dir, data, max_rows=10)
    zipped = []
    for d in gz_dirs:
        with SplitCsvWriter(d, name_for, HEADER, max_rows=10, max_bytes=1 << 20, gzip_level=6) as writer:
            for row in data[:-1]:
                writer.write(row)
            writer.write_encoded(encode_row(data[-1]))  # a pre-rendered record takes the same path
        zipped.append(writer.close())
    first, second = zipped
    assert [p.path.name for p in first] == [p.path.name + ".gz" for p in plain]
    assert [p.csv_name for p in first] == [p.path.name for p in plain]
    for z, p, again in zip(first, plain, second, strict=True):
        assert gzip.decompress(z.path.read_bytes()) == p.path.read_bytes()
        assert (z.rows, z.bytes, z.sha256) == (p.rows, p.bytes, p.sha256)
        assert z.path.read_bytes() == again.path.read_bytes()  # gzip -n: no name, no time stamp
        assert subprocess.run(["gzip", "-t", str(z.path)]).returncode == 0
    assert not list(tmp_path.rglob("*.tmp"))


def test_an_aborted_gzipped_part_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), SplitCsvWriter(tmp_path, name_for, HEADER, max_rows=10, max_bytes=1 << 20,
                                                     gzip_level=6) as writer:  # fmt: skip
        writer.write(rows(1)[0])
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []

"""Deposit file names: the documented 2007 form, and no two files of one date ever share a name."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domainpriv.escrow.naming import DEFAULT_NAMING, DepositKind, DepositName, DepositNameInvalid

DAY = date(2026, 11, 6)
TYPES: dict[DepositKind, tuple[str, ...]] = {"full": ("full", "hdl", "del"), "incremental": ("inc", "hdl", "del")}


def deposit(kind: DepositKind = "full", revision: int = 0) -> DepositName:
    return DepositName(iana_id=1234, deposit_date=DAY, kind=kind, revision=revision)


def test_revision_0_of_a_full_deposit_has_the_2007_registrar_names() -> None:
    d = deposit()
    assert DEFAULT_NAMING.data_file(d, "full", 1) == "1234_RDE_2026-11-06_full_1.csv"
    assert DEFAULT_NAMING.data_file(d, "full", 12) == "1234_RDE_2026-11-06_full_12.csv"
    assert DEFAULT_NAMING.data_file(d, "hdl", 2) == "1234_RDE_2026-11-06_hdl_2.csv"
    assert DEFAULT_NAMING.hash_file(d) == "1234_RDE_2026-11-06_hash.txt"


def test_an_incremental_marks_every_file_with_inc() -> None:
    d = deposit("incremental")
    assert DEFAULT_NAMING.data_file(d, "inc", 1) == "1234_RDE_2026-11-06_inc_1.csv"
    assert DEFAULT_NAMING.data_file(d, "hdl", 1) == "1234_RDE_2026-11-06_inc_hdl_1.csv"
    assert DEFAULT_NAMING.data_file(d, "del", 3) == "1234_RDE_2026-11-06_inc_del_3.csv"
    assert DEFAULT_NAMING.hash_file(d) == "1234_RDE_2026-11-06_inc_hash.txt"


def test_a_later_revision_gets_an_r_suffix() -> None:
    assert DEFAULT_NAMING.data_file(deposit(revision=1), "full", 1) == "1234_RDE_2026-11-06_full_1_R1.csv"
    assert DEFAULT_NAMING.data_file(deposit("incremental", 2), "del", 1) == "1234_RDE_2026-11-06_inc_del_1_R2.csv"
    assert DEFAULT_NAMING.hash_file(deposit(revision=3)) == "1234_RDE_2026-11-06_hash_R3.txt"


@pytest.mark.parametrize("kind", ["full", "incremental"])
def test_each_data_file_names_its_type_between_underscores(kind: DepositKind) -> None:
    """escrow/restore.py finds a file's layout from `_<type>_` in its name."""
    for revision in (0, 1):
        for file_type in TYPES[kind]:
            name = DEFAULT_NAMING.data_file(deposit(kind, revision), file_type, 1)
            assert f"_{file_type}_" in name
            assert "_full_" not in name or file_type == "full"


@pytest.mark.parametrize(
    ("kind", "file_type", "sequence"),
    [("full", "inc", 1), ("incremental", "full", 1), ("full", "csv", 1), ("full", "full", 0)],
)
def test_impossible_files_are_refused(kind: DepositKind, file_type: str, sequence: int) -> None:
    with pytest.raises(DepositNameInvalid):
        DEFAULT_NAMING.data_file(deposit(kind), file_type, sequence)


def test_impossible_deposits_are_refused() -> None:
    with pytest.raises(DepositNameInvalid, match="IANA ID"):
        DepositName(0, DAY, "full", 0)
    with pytest.raises(DepositNameInvalid, match="revision"):
        DepositName(1234, DAY, "full", -1)
    with pytest.raises(DepositNameInvalid, match="kind"):
        DepositName(1234, DAY, "weekly", 0)  # type: ignore[arg-type]


_KINDS = st.sampled_from(list(TYPES))
_FILES = _KINDS.flatmap(
    lambda kind: st.tuples(
        st.just(kind), st.integers(0, 30), st.sampled_from(TYPES[kind]) | st.just("hash"), st.integers(1, 200)
    )
)


@given(files=st.sets(_FILES, min_size=2, max_size=40))
def test_no_two_files_of_one_date_share_a_name(files: set[tuple[DepositKind, int, str, int]]) -> None:
    """Any kinds, revisions, file types and sequences of the same registrar and date."""
    keys = {(k, r, t, 0 if t == "hash" else n) for k, r, t, n in files}  # a deposit has one hash file
    names = set()
    for kind, revision, file_type, sequence in keys:
        d = deposit(kind, revision)
        names.add(
            DEFAULT_NAMING.hash_file(d) if file_type == "hash" else DEFAULT_NAMING.data_file(d, file_type, sequence)
        )
    assert len(names) == len(keys)

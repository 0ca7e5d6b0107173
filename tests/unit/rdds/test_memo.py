"""The bounded memo behind the servers' rendered answers and normalised names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domainpriv.rdds.memo import BoundedMemo


def test_the_oldest_entry_goes_first_when_full() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a hit does not make an entry younger
    memo.put("c", 3)
    assert memo.get("a") is None and memo.get("b") == 2 and memo.get("c") == 3


def test_replacing_a_value_keeps_the_others() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("a", 10)
    assert (memo.get("a"), memo.get("b"), len(memo)) == (10, 2, 2)


def test_a_remembered_none_is_told_apart_from_absence() -> None:
    memo: BoundedMemo[bytes, str | None] = BoundedMemo(4)
    memo.put(b"not a name", None)
    assert memo[b"not a name"] is None
    with pytest.raises(KeyError):
        memo[b"never asked"]


def test_a_memo_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        BoundedMemo(0)


@given(size=st.integers(1, 8), keys=st.lists(st.integers(0, 20), max_size=60))
def test_never_holds_more_than_its_bound_and_keeps_the_newest(size: int, keys: list[int]) -> None:
    memo: BoundedMemo[int, int] = BoundedMemo(size)
    for key in keys:
        memo.put(key, key * 2)
    assert len(memo) <= size
    if keys:
        assert memo.get(keys[-1]) == keys[-1] * 2

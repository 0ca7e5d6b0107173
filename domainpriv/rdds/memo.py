"""A bounded memo for what the public servers compute again and again: normalised query names, rendered answers.

A cached source returns the same PublicRecord object on every hit until the database changes, so an answer
rendered from it can be reused for as long as the source hands out that very object. The memo keeps the object
beside what was rendered from it: a lookup is valid only while `peek` gives back the same object (`is`), and
holding the object keeps its identity from being reused meanwhile.

Oldest entries are dropped first (insertion order, no reordering on a hit): cheaper than an LRU on every hit, and
with a working set that fits, just as good. Bounded in entries; the sizes below say what they cost.

An OrderedDict, not a dict: dropping a dict's first entry with `next(iter(d))` must step over every entry deleted
before it, until the next resize. On a full memo under misses (every put an eviction) that made a put 8× dearer
(12 µs against 1.5 µs at 16,384 entries), twice per uncached RDAP answer. OrderedDict.popitem(last=False) is O(1).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

# Rendered answers kept per server. An RDAP body is ≈ 5 KB and a WHOIS reply ≈ 1.7 KB, so at most ≈ 80 MB and
# ≈ 28 MB: room for the names a busy registrar is asked most about, not for its whole zone (the record cache
# bounds that, publication.cache_entries).
RENDERED_ENTRIES: Final = 16_384


class BoundedMemo(Generic[K, V]):
    """A dict that forgets its oldest entry when full. Not thread-safe: use it from one event loop."""

    __slots__ = ("_entries", "_max")

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a memo needs room for at least one entry")
        self._max = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def __getitem__(self, key: K) -> V:
        return self._entries[key]  # KeyError when absent, for memos whose values may be None

    def put(self, key: K, value: V) -> None:
        entries = self._entries
        if key not in entries and len(entries) >= self._max:
            entries.popitem(last=False)
        entries[key] = value

    def __len__(self) -> int:
        return len(self._entries)

"""The public servers' cache of public views, invalidated per domain from the change feed.

Every answer must show the last committed change: in this daemon at once, in any other daemon on the same
database within the feed's poll interval (issue 3's "fresh answers", issue 7's per-domain invalidation). The
feed follower (`domainpriv.changes.follower`) reads which domains each commit affected and calls `invalidate`
with their names, or `reset` for a change that affects everything; every other entry stays warm.

Three rules keep a load that races a change from caching the old view:

* a load is stored only if nothing invalidated its name while it ran (an invalidation removes the load from
  `_inflight`, so the next lookup starts a fresh one instead of joining it);
* a load is stored only if no `reset` and no start of serving happened while it ran (the `_epoch`);
* the cache serves and stores only while the follower vouches for it (`set_serving`): before its first read of
  the feed, and when the feed has been unreadable for longer than its grace period, every lookup loads.

Concurrent lookups of the same missing name share one load (a burst of queries for a new name costs one
database query). Names that do not exist are kept in a separate, smaller LRU: unique junk names, the harvester's
and the attacker's favourite, can only push out other junk, never the registered names that answer real queries.

With `admit_on_second_load` (the daemon's setting), a name is stored only when it is loaded a second time while
its first load is still remembered (a set of name hashes, at most `max_entries`, forgotten all at once when
full: TinyLFU's "doorkeeper"). Why: a harvester walking the whole namespace, or any traffic spread over it, asks
for most names once; storing each such view would push the names that are asked again and again out of the
cache, and once the cache is full every store also frees a cold view, which cost an uncached RDAP answer a fifth
of its CPU (bench/RESULTS.md, issue 7). A name asked twice costs one load more than before, then hits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Final, Generic, TypeVar

T = TypeVar("T")

_MISS: Final = (False, None)


class Claim:
    """A load made by the caller itself (on an event loop, `DatabaseSource.lookup_async`), stored by `settle`
    under the same rules as `get`'s loads."""

    __slots__ = ("epoch", "serving", "stale")

    def __init__(self, serving: bool, epoch: int) -> None:
        self.serving = serving  # the cache was serving when the load began ...
        self.epoch = epoch  # ... in this epoch (reset and start of serving move it on)
        self.stale = False  # the name was invalidated while loading


class _Load(Claim, Generic[T]):
    """One load in flight in `get`; other lookups of the same name wait for its value."""

    __slots__ = ("done", "error", "value")

    def __init__(self, serving: bool, epoch: int) -> None:
        super().__init__(serving, epoch)
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None

    def result(self) -> T | None:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


class RecordCache(Generic[T]):
    """LRU of a_label -> value (found) and a smaller LRU of names that do not exist.

    The value may be None for "nothing to publish"; those go to the second LRU. Thread-safe.
    """

    def __init__(self, max_entries: int, *, max_absent: int | None = None, admit_on_second_load: bool = False) -> None:
        if max_entries < 1:
            raise ValueError("a cache needs room for at least one entry")
        self._max = max_entries
        self._doorkeeper: set[int] | None = set() if admit_on_second_load else None
        self._max_absent = max_absent if max_absent is not None else max(1, max_entries // 4)
        self._entries: OrderedDict[str, T] = OrderedDict()
        self._absent: OrderedDict[str, None] = OrderedDict()
        self._inflight: dict[str, _Load[T]] = {}
        self._claims: dict[str, Claim] = {}
        self._lock = threading.Lock()
        self._serving = False
        self._epoch = 0
        self.hits = 0
        self.misses = 0
        self.shared = 0  # misses that waited for another lookup's load instead of loading
        self.invalidated = 0  # entries dropped by name
        self.resets = 0
        self.not_admitted = 0  # loads not stored: the name's first (admit_on_second_load)

    # -- lookups ---------------------------------------------------------------------------------------------

    def get(self, a_label: str, load: Callable[[str], T | None]) -> T | None:
        """The cached value, or `load(a_label)` (shared with concurrent lookups of the same name)."""
        with self._lock:
            if self._serving:
                value = self._entries.get(a_label)
                if value is not None:
                    self._entries.move_to_end(a_label)
                    self.hits += 1
                    return value
                if a_label in self._absent:
                    self._absent.move_to_end(a_label)
                    self.hits += 1
                    return None
            self.misses += 1
            pending = self._inflight.get(a_label)
            if pending is not None:
                self.shared += 1
                leader = False
            else:
                pending = self._inflight[a_label] = _Load(self._serving, self._epoch)
                leader = True
        if not leader:
            return pending.result()
        return self._load(a_label, load, pending)

    def _load(self, a_label: str, load: Callable[[str], T | None], pending: _Load[T]) -> T | None:
        """Load as the leader of `pending`; store unless something invalidated the name meanwhile."""
        try:
            value = load(a_label)
        except BaseException as exc:
            with self._lock:
                if self._inflight.get(a_label) is pending:
                    del self._inflight[a_label]
            pending.error = exc
            pending.done.set()
            raise
        with self._lock:
            if self._inflight.get(a_label) is pending:
                del self._inflight[a_label]
            if self._fresh(pending):
                self._store(a_label, value)
        pending.value = value
        pending.done.set()
        return value

    def claim(self, a_label: str) -> Claim:
        """Count a miss the caller will load by itself; `settle` stores the value unless it went stale."""
        with self._lock:
            self.misses += 1
            claim = self._claims[a_label] = Claim(self._serving, self._epoch)
            return claim

    def settle(self, a_label: str, claim: Claim, value: T | None) -> None:
        with self._lock:
            if self._claims.get(a_label) is claim:
                del self._claims[a_label]
            if self._fresh(claim):
                self._store(a_label, value)

    def _fresh(self, claim: Claim) -> bool:
        """Under the lock: nothing since the load began makes its value suspect (the three rules above)."""
        return claim.serving and self._serving and claim.epoch == self._epoch and not claim.stale

    def peek(self, a_label: str) -> tuple[bool, T | None]:
        """(True, value) on a hit, (False, None) otherwise; never loads, so never blocks on the store."""
        if not self._serving:
            return _MISS
        with self._lock:
            value = self._entries.get(a_label)
            if value is not None:
                self._entries.move_to_end(a_label)
                self.hits += 1
                return True, value
            if a_label in self._absent:
                self.hits += 1
                return True, None
        return _MISS

    def _store(self, a_label: str, value: T | None) -> None:
        """Under the lock."""
        if not self._admitted(a_label):
            self.not_admitted += 1
            return
        if value is None:
            self._entries.pop(a_label, None)
            self._absent[a_label] = None
            self._absent.move_to_end(a_label)
            while len(self._absent) > self._max_absent:
                self._absent.popitem(last=False)
        else:
            self._absent.pop(a_label, None)
            self._entries[a_label] = value
            self._entries.move_to_end(a_label)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def _admitted(self, a_label: str) -> bool:
        """Under the lock: whether a load of this name may be stored (always, without the doorkeeper)."""
        seen = self._doorkeeper
        if seen is None or a_label in self._entries or a_label in self._absent:
            return True
        key = hash(a_label)
        if key in seen:
            seen.discard(key)
            return True
        if len(seen) >= self._max:
            seen.clear()
        seen.add(key)
        return False

    def _remember_asked(self, a_label: str) -> None:
        """Under the lock: a name dropped from the cache was asked for more than once, so its next load is
        stored at once (a change to a popular name costs one load, not two)."""
        if self._doorkeeper is not None and len(self._doorkeeper) < self._max:
            self._doorkeeper.add(hash(a_label))

    # -- what the change-feed follower calls (changes.follower.FeedConsumer) ------------------------------------

    def invalidate(self, names: Collection[str]) -> None:
        """Drop these names; loads of them in flight will not be stored."""
        with self._lock:
            for name in names:
                if self._entries.pop(name, None) is not None or self._absent.pop(name, 0) is None:
                    self.invalidated += 1
                    self._remember_asked(name)
                pending = self._inflight.pop(name, None)
                if pending is not None:
                    pending.stale = True
                claim = self._claims.pop(name, None)
                if claim is not None:
                    claim.stale = True

    def reset(self) -> None:
        """Drop everything (a change that affects every domain, or a follower that fell behind the feed)."""
        with self._lock:
            if self._doorkeeper is not None:
                self._doorkeeper.clear()
                for name in (*self._entries, *self._absent):
                    self._remember_asked(name)
            self._entries.clear()
            self._absent.clear()
            self._epoch += 1
            self._inflight.clear()  # loads in flight finish for their callers, unstored (epoch)
            self._claims.clear()
            self.resets += 1

    def set_serving(self, serving: bool) -> None:
        """The follower vouches for the entries (True) or cannot right now (False: every lookup loads)."""
        with self._lock:
            if serving and not self._serving:
                self._epoch += 1  # loads that began while not serving may predate the follower's position
                self._inflight.clear()  # ... so later lookups do not join them either
                self._claims.clear()
            self._serving = serving

    @property
    def serving(self) -> bool:
        return self._serving

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "shared": self.shared,
                "invalidated": self.invalidated,
                "resets": self.resets,
                "not_admitted": self.not_admitted,
                "entries": len(self._entries),
                "absent_entries": len(self._absent),
                "inflight": len(self._inflight) + len(self._claims),
                "serving": int(self._serving),
            }

"""RecordCache on its own: per-name invalidation, shared loads, races with invalidation, bounded "not found"
entries, and serving only while the feed follower vouches for it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainpriv.rdds.cache import RecordCache


class Store:
    """A stand-in for the database: a dict, counting loads, optionally holding each load until released."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = data
        self.loads: list[str] = []
        self.gate: threading.Event | None = None
        self.started = threading.Event()

    def load(self, name: str) -> str | None:
        self.loads.append(name)
        value = self.data.get(name)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        return value


def serving_cache(max_entries: int = 100, max_absent: int | None = None, admit: bool = False) -> RecordCache[str]:
    cache = RecordCache[str](max_entries, max_absent=max_absent, admit_on_second_load=admit)
    cache.set_serving(True)
    return cache


def in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread, out


def test_hits_misses_and_per_name_invalidation() -> None:
    store, cache = Store({"a.example": "A", "b.example": "B"}), serving_cache()
    assert cache.get("a.example", store.load) == "A"
    assert cache.get("b.example", store.load) == "B"
    assert cache.get("c.example", store.load) is None
    assert cache.peek("a.example") == (True, "A") and cache.peek("c.example") == (True, None)
    store.data["a.example"] = "A2"
    store.data["c.example"] = "C"
    cache.invalidate(["a.example", "c.example"])
    assert cache.peek("a.example") == (False, None) and cache.peek("b.example") == (True, "B")
    assert cache.get("a.example", store.load) == "A2" and cache.get("c.example", store.load) == "C"
    assert store.loads == ["a.example", "b.example", "c.example", "a.example", "c.example"]
    assert cache.stats()["invalidated"] == 2


def test_reset_drops_everything() -> None:
    store, cache = Store({"a.example": "A"}), serving_cache()
    cache.get("a.example", store.load)
    cache.get("x.example", store.load)
    cache.reset()
    assert cache.peek("a.example") == (False, None) and cache.peek("x.example") == (False, None)
    assert cache.stats()["resets"] == 1


def test_nothing_is_served_or_stored_until_the_follower_vouches_for_it() -> None:
    store, cache = Store({"a.example": "A"}), RecordCache[str](10)
    assert cache.get("a.example", store.load) == "A"
    assert cache.peek("a.example") == (False, None)
    cache.set_serving(True)
    cache.get("a.example", store.load)
    assert cache.peek("a.example") == (True, "A")
    cache.set_serving(False)  # the feed is unreadable: every lookup loads
    assert cache.peek("a.example") == (False, None)
    cache.get("a.example", store.load)
    assert len(store.loads) == 3


def test_concurrent_misses_for_one_name_share_one_load() -> None:
    store, cache = Store({"a.example": "A"}), serving_cache()
    store.gate = threading.Event()
    threads = [in_thread(lambda: cache.get("a.example", store.load)) for _ in range(8)]
    assert store.started.wait(10)
    while cache.stats()["shared"] < 7:
        threading.Event().wait(0.001)
    store.gate.set()
    for thread, _ in threads:
        thread.join(10)
    assert store.loads == ["a.example"]
    assert [out for _, out in threads] == [["A"]] * 8


def test_a_load_that_fails_fails_its_waiters_and_is_not_cached() -> None:
    cache = serving_cache()
    gate = threading.Event()

    def broken(name: str) -> str | None:
        gate.wait(10)
        raise ConnectionError("database away")

    leader, _ = in_thread(lambda: _raises(lambda: cache.get("a.example", broken)))
    while cache.stats()["inflight"] == 0:
        threading.Event().wait(0.001)
    waiter, waited = in_thread(lambda: _raises(lambda: cache.get("a.example", broken)))
    while cache.stats()["shared"] == 0:
        threading.Event().wait(0.001)
    gate.set()
    leader.join(10)
    waiter.join(10)
    assert waited == ["ConnectionError"]
    assert cache.peek("a.example") == (False, None) and cache.stats()["inflight"] == 0


def _raises(fn: Callable[[], object]) -> str:
    try:
        fn()
    except Exception as exc:
        return type(exc).__name__
    return "no error"


@pytest.mark.parametrize("how", ["invalidate", "reset", "serving restarted"])
def test_a_load_overtaken_by_an_invalidation_is_answered_but_not_stored(how: str) -> None:
    """The load read the old value; the change was applied while it ran: its caller gets what was read (the
    query raced the commit), the cache keeps nothing, and a lookup arriving after the change loads afresh."""
    store, cache = Store({"a.example": "old"}), serving_cache()
    store.gate = threading.Event()
    leader, out = in_thread(lambda: cache.get("a.example", store.load))
    assert store.started.wait(10)
    store.data["a.example"] = "new"
    if how == "invalidate":
        cache.invalidate(["a.example"])
    elif how == "reset":
        cache.reset()
    else:
        cache.set_serving(False)
        cache.set_serving(True)
    late, late_out = in_thread(lambda: cache.get("a.example", store.load))  # arrives after the change
    while len(store.loads) < 2:
        threading.Event().wait(0.001)
    store.gate.set()
    leader.join(10)
    late.join(10)
    assert out == ["old"] and late_out == ["new"]
    assert cache.peek("a.example") == (True, "new")  # the late load, begun after the change, was stored


def test_unknown_names_have_their_own_bounded_list_and_never_push_out_registered_names() -> None:
    """A harvester or attacker asking for unique junk names fills only the small "not found" list."""
    store = Store({f"real-{i}.example": f"R{i}" for i in range(50)})
    cache = serving_cache(max_entries=100, max_absent=10)
    for i in range(50):
        cache.get(f"real-{i}.example", store.load)
    for i in range(10_000):
        cache.get(f"junk-{i}.example", store.load)
    stats = cache.stats()
    assert stats["entries"] == 50 and stats["absent_entries"] == 10
    assert all(cache.peek(f"real-{i}.example") == (True, f"R{i}") for i in range(50))
    assert cache.peek("junk-9999.example") == (True, None) and cache.peek("junk-0.example") == (False, None)


def test_with_admission_a_name_is_stored_on_its_second_load() -> None:
    store = Store({"a.example": "A"})
    cache = serving_cache(admit=True)
    assert cache.get("a.example", store.load) == "A" and cache.peek("a.example") == (False, None)
    assert cache.get("nosuch.example", store.load) is None and cache.peek("nosuch.example") == (False, None)
    assert cache.get("a.example", store.load) == "A" and cache.peek("a.example") == (True, "A")
    assert cache.get("nosuch.example", store.load) is None and cache.peek("nosuch.example") == (True, None)
    assert cache.get("a.example", store.load) == "A"
    assert store.loads == ["a.example", "nosuch.example", "a.example", "nosuch.example"]  # the third get: a hit
    assert cache.stats()["not_admitted"] == 2


def test_with_admission_a_cached_name_that_changes_is_stored_again_on_its_next_load() -> None:
    """It was asked for more than once already: after an invalidation or a reset, one load caches it again."""
    store = Store({"a.example": "A", "b.example": "B"})
    cache = serving_cache(admit=True)
    for name in ("a.example", "b.example", "a.example", "b.example"):
        cache.get(name, store.load)
    store.data["a.example"] = "A2"
    cache.invalidate(["a.example"])
    assert cache.get("a.example", store.load) == "A2" and cache.peek("a.example") == (True, "A2")
    cache.reset()
    assert cache.get("b.example", store.load) == "B" and cache.peek("b.example") == (True, "B")
    assert store.loads.count("a.example") == 3 and store.loads.count("b.example") == 3


def test_with_admission_a_walk_over_the_whole_namespace_leaves_the_working_set_cached() -> None:
    """A harvester asking for every name once (registered or junk) stores nothing and evicts nothing."""
    store = Store({f"d{i}.example": f"V{i}" for i in range(20_000)})
    cache = serving_cache(max_entries=100, max_absent=10, admit=True)
    for _ in range(2):
        for i in range(50):
            cache.get(f"d{i}.example", store.load)
    for i in range(50, 20_000):
        cache.get(f"d{i}.example", store.load)
        cache.get(f"junk-{i}.example", store.load)
    stats = cache.stats()
    assert stats["entries"] == 50 and stats["absent_entries"] == 0
    assert all(cache.peek(f"d{i}.example") == (True, f"V{i}") for i in range(50))
    assert stats["not_admitted"] == 50 + 2 * 19_950
    assert len(cache._doorkeeper or ()) <= 100  # bounded by max_entries, forgotten all at once when full


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["get", "change", "reset"]), st.integers(0, 7), st.integers(0, 3)),
        max_size=60,
    ),
    st.booleans(),
)
def test_what_the_cache_answers_is_always_what_the_store_holds(ops: list[tuple[str, int, int]], admit: bool) -> None:
    """Any sequence of lookups and changes (each change applied the way the follower applies it: invalidate the
    name), with a cache smaller than the name space: every answer equals the store's current value."""
    store = Store({})
    cache = serving_cache(max_entries=3, max_absent=2, admit=admit)
    for op, n, value in ops:
        name = f"d{n}.example"
        if op == "change":
            if value == 0:
                store.data.pop(name, None)
            else:
                store.data[name] = f"v{value}"
            cache.invalidate([name])
        elif op == "reset":
            cache.reset()
        else:
            assert cache.get(name, store.load) == store.data.get(name)
            hit, cached = cache.peek(name)
            assert cached == store.data.get(name) if hit or not admit else cached is None

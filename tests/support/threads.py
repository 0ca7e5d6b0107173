"""Running writers concurrently in tests: every thread's exception is raised, a hung thread fails the test."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_threads(work: Callable[[int], None], n: int, *, timeout: float = 120) -> None:
    """Run `work(0)` … `work(n - 1)` in n threads at once and wait for them."""
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not [t for t in threads if t.is_alive()], "a thread hung"
    assert not errors, errors

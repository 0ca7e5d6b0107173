"""Closed-loop load clients for the RDDS benchmark (`bench_rdds.py`): WHOIS (one query per TCP connection) and
RDAP (HTTP/1.1 keep-alive on persistent connections).

Both are plain asyncio with `asyncio.Protocol` callbacks and no stream objects, so that one Python process costs
as little CPU per query as possible and the server, not the client, is the bottleneck. Each of the `clients`
slots keeps exactly one query in flight (closed loop): when its answer is complete, the slot sends the next
query from the shared, cycling query list. The same client code measures the baseline and the real server.

Phases: warm-up (`warmup` seconds, and at least `min_warmup_queries` queries, at most `max_warmup` seconds),
then the measured window of `duration` seconds. A query counts in the window when it completes inside it; its
latency is connect (WHOIS) or request write (RDAP) to the last byte of the answer. Marks `window-start` and
`window-end` are printed on stdout the moment they happen, so the parent can sample server CPU and cache counters
at the same instants; the result is one JSON line on stdout at the end. Progress goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Outcome of one answer, as the client sees it.
FOUND, NOT_FOUND, ERROR_REPLY, FAILED = "found", "not-found", "error-reply", "failed"


@dataclass
class Query:
    payload: bytes  # WHOIS: the line sent; RDAP: the whole request
    expect: str  # FOUND or NOT_FOUND (what the real server must answer)


@dataclass
class Tally:
    """What the measured window saw."""

    latencies: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    wrong: int = 0  # answered, but not what the query set expects (only checked when `check_answers`)
    bytes_in: int = 0

    def add(self, latency: float, outcome: str, expected: str, size: int, check: bool) -> None:
        self.latencies.append(latency)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        self.bytes_in += size
        if outcome == FAILED or (check and outcome != expected):
            self.wrong += 1


class Clock:
    """Phase bookkeeping shared by both clients."""

    def __init__(self, label: str, warmup: float, min_warmup_queries: int, max_warmup: float, duration: float):
        self.label = label
        self.t0 = time.perf_counter()
        self.warmup, self.min_warmup_queries, self.max_warmup = warmup, min_warmup_queries, max_warmup
        self.duration = duration
        self.completed = 0  # all phases
        self.failures = 0  # all phases
        self.window_start: float | None = None
        self.window_end: float | None = None
        self.cpu_start = 0.0
        self.tally = Tally()
        self.done = asyncio.get_running_loop().create_future()

    def measuring(self, now: float) -> bool:
        return self.window_start is not None and now <= (self.window_end or float("inf"))

    def tick(self) -> None:
        """Called every 0.1 s: opens and closes the window."""
        now = time.perf_counter()
        if self.window_start is None:
            elapsed = now - self.t0
            if (elapsed >= self.warmup and self.completed >= self.min_warmup_queries) or elapsed >= self.max_warmup:
                self.window_start = now
                self.cpu_start = time.process_time()
                _mark("window-start")
        elif now >= self.window_start + self.duration and not self.done.done():
            self.window_end = self.window_start + self.duration
            _mark("window-end")
            self.done.set_result(None)


def _mark(name: str) -> None:
    sys.stdout.write(name + "\n")
    sys.stdout.flush()


async def _ticker(clock: Clock) -> None:
    last_report = time.perf_counter()
    last_completed = 0
    while not clock.done.done():
        await asyncio.sleep(0.1)
        clock.tick()
        now = time.perf_counter()
        if now - last_report >= 2.0:
            rate = (clock.completed - last_completed) / (now - last_report)
            phase = "warm-up" if clock.window_start is None else "measure"
            print(
                f"  {clock.label:<14} {phase:<8} {now - clock.t0:6.1f} s  {clock.completed:>9,} answers  "
                f"{rate:>8,.0f}/s  failures {clock.failures}",
                file=sys.stderr,
                flush=True,
            )
            last_report, last_completed = now, clock.completed


def _classify_whois(head: bytes) -> str:
    if head.startswith(b"Domain Name:"):
        return FOUND
    if head.startswith(b"No match"):
        return NOT_FOUND
    if head.startswith(b"Error:"):
        return ERROR_REPLY
    return FAILED


class _WhoisConnection(asyncio.Protocol):
    __slots__ = ("done", "head", "size", "transport", "query")

    def __init__(self, query: bytes, done: asyncio.Future[tuple[bytes, int]]) -> None:
        self.query = query
        self.done = done
        self.head = b""
        self.size = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.query)

    def data_received(self, data: bytes) -> None:
        if len(self.head) < 16:
            self.head += data[:16]
        self.size += len(data)

    def eof_received(self) -> bool:
        return False  # close our side too: the answer is complete

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is None:
                self.done.set_result((self.head, self.size))
            else:
                self.done.set_exception(exc)


async def run_whois(
    host: str, port: int, queries: list[Query], clients: int, clock: Clock, check: bool, timeout: float = 30.0
) -> None:
    loop = asyncio.get_running_loop()
    n = len(queries)
    cursor = 0

    async def slot() -> None:
        nonlocal cursor
        while not clock.done.done():
            q = queries[cursor % n]
            cursor += 1
            start = time.perf_counter()
            done: asyncio.Future[tuple[bytes, int]] = loop.create_future()
            try:
                async with asyncio.timeout(timeout):
                    await loop.create_connection(lambda: _WhoisConnection(q.payload, done), host, port)
                    head, size = await done
                outcome = _classify_whois(head)
            except (OSError, TimeoutError):
                outcome, size = FAILED, 0
            end = time.perf_counter()
            clock.completed += 1
            if outcome == FAILED:
                clock.failures += 1
                if clock.failures > 10_000:
                    raise SystemExit("more than 10,000 failed WHOIS queries; giving up")
                await asyncio.sleep(0.01)
            if clock.measuring(end):
                clock.tally.add(end - start, outcome, q.expect, size, check)

    tasks = [asyncio.create_task(slot()) for _ in range(clients)]
    ticker = asyncio.create_task(_ticker(clock))
    await clock.done
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, ticker, return_exceptions=True)


class _HttpConnection(asyncio.Protocol):
    """One keep-alive connection: send a request, parse one response (Content-Length framing), send the next."""

    def __init__(self, next_query: Callable[[], Query], clock: Clock, check: bool) -> None:
        self.next_query = next_query
        self.clock = clock
        self.check = check
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.query: Query | None = None
        self.start = 0.0
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        if self.clock.done.done():
            self.transport.close()
            return
        self.query = self.next_query()
        self.start = time.perf_counter()
        self.transport.write(self.query.payload)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        p = head.find(b"\r\ncontent-length:")
        if p < 0:
            length = 0
        else:
            e = head.find(b"\r\n", p + 2)
            length = int(head[p + 17 : e if e >= 0 else len(head)])
        total = end + 4 + length
        if len(buf) < total:
            return
        status = int(head[9:12])
        del buf[:total]
        now = time.perf_counter()
        clock = self.clock
        clock.completed += 1
        if status == 200:
            outcome = FOUND
        elif status == 404:
            outcome = NOT_FOUND
        else:
            outcome = ERROR_REPLY
        if clock.measuring(now):
            assert self.query is not None
            clock.tally.add(now - self.start, outcome, self.query.expect, total, self.check)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


async def run_rdap(
    host: str, port: int, queries: list[Query], clients: int, clock: Clock, check: bool
) -> None:
    loop = asyncio.get_running_loop()
    n = len(queries)
    cursor = 0

    def next_query() -> Query:
        nonlocal cursor
        q = queries[cursor % n]
        cursor += 1
        return q

    async def slot() -> None:
        reconnects = 0
        while not clock.done.done():
            try:
                _, proto = await loop.create_connection(lambda: _HttpConnection(next_query, clock, check), host, port)
                exc = await proto.closed
            except OSError as e:
                exc = e
            if clock.done.done():
                return
            # The server closed a keep-alive connection (or refused one): count it, reconnect (bounded).
            clock.failures += 1
            if clock.measuring(time.perf_counter()):
                clock.tally.add(0.0, FAILED, FOUND, 0, check)
            reconnects += 1
            if reconnects > 1000:
                raise SystemExit(f"RDAP connection lost more than 1,000 times (last: {exc!r}); giving up")
            await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(slot()) for _ in range(clients)]
    ticker = asyncio.create_task(_ticker(clock))
    await clock.done
    await asyncio.sleep(0)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, ticker, return_exceptions=True)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """spec: kind (whois|rdap), host, port, queries_file (JSON list of [payload latin-1, expect]), clients,
    duration, warmup, min_warmup_queries, max_warmup, check, label."""
    with open(spec["queries_file"], encoding="utf-8") as f:
        queries = [Query(p.encode("latin-1"), e) for p, e in json.load(f)[spec["kind"]]]
    clock = Clock(spec["label"], spec["warmup"], spec["min_warmup_queries"], spec["max_warmup"], spec["duration"])
    runner = run_whois if spec["kind"] == "whois" else run_rdap
    await runner(spec["host"], spec["port"], queries, spec["clients"], clock, spec["check"])
    cpu = time.process_time() - clock.cpu_start
    lat = sorted(clock.tally.latencies)
    window = spec["duration"]
    answered = sum(v for k, v in clock.tally.outcomes.items() if k != FAILED)
    return {
        "kind": spec["kind"],
        "label": spec["label"],
        "window_s": window,
        "warmup_s": (clock.window_start or clock.t0) - clock.t0,
        "answers": answered,
        "rate": answered / window,
        "p50_ms": percentile(lat, 50) * 1000,
        "p90_ms": percentile(lat, 90) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": (lat[-1] if lat else float("nan")) * 1000,
        "outcomes": clock.tally.outcomes,
        "wrong": clock.tally.wrong,
        "bytes_per_answer": clock.tally.bytes_in / max(answered, 1),
        "client_cpu": cpu / window,
        "pid": os.getpid(),
    }


def main() -> int:
    spec = json.loads(sys.argv[1])
    if spec.get("cpu") is not None:
        os.sched_setaffinity(0, {spec["cpu"]})
    result = asyncio.run(run(spec))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

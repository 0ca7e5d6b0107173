"""Closed-loop load clients for the RDDS benchmark (`bench_rdds.py`): WHOIS (one query per TCP connection) and
RDAP (HTTP/1.1 keep-alive on persistent connections).

    python bench/loadgen.py '<JSON spec>'      # run by bench_rdds.py; one JSON result line on stdout

One process, one level-triggered `select.epoll` loop over non-blocking sockets, no asyncio: a Python client has
to be cheap per query, or on a 2-core machine it, not the server, sets the pace (an asyncio-protocol version of
this client used a whole core for 7,900 WHOIS queries/s; this one needs about a third of that). Each of the
`clients` slots keeps exactly one query in flight: when an answer is complete, that slot sends the next query
from the shared query list, which cycles unless the spec says `"cycle": false` (then every query is sent at
most once and running out of them ends the run with an error: `bench_scale.py`'s uncached runs never repeat a
name). The same code measures the baseline and the real server. With `check`, an answer is wrong if its outcome
is not the expected one or, when the query carries a needle, if the answer (WHOIS: its first 512 bytes; RDAP:
its body) does not contain it.

* WHOIS: connect, send `name\\r\\n`, read until the server closes, close. Latency: connect() to EOF.
* RDAP: `clients` persistent connections; send a GET, read the status line and headers, then Content-Length
  bytes of body, send the next GET. Latency: request written to last body byte. A connection the server closes
  counts as a failure and is reopened (bounded).

Phases: warm-up (at least `warmup` seconds and `min_warmup_queries` answers, at most `max_warmup` seconds), then
the measured window of `duration` seconds: an answer counts when it completes inside the window. `window-start`
and `window-end` are printed on stdout the moment they happen, so the parent can sample server CPU and cache
counters at the same instants. Progress goes to stderr every 2 s.

WHOIS engine: by default (when gcc is there) the WHOIS load runs in `whoisload.c`, the same loop in C, compiled
on first use into `var/bench/whoisload-<hash of the source>`; this script converts the query file for it, passes
its window marks on as they come and builds the same result from its counts and latencies (`"engine"` says which
ran). The Python loop stays as the fallback, and `"engine": "python"` in the spec or `BENCH_LOADGEN_ENGINE=python`
picks it. Why: a benchmark whose client shares 2 cores with the server and a writer must cost as little per query
as possible, or a starved client sets the measured rate. The gain is smaller than a C rewrite suggests: against
the same server the Python loop took 65-80 µs of client CPU per answer, the C one 46-57 µs (1.2-1.4x), because
80 % of even the Python engine's time is the kernel's: one TCP connection per query on loopback, where the
receive processing of the client's packets (the server's half of each handshake, of the query's arrival, of the
teardown) runs in the client's own system calls. The C engine's own code is about 1 % of its time. RDAP stays in
Python.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

FOUND, NOT_FOUND, ERROR_REPLY, FAILED = "found", "not-found", "error-reply", "failed"
WHOIS_HEAD_BYTES = 512  # kept of each WHOIS answer when queries carry a needle (else 16: enough to classify)
TIMEOUT_SECONDS = 30.0
MAX_FAILURES = 10_000
_IN, _OUT, _ERR = select.EPOLLIN, select.EPOLLOUT, select.EPOLLERR | select.EPOLLHUP
ENGINE_ENV = "BENCH_LOADGEN_ENGINE"  # python | c: the WHOIS engine when the spec has no "engine"
WHOISLOAD_SOURCE = Path(__file__).resolve().with_name("whoisload.c")
WHOISLOAD_CACHE = Path(__file__).resolve().parent.parent / "var" / "bench"
OUTCOME_CODES = {FOUND: 0, NOT_FOUND: 1, ERROR_REPLY: 2, FAILED: 3}  # whoisload.c's; 255: none of them


def _classify_whois(head: bytes) -> str:
    if head.startswith(b"Domain Name:"):
        return FOUND
    if head.startswith(b"No match"):
        return NOT_FOUND
    if head.startswith(b"Error:"):
        return ERROR_REPLY
    return FAILED


def _read_queries(spec: dict[str, Any]) -> tuple[list[bytes], list[str], list[bytes | None]]:
    """Payloads, expected outcomes and needles (None: none) of the spec's query file."""
    with open(spec["queries_file"], encoding="utf-8") as f:
        pairs = json.load(f)[spec["kind"]]
    # optional third element: bytes (as latin-1) that a correct answer to this query contains
    return (
        [p[0].encode("latin-1") for p in pairs],
        [p[1] for p in pairs],
        [p[2].encode("latin-1") if len(p) > 2 and p[2] else None for p in pairs],
    )


def _head_bytes(spec: dict[str, Any], needles: list[bytes | None]) -> int:
    return WHOIS_HEAD_BYTES if spec["check"] and any(needles) else 16


class Load:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.payloads, self.expects, self.needles = _read_queries(spec)
        self.n = len(self.payloads)
        self.cursor = 0
        self.cycle = spec.get("cycle", True)
        self.spec = spec
        self.addr = (spec["host"], spec["port"])
        self.check = spec["check"]
        self.head_bytes = _head_bytes(spec, self.needles)
        self.label = spec["label"]
        self.ep = select.epoll()
        # fd -> [socket, query index, start time, head bytes, size, state]; state: 0 connecting, 1 reading
        self.conns: dict[int, list[Any]] = {}
        self.t0 = time.perf_counter()
        self.window_start: float | None = None
        self.window_end = float("inf")
        self.cpu_start = 0.0
        self.completed = 0
        self.failures = 0
        self.latencies: list[float] = []
        self.outcomes: dict[str, int] = {}
        self.wrong = 0
        self.bytes_in = 0

    # -- bookkeeping -------------------------------------------------------------------------------------------

    def next_query(self) -> int:
        if not self.cycle and self.cursor >= self.n:
            raise SystemExit(
                f"{self.label}: all {self.n:,} queries of the list were sent after "
                f"{time.perf_counter() - self.t0:.1f} s ({self.completed:,} answers) and cycling is off: "
                "give the run a longer list"
            )
        i = self.cursor % self.n
        self.cursor += 1
        return i

    def record(self, now: float, start: float, outcome: str, query: int, size: int, content_ok: bool = True) -> None:
        self.completed += 1
        if outcome == FAILED:
            self.failures += 1
            if self.failures > MAX_FAILURES:
                raise SystemExit(f"{self.label}: more than {MAX_FAILURES:,} failed queries; giving up")
        if self.window_start is not None and now <= self.window_end:
            self.latencies.append(now - start)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self.bytes_in += size
            if outcome == FAILED or (self.check and (outcome != self.expects[query] or not content_ok)):
                self.wrong += 1

    def tick(self, now: float) -> bool:
        """Open/close the window; False when the run is over."""
        if self.window_start is None:
            elapsed = now - self.t0
            warm = elapsed >= self.spec["warmup"] and self.completed >= self.spec["min_warmup_queries"]
            if warm or elapsed >= self.spec["max_warmup"]:
                self.window_start = now
                self.window_end = now + self.spec["duration"]
                self.cpu_start = time.process_time()
                _mark("window-start")
        elif now >= self.window_end:
            _mark("window-end")
            return False
        return True

    def expire(self, now: float) -> None:
        for fd, c in list(self.conns.items()):
            if now - c[2] > TIMEOUT_SECONDS:
                self.fail(fd, now)

    def fail(self, fd: int, now: float) -> None:
        c = self.conns.pop(fd)
        self.ep.unregister(fd)
        c[0].close()
        self.record(now, c[2], FAILED, c[1], 0)
        self.reopen()

    def reopen(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        for _ in range(self.spec["clients"]):
            self.reopen()
        last_tick = last_report = time.perf_counter()
        last_completed = 0
        poll, handle = self.ep.poll, self.handle
        while True:
            for fd, ev in poll(0.05):
                handle(fd, ev)
            now = time.perf_counter()
            if now - last_tick >= 0.05:
                last_tick = now
                if not self.tick(now):
                    break
                if now - last_report >= 2.0:
                    self.expire(now)
                    rate = (self.completed - last_completed) / (now - last_report)
                    phase = "warm-up" if self.window_start is None else "measure"
                    print(
                        f"  {self.label:<14} {phase:<8} {now - self.t0:6.1f} s  {self.completed:>9,} answers  "
                        f"{rate:>8,.0f}/s  failures {self.failures}",
                        file=sys.stderr,
                        flush=True,
                    )
                    last_report, last_completed = now, self.completed
        for c in self.conns.values():
            c[0].close()
        self.ep.close()

    def handle(self, fd: int, ev: int) -> None:
        raise NotImplementedError


class WhoisLoad(Load):
    def reopen(self) -> None:
        q = self.next_query()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        start = time.perf_counter()
        err = s.connect_ex(self.addr)
        fd = s.fileno()
        if err == 0:
            s.send(self.payloads[q])
            self.conns[fd] = [s, q, start, b"", 0, 1]
            self.ep.register(fd, _IN)
        elif err == errno.EINPROGRESS:
            self.conns[fd] = [s, q, start, b"", 0, 0]
            self.ep.register(fd, _OUT)
        else:
            s.close()
            self.record(time.perf_counter(), start, FAILED, q, 0)
            time.sleep(0.001)
            self.reopen()

    def handle(self, fd: int, ev: int) -> None:
        c = self.conns.get(fd)
        if c is None:
            return
        s = c[0]
        try:
            if c[5] == 0:  # connect finished (or failed)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    self.fail(fd, time.perf_counter())
                    return
                s.send(self.payloads[c[1]])
                c[5] = 1
                self.ep.modify(fd, _IN)
                return
            data = s.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.fail(fd, time.perf_counter())
            return
        if data:
            if len(c[3]) < self.head_bytes:
                c[3] += data[: self.head_bytes]
            c[4] += len(data)
            return
        # EOF: the answer is complete
        now = time.perf_counter()
        del self.conns[fd]
        self.ep.unregister(fd)
        s.close()
        needle = self.needles[c[1]]
        self.record(now, c[2], _classify_whois(c[3]), c[1], c[4], needle is None or needle in c[3])
        self.reopen()


class RdapLoad(Load):
    """fd -> [socket, query index, start, buffer (bytearray), unused, state]."""

    reconnects = 0

    def reopen(self) -> None:
        self.reconnects += 1
        if self.reconnects > self.spec["clients"] + 1000:
            raise SystemExit(f"{self.label}: more than 1,000 RDAP reconnections; giving up")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect(self.addr)  # blocking: persistent connections are opened once
        except OSError:
            s.close()
            self.record(time.perf_counter(), time.perf_counter(), FAILED, 0, 0)
            time.sleep(0.01)
            self.reopen()
            return
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        fd = s.fileno()
        q = self.next_query()
        self.conns[fd] = [s, q, time.perf_counter(), bytearray(), 0, 1]
        s.send(self.payloads[q])
        self.ep.register(fd, _IN)

    def handle(self, fd: int, ev: int) -> None:
        c = self.conns.get(fd)
        if c is None:
            return
        s = c[0]
        try:
            data = s.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the server closed the connection
            self.fail(fd, time.perf_counter())
            return
        buf = c[3]
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
        now = time.perf_counter()
        status = int(head[9:12])
        outcome = FOUND if status == 200 else NOT_FOUND if status == 404 else ERROR_REPLY
        needle = self.needles[c[1]]
        content_ok = needle is None or buf.find(needle, end, total) >= 0
        del buf[:total]
        self.record(now, c[2], outcome, c[1], total, content_ok)
        q = self.next_query()
        c[1], c[2] = q, time.perf_counter()
        s.send(self.payloads[q])


def _mark(name: str) -> None:
    sys.stdout.write(name + "\n")
    sys.stdout.flush()


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * p // 100) - 1))
    return sorted_values[int(k)]


def engine(spec: dict[str, Any]) -> str:
    """The spec's "engine", else $BENCH_LOADGEN_ENGINE, else "c" when gcc is there; RDAP is always Python."""
    if spec["kind"] != "whois":
        return "python"
    chosen = spec.get("engine") or os.environ.get(ENGINE_ENV) or ("c" if shutil.which("gcc") else "python")
    if chosen not in ("c", "python"):
        raise SystemExit(f"{spec['label']}: unknown load engine {chosen!r} (c or python)")
    return str(chosen)


def whoisload_binary() -> Path:
    """bench/whoisload.c compiled once per version of its text (its hash names the binary); compiled from the
    very bytes hashed, into a temporary name renamed into place, so concurrent first uses do not race."""
    source = WHOISLOAD_SOURCE.read_bytes()
    path = WHOISLOAD_CACHE / f"whoisload-{hashlib.sha256(source).hexdigest()[:12]}"
    if path.exists():
        return path
    gcc = shutil.which("gcc")
    if gcc is None:
        raise SystemExit(f'gcc not found: cannot build {WHOISLOAD_SOURCE} (use "engine": "python")')
    WHOISLOAD_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        cmd = [gcc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tmp), "-x", "c", "-"]
        subprocess.run(cmd, input=source, check=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_queries(path: Path, spec: dict[str, Any]) -> int:
    """The query file of whoisload.c (see its header); returns the head size to keep of each answer."""
    payloads, expects, needles = _read_queries(spec)
    parts = [b"WHQ1", struct.pack("<I", len(payloads))]
    for payload, expect, needle in zip(payloads, expects, needles, strict=True):
        needle = needle or b""
        parts += [struct.pack("<I", len(payload)), payload]
        parts += [struct.pack("<BI", OUTCOME_CODES.get(expect, 255), len(needle)), needle]
    path.write_bytes(b"".join(parts))
    return _head_bytes(spec, needles)


def run_c(spec: dict[str, Any]) -> dict[str, Any]:
    """The WHOIS load by whoisload.c in a child process: its window marks are passed on as they come."""
    binary = whoisload_binary()
    with tempfile.TemporaryDirectory(prefix="whoisload-") as tmp:
        folder = Path(tmp)
        head_bytes = _write_queries(folder / "queries.bin", spec)
        settings = {
            "host": spec["host"],
            "port": spec["port"],
            "queries": folder / "queries.bin",
            "clients": spec["clients"],
            "duration": spec["duration"],
            "warmup": spec["warmup"],
            "min_warmup": spec["min_warmup_queries"],
            "max_warmup": spec["max_warmup"],
            "check": int(bool(spec["check"])),
            "cycle": int(bool(spec.get("cycle", True))),
            "head_bytes": head_bytes,
            "cpu": -1 if spec.get("cpu") is None else spec["cpu"],
            "label": spec["label"],
            "result": folder / "result.txt",
            "latencies": folder / "latencies.bin",
        }
        proc = subprocess.Popen([binary, *(f"{k}={v}" for k, v in settings.items())], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            _mark(line.decode().strip())
        if proc.wait() > 0:
            raise SystemExit(proc.returncode)  # its message is on stderr
        if proc.returncode < 0:
            raise SystemExit(f"{spec['label']}: whoisload killed by signal {-proc.returncode}")
        values: dict[str, float] = {}
        outcomes: dict[str, int] = {}
        for line in (folder / "result.txt").read_text().splitlines():
            key, *rest = line.split()
            if key == "outcome":
                outcomes[rest[0]] = int(rest[1])
            else:
                values[key] = float(rest[0])
        latencies = array("d")
        latencies.frombytes((folder / "latencies.bin").read_bytes())
    return _result(
        spec, "c", values["warmup_s"], list(latencies), outcomes, int(values["wrong"]), int(values["bytes_in"]),
        values["window_cpu_s"],
    )  # fmt: skip


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """spec: kind (whois|rdap), label, host, port, queries_file (JSON {kind: [[payload as latin-1, expect,
    optional needle]]}), clients, duration, warmup, min_warmup_queries, max_warmup, check (compare outcomes with
    the expectations, and answers with their needles), cycle (default true; false: every query is sent at most
    once, and running out of queries ends the run with an error), engine (WHOIS: c or python, see `engine`)."""
    if engine(spec) == "c":
        return run_c(spec)
    load: Load = WhoisLoad(spec) if spec["kind"] == "whois" else RdapLoad(spec)
    load.run()
    cpu = time.process_time() - load.cpu_start
    warmup = (load.window_start or load.t0) - load.t0
    return _result(spec, "python", warmup, load.latencies, load.outcomes, load.wrong, load.bytes_in, cpu)


def _result(
    spec: dict[str, Any],
    used: str,
    warmup: float,
    latencies: list[float],
    outcomes: dict[str, int],
    wrong: int,
    bytes_in: int,
    cpu: float,
) -> dict[str, Any]:
    window = spec["duration"]
    lat = sorted(latencies)
    answered = sum(v for k, v in outcomes.items() if k != FAILED)
    return {
        "kind": spec["kind"],
        "label": spec["label"],
        "engine": used,
        "window_s": window,
        "warmup_s": warmup,
        "answers": answered,
        "rate": answered / window,
        "p50_ms": percentile(lat, 50) * 1000,
        "p90_ms": percentile(lat, 90) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": (lat[-1] if lat else float("nan")) * 1000,
        "outcomes": outcomes,
        "wrong": wrong,
        "bytes_per_answer": bytes_in / max(answered, 1),
        "client_cpu": cpu / window,
    }


def main() -> int:
    spec = json.loads(sys.argv[1])
    if spec.get("cpu") is not None:
        os.sched_setaffinity(0, {spec["cpu"]})
    result = run(spec)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

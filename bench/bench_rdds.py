"""Benchmark: the public WHOIS and RDAP servers on a 100,000-domain PostgreSQL database, against bare baselines.

    python bench/bench_rdds.py [--domains 100000] [--duration 10] [--rounds 3] [--clients 64] [--check]

* WHOIS -- the real `WhoisServer` (started by `domainpriv.daemon.run_daemon`, record cache on, PostgreSQL NOTIFY
  feed) against a bare `asyncio.start_server` that answers every query with one fixed, real WHOIS record of the
  mean reply size of the query set. One query per TCP connection: connect, `name\\r\\n`, read until close.
* RDAP -- the real RDAP ASGI app under uvicorn (from `run_daemon`) against the same uvicorn set-up serving a
  trivial ASGI app that returns one fixed, real RDAP body of the mean size with the same headers. HTTP/1.1
  keep-alive, one request in flight per persistent connection.

The servers run in two child processes, both up for the whole run (`run_daemon` for the real ones; the
baselines together in the other), the load client (`bench/loadgen.py`) in a third; with 2+ CPUs the server
children are pinned to CPU 0 and the client to CPU 1 (PostgreSQL is not pinned). Runs alternate, baseline then
real, for `--rounds` rounds per protocol, with the same client, clients count, warm-up and window; the figure
is the median of the rounds' ratios. Targets (issue): WHOIS >= 0.8x baseline q/s, RDAP >= 0.7x baseline
req/s, p99 of the real servers < 50 ms (the worst round); `--check` makes a miss (or any wrong answer) exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

# The domainpriv package under test: this checkout, or the tree named by BENCH_DOMAINPRIV_CODE (e.g. a
# `git archive` snapshot of a commit, to measure it while the checkout is being edited).
ROOT = Path(os.environ.get("BENCH_DOMAINPRIV_CODE") or Path(__file__).resolve().parent.parent)
if str(ROOT) not in sys.path:  # runnable as `python bench/bench_rdds.py` from a checkout
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/domainpriv_bench_rdds"
DEFAULT_WORKDIR = Path("/tmp/domainpriv-bench-rdds")
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
HOST = "127.0.0.1"
MIN_WHOIS_RATIO = 0.8
MIN_RDAP_RATIO = 0.7
MAX_P99_MS = 50.0
SERVER_START_TIMEOUT = 60.0
HUGE = "1000000000"  # rate limits: all load comes from 127.0.0.1


def note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_environ(url: str) -> dict[str, str]:
    """The settings of the servers under test: defaults, the bench database, free ports, no rate limiting."""
    return {
        "DOMAINPRIV_DATABASE_URL": url,
        "DOMAINPRIV_WHOIS_HOST": HOST,
        "DOMAINPRIV_WHOIS_PORT": "0",
        "DOMAINPRIV_WHOIS_RATE_PER_SECOND": HUGE,
        "DOMAINPRIV_WHOIS_RATE_BURST": HUGE,
        "DOMAINPRIV_RDAP_HOST": HOST,
        "DOMAINPRIV_RDAP_PORT": "0",
        "DOMAINPRIV_PORTAL_PORT": "0",
        "DOMAINPRIV_RDAP_RATE_PER_SECOND": HUGE,
        "DOMAINPRIV_RDAP_RATE_BURST": HUGE,
    }


# -- database and query set ------------------------------------------------------------------------------------


def prepare_database(url: str, domains: int, seed: int) -> None:
    """Create the database if needed; (re)load `domains` demo domains unless it already holds exactly that many."""
    import psycopg
    from sqlalchemy import make_url, text

    from domainpriv.store import make_engine

    parsed = make_url(url)
    if "bench" not in (parsed.database or ""):
        raise SystemExit(f"refusing to use database {parsed.database!r}: its name must contain 'bench'")
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone() is None:
            note(f"creating database {parsed.database}")
            conn.execute(f'CREATE DATABASE "{parsed.database}"')
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            has_table = conn.execute(text("SELECT to_regclass('public.domain')")).scalar_one() is not None
            count = int(conn.execute(text("SELECT count(*) FROM domain")).scalar_one()) if has_table else 0
        if count == domains:
            note(f"database: {parsed.database} already holds {count:,} domains; not reloaded")
            return
        note(f"database: {parsed.database} holds {count:,} domains; loading {domains:,} demo domains (seed {seed})")
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    # The CLI as the package under test, without the benchmarks' own DOMAINPRIV_BENCH_* variables (the settings
    # loader rejects every DOMAINPRIV_* variable that is not a config key).
    own = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_BENCH_")}
    env = {**own, **bench_environ(url), "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "domainpriv"]
    t0 = time.perf_counter()
    # cwd: `python -m` puts the working directory first on sys.path, before PYTHONPATH
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, cwd=ROOT)
    load = [*cli, "demo", "load", "--domains", str(domains), "--seed", str(seed)]
    subprocess.run(load, env=env, check=True, cwd=ROOT)
    note(f"database: loaded in {time.perf_counter() - t0:.0f} s")


def build_queries(url: str, n: int, unknown_share: float, seed: int, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """`n` names sampled deterministically from the database (every privacy mode; IDNs half as U-labels, half as
    A-labels), plus `unknown_share` names that do not exist, shuffled; written as loadgen's queries file."""
    import idna
    from sqlalchemy import text

    from domainpriv.store import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = [(r[0], r[1]) for r in conn.execute(text("SELECT name, privacy_mode FROM domain ORDER BY id"))]
    finally:
        engine.dispose()
    rng = random.Random(f"bench_rdds:{seed}")
    sample = rng.sample(rows, min(n, len(rows)))
    names: list[tuple[str, str, str]] = []  # (name as queried, expect, kind)
    idn = 0
    for name, mode in sample:
        if "xn--" in name:
            idn += 1
            shown = idna.decode(name) if idn % 2 else name
            names.append((shown, "found", f"{mode}/idn"))
        else:
            names.append((name, "found", mode))
    tlds = ("com", "net", "org", "shop", "app")
    for i in range(round(n * unknown_share)):
        names.append((f"bench-unknown-{i}.{tlds[i % len(tlds)]}", "not-found", "unknown"))
    rng.shuffle(names)
    mix: dict[str, int] = {}
    for _, _, kind in names:
        mix[kind] = mix.get(kind, 0) + 1

    def rdap_request(name: str) -> bytes:
        path = quote(name, safe="-.")
        return (
            f"GET /domain/{path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: application/rdap+json\r\n"
            "User-Agent: bench_rdds\r\n\r\n"
        ).encode("ascii")

    doc = {
        "whois": [[(name + "\r\n").encode("utf-8").decode("latin-1"), expect] for name, expect, _ in names],
        "rdap": [[rdap_request(name).decode("latin-1"), expect] for name, expect, _ in names],
        "names": [name for name, _, _ in names],
    }
    path = workdir / "queries.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path, {"total": len(names), "mix": dict(sorted(mix.items())), "idn": idn}


def baseline_answers(
    url: str, names: list[str], workdir: Path, sample: int = 400, pad_to_mean: bool = False
) -> dict[str, Any]:
    """Render real answers for the first `sample` names of the query set (no cache) and keep, as the baselines'
    fixed answers, the real found record whose size is closest to the mean answer size of the sample; with
    `pad_to_mean`, the largest one not above the mean, padded with trailing spaces to the mean size."""
    from domainpriv.clock import utcnow
    from domainpriv.config import load_settings
    from domainpriv.rdds import DatabaseSource, publication_policy
    from domainpriv.rdds.rdap_app import domain_response
    from domainpriv.rdds.whois_answer import answer_whois_query
    from domainpriv.store import UnitOfWork, make_engine

    settings = load_settings(environ=bench_environ(url))
    engine = make_engine(url)
    try:
        source = DatabaseSource(UnitOfWork(engine), publication_policy(settings), None)
        whois: list[tuple[int, bytes, bool]] = []
        rdap: list[tuple[int, bytes, bool]] = []
        for name in names[:sample]:
            answer = answer_whois_query(name, source, utcnow(), settings.publication.terms_of_use)
            text = answer.text.encode("utf-8")
            whois.append((len(text), text, answer.outcome == "found"))
            status, body = domain_response(name, source=source, settings=settings.rdap, now=utcnow())
            rdap.append((len(body), body, status == 200))
    finally:
        engine.dispose()

    def closest(items: list[tuple[int, bytes, bool]]) -> tuple[bytes, float]:
        mean = statistics.fmean(size for size, _, _ in items)
        found = [i for i in items if i[2]]
        if pad_to_mean and any(i[0] <= mean for i in found):
            best = max((i for i in found if i[0] <= mean), key=lambda i: i[0])
            return best[1] + b" " * (round(mean) - best[0]), mean
        best = min(found, key=lambda i: abs(i[0] - mean))
        return best[1], mean

    whois_record, whois_mean = closest(whois)
    rdap_body, rdap_mean = closest(rdap)
    (workdir / "baseline-whois.txt").write_bytes(whois_record)
    (workdir / "baseline-rdap.json").write_bytes(rdap_body)
    return {
        "whois_mean": whois_mean,
        "whois_fixed": len(whois_record),
        "rdap_mean": rdap_mean,
        "rdap_fixed": len(rdap_body),
    }


# -- server children -------------------------------------------------------------------------------------------


def cache_stats(caches: list[Any]) -> dict[str, Any]:
    """The counters of the daemon's record caches, summed: `RecordCache.stats()` where the cache has it (hits,
    misses, entries, resets, invalidated, ...), else the attributes of the first version (hits, misses, entries).
    `generation` is the change generation of the old whole-cache invalidation (None: feed down), when present."""
    stats: dict[str, Any] = {"hits": 0, "misses": 0, "entries": 0}
    for cache in caches:
        if hasattr(cache, "stats"):
            for key, value in cache.stats().items():
                if isinstance(value, int):
                    stats[key] = stats.get(key, 0) + value
        else:
            stats["hits"] += cache.hits
            stats["misses"] += cache.misses
            stats["entries"] += len(cache._entries)
        feed = getattr(cache, "_feed", None)
        if feed is not None and hasattr(feed, "generation"):
            stats["generation"] = feed.generation()  # None: change feed down, cache bypassed
    return stats


def child_server(kind: str, url: str, workdir: Path, cpu: int | None, log_level: str, serve_other: Any = None) -> int:
    """Serve WHOIS and RDAP until stdin says `stop` (or closes). Prints `READY <whois port> <rdap port>`; answers
    `stats` with one JSON line (the real daemon's record cache counters). Kinds: `real`, `baseline`, or any other
    served by `serve_other(kind, url, workdir, stop)` (another benchmark's baseline)."""
    import asyncio
    import logging

    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    from domainpriv.logs import log_to_stderr

    logs = log_to_stderr(getattr(logging, log_level.upper())) if log_level != "off" else contextlib.nullcontext()
    logs.__enter__()  # as `domainpriv serve` does: a queue to a writer thread; the process exits with the run

    caches: list[Any] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def command(cmd: str) -> None:
            if cmd == "stats":
                print(json.dumps(cache_stats(caches)), flush=True)
            elif cmd == "stop":
                stop.set()

        def read_stdin() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(command, line.strip())
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=read_stdin, name="bench-control", daemon=True).start()
        if kind == "real":
            await serve_real(url, stop, caches)
        elif kind == "baseline":
            await serve_baseline(url, workdir, stop)
        else:
            await serve_other(kind, url, workdir, stop)

    if os.environ.get("BENCH_LOOP") == "asyncio":  # every kind on asyncio's own loop: what uvloop buys
        asyncio.run(main())
    else:
        from domainpriv import daemon

        daemon.run(main())  # every kind on the loop `domainpriv serve` runs on (uvloop): the same stack
    return 0


async def serve_real(url: str, stop: Any, caches: list[Any]) -> None:
    from domainpriv import daemon
    from domainpriv.config import load_settings

    class CountedCache(daemon.RecordCache):  # type: ignore[misc,name-defined]
        """The daemon's cache, remembered so that `stats` can report its hit counters."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            caches.append(self)

    daemon.RecordCache = CountedCache  # type: ignore[attr-defined]
    settings = load_settings(environ=bench_environ(url))

    def ready(listening: daemon.Listening) -> None:
        print(f"READY {listening.whois_port} {listening.rdap_port}", flush=True)

    await daemon.run_daemon(settings, stop=stop, ready=ready, handle_signals=False)


async def serve_baseline(url: str, workdir: Path, stop: Any) -> None:
    """A bare asyncio WHOIS server and a trivial ASGI app under the daemon's very uvicorn set-up."""
    import asyncio

    from domainpriv.config import load_settings

    settings = load_settings(environ=bench_environ(url))
    record = (workdir / "baseline-whois.txt").read_bytes()
    body = (workdir / "baseline-rdap.json").read_bytes()

    async def whois(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()
            writer.write(record)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    headers = [
        (b"content-type", b"application/rdap+json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"access-control-allow-origin", b"*"),
    ]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    await serve_pair(whois, app, settings, stop)


async def serve_pair(whois: Any, app: Any, settings: Any, stop: Any) -> None:
    """A baseline's two servers: `whois` under asyncio.start_server, the ASGI `app` under the daemon's very
    uvicorn configuration; prints READY with both ports, serves until `stop` is set."""
    import asyncio

    import uvicorn

    from domainpriv import daemon

    whois_server = await asyncio.start_server(whois, HOST, 0, backlog=128)
    rdap_socket = listen_tcp(HOST, 0)
    rdap = uvicorn.Server(uvicorn.Config(  # exactly the daemon's uvicorn configuration
        app, http=daemon.UVICORN_HTTP, log_level="warning", lifespan="off",
        limit_concurrency=settings.rdap.max_connections, server_header=False, access_log=False,
        timeout_graceful_shutdown=int(settings.rdap.shutdown_grace_seconds),
    ))  # fmt: skip
    rdap_task = asyncio.create_task(daemon._serve_uvicorn(rdap, rdap_socket))
    while not rdap.started and not rdap_task.done():
        await asyncio.sleep(0.01)
    print(f"READY {whois_server.sockets[0].getsockname()[1]} {rdap_socket.getsockname()[1]}", flush=True)
    await stop.wait()
    rdap.should_exit = True
    whois_server.close()
    await rdap_task
    rdap_socket.close()


def listen_tcp(host: str, port: int) -> socket.socket:
    """A listening socket as `loop.create_server(host=..., port=...)` (so `uvicorn.run`) makes it: created with
    proto IPPROTO_TCP, which is what makes asyncio set TCP_NODELAY on the accepted connections (asyncio's
    `_set_nodelay` checks `sock.proto`), as `domainpriv.daemon._listen` makes its own since the first session's
    benchmark found the 40 ms delayed-ACK stall (RESULTS.md)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class ServerProcess:
    """A server child; `stats()` and `cpu_seconds()` while it runs; `stop()` waits for it (bounded)."""

    def __init__(self, kind: str, args: argparse.Namespace, cpu: int | None, script: str = __file__) -> None:
        self.kind = kind
        self.log_path = args.workdir / f"server-{kind}.log"
        self._log = self.log_path.open("wb")
        cmd = [sys.executable, script, "--child", "server", kind, "--url", args.pg_url]
        cmd += ["--workdir", str(args.workdir)]
        cmd += ["--log-level", args.server_log_level]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        line = _readline(self.proc.stdout, SERVER_START_TIMEOUT)
        if not line.startswith("READY "):
            self.stop()
            raise SystemExit(f"{kind} server did not start (see {self.log_path})")
        self.whois_port, self.rdap_port = (int(p) for p in line.split()[1:3])

    def stats(self) -> dict[str, Any] | None:
        if self.kind != "real":
            return None
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"stats\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = json.loads(_readline(self.proc.stdout, 10.0))
        return result

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def peak_rss_mb(self) -> float:
        """The child's high-water mark of resident memory (VmHWM), caches and memos included."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        return kb / 1024

    def stop(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"stop\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


def _readline(stream: IO[bytes] | None, timeout: float) -> str:
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise SystemExit(f"no answer from a child process within {timeout:g} s")
    return stream.readline().decode().strip()


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# -- measured runs ---------------------------------------------------------------------------------------------


def run_load(
    kind: str,
    label: str,
    server: ServerProcess,
    args: argparse.Namespace,
    cpu: int | None,
    overrides: dict[str, Any] | None = None,
    sample: Any = None,
) -> dict[str, Any]:
    """One load-client child against `server`; server CPU, system CPU and cache counters are sampled at the
    client's window marks. `overrides` change the load spec (another query file, no cycling, ...); `sample()`,
    if given, is called at both marks too and its numeric deltas over the window land in `result["sampled"]`.
    With `overrides["expect_changes"]`, a cache invalidated during the window is expected, not warned about."""
    spec = {
        "kind": kind,
        "label": label,
        "host": HOST,
        "port": server.whois_port if kind == "whois" else server.rdap_port,
        "queries_file": str(args.workdir / "queries.json"),
        "clients": args.clients,
        "duration": args.duration,
        "warmup": args.warmup,
        # Every name asked twice: the daemon's cache stores a name on its second load (rdds/cache.py), then hits.
        "min_warmup_queries": 2 * args.queries_total,
        "max_warmup": args.max_warmup,
        "check": server.kind == "real",
        "cpu": cpu,
        **(overrides or {}),
    }
    expect_changes = bool(spec.pop("expect_changes", False))
    proc = subprocess.Popen([sys.executable, str(LOADGEN), json.dumps(spec)], stdout=subprocess.PIPE)
    deadline = time.monotonic() + args.max_warmup + args.duration + 60
    marks: dict[str, dict[str, Any]] = {}
    result: dict[str, Any] | None = None
    try:
        while result is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SystemExit(f"{label}: load client did not finish in time")
            line = _readline(proc.stdout, remaining)
            if line in ("window-start", "window-end"):
                marks[line] = {
                    "server_cpu": server.cpu_seconds(),
                    "system": system_busy(),
                    "cache": server.stats(),
                    "sampled": sample() if sample is not None else None,
                }
            elif line.startswith("{"):
                result = json.loads(line)
            elif line == "" and proc.poll() is not None:
                raise SystemExit(f"{label}: load client exited with {proc.returncode}")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    start, end = marks["window-start"], marks["window-end"]
    result["server_cpu"] = (end["server_cpu"] - start["server_cpu"]) / args.duration
    busy = end["system"][0] - start["system"][0]
    total = end["system"][1] - start["system"][1]
    result["system_cpu"] = busy / total * (os.cpu_count() or 1) if total else float("nan")  # in cores
    if start["sampled"] is not None:
        result["sampled"] = _deltas(start["sampled"], end["sampled"])
    if start["cache"] is not None:
        delta = _deltas(start["cache"], end["cache"])
        result["cache"] = {**delta, "entries": end["cache"].get("entries", 0)}
        hits, misses = delta.get("hits", 0), delta.get("misses", 0)
        result["cache_hit_rate"] = hits / (hits + misses) if hits + misses else float("nan")
        result["cache_entries"] = end["cache"]["entries"]
        changed = []
        if "generation" in start["cache"] or "generation" in end["cache"]:
            generations = (start["cache"].get("generation"), end["cache"].get("generation"))
            if generations[0] != generations[1] or None in generations:
                changed.append(f"change generation {generations[0]} -> {generations[1]}")
        for key in ("resets", "invalidated"):
            if delta.get(key):
                changed.append(f"{key} +{delta[key]:,}")
        if changed:
            result["cache_note"] = ", ".join(changed) + " during the window"
            if not expect_changes:
                note(
                    f"  WARNING: the record cache was invalidated or bypassed during the window "
                    f"({result['cache_note']}): a commit to the bench database, or its change feed was lost "
                    "(see the server log)"
                )
    return result


def _deltas(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """end - start for the numeric counters present in both samples."""
    return {
        k: end[k] - start[k]
        for k in end
        if isinstance(end[k], int | float) and isinstance(start.get(k), int | float) and k != "generation"
    }


def print_rows(rows: list[dict[str, Any]], header: bool) -> None:
    line = "{:<6} {:<11} {:>10} {:>8} {:>8} {:>8} {:>7} {:>7} {:>8} {:>8} {:>10}"
    if header:
        print(line.format("server", "run", "answers/s", "p50 ms", "p99 ms", "max ms", "wrong", "srv CPU", "cli CPU",
                          "cache hit", "real/base"))  # fmt: skip
    for r in rows:
        print(
            line.format(
                r["kind"].upper() if r["kind"] == "rdap" else "WHOIS",
                r["run"],
                f"{r['rate']:,.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['max_ms']:.0f}",
                r["wrong"],
                f"{r['server_cpu']:.0%}",
                f"{r['client_cpu']:.0%}",
                f"{r['cache_hit_rate']:.1%}" if "cache_hit_rate" in r else "-",
                f"{r['ratio']:.2f}x" if "ratio" in r else "",
            ),
            flush=True,
        )


def summarise(rows: list[dict[str, Any]], kinds: list[str]) -> dict[str, dict[str, Any]]:
    """Per protocol: the median of the rounds' ratios, the worst p99 of the real runs, and all wrong answers."""
    summary: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        real = [r for r in rows if r["kind"] == kind and "ratio" in r]
        ratios = [r["ratio"] for r in real]
        summary[kind] = {
            "ratio": statistics.median(ratios),
            "ratios": ratios,
            "p99_ms": max(r["p99_ms"] for r in real),
            "wrong": sum(r["wrong"] for r in rows if r["kind"] == kind),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--domains", type=int, default=100_000)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--rounds", type=int, default=3, help="alternating baseline/real pairs per protocol")
    p.add_argument("--clients", type=int, default=64, help="queries in flight (connections)")
    p.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds before each run (at least)")
    p.add_argument("--max-warmup", type=float, default=120.0, help="warm-up ends after this even if the cache is cold")
    p.add_argument("--queries", type=int, default=10_000, help="names sampled from the database")
    p.add_argument("--unknown", type=float, default=0.05, help="share of names that do not exist, added")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", choices=("whois", "rdap", "both"), default="both")
    p.add_argument(
        "--server-log-level",
        choices=("info", "warning", "off"),
        default="info",
        help="logging in the server children; info = as `domainpriv serve` (one line per query, to a file)",
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin server and client to CPUs 0 and 1")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("DOMAINPRIV_BENCH_RDDS_PG_URL", DEFAULT_PG_URL),
        help="a database of its own (name must contain 'bench'); reloaded when it does not hold --domains domains",
    )
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="query set, fixed answers, server logs")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed or an answer is wrong")
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    server_cpu, client_cpu = (0, 1) if pin else (None, None)

    note(
        f"bench_rdds: {args.domains:,} domains, {args.clients} clients, {args.duration:g} s per run, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
        + (", server pinned to CPU 0, client to CPU 1" if pin else "")
    )
    prepare_database(args.pg_url, args.domains, args.seed)
    queries_file, qinfo = build_queries(args.pg_url, args.queries, args.unknown, args.seed, args.workdir)
    args.queries_total = qinfo["total"]
    note(f"query set: {qinfo['total']:,} names, {qinfo['idn']} IDNs; mix {qinfo['mix']}")
    names = json.loads(queries_file.read_text(encoding="utf-8"))["names"]
    sizes = baseline_answers(args.pg_url, names, args.workdir)
    note(
        f"fixed answers of the baselines: WHOIS {sizes['whois_fixed']} bytes "
        f"(query-set mean {sizes['whois_mean']:.0f}), "
        f"RDAP body {sizes['rdap_fixed']} bytes (mean {sizes['rdap_mean']:.0f})"
    )

    kinds = ["whois", "rdap"] if args.only == "both" else [args.only]
    rows: list[dict[str, Any]] = []
    servers = {kind: ServerProcess(kind, args, server_cpu) for kind in ("baseline", "real")}
    try:
        for kind in kinds:
            # Rounds alternate baseline and real, so that a slow spell of the machine (other work, frequency
            # changes) falls on both sides; each round's ratio compares two runs made seconds apart.
            for round_no in range(1, args.rounds + 1):
                note(f"\n== {kind}, round {round_no} of {args.rounds} ==")
                pair: dict[str, dict[str, Any]] = {}
                for server_kind in ("baseline", "real"):
                    label = f"{kind} {server_kind} {round_no}"
                    result = run_load(kind, label, servers[server_kind], args, client_cpu)
                    result["run"] = f"{server_kind} {round_no}"
                    result["round"] = round_no
                    pair[server_kind] = result
                pair["real"]["ratio"] = pair["real"]["rate"] / pair["baseline"]["rate"]
                rows += [pair["baseline"], pair["real"]]
                print_rows([pair["baseline"], pair["real"]], header=True)
        peak_rss = {kind: server.peak_rss_mb() for kind, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()

    print(
        f"\nsummary ({args.domains:,} domains, {args.clients} clients, {args.duration:g} s windows, {args.rounds} "
        f"alternating rounds; targets: WHOIS >= {MIN_WHOIS_RATIO:g}x, RDAP >= {MIN_RDAP_RATIO:g}x baseline, p99 < "
        f"{MAX_P99_MS:g} ms)"
    )
    print_rows(rows, header=True)
    print(
        "  CPU: srv = server child, cli = load client, in % of one core; system total in the runs: "
        + ", ".join(f"{r['kind']} {r['run']} {r['system_cpu']:.2f} cores" for r in rows)
    )
    print(
        "  warm-up (unmeasured, at least until every name was asked twice): "
        + ", ".join(f"{r['kind']} {r['run']} {r['warmup_s']:.0f} s" for r in rows)
    )
    print(f"  server peak RSS: baseline child {peak_rss['baseline']:.0f} MB, real daemon {peak_rss['real']:.0f} MB")
    summary = summarise(rows, kinds)
    for kind, figures in summary.items():
        print(
            f"  {kind.upper()}: median real/baseline {figures['ratio']:.2f}x (rounds: "
            + ", ".join(f"{r:.2f}x" for r in figures["ratios"])
            + f"), worst real p99 {figures['p99_ms']:.1f} ms, wrong answers {figures['wrong']}"
        )
    missed: list[str] = []
    for kind, figures in summary.items():
        target = MIN_WHOIS_RATIO if kind == "whois" else MIN_RDAP_RATIO
        if figures["ratio"] < target:
            missed.append(f"{kind}: median {figures['ratio']:.2f}x baseline < {target:g}x")
        if not figures["p99_ms"] < MAX_P99_MS:
            missed.append(f"{kind}: p99 {figures['p99_ms']:.1f} ms >= {MAX_P99_MS:g} ms")
        if figures["wrong"]:
            missed.append(f"{kind}: {figures['wrong']} wrong or failed answers")
    for m in missed:
        print(f"TARGET MISSED: {m}")
    return 1 if missed and args.check else 0


def child_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("server",))
    p.add_argument("kind", choices=("baseline", "real"))
    p.add_argument("--url", required=True)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--cpu", type=int)
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    return child_server(args.kind, args.url, args.workdir, args.cpu, args.log_level)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())

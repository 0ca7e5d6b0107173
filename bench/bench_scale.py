"""Benchmark: the public read path at scale (issue 7) -- cache misses, writes, database growth.

    python bench/bench_scale.py [uncached] [writes] [growth] [--rounds 3] [--duration 10] [--check]

Scenarios (all three when none is named); the databases come from `bench/load_scale.py`:

* uncached -- 1,000,000 domains (`domainpriv_bench_scale_1m`). Every query asks a different domain: all names
  of the database in a seeded shuffle, each run (baseline or real, each round, each protocol) taking its own
  disjoint slice, sized from `--expected-rate`, so no name is asked twice in the whole run and the real daemon's
  record cache never hits. loadgen runs with cycling off: a run that exhausts its slice fails. Baseline: the
  same server stack (a bare asyncio server for WHOIS, the daemon's uvicorn configuration for RDAP) answering
  every query with the same indexed lookups in raw psycopg (the domain row by name, its contacts by id, its
  name servers by domain id: three round trips, prepared statements, `domainpriv.daemon.LOOKUP_THREADS`
  connections) and a fixed rendering (a real answer of the mean size; not found: a fixed not-found).
  Targets: real >= 1.0x baseline (WHOIS), >= 0.8x (RDAP), p99 < 50 ms.
* writes -- bench_rdds's cached scenario (100,000 domains, its 10,000-name query set, its fixed-answer
  baseline), the real daemon with and without a writer process making `--write-rate` (50) changes per second
  to other domains (never one of the query set, nor a contact one of them uses) through the audited services:
  set_privacy_mode, set_nameservers, update_contact, set_domain_contact (tech), each after reading the current
  values. Rounds: fixed baseline, real, real with writes. Targets: with writes >= 0.8x without; real without
  writes >= 1.10x (WHOIS) / 0.74x (RDAP) of the fixed baseline (bench_rdds's figures before issue 7).
* growth -- the uncached lookup itself at 100k, 1M and 10M domains: per size, `--growth-names` names drawn
  uniformly over the whole database (computed from the demo generator, so choosing them touches no page of
  the database), in a random order, each looked up once through `DatabaseSource(UnitOfWork(engine), policy,
  cache=None).lookup` and once through the raw three-query lookup (which of the two goes first alternates from
  name to name), single thread; median and p99 of each, the ratio real/raw, and each figure against 100k.
  The database size, shared_buffers and the share of the relations' pages in the OS page cache are reported
  (measured with fincore); `--evict-os-cache` drops the bench database's pages from the OS cache first.

Servers, load client, rounds and CPU pinning are bench_rdds.py's (imported from it): servers on CPU 0, client
on CPU 1, PostgreSQL and the writer unpinned; the figure checked is the median of the rounds' ratios, the p99
the worst real round's; every real answer is checked (outcome, and the queried name in the answer).
`BENCH_DOMAINPRIV_CODE=DIR` measures the domainpriv package in DIR instead of this checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_rdds as rdds  # noqa: E402  (puts the package under test on sys.path)
from bench_rdds import HOST, ServerProcess, note  # noqa: E402
from load_scale import DEFAULT_URL_TEMPLATE, database_sizes, libpq_dsn, parse_size, scale_url, size_label  # noqa: E402

DEFAULT_WORKDIR = Path("/tmp/domainpriv-bench-scale")
MIN_UNCACHED_RATIO = {"whois": 1.0, "rdap": 0.8}
MIN_WRITES_RATIO = 0.8
MIN_CACHED_RATIO = {"whois": 1.10, "rdap": 0.74}  # bench_rdds, second session (RESULTS.md)
MAX_P99_MS = rdds.MAX_P99_MS
SCENARIOS = ("uncached", "writes", "growth")
RESERVED_NAMES = 400  # of the shuffled names, never queried: they size the baselines' fixed answers
TLDS = ("com", "net", "org", "shop", "app")

# -- the raw lookup: the baselines' three indexed queries ------------------------------------------------------

DOMAIN_SQL = (
    "SELECT id, registrant_id, admin_id, tech_id, billing_id, account_id, name, registry_domain_id, created_at,"
    " expires_at, updated_at, statuses, ds_records, privacy_mode, relay_alias FROM domain WHERE name = %s"
)
CONTACT_SQL = (
    "SELECT id, handle, account_id, name, org, street1, street2, street3, city, state, postal_code, country,"
    " phone, phone_ext, fax, fax_ext, email, verified_at, created_at, updated_at FROM contact"
    " WHERE id IN (%s, %s, %s, %s)"
)
NAMESERVER_SQL = "SELECT host, addresses FROM nameserver WHERE domain_id = %s ORDER BY position"


def a_label(name: str) -> str | None:
    """The query as the lookup key (lowercase A-label), or None if it cannot be one."""
    name = name.strip().rstrip(".").lower()
    if name.isascii():
        return name or None
    import idna

    try:
        return str(idna.encode(name, uts46=True).decode("ascii"))
    except idna.IDNAError:
        return None


def raw_lookup(conn: Any, name: str) -> bool:
    """The three indexed lookups on a psycopg connection (autocommit, prepared); True if the domain exists."""
    row = conn.execute(DOMAIN_SQL, (name,)).fetchone()
    if row is None:
        return False
    conn.execute(CONTACT_SQL, row[1:5]).fetchall()
    conn.execute(NAMESERVER_SQL, (row[0],)).fetchall()
    return True


async def raw_lookup_async(conn: Any, name: str) -> bool:
    cur = await conn.execute(DOMAIN_SQL, (name,))
    row = await cur.fetchone()
    if row is None:
        return False
    await (await conn.execute(CONTACT_SQL, row[1:5])).fetchall()
    await (await conn.execute(NAMESERVER_SQL, (row[0],))).fetchall()
    return True


def raw_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(libpq_dsn(url), autocommit=True, prepare_threshold=0)


class RawLookups:
    """The baseline's lookups, `size` connections: `async` (psycopg AsyncConnections on the event loop, a queue
    as the pool) or `threads` (a thread pool, one connection per thread, as the daemon's lookup pool)."""

    def __init__(self, url: str, mode: str, size: int) -> None:
        self.url, self.mode, self.size = url, mode, size
        self._free: asyncio.Queue[Any] | None = None
        self._executor: Any = None
        self._local = threading.local()

    async def open(self) -> None:
        import psycopg

        if self.mode == "async":
            self._free = asyncio.Queue()
            for _ in range(self.size):
                conn = await psycopg.AsyncConnection.connect(libpq_dsn(self.url), autocommit=True, prepare_threshold=0)
                self._free.put_nowait(conn)
        else:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="raw-lookup")

    async def found(self, query: str) -> bool:
        name = a_label(query)
        if name is None:
            return False
        if self._free is not None:
            conn = await self._free.get()
            try:
                return await raw_lookup_async(conn, name)
            finally:
                self._free.put_nowait(conn)
        return bool(await asyncio.get_running_loop().run_in_executor(self._executor, self._lookup, name))

    def _lookup(self, name: str) -> bool:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = raw_connect(self.url)
        return raw_lookup(conn, name)


async def serve_raw(kind: str, url: str, workdir: Path, stop: asyncio.Event) -> None:
    """The uncached scenario's baseline: the real lookups' database work in raw psycopg, fixed answers."""

    from domainpriv.config import load_settings

    assert kind == "raw"
    config = json.loads((workdir / "raw-baseline.json").read_text())
    settings = load_settings(environ=rdds.bench_environ(url))
    whois_found = (workdir / "baseline-whois.txt").read_bytes()
    whois_missing = (workdir / "raw-whois-notfound.txt").read_bytes()
    rdap_found = (workdir / "baseline-rdap.json").read_bytes()
    rdap_missing = (workdir / "raw-rdap-notfound.json").read_bytes()
    lookups = RawLookups(url, config["mode"], config["pool"])
    await lookups.open()

    async def whois(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            found = await lookups.found(line.decode("utf-8", "replace"))
            writer.write(whois_found if found else whois_missing)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def headers(body: bytes) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", b"application/rdap+json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"access-control-allow-origin", b"*"),
        ]

    found_headers, missing_headers = headers(rdap_found), headers(rdap_missing)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        found = path.startswith("/domain/") and await lookups.found(path[8:])
        await send({"type": "http.response.start", "status": 200 if found else 404,
                    "headers": found_headers if found else missing_headers})  # fmt: skip
        await send({"type": "http.response.body", "body": rdap_found if found else rdap_missing})

    await rdds.serve_pair(whois, app, settings, stop)


# -- shared helpers --------------------------------------------------------------------------------------------


def require_domains(url: str, n: int) -> None:
    from load_scale import count_domains

    have = count_domains(url)
    if have != n:
        raise SystemExit(
            f"{url.rsplit('/', 1)[1]} holds {have if have is not None else 'no'} domains, not {n:,}: "
            f"run `nice -n 10 python bench/load_scale.py --sizes {size_label(n)}` first"
        )


def whois_needle(name: str) -> str:
    return f"Domain Name: {name}\r\n"


def rdap_needle(name: str) -> str:
    return f'"ldhName":"{name}"'


def rdap_request(name: str) -> str:
    from urllib.parse import quote

    return (
        f"GET /domain/{quote(name, safe='-.')} HTTP/1.1\r\nHost: {HOST}\r\nAccept: application/rdap+json\r\n"
        "User-Agent: bench_scale\r\n\r\n"
    )


def query_entry(kind: str, shown: str, expect: str, key: str | None) -> list[str]:
    """[payload as latin-1, expected outcome, needle] for loadgen."""
    if kind == "whois":
        payload = (shown + "\r\n").encode("utf-8").decode("latin-1")
        needle = whois_needle(key) if key and expect == "found" else ""
    else:
        payload = rdap_request(shown)
        needle = rdap_needle(key) if key and expect == "found" else ""
    return [payload, expect, needle]


def not_found_answers(url: str, workdir: Path) -> None:
    """The fixed not-found answers of the raw baseline: the real ones, for a name that does not exist."""
    from domainpriv.clock import utcnow
    from domainpriv.config import load_settings
    from domainpriv.rdds import DatabaseSource, publication_policy
    from domainpriv.rdds.rdap_app import domain_response
    from domainpriv.rdds.whois_answer import answer_whois_query
    from domainpriv.store import UnitOfWork, make_engine

    settings = load_settings(environ=rdds.bench_environ(url))
    engine = make_engine(url)
    try:
        source = DatabaseSource(UnitOfWork(engine), publication_policy(settings), None)
        name = "bench-unknown-0.com"
        text = answer_whois_query(name, source, utcnow(), settings.publication.terms_of_use).text
        (workdir / "raw-whois-notfound.txt").write_bytes(text.encode("utf-8"))
        _, body = domain_response(name, source=source, settings=settings.rdap, now=utcnow())
        (workdir / "raw-rdap-notfound.json").write_bytes(body)
    finally:
        engine.dispose()


def scenario_args(args: argparse.Namespace, name: str, url: str) -> argparse.Namespace:
    """bench_rdds's options for one scenario: its database, its own workdir (query files, server logs)."""
    workdir = args.workdir / name
    workdir.mkdir(parents=True, exist_ok=True)
    return argparse.Namespace(**{**vars(args), "pg_url": url, "workdir": workdir})


def pinning(args: argparse.Namespace) -> tuple[int | None, int | None]:
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    return (0, 1) if pin else (None, None)


def median_ratio(rows: list[dict[str, Any]], kind: str, run: str) -> dict[str, Any]:
    real = [r for r in rows if r["kind"] == kind and r["side"] == run and "ratio" in r]
    ratios = [r["ratio"] for r in real]
    return {
        "ratio": statistics.median(ratios) if ratios else float("nan"),
        "ratios": ratios,
        "p99_ms": max((r["p99_ms"] for r in real), default=float("nan")),
        "wrong": sum(r["wrong"] for r in real),
    }


def print_summary_line(label: str, figures: dict[str, Any], against: str) -> None:
    print(
        f"  {label}: median {figures['ratio']:.2f}x {against} (rounds: "
        + ", ".join(f"{r:.2f}x" for r in figures["ratios"])
        + f"), worst p99 {figures['p99_ms']:.1f} ms, wrong answers {figures['wrong']}"
    )


def check_target(missed: list[str], label: str, figures: dict[str, Any], target: float) -> None:
    if not figures["ratio"] >= target:
        missed.append(f"{label}: median {figures['ratio']:.2f}x < {target:g}x")
    if not figures["p99_ms"] < MAX_P99_MS:
        missed.append(f"{label}: p99 {figures['p99_ms']:.1f} ms >= {MAX_P99_MS:g} ms")
    if figures["wrong"]:
        missed.append(f"{label}: {figures['wrong']} wrong or failed answers")


def pg_cpu_seconds() -> float:
    """CPU seconds (user + system) of PostgreSQL on this machine: every live postgres process, plus what the
    postmaster has reaped from exited ones (its cutime + cstime: backends of closed connections, e.g. a
    pool's overflow), so that the figure only grows."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:  # gone meanwhile
            continue
        if not head.endswith("(postgres"):
            continue
        fields = tail.split()
        total += (int(fields[11]) + int(fields[12])) / tick
        try:
            with open(f"/proc/{fields[1]}/stat") as f:
                parent_is_postgres = f.read().rsplit(")", 1)[0].endswith("(postgres")
        except OSError:
            parent_is_postgres = False
        if not parent_is_postgres:  # the postmaster
            total += (int(fields[13]) + int(fields[14])) / tick
    return total


def sample_pg() -> dict[str, float]:
    return {"pg_cpu_s": pg_cpu_seconds()}


def add_costs(result: dict[str, Any], duration: float) -> None:
    """CPU per answer over the window: the server child's, and PostgreSQL's (all its processes; other work on
    the shared server counts too, so this is an upper bound)."""
    answers = max(result["answers"], 1)
    result["server_ms_per_answer"] = result["server_cpu"] * duration / answers * 1000
    result["pg_cpu"] = result["sampled"]["pg_cpu_s"] / duration
    result["pg_ms_per_answer"] = result["sampled"]["pg_cpu_s"] / answers * 1000


def print_costs(rows: list[dict[str, Any]]) -> None:
    print(
        "  CPU ms per answer (server child / PostgreSQL, all its processes): "
        + ", ".join(
            f"{r['kind']} {r['run']} {r['server_ms_per_answer']:.2f} / {r['pg_ms_per_answer']:.2f}" for r in rows
        )
    )
    print(
        "  PostgreSQL CPU in the runs (cores): " + ", ".join(f"{r['kind']} {r['run']} {r['pg_cpu']:.2f}" for r in rows)
    )


def save(args: argparse.Namespace, name: str, doc: dict[str, Any]) -> None:
    import domainpriv

    code = Path(domainpriv.__file__).resolve().parent.parent
    commit = code / "COMMIT"  # written next to a `git archive` snapshot
    doc = {
        "code": str(code),
        "commit": commit.read_text().strip() if commit.exists() else None,
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "argv": sys.argv[1:],
        **doc,
    }
    path = args.workdir / f"results-{name}{'-' + args.tag if args.tag else ''}.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    note(f"(figures saved to {path})")


# -- scenario: uncached ----------------------------------------------------------------------------------------


def scenario_uncached(args: argparse.Namespace, kinds: list[str], missed: list[str]) -> None:
    import idna
    import psycopg

    n = parse_size(args.uncached_size)
    url = scale_url(args.url_template, n)
    require_domains(url, n)
    sargs = scenario_args(args, "uncached", url)
    sargs.queries_total = 0  # no cache to warm: the warm-up is --warmup seconds
    workdir = sargs.workdir
    server_cpu, client_cpu = pinning(args)

    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM domain ORDER BY id")]
    random.Random(f"bench_scale:uncached:{args.seed}").shuffle(names)
    reserved, names = names[-RESERVED_NAMES:], names[:-RESERVED_NAMES]
    runs = [(kind, r, side) for kind in kinds for r in range(1, args.rounds + 1) for side in ("baseline", "real")]
    per_run = math.ceil(args.expected_rate * (args.warmup + args.duration) * 1.25) + args.clients
    known = math.ceil(per_run / (1 + args.unknown))
    if known * len(runs) > len(names):
        raise SystemExit(
            f"uncached: {len(runs)} runs of {known:,} names each (expected rate {args.expected_rate:,.0f}/s x "
            f"{args.warmup + args.duration:g} s, +25 %) need {known * len(runs):,} names; the database has "
            f"{len(names):,}: lower --expected-rate, --rounds or --duration"
        )
    note(
        f"uncached: {n:,} domains, {len(runs)} runs, each a slice of {known:,} names never asked before "
        f"(+{args.unknown:.0%} unknown), {len(names) - known * len(runs):,} names left unused"
    )
    sizes = rdds.baseline_answers(url, reserved, workdir, pad_to_mean=True)
    not_found_answers(url, workdir)
    (workdir / "raw-baseline.json").write_text(json.dumps({"mode": args.raw_mode, "pool": args.pool}))
    note(
        f"fixed answers of the baseline: WHOIS {sizes['whois_fixed']} bytes (mean {sizes['whois_mean']:.0f}), RDAP "
        f"{sizes['rdap_fixed']} bytes (mean {sizes['rdap_mean']:.0f}); lookups: raw psycopg, {args.raw_mode}, "
        f"{args.pool} connections"
    )
    files: dict[tuple[str, int, str], Path] = {}
    for i, (kind, round_no, side) in enumerate(runs):
        chunk = names[i * known : (i + 1) * known]
        rng = random.Random(f"bench_scale:uncached:{args.seed}:{i}")
        entries: list[list[str]] = []
        idn = 0
        for name in chunk:
            shown = name
            if "xn--" in name:
                idn += 1
                if idn % 2:
                    shown = idna.decode(name)
            entries.append(query_entry(kind, shown, "found", name))
        for j in range(round(known * args.unknown)):
            unknown = f"bench-unknown-{i}-{j}.{TLDS[j % len(TLDS)]}"
            entries.insert(rng.randrange(len(entries) + 1), query_entry(kind, unknown, "not-found", unknown))
        path = workdir / f"queries-{kind}-{side}-{round_no}.json"
        path.write_text(json.dumps({kind: entries}, ensure_ascii=False), encoding="utf-8")
        files[(kind, round_no, side)] = path

    page_cache = page_cache_report(url)
    note(f"database: {page_cache['summary']}")
    rows: list[dict[str, Any]] = []
    servers = {"baseline": ServerProcess("raw", sargs, server_cpu, __file__), "real": ServerProcess("real", sargs,
               server_cpu, __file__)}  # fmt: skip
    try:
        for kind in kinds:
            for round_no in range(1, args.rounds + 1):
                note(f"\n== uncached {kind}, round {round_no} of {args.rounds} ==")
                pair: dict[str, dict[str, Any]] = {}
                for side in ("baseline", "real"):
                    overrides = {
                        "queries_file": str(files[(kind, round_no, side)]),
                        "cycle": False,
                        "min_warmup_queries": 0,
                        "max_warmup": args.warmup + 5,
                    }
                    label = f"{kind} {side} {round_no}"
                    result = rdds.run_load(kind, label, servers[side], sargs, client_cpu, overrides, sample_pg)
                    add_costs(result, args.duration)
                    result.update(run=f"{side} {round_no}", side=side, round=round_no)
                    pair[side] = result
                pair["real"]["ratio"] = pair["real"]["rate"] / pair["baseline"]["rate"]
                rows += [pair["baseline"], pair["real"]]
                rdds.print_rows([pair["baseline"], pair["real"]], header=True)
        peak_rss = {side: server.peak_rss_mb() for side, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()

    print(
        f"\nuncached: {n:,} domains, every query a different name ({args.clients} clients, {args.duration:g} s "
        f"windows, {args.rounds} alternating rounds; baseline = raw psycopg, 3 queries, {args.raw_mode}, "
        f"{args.pool} connections, fixed answers)"
    )
    rdds.print_rows(rows, header=True)
    print("  system CPU in the runs: " + ", ".join(f"{r['kind']} {r['run']} {r['system_cpu']:.2f}" for r in rows))
    print_costs(rows)
    print(f"  server peak RSS: baseline {peak_rss['baseline']:.0f} MB, real daemon {peak_rss['real']:.0f} MB")
    print(f"  database: {page_cache['summary']}")
    summary = {}
    for kind in kinds:
        figures = median_ratio(rows, kind, "real")
        summary[kind] = figures
        print_summary_line(f"uncached {kind.upper()}", figures, "raw baseline")
        check_target(missed, f"uncached {kind}", figures, MIN_UNCACHED_RATIO[kind])
    save(args, "uncached", {"rows": rows, "summary": summary, "page_cache": page_cache, "peak_rss": peak_rss})


# -- scenario: writes ------------------------------------------------------------------------------------------


class WriterProcess:
    """The writer child: `go` starts writing, `pause` stops, `count` answers with its counters."""

    def __init__(
        self, args: argparse.Namespace, queries_file: Path, cpu: int | None = None, *, url: str | None = None,
        name: str = "writer",
    ) -> None:  # fmt: skip
        self.log_path = args.workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        url = url or args.pg_url
        cmd = [sys.executable, __file__, "--child", "writer", "--url", url, "--rate", str(args.write_rate)]
        cmd += ["--queries-file", str(queries_file), "--seed", str(args.seed), "--threads", str(args.writer_threads)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        line = rdds._readline(self.proc.stdout, 120.0)
        if not line.startswith("READY"):
            self.stop()
            raise SystemExit(f"writer did not start (see {self.log_path})")
        note(f"{name}: {line[6:]}")

    def command(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd.encode() + b"\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = json.loads(rdds._readline(self.proc.stdout, 30.0))
        result["cpu_s"] = rdds.proc_cpu_seconds(self.proc.pid)
        return result

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


def copy_database(url: str, suffix: str) -> str:
    """A fresh copy of the database (CREATE DATABASE ... TEMPLATE: a file copy, seconds at 100k) and its URL."""
    import psycopg
    from psycopg import sql
    from sqlalchemy import make_url

    source = make_url(url)
    target = source.set(database=f"{source.database}_{suffix}")
    with psycopg.connect(libpq_dsn(source.set(database="postgres").render_as_string(False)), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target.database)))
        c.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target.database), sql.Identifier(source.database)
            )
        )
    return target.render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy import make_url

    parsed = make_url(url)
    with psycopg.connect(libpq_dsn(parsed.set(database="postgres").render_as_string(False)), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(parsed.database)))


def add_needles(queries_file: Path) -> None:
    """bench_rdds's query set with each found name's needle, so that every real answer is checked for it."""
    doc = json.loads(queries_file.read_text(encoding="utf-8"))
    for kind in ("whois", "rdap"):
        for entry, shown in zip(doc[kind], doc["names"], strict=True):
            key = a_label(shown)
            entry[2:] = [query_entry(kind, shown, entry[1], key)[2]]
    queries_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def scenario_writes(args: argparse.Namespace, kinds: list[str], missed: list[str]) -> None:
    n = parse_size(args.writes_size)
    url = scale_url(args.url_template, n)
    sargs = scenario_args(args, "writes", url)
    server_cpu, client_cpu = pinning(args)
    rdds.prepare_database(url, n, args.seed)
    queries_file, qinfo = rdds.build_queries(url, args.queries, args.unknown, args.seed, sargs.workdir)
    add_needles(queries_file)
    sargs.queries_total = qinfo["total"]
    note(f"writes: {n:,} domains, query set {qinfo['total']:,} names ({qinfo['idn']} IDNs), mix {qinfo['mix']}")
    names = json.loads(queries_file.read_text(encoding="utf-8"))["names"]
    sizes = rdds.baseline_answers(url, names, sargs.workdir)
    note(f"fixed answers of the baseline: WHOIS {sizes['whois_fixed']} bytes, RDAP {sizes['rdap_fixed']} bytes")
    rows: list[dict[str, Any]] = []
    control_url = copy_database(url, "control")
    writer = WriterProcess(sargs, queries_file, client_cpu)
    # The control: the same writer, on a copy of the database that the daemon does not follow. The machine carries
    # the same load as in the `writes` runs (the writer and its PostgreSQL backends share the client's CPU), and
    # the daemon gets no change: writes / control is what following the changes costs the daemon itself.
    control = WriterProcess(sargs, queries_file, client_cpu, url=control_url, name="control-writer")
    servers = {kind: ServerProcess(kind, sargs, server_cpu, __file__) for kind in ("baseline", "real")}
    try:
        for kind in kinds:
            for round_no in range(1, args.rounds + 1):
                note(f"\n== writes {kind}, round {round_no} of {args.rounds} ==")
                runs: dict[str, dict[str, Any]] = {}
                for side in ("baseline", "real", "control", "writes"):
                    label = f"{kind} {side} {round_no}"
                    server = servers["baseline" if side == "baseline" else "real"]
                    if side in ("control", "writes"):
                        active = writer if side == "writes" else control

                        def sample_both(active: WriterProcess = active) -> dict[str, Any]:
                            return {**active.command("count"), **sample_pg()}

                        active.command("go")
                        try:
                            options = {"expect_changes": True} if side == "writes" else {}
                            result = rdds.run_load(kind, label, server, sargs, client_cpu, options, sample_both)
                        finally:
                            active.command("pause")
                        done = result["sampled"]
                        result["write_rate"] = done["changes"] / args.duration
                        result["write_errors"] = done["errors"]
                        result["writer_cpu"] = done["cpu_s"] / args.duration
                    else:
                        result = rdds.run_load(kind, label, server, sargs, client_cpu, sample=sample_pg)
                    add_costs(result, args.duration)
                    result.update(run=f"{side} {round_no}", side=side, round=round_no)
                    runs[side] = result
                runs["real"]["ratio"] = runs["real"]["rate"] / runs["baseline"]["rate"]
                runs["control"]["ratio"] = runs["control"]["rate"] / runs["real"]["rate"]
                runs["writes"]["ratio"] = runs["writes"]["rate"] / runs["real"]["rate"]
                runs["writes"]["vs_control"] = runs["writes"]["rate"] / runs["control"]["rate"]
                group = [runs["baseline"], runs["real"], runs["control"], runs["writes"]]
                rows += group
                rdds.print_rows(group, header=True)
                for side in ("control", "writes"):
                    w = runs[side]
                    note(
                        f"  {side}: {w['write_rate']:.1f} changes/s achieved (target {args.write_rate:g}), errors "
                        f"{w['write_errors']}, writer CPU {w['writer_cpu']:.0%}; cache {w.get('cache_note', '-')}"
                    )
                note(f"  writes / control: {runs['writes']['vs_control']:.2f}x")
        peak_rss = {kind: server.peak_rss_mb() for kind, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
        writer.stop()
        control.stop()
        drop_database(control_url)

    print(
        f"\nwrites: {n:,} domains, {qinfo['total']:,}-name query set ({args.clients} clients, {args.duration:g} s "
        f"windows, {args.rounds} rounds of fixed baseline / real / real with {args.write_rate:g} writes/s; "
        "real/base = real vs fixed baseline, writes vs real without writes)"
    )
    rdds.print_rows(rows, header=True)
    print(
        "  write rate achieved: "
        + ", ".join(
            f"{r['kind']} {r['run']} {r['write_rate']:.1f}/s ({r['write_errors']} errors)"
            for r in rows
            if r["side"] in ("control", "writes")
        )
    )
    print_costs(rows)
    print(
        "  warm-up (until every name was asked twice): "
        + ", ".join(f"{r['kind']} {r['run']} {r['warmup_s']:.0f} s" for r in rows)
    )
    print(f"  server peak RSS: baseline {peak_rss['baseline']:.0f} MB, real daemon {peak_rss['real']:.0f} MB")
    summary = {}
    for kind in kinds:
        with_writes = median_ratio(rows, kind, "writes")
        cached = median_ratio(rows, kind, "real")
        control_ratio = median_ratio(rows, kind, "control")
        vs_control = [r["vs_control"] for r in rows if r["kind"] == kind and r["side"] == "writes"]
        summary[kind] = {"writes": with_writes, "cached": cached, "control": control_ratio, "vs_control": vs_control}
        print_summary_line(f"writes {kind.upper()}", with_writes, "of the real daemon without writes")
        print_summary_line(f"control {kind.upper()}", control_ratio, "(writes to a database it does not follow)")
        print(
            f"  writes / control {kind.upper()}: median {statistics.median(vs_control):.2f}x "
            f"(rounds: {', '.join(f'{v:.2f}x' for v in vs_control)}): the daemon's own cost of following the changes"
        )
        print_summary_line(f"cached {kind.upper()}", cached, "fixed-answer baseline (bench_rdds)")
        check_target(missed, f"writes {kind}", with_writes, MIN_WRITES_RATIO)
        check_target(missed, f"cached {kind}", cached, MIN_CACHED_RATIO[kind])
        rates = [r["write_rate"] for r in rows if r["kind"] == kind and r["side"] in ("control", "writes")]
        if min(rates) < 0.9 * args.write_rate:
            missed.append(f"writes {kind}: the writer achieved only {min(rates):.1f} of {args.write_rate:g} changes/s")
    save(args, "writes", {"rows": rows, "summary": summary, "peak_rss": peak_rss})


def child_writer(argv: list[str]) -> int:
    """Changes to domains outside the query set through the audited services, paced at --rate per second."""
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--queries-file", type=Path, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--cpu", type=int, help="pin the writer and its PostgreSQL backends to this CPU")
    args = p.parse_args(argv)
    import psycopg

    from domainpriv.audit import Actor
    from domainpriv.registration import services
    from domainpriv.registration.validation import validate_contact
    from domainpriv.store import UnitOfWork, make_engine
    from domainpriv.vocabulary import ConsentPurpose, PrivacyMode

    queried = {a_label(n) for n in json.loads(args.queries_file.read_text(encoding="utf-8"))["names"]}
    with psycopg.connect(libpq_dsn(args.url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT d.name, d.registrant_id, d.admin_id, d.tech_id, d.billing_id, r.handle, t.handle"
            " FROM domain d JOIN contact r ON r.id = d.registrant_id LEFT JOIN contact t ON t.id = d.tech_id"
        ).fetchall()
    used_by_queried = {cid for row in rows if row[0] in queried for cid in row[1:5] if cid is not None}
    others = [row for row in rows if row[0] not in queried]
    domains = [row[0] for row in others]
    original_tech = {row[0]: row[6] for row in others}
    contact_domain: dict[str, str] = {}  # a registrant contact no queried domain uses -> a domain using it
    for row in others:
        if row[1] not in used_by_queried:
            contact_domain.setdefault(row[5], row[0])
    contacts = sorted(contact_domain)
    del rows, others
    engine = make_engine(args.url)  # one UnitOfWork per thread: a unit of work holds its session
    if args.cpu is not None:
        # The writes stand for the portal and other daemons, which run elsewhere in production: on the load
        # client's CPU (with their PostgreSQL backends), so that the ratio measures what the writes cost the
        # daemon under test (invalidation, feed polls), not CPU they take from it on a 2-core machine.
        from sqlalchemy import event

        os.sched_setaffinity(0, {args.cpu})

        @event.listens_for(engine, "connect")
        def _pin_backend(dbapi_conn: Any, _record: Any) -> None:
            backend = dbapi_conn.info.backend_pid
            with contextlib.suppress(OSError):  # not our process to pin (a remote server): leave it
                os.sched_setaffinity(backend, {args.cpu})

    actor = Actor("cli", "bench-writer")
    reason = "bench_scale writer"

    # The writer's own reads are not what is measured: each domain's record is read once, then kept up to date
    # from what the services return (a change returns the new record). The changes go to a fixed random sample
    # of the other domains, so that after the first minute the writer spends its CPU on the changes alone.
    sample_rng = random.Random(f"bench_scale:writer-sample:{args.seed}")
    domains = sample_rng.sample(domains, min(len(domains), 5000))
    known: dict[str, Any] = {}
    known_contacts: dict[str, Any] = {}
    known_lock = threading.Lock()

    def current(uow: UnitOfWork, name: str) -> Any:
        with known_lock:
            record = known.get(name)
        if record is None:
            record = services.get_domain(uow, name=name)
            with known_lock:
                known[name] = record
        return record

    def remember(record: Any) -> None:
        with known_lock:
            known[record.name] = record

    @contextlib.contextmanager
    def exclusively(*keys: str) -> Iterator[bool]:
        """True (and the keys held) unless another writer thread holds one of them."""
        with known_lock:
            mine = in_flight.isdisjoint(keys)
            if mine:
                in_flight.update(keys)
        try:
            yield mine
        finally:
            if mine:
                with known_lock:
                    in_flight.difference_update(keys)

    def privacy(rng: random.Random, uow: UnitOfWork) -> None:
        name = rng.choice(domains)
        with exclusively(name) as mine:
            if not mine:  # another thread is changing it: skip this turn
                return
            record = current(uow, name)
            modes = [PrivacyMode.PROXY, PrivacyMode.REDACTED]
            if ConsentPurpose.PUBLISH_CONTACT_DATA in record.consents:
                modes.append(PrivacyMode.PUBLIC)
            new = rng.choice([m for m in modes if m is not record.privacy_mode])
            remember(services.set_privacy_mode(uow, actor=actor, domain=name, mode=new, reason=reason))

    def nameservers(rng: random.Random, uow: UnitOfWork) -> None:
        name = rng.choice(domains)
        with exclusively(name) as mine:
            if not mine:  # another thread is changing it: skip this turn
                return
            record = current(uow, name)
            ns = [(n.host, list(n.addresses)) for n in record.nameservers]
            ns = ns[1:] + ns[:1] if len(ns) > 1 else [*ns, ("ns9.registrar-dns.example", [])]  # a real change
            remember(services.set_nameservers(uow, actor=actor, domain=name, nameservers=ns, reason=reason))

    def contact(rng: random.Random, uow: UnitOfWork) -> None:
        handle = rng.choice(contacts)
        name = contact_domain[handle]
        with exclusively(name, handle) as mine:
            if not mine:
                return
            with known_lock:
                current_contact = known_contacts.get(handle)
            if current_contact is None:
                current_contact = current(uow, name).contacts["registrant"]
            assert current_contact is not None and current_contact.handle == handle
            data = current_contact.data.to_json()
            if data["phone"] is not None:  # toggle a fax number (the phone's), else a third street line
                data["fax"], data["fax_ext"] = (data["phone"], None) if data["fax"] is None else (None, None)
            elif len(data["street"]) < 3:
                data["street"] = [*data["street"], "c/o Bench Writer"]
            else:
                data["street"] = data["street"][:2]
            after = services.update_contact(uow, actor=actor, handle=handle, data=validate_contact(data),
                                            reason=reason)  # fmt: skip
            with known_lock:  # this writer is the contact's only writer (no queried domain uses it)
                known_contacts[handle] = after
                if (record := known.get(name)) is not None:
                    roles = {r: after if c and c.handle == handle else c for r, c in record.contacts.items()}
                    known[name] = dataclasses.replace(record, contacts=roles)

    def tech(rng: random.Random, uow: UnitOfWork) -> None:
        name = rng.choice(domains)
        with exclusively(name) as mine:
            if not mine:  # another thread is changing it: skip this turn
                return
            record = current(uow, name)
            registrant = record.contacts["registrant"]
            tech_now = record.contacts["tech"]
            assert registrant is not None
            if tech_now is None or tech_now.handle != registrant.handle:
                new: str | None = registrant.handle
            else:
                new = original_tech[name] if original_tech[name] != registrant.handle else None
            remember(services.set_domain_contact(uow, actor=actor, domain=name, role="tech", contact=new,
                                                 reason=reason))  # fmt: skip

    in_flight: set[str] = set()
    sampled = set(domains)
    contacts = [h for h in contacts if contact_domain[h] in sampled] or contacts

    changes = (privacy, nameservers, contact, tech)
    counts = {"changes": 0, "errors": 0, "lagging": 0, **{f.__name__: 0 for f in changes}}
    writing = threading.Event()
    stop = threading.Event()
    lock = threading.Lock()

    schedule = {"next": 0.0, "i": 0}

    def next_slot() -> tuple[float, int]:
        """The next change's due time and number: one schedule for all threads, at --rate per second. More
        than a second behind, it skips ahead instead of bursting to catch up (counted as `lagging`)."""
        with lock:
            now = time.perf_counter()
            if now - schedule["next"] > 1.0:
                if schedule["i"]:
                    counts["lagging"] += 1
                schedule["next"] = now
            due, i = schedule["next"], schedule["i"]
            schedule["next"] += 1.0 / args.rate
            schedule["i"] += 1
            return due, i

    def loop(thread_no: int) -> None:
        rng = random.Random(f"bench_scale:writer:{args.seed}:{thread_no}")
        uow = UnitOfWork(engine)
        while not stop.is_set():
            if not writing.wait(0.1):
                continue
            due, i = next_slot()
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            change = changes[i % len(changes)]
            try:
                change(rng, uow)
                with lock:
                    counts["changes"] += 1
                    counts[change.__name__] += 1
            except Exception as exc:  # counted and shown; the run goes on
                with lock:
                    counts["errors"] += 1
                print(f"writer: {change.__name__}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    # Read every sampled record once before the first change, so that the measured windows hold the changes and
    # nothing else (10-second windows never reach the point where the records read on first use are all known).
    preload = UnitOfWork(engine)
    for name in domains:
        current(preload, name)
    threads = [threading.Thread(target=loop, args=(t,), name=f"writer-{t}", daemon=True) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    print(
        f"READY {len(domains):,} domains and {len(contacts):,} contacts outside the query set "
        f"({len(queried):,} names, {len(used_by_queried):,} contacts excluded), {args.rate:g} changes/s",
        flush=True,
    )
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "go":
            writing.set()
        elif cmd == "pause":
            writing.clear()
        if cmd in ("go", "pause", "count"):
            with lock:
                print(json.dumps(counts), flush=True)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    return 0


# -- scenario: growth ------------------------------------------------------------------------------------------


def page_cache_report(url: str) -> dict[str, Any]:
    """Database size against shared_buffers, and how much of the relations' files is in the OS page cache
    (fincore on the files; needs read access to the data directory, else reported as unknown)."""
    sizes = database_sizes(url)
    resident = total = 0
    known = True
    try:
        out = subprocess.run(
            ["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE", *relation_files(url)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        for line in out.splitlines():
            res, size = line.split()
            resident += int(res)
            total += int(size)
    except (OSError, subprocess.CalledProcessError, ValueError):
        known = False
    db, sb = sizes["database_bytes"], sizes["shared_buffers_bytes"]
    share = resident / total if known and total else None
    summary = (
        f"{db / 1e9:.2f} GB ({db / sb:.{1 if db < 10 * sb else 0}f}x shared_buffers of {sb / 2**20:.0f} MB); "
        + (f"{share:.0%} of its table and index files in the OS page cache" if share is not None else
           "OS page cache residency unknown (no access to the data directory)")
    )  # fmt: skip
    return {"database_bytes": db, "shared_buffers_bytes": sb, "page_cache_share": share, "summary": summary}


def relation_files(url: str) -> list[str]:
    """The files (1 GB segments included) of the database's tables, indexes and TOAST relations."""
    import psycopg

    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
        paths = [
            r[0]
            for r in conn.execute(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't')"
                " AND pg_relation_filepath(c.oid) IS NOT NULL AND c.relfilenode <> 0"
            )
        ]
    files: list[str] = []
    for rel in paths:
        base = os.path.join(data_dir, rel)
        if not os.path.exists(base):
            continue
        files.append(base)
        seg = 1
        while os.path.exists(f"{base}.{seg}"):
            files.append(f"{base}.{seg}")
            seg += 1
    return files


def evict_os_cache(url: str) -> None:
    """Ask the kernel to drop the database's file pages from its cache (POSIX_FADV_DONTNEED: clean pages only,
    nothing is written or lost; PostgreSQL's own shared_buffers keep what they hold)."""
    for path in relation_files(url):
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def growth_names(n: int, count: int, seed: int) -> list[str]:
    """`count` distinct names of the n-domain demo database, uniform over it, from the generator itself (no
    database read, so choosing them warms no page), in a random order."""
    from domainpriv import demo
    from domainpriv.registration.validation import normalize_domain_name

    shape = demo.DemoShape.for_domains(n)
    rng = random.Random(f"bench_scale:growth:{seed}:{n}")
    picks = rng.sample(range(n), min(count, n))
    return [normalize_domain_name(demo._domain(shape, seed, d)["name"], "name") for d in picks]


def percentile(values: list[float], p: float) -> float:
    from loadgen import percentile as nearest_rank

    return float(nearest_rank(sorted(values), p))


def scenario_growth(args: argparse.Namespace, missed: list[str]) -> None:
    from load_scale import count_domains

    from domainpriv.config import load_settings
    from domainpriv.rdds import DatabaseSource, publication_policy
    from domainpriv.store import UnitOfWork, make_engine

    results: list[dict[str, Any]] = []
    for size_text in args.growth_sizes:
        n = parse_size(size_text)
        url = scale_url(args.url_template, n)
        if count_domains(url) != n:
            note(f"growth: {url.rsplit('/', 1)[1]} does not hold {n:,} domains (yet): skipped")
            continue
        if args.evict_os_cache:
            evict_os_cache(url)
        cache_state = page_cache_report(url)
        names = growth_names(n, args.growth_names + args.growth_warmup, args.seed)
        warm, names = names[: args.growth_warmup], names[args.growth_warmup :]
        settings = load_settings(environ=rdds.bench_environ(url))
        engine = make_engine(url)  # as the daemon of this code makes its engine, if it has no make_read_engine
        with contextlib.suppress(ImportError):
            from domainpriv.daemon import LOOKUP_THREADS
            from domainpriv.store import make_read_engine

            engine.dispose()
            engine = make_read_engine(settings.database.url, pool_size=LOOKUP_THREADS)
        source = DatabaseSource(UnitOfWork(engine), publication_policy(settings), cache=None)
        conn = raw_connect(url)
        real: list[float] = []
        raw: list[float] = []
        perf = time.perf_counter
        try:
            for name in warm:  # connections, prepared statements, the ORM's compiled queries; not measured
                source.lookup(name)
                raw_lookup(conn, name)
            note(f"growth {size_label(n)}: {len(names):,} names, {cache_state['summary']}")
            for i, name in enumerate(names):
                for side in ("real", "raw") if i % 2 == 0 else ("raw", "real"):
                    t = perf()
                    if side == "real":
                        found = source.lookup(name) is not None
                        real.append(perf() - t)
                    else:
                        found = raw_lookup(conn, name)
                        raw.append(perf() - t)
                    if not found:
                        missed.append(f"growth {size_label(n)}: {name} not found by the {side} lookup")
        finally:
            conn.close()
            engine.dispose()
        row = {
            "size": n,
            "names": len(names),
            "real_p50_ms": statistics.median(real) * 1000,
            "real_p99_ms": percentile(real, 99) * 1000,
            "raw_p50_ms": statistics.median(raw) * 1000,
            "raw_p99_ms": percentile(raw, 99) * 1000,
            "page_cache": cache_state,
        }
        row["ratio"] = row["real_p50_ms"] / row["raw_p50_ms"]
        results.append(row)
        note(
            f"  real p50 {row['real_p50_ms']:.2f} ms p99 {row['real_p99_ms']:.2f} ms; raw p50 {row['raw_p50_ms']:.2f}"
            f" ms p99 {row['raw_p99_ms']:.2f} ms; real/raw {row['ratio']:.2f}x"
        )
    if not results:
        return
    first = results[0]
    cache_note = "OS page cache evicted first" if args.evict_os_cache else "OS page cache as found"
    print(
        f"\ngrowth: the uncached lookup, single thread, each name once per side ({cache_note}); vs = against the "
        f"{size_label(first['size'])} figure"
    )
    line = "{:>11} {:>7} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>9} {:>10} {:>11}"
    print(line.format("domains", "names", "real p50", "real p99", "real vs", "raw p50", "raw p99", "raw vs",
                      "real/raw", "DB GB", "page cache"))  # fmt: skip
    for r in results:
        share = r["page_cache"]["page_cache_share"]
        print(
            line.format(
                f"{r['size']:,}",
                f"{r['names']:,}",
                f"{r['real_p50_ms']:.2f}",
                f"{r['real_p99_ms']:.2f}",
                f"{r['real_p50_ms'] / first['real_p50_ms']:.2f}x",
                f"{r['raw_p50_ms']:.2f}",
                f"{r['raw_p99_ms']:.2f}",
                f"{r['raw_p50_ms'] / first['raw_p50_ms']:.2f}x",
                f"{r['ratio']:.2f}x",
                f"{r['page_cache']['database_bytes'] / 1e9:.2f}",
                f"{share:.0%}" if share is not None else "?",
            )
        )
    print("  (latencies in ms; shared_buffers " + f"{first['page_cache']['shared_buffers_bytes'] / 2**20:.0f} MB)")
    save(args, "growth", {"rows": results, "evicted": args.evict_os_cache})


# -- driver ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from domainpriv.daemon import LOOKUP_THREADS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="uncached|writes|growth", help="default: all three")
    p.add_argument("--only", choices=("whois", "rdap", "both"), default="both", help="protocols (uncached, writes)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per protocol")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each run (at least)")
    p.add_argument("--max-warmup", type=float, default=120.0, help="writes: warm-up ends after this even if cold")
    p.add_argument("--clients", type=int, default=64, help="queries in flight (connections)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--unknown", type=float, default=0.05, help="share of names that do not exist, added")
    p.add_argument("--uncached-size", default="1m", help="uncached: domains of its database")
    p.add_argument("--expected-rate", type=float, default=4000.0,
                   help="uncached: answers/s the faster side may reach; sizes each run's slice of names")  # fmt: skip
    p.add_argument("--raw-mode", choices=("async", "threads"), default="threads",
                   help="uncached baseline: psycopg async connections on the loop, or a thread pool")  # fmt: skip
    p.add_argument("--pool", type=int, default=LOOKUP_THREADS, help="uncached baseline: connections")
    p.add_argument("--writes-size", default="100k", help="writes: domains of its database")
    p.add_argument("--queries", type=int, default=10_000, help="writes: names of the query set (bench_rdds)")
    p.add_argument("--write-rate", type=float, default=50.0, help="writes: changes per second")
    p.add_argument("--writer-threads", type=int, default=8, help="writes: changes in flight at most")
    p.add_argument("--growth-sizes", nargs="+", default=["100k", "1m", "10m"], help="growth: database sizes")
    p.add_argument("--growth-names", type=int, default=3000, help="growth: names looked up per size")
    p.add_argument("--growth-warmup", type=int, default=100, help="growth: unmeasured lookups first (other names)")
    p.add_argument("--evict-os-cache", action="store_true", help="growth: drop the database's pages from the OS "
                   "page cache before each size (root; PostgreSQL's shared_buffers are left as they are)")  # fmt: skip
    p.add_argument("--server-log-level", choices=("info", "warning", "off"), default="info")
    p.add_argument("--no-pin", action="store_true", help="do not pin server and client to CPUs 0 and 1")
    p.add_argument(
        "--url-template",
        default=os.environ.get("DOMAINPRIV_BENCH_SCALE_URL_TEMPLATE", DEFAULT_URL_TEMPLATE),
        help="database URL, {size} replaced by 100k, 1m, 10m (bench/load_scale.py's)",
    )
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="query files, fixed answers, logs")
    p.add_argument("--tag", default="", help="suffix of the saved results-<scenario>-<tag>.json (e.g. before)")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed or an answer is wrong")
    args = p.parse_args(argv)
    scenarios = args.scenarios or list(SCENARIOS)
    if unknown := set(scenarios) - set(SCENARIOS):
        p.error(f"unknown scenario {', '.join(sorted(unknown))} (choose from {', '.join(SCENARIOS)})")
    kinds = ["whois", "rdap"] if args.only == "both" else [args.only]
    args.workdir.mkdir(parents=True, exist_ok=True)
    import domainpriv

    note(
        f"bench_scale: {', '.join(scenarios)}; {args.clients} clients, {args.duration:g} s per run, {args.rounds} "
        f"rounds; python {sys.version.split()[0]}, {os.cpu_count()} CPUs; code under test "
        f"{Path(domainpriv.__file__).parent.parent}"
    )
    missed: list[str] = []
    if "uncached" in scenarios:
        scenario_uncached(args, kinds, missed)
    if "writes" in scenarios:
        scenario_writes(args, kinds, missed)
    if "growth" in scenarios:
        scenario_growth(args, missed)
    for m in missed:
        print(f"TARGET MISSED: {m}")
    return 1 if missed and args.check else 0


def child_main(argv: list[str]) -> int:
    if argv[0] == "writer":
        return child_writer(argv[1:])
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("server",))
    p.add_argument("kind", choices=("baseline", "real", "raw"))
    p.add_argument("--url", required=True)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--cpu", type=int)
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    return rdds.child_server(args.kind, args.url, args.workdir, args.cpu, args.log_level, serve_raw)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())

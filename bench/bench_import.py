"""Benchmark: bulk import of N demo domains into PostgreSQL and SQLite, against a raw-insert baseline.

    python bench/bench_import.py [--domains 1000000] [--backend both|sqlite|postgresql] [--check]

Per backend, on a fresh empty schema (`domainpriv.store.migrate.upgrade`):

* import   -- `domainpriv.transfer.import_registrations` reading the JSON-lines file, in a child process;
* baseline -- the very same rows (dumped from the import's tables, outside the timed section) written raw in
              one transaction: PostgreSQL `COPY ... FROM STDIN`, SQLite `executemany` with the app's PRAGMAs,
              in a child process too.

Each child is a fresh interpreter and reports its wall time and its peak RSS (VmHWM from /proc/self/status,
which includes the interpreter and the imported libraries). The figure that matters is the ratio
import / baseline, both measured in this run.
Targets (issue): ratio <= 3, peak RSS of the import < 300 MB; `--check` makes a miss exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The domainpriv package under test: this checkout, or the tree named by BENCH_DOMAINPRIV_CODE (e.g. a
# `git archive` snapshot of a commit, to measure it while the checkout is being edited).
ROOT = Path(os.environ.get("BENCH_DOMAINPRIV_CODE") or Path(__file__).resolve().parent.parent)
if str(ROOT) not in sys.path:  # runnable as `python bench/bench_import.py` from a checkout
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/domainpriv_bench"
DEFAULT_WORKDIR = Path("/tmp/domainpriv-bench")
MAX_RATIO = 3.0
MAX_RSS_MB = 300.0

# Same tables and column order as domainpriv.transfer.importer (FK order: every row points to earlier tables).
from domainpriv.transfer.importer import TABLES  # noqa: E402

# -- progress --------------------------------------------------------------------------------------------------


class Progress:
    """A rich progress bar on a terminal, a line every ~10 s or 10 % otherwise (CI logs, pipes)."""

    def __init__(self, label: str, total: int, unit: str = "B") -> None:
        self.label, self.total, self.unit = label, max(total, 1), unit
        self.done = 0
        self._rich: Any = None
        self._last_t = time.monotonic()
        self._last_pct = -10
        self._t0 = time.monotonic()

    def __enter__(self) -> Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            amount = DownloadColumn() if self.unit == "B" else MofNCompleteColumn()
            self._rich = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                amount,
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._rich.__enter__()
            self._task = self._rich.add_task(self.label, total=self.total)
        else:
            print(f"  {self.label} ...", file=sys.stderr, flush=True)
        return self

    def advance(self, n: int) -> None:
        self.done += n
        if self._rich is not None:
            self._rich.update(self._task, completed=self.done)
            return
        pct = int(100 * self.done / self.total)
        now = time.monotonic()
        if pct >= self._last_pct + 10 or now - self._last_t >= 10:
            self._last_pct, self._last_t = pct - pct % 10, now
            print(f"  {self.label}: {pct:3d}%  ({now - self._t0:6.1f} s)", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.update(self._task, completed=self.total if exc[0] is None else self.done)
            self._rich.__exit__(*exc)
        elif exc[0] is None:
            print(f"  {self.label}: done ({time.monotonic() - self._t0:.1f} s)", file=sys.stderr, flush=True)


def note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- input -----------------------------------------------------------------------------------------------------


def generate(domains: int, seed: int, workdir: Path) -> Path:
    """Write demo_records(domains, seed) as JSON lines once; later runs reuse the file (it is deterministic)."""
    import orjson

    from domainpriv.demo import DemoShape, demo_records

    path = workdir / f"demo-{domains}-seed{seed}.jsonl"
    marker = path.with_suffix(".done")
    if path.exists() and marker.exists() and marker.read_text().strip() == str(path.stat().st_size):
        note(f"input: reusing {path} ({path.stat().st_size / 1e6:.0f} MB)")
        return path
    shape = DemoShape.for_domains(domains)
    approx_lines = domains + shape.customers * 3
    tmp = path.with_suffix(".partial")
    with Progress(f"generate {domains:,} domains", approx_lines, unit="lines") as bar, tmp.open("wb") as out:
        buf: list[bytes] = []
        for record in demo_records(domains, seed):
            buf.append(orjson.dumps(record))
            if len(buf) == 5000:
                out.write(b"\n".join(buf) + b"\n")
                bar.advance(len(buf))
                buf.clear()
        if buf:
            out.write(b"\n".join(buf) + b"\n")
            bar.advance(len(buf))
    tmp.replace(path)
    marker.write_text(str(path.stat().st_size))
    return path


# -- databases -------------------------------------------------------------------------------------------------


def _reset(backend: str, url: str) -> None:
    """An empty database with the app's schema. PostgreSQL: the bench database's public schema is recreated."""
    from sqlalchemy import make_url, text

    from domainpriv.store.migrate import upgrade
    from domainpriv.store.session import make_engine

    parsed = make_url(url)
    if backend == "sqlite":
        assert parsed.database
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    else:
        if "bench" not in (parsed.database or ""):
            raise SystemExit(f"refusing to wipe database {parsed.database!r}: its name must contain 'bench'")
    engine = make_engine(url)
    try:
        if backend == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
    finally:
        engine.dispose()


def _count_rows(url: str) -> dict[str, int]:
    from sqlalchemy import text

    from domainpriv.store.session import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t, _ in TABLES}
    finally:
        engine.dispose()


def _dump_postgresql(url: str, rowdir: Path) -> dict[str, int]:
    """COPY every table out (text format, id order) into rowdir/<table>.copy: the baseline's input."""
    import psycopg
    from sqlalchemy import make_url

    rowdir.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for table, columns in TABLES:
            with (
                (rowdir / f"{table}.copy").open("wb") as out,
                cur.copy(f"COPY (SELECT {', '.join(columns)} FROM {table} ORDER BY id) TO STDOUT") as copy,
            ):
                for block in copy:
                    out.write(block)
            sizes[table] = (rowdir / f"{table}.copy").stat().st_size
    return sizes


# -- child processes (measured) --------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child_import(args: argparse.Namespace) -> dict[str, Any]:
    from domainpriv.audit import Actor
    from domainpriv.store.session import UnitOfWork, make_engine
    from domainpriv.transfer import import_registrations

    engine = make_engine(args.url)
    size = Path(args.file).stat().st_size
    with Progress(f"import  [{args.backend}]", size) as bar, open(args.file, "rb") as lines:
        t0 = time.perf_counter()
        stats = import_registrations(
            UnitOfWork(engine),
            actor=Actor("cli", "bench"),
            lines=lines,
            reason="bench",
            source_name=Path(args.file).name,
            progress=bar.advance,
        )
        seconds = time.perf_counter() - t0
    engine.dispose()
    rows = stats.accounts + stats.consents + stats.contacts + stats.domains + stats.nameservers
    return {
        "seconds": seconds,
        "rows": rows,
        "lines": stats.lines,
        "peak_rss_mb": _peak_rss_mb(),
        "tables": {
            "account": stats.accounts,
            "consent": stats.consents,
            "contact": stats.contacts,
            "domain": stats.domains,
            "nameserver": stats.nameservers,
        },
    }


def child_baseline_postgresql(args: argparse.Namespace) -> dict[str, Any]:
    """COPY FROM STDIN of the dumped rows, all tables in one transaction. Reading the pre-made COPY text from
    the (page-cached) file is inside the timed loop, as the import's reading of its file is."""
    import psycopg
    from sqlalchemy import make_url

    rowdir = Path(args.rowdir)
    dsn = make_url(args.url).set(drivername="postgresql").render_as_string(hide_password=False)
    total = sum((rowdir / f"{t}.copy").stat().st_size for t, _ in TABLES)
    seconds = 0.0
    with psycopg.connect(dsn) as conn, Progress("baseline [postgresql COPY]", total) as bar:
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for table, columns in TABLES:
                with (
                    (rowdir / f"{table}.copy").open("rb") as src,
                    cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
                ):
                    while chunk := src.read(1 << 20):
                        copy.write(chunk)
                        bar.advance(len(chunk))
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def child_baseline_sqlite(args: argparse.Namespace) -> dict[str, Any]:
    """executemany of the import's own rows (read back as tuples from the import's database file, outside the
    timer, one table at a time), all tables in one BEGIN IMMEDIATE transaction on a make_engine connection, so
    foreign_keys=ON, WAL and synchronous=NORMAL apply exactly as in the app."""
    import sqlite3

    from domainpriv.store.session import make_engine

    source = sqlite3.connect(f"file:{args.source}?mode=ro", uri=True)
    counts = {t: source.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t, _ in TABLES}
    engine = make_engine(args.url)
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    assert isinstance(dbapi, sqlite3.Connection)
    seconds = 0.0
    with Progress("baseline [sqlite executemany]", sum(counts.values()), unit="rows") as bar:
        t = time.perf_counter()
        dbapi.execute("BEGIN IMMEDIATE")
        seconds += time.perf_counter() - t
        for table, columns in TABLES:
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()  # untimed
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            t = time.perf_counter()
            dbapi.executemany(sql, rows)
            seconds += time.perf_counter() - t
            bar.advance(len(rows))
            del rows
        t = time.perf_counter()
        dbapi.execute("COMMIT")
        seconds += time.perf_counter() - t
    raw.close()
    engine.dispose()
    source.close()
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def run_child(*child_args: str) -> dict[str, Any]:
    """Run this script as a fresh interpreter; returns its JSON result (timings and its own VmHWM).

    The child's VmHWM is used, not getrusage(RUSAGE_CHILDREN): Linux carries the forking parent's high-water
    mark over exec into ru_maxrss, so that figure is never below the parent's size."""
    proc = subprocess.run([sys.executable, __file__, "--child", *child_args], stdout=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {child_args[0]} failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return result


# -- driver ----------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    backend: str
    rows: int
    import_s: float
    import_rss: float
    baseline_s: float
    baseline_rss: float

    @property
    def ratio(self) -> float:
        return self.import_s / self.baseline_s


def bench_backend(backend: str, args: argparse.Namespace, data: Path) -> Figures:
    workdir: Path = args.workdir
    if backend == "sqlite":
        import_url = f"sqlite:///{workdir / 'import.db'}"
        baseline_url = f"sqlite:///{workdir / 'baseline.db'}"
    else:
        import_url = baseline_url = args.pg_url
    note(f"\n== {backend} ==")

    _reset(backend, import_url)
    imp = run_child("import", "--backend", backend, "--url", import_url, "--file", str(data))
    stored = _count_rows(import_url)
    if stored != imp["tables"]:
        raise SystemExit(f"{backend}: import reported {imp['tables']} but the tables hold {stored}")

    if backend == "postgresql":
        rowdir = workdir / "pg-rows"
        note("  dumping the imported rows for the baseline (COPY TO, untimed) ...")
        _dump_postgresql(import_url, rowdir)
        _reset(backend, baseline_url)
        base = run_child("baseline-postgresql", "--url", baseline_url, "--rowdir", str(rowdir))
    else:
        _reset(backend, baseline_url)
        base = run_child("baseline-sqlite", "--url", baseline_url, "--source", str(workdir / "import.db"))
    if _count_rows(baseline_url) != stored:
        raise SystemExit(f"{backend}: the baseline wrote other row counts than the import")

    figures = Figures(backend, imp["rows"], imp["seconds"], imp["peak_rss_mb"], base["seconds"], base["peak_rss_mb"])
    print_figures([figures], header=True)
    if not args.keep:
        _cleanup(backend, args, import_url, baseline_url)
    return figures


def _cleanup(backend: str, args: argparse.Namespace, *urls: str) -> None:
    if backend == "sqlite":
        for name in ("import.db", "baseline.db"):
            for suffix in ("", "-wal", "-shm"):
                (args.workdir / f"{name}{suffix}").unlink(missing_ok=True)
    else:
        for f in (args.workdir / "pg-rows").glob("*.copy"):
            f.unlink()


def print_figures(rows: list[Figures], header: bool) -> None:
    line = "{:<11} {:<9} {:>10} {:>9} {:>11} {:>14} {:>14}"
    if header:
        print(line.format("backend", "run", "rows", "seconds", "rows/s", "peak RSS MB", "import/base"))
    for f in rows:
        print(
            line.format(
                f.backend,
                "baseline",
                f"{f.rows:,}",
                f"{f.baseline_s:.1f}",
                f"{f.rows / f.baseline_s:,.0f}",
                f"{f.baseline_rss:.0f}",
                "",
            )
        )
        print(
            line.format(
                f.backend,
                "import",
                f"{f.rows:,}",
                f"{f.import_s:.1f}",
                f"{f.rows / f.import_s:,.0f}",
                f"{f.import_rss:.0f}",
                f"{f.ratio:.2f}x",
            ),
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--domains", type=int, default=1_000_000)
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--pg-url",
        default=os.environ.get("DOMAINPRIV_BENCH_PG_URL", DEFAULT_PG_URL),
        help="a database of its own: its public schema is dropped (env DOMAINPRIV_BENCH_PG_URL)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path(os.environ.get("DOMAINPRIV_BENCH_DIR", DEFAULT_WORKDIR)),
        help="input file (kept for reuse), SQLite files, dumped rows",
    )
    p.add_argument("--keep", action="store_true", help="keep the databases' files and dumped rows")
    p.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 if import/baseline > {MAX_RATIO:g} or import peak RSS >= {MAX_RSS_MB:g} MB",
    )
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)

    note(f"bench_import: {args.domains:,} domains, backend {args.backend}, python {sys.version.split()[0]}")
    data = generate(args.domains, args.seed, args.workdir)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [bench_backend(b, args, data) for b in backends]

    print(
        f"\nsummary ({args.domains:,} domains; target: import/base <= {MAX_RATIO:g}x, "
        f"import peak RSS < {MAX_RSS_MB:g} MB)"
    )
    print_figures(results, header=True)
    missed = [f"{f.backend}: ratio {f.ratio:.2f}x > {MAX_RATIO:g}x" for f in results if f.ratio > MAX_RATIO]
    missed += [
        f"{f.backend}: import peak RSS {f.import_rss:.0f} MB >= {MAX_RSS_MB:g} MB"
        for f in results
        if f.import_rss >= MAX_RSS_MB
    ]
    for m in missed:
        print(f"TARGET MISSED: {m}")
    return 1 if missed and args.check else 0


def child_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=("import", "baseline-postgresql", "baseline-sqlite"))
    p.add_argument("--backend")
    p.add_argument("--url")
    p.add_argument("--file")
    p.add_argument("--rowdir")
    p.add_argument("--source")
    args = p.parse_args(argv)
    run = {
        "import": child_import,
        "baseline-postgresql": child_baseline_postgresql,
        "baseline-sqlite": child_baseline_sqlite,
    }[args.kind]
    result = run(args)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())

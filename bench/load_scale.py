"""Load the scale databases of the read-path benchmarks: N demo domains per PostgreSQL database, timed.

    nice -n 10 python bench/load_scale.py [--sizes 100k 1m 10m] [--seed 1]

Per size, into `domainpriv_bench_scale_<size>` (`--url-template`; the name must contain `bench`):

1. the database is created if missing; if it already holds exactly N domains it is left alone (idempotent);
   otherwise its `public` schema is dropped and recreated;
2. `domainpriv db upgrade` (the CLI, as an operator runs it);
3. the bulk importer, `domainpriv.transfer.import_registrations`, fed by a generator over
   `domainpriv.demo.demo_records(N, seed)` serialised with orjson, exactly as `domainpriv demo load` does (which
   caps at 2,000,000), in a child process: wall time, the share of it spent generating the input, peak RSS
   (the child's VmHWM: interpreter, generator and the importer's handle maps);
4. `VACUUM (ANALYZE)` (timed apart): a freshly copied table has no hint bits, no visibility map and no
   statistics; a production database long since has all three, so the benchmarks read a vacuumed one;
5. sizes: the database, each table with its indexes.

Results are merged into `<workdir>/load-results.json` (one entry per database) and printed as a table. A
thread watches the free space on the database's file system: under `--min-free-gb` the import is killed (its
transaction rolls back) and the script exits 1. `--nice` (default 10) is applied to this process, its children
and the PostgreSQL backends doing the work (when permitted), so that the machine stays usable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# The domainpriv package under test: this checkout, or the tree named by BENCH_DOMAINPRIV_CODE (e.g. a
# `git archive` snapshot of a commit, to measure it while the checkout is being edited).
ROOT = Path(os.environ.get("BENCH_DOMAINPRIV_CODE") or Path(__file__).resolve().parent.parent)
if str(ROOT) not in sys.path:  # runnable as `python bench/load_scale.py` from a checkout
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import Progress, _peak_rss_mb, note  # noqa: E402

DEFAULT_URL_TEMPLATE = "postgresql+psycopg://postgres@127.0.0.1:5432/domainpriv_bench_scale_{size}"
DEFAULT_WORKDIR = Path("/tmp/domainpriv-bench-scale")
PG_DATA_DIR = "/var/lib/postgresql"  # where the free space is watched (falls back to / if missing)


def parse_size(text: str) -> int:
    """`100k`, `1m`, `10M`, `250000` -> a number of domains."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if factor > 1 else t) * factor)


def size_label(n: int) -> str:
    """The suffix of a scale database's name: 100000 -> `100k`, 1000000 -> `1m`, 10000000 -> `10m`."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def scale_url(template: str, n: int) -> str:
    """The database of `n` domains; refuses a database whose name does not contain `bench`."""
    from sqlalchemy import make_url

    url = template.format(size=size_label(n))
    name = make_url(url).database or ""
    if "bench" not in name:
        raise SystemExit(f"refusing to use database {name!r}: its name must contain 'bench'")
    return url


def libpq_dsn(url: str) -> str:
    """A SQLAlchemy URL as a psycopg (libpq) connection string."""
    from sqlalchemy import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def renice_backend(conn: Any, niceness: int) -> None:
    """Lower the priority of the PostgreSQL backend serving `conn` (a psycopg connection); silently skipped when
    not permitted (the server is another user's unless this runs as root or as that user)."""
    if niceness <= 0:
        return
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    if not conn.autocommit:
        conn.rollback()  # leave no transaction open behind the pool's back
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, niceness)


def count_domains(url: str) -> int | None:
    """Domains in the database; None if it does not exist or has no schema yet."""
    import psycopg
    from sqlalchemy import make_url

    parsed = make_url(url)
    admin = libpq_dsn(str(parsed.set(database="postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone() is None:
            return None
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('public.domain')").fetchone()[0] is None:
            return None
        return int(conn.execute("SELECT count(*) FROM domain").fetchone()[0])


def database_sizes(url: str) -> dict[str, Any]:
    """Bytes of the database and of each table with its indexes and TOAST, plus the server's shared_buffers."""
    import psycopg

    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        db = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), c.reltuples::bigint"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC"
        ).fetchall()
        shared_buffers = conn.execute("SELECT pg_size_bytes(current_setting('shared_buffers'))").fetchone()[0]
    return {
        "database_bytes": db,
        "shared_buffers_bytes": int(shared_buffers),
        "tables": {name: {"total_bytes": int(t), "heap_bytes": int(h), "rows": int(r)} for name, t, h, r in rows},
    }


def reset_database(url: str) -> None:
    """Create the database if missing, and give it an empty `public` schema."""
    import psycopg
    from sqlalchemy import make_url

    parsed = make_url(url)
    assert "bench" in (parsed.database or "")
    with psycopg.connect(libpq_dsn(str(parsed.set(database="postgres"))), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone() is None:
            note(f"  creating database {parsed.database}")
            conn.execute(f'CREATE DATABASE "{parsed.database}"')
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def free_gb(path: str) -> float:
    return shutil.disk_usage(path if os.path.exists(path) else "/").free / 1e9


# -- the measured child ----------------------------------------------------------------------------------------


def child_import(url: str, domains: int, seed: int, niceness: int) -> dict[str, Any]:
    """Import demo_records(domains, seed) through the real importer, as `domainpriv demo load` does."""
    import orjson
    from sqlalchemy import event

    from domainpriv.audit import Actor
    from domainpriv.demo import demo_records
    from domainpriv.store.session import UnitOfWork, make_engine
    from domainpriv.transfer import import_registrations

    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _nice_backend(dbapi_conn: Any, _record: Any) -> None:
        renice_backend(dbapi_conn, niceness)

    generating = 0.0
    perf = time.perf_counter

    with Progress(f"import {size_label(domains)}", domains, unit="domains") as bar:

        def lines() -> Any:
            nonlocal generating
            records = demo_records(domains, seed)
            while True:
                t = perf()
                record = next(records, None)
                if record is None:
                    generating += perf() - t
                    return
                line = orjson.dumps(record)
                generating += perf() - t
                if record["type"] == "domain":
                    bar.advance(1)
                yield line

        t0 = perf()
        stats = import_registrations(
            UnitOfWork(engine),
            actor=Actor("cli", "bench"),
            lines=lines(),
            reason="bench load_scale",
            source_name=f"demo --domains {domains} --seed {seed}",
        )
        seconds = perf() - t0
    engine.dispose()
    return {
        "import_s": seconds,
        "generate_s": generating,
        "peak_rss_mb": _peak_rss_mb(),
        "rows": {
            "account": stats.accounts,
            "consent": stats.consents,
            "contact": stats.contacts,
            "domain": stats.domains,
            "nameserver": stats.nameservers,
        },
    }


def run_import_child(url: str, domains: int, seed: int, niceness: int, min_free_gb: float) -> dict[str, Any]:
    """The import in a fresh interpreter, watched: killed if free disk falls under `min_free_gb`; disk and
    database size logged every minute."""
    import psycopg

    cmd = [sys.executable, __file__, "--child", url, str(domains), str(seed), str(niceness)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    stop = threading.Event()
    killed: list[str] = []

    def watch() -> None:
        last_log = time.monotonic()
        while not stop.wait(5.0):
            free = free_gb(PG_DATA_DIR)
            if free < min_free_gb:
                killed.append(f"free disk {free:.1f} GB < {min_free_gb:g} GB")
                proc.kill()
                return
            if time.monotonic() - last_log >= 60:
                last_log = time.monotonic()
                try:
                    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
                        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
                    note(f"  [disk] free {free:.1f} GB, database {size / 1e9:.2f} GB")
                except psycopg.Error:
                    pass

    watcher = threading.Thread(target=watch, name="disk-watch", daemon=True)
    watcher.start()
    try:
        out, _ = proc.communicate()
    finally:
        stop.set()
        watcher.join()
    if killed:
        raise SystemExit(f"import of {domains:,} domains stopped: {killed[0]}")
    if proc.returncode != 0:
        raise SystemExit(f"import child failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


# -- driver ----------------------------------------------------------------------------------------------------


def load_one(url: str, domains: int, args: argparse.Namespace) -> dict[str, Any] | None:
    """Load one database unless it already holds exactly `domains`; returns the figures, or None if skipped."""
    import psycopg
    from sqlalchemy import make_url

    name = make_url(url).database
    existing = count_domains(url)
    if existing == domains:
        note(f"{name}: already holds {domains:,} domains; not reloaded")
        return None
    note(f"{name}: holds {existing if existing is not None else 'no'} domains; loading {domains:,} (seed {args.seed})")
    reset_database(url)
    own = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_BENCH_")}  # not config keys
    env = {**own, "DOMAINPRIV_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    upgrade = [sys.executable, "-m", "domainpriv", "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, stdout=sys.stderr, cwd=ROOT)  # -m: cwd first on sys.path
    upgrade_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    figures = run_import_child(url, domains, args.seed, args.nice, args.min_free_gb)
    figures["wall_s"] = time.perf_counter() - t0
    vacuum_s = None
    if not args.no_vacuum:
        note(f"  VACUUM (ANALYZE) {name} ...")
        t0 = time.perf_counter()
        with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
            renice_backend(conn, args.nice)
            conn.execute("VACUUM (ANALYZE)")
        vacuum_s = time.perf_counter() - t0
    sizes = database_sizes(url)
    return {
        "database": name,
        "domains": domains,
        "seed": args.seed,
        "upgrade_s": upgrade_s,
        "vacuum_analyze_s": vacuum_s,
        "free_disk_gb_after": free_gb(PG_DATA_DIR),
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        **figures,
        **sizes,
    }


def print_table(results: dict[str, dict[str, Any]]) -> None:
    line = "{:<32} {:>11} {:>9} {:>8} {:>9} {:>10} {:>9} {:>9} {:>11}"
    print(line.format("database", "domains", "import s", "gen s", "µs/dom", "peak RSS", "vacuum s", "DB GB",
                      "bytes/dom"))  # fmt: skip
    for r in sorted(results.values(), key=lambda r: r["domains"]):
        print(
            line.format(
                r["database"],
                f"{r['domains']:,}",
                f"{r['import_s']:.0f}",
                f"{r['generate_s']:.0f}",
                f"{r['import_s'] / r['domains'] * 1e6:.0f}",
                f"{r['peak_rss_mb']:,.0f} MB",
                f"{r['vacuum_analyze_s']:.0f}" if r.get("vacuum_analyze_s") is not None else "-",
                f"{r['database_bytes'] / 1e9:.2f}",
                f"{r['database_bytes'] / r['domains']:,.0f}",
            ),
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["100k", "1m", "10m"], help="domains per database (100k, 1m, ...)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--url-template",
        default=os.environ.get("DOMAINPRIV_BENCH_SCALE_URL_TEMPLATE", DEFAULT_URL_TEMPLATE),
        help="database URL, {size} replaced by 100k, 1m, ... (the name must contain 'bench')",
    )
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where load-results.json is kept")
    p.add_argument("--min-free-gb", type=float, default=20.0, help="stop the import when free disk falls under this")
    p.add_argument("--nice", type=int, default=10, help="niceness of this process, its children and PG backends")
    p.add_argument("--no-vacuum", action="store_true", help="skip VACUUM (ANALYZE) after each load")
    args = p.parse_args(argv)
    from sqlalchemy import make_url

    sizes = [parse_size(s) for s in args.sizes]
    urls = [scale_url(args.url_template, n) for n in sizes]  # refuses before anything is touched
    current = os.nice(0)
    if current < args.nice:
        os.nice(args.nice - current)
    args.workdir.mkdir(parents=True, exist_ok=True)
    results_path = args.workdir / "load-results.json"
    results: dict[str, dict[str, Any]] = json.loads(results_path.read_text()) if results_path.exists() else {}
    note(f"load_scale: sizes {', '.join(f'{n:,}' for n in sizes)}, seed {args.seed}, niceness {os.nice(0)}, "
         f"free disk {free_gb(PG_DATA_DIR):.1f} GB")  # fmt: skip
    for url, n in zip(urls, sizes, strict=True):
        figures = load_one(url, n, args)
        if figures is not None:
            results[figures["database"]] = figures
            results_path.write_text(json.dumps(results, indent=2))
            note(
                f"  {figures['database']}: import {figures['import_s']:.0f} s (generation {figures['generate_s']:.0f} s"
                f" of it), peak RSS {figures['peak_rss_mb']:,.0f} MB, database {figures['database_bytes'] / 1e9:.2f} GB"
            )
    names = {make_url(url).database for url in urls}
    print_table({name: r for name, r in results.items() if name in names})
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        url, domains, seed, niceness = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        result = child_import(url, domains, seed, niceness)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.exit(0)
    sys.exit(main())

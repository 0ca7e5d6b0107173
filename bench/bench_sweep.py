"""Benchmark: the cases' deadline sweep (issue 10) over many open cases, on PostgreSQL.

    python bench/bench_sweep.py [--open 100000] [--due 1000] [--rounds 3]

The database `domainpriv_bench_sweep` (the name must contain `bench`) holds 1,000 demo domains and `--open`
complaints waiting for the customer's answer (state customer_notified, deadline in ten days, reminder in eight),
inserted in one statement. Each round makes `--due` of them (spread over the whole id range) due for their reminder
an hour ago, then measures, in the same run:

* baseline -- the bare claim loop: per due row, one transaction of `SELECT id ... WHERE due_at <= now ORDER BY
  due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED` and an `UPDATE ... SET due_at = NULL` (raw psycopg); the rows are
  made due again afterwards;
* real -- `domainpriv.cases.process_due`: the same claims, each firing the reminder (the customer's and the
  reseller's notice queued in the outbox, the case event, the audit event, `due_at` recomputed) in its own
  transaction.

Printed per round: both times, the real sweep's time per case, the ratio real/baseline. Then the idle sweep
(nothing due: what every daemon's scheduler pays every minute) timed over 300 calls with `--open` open cases and
again with `--open / 100` (the rest deleted), with the ratio: it must stay near 1.0 (the partial index on
`due_at` holds only rows with a pending timer; the idle check is one index probe), and the plan of its query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_DOMAINPRIV_CODE") or Path(__file__).resolve().parent.parent)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_rdds import note, prepare_database  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/domainpriv_bench_sweep"
DOMAINS = 1000
IDLE_CALLS = 300

INSERT_CASES = """
INSERT INTO legal_case (reference, kind, state, domain_name, domain_id, requester_name, requester_email,
    authentication, urgent, allegation, fields_requested, received_at, customer_notified_at, customer_deadline_at,
    reminder_at, missed_clocks, due_at, attempts, updated_at)
SELECT 'BEN-' || lpad(g::text, 9, '0'), 'complaint', 'customer_notified', d.name, d.id, 'Bench Complainant',
    'complainant@bench.example', 'none', false, 'bench allegation', 'registrant.name', %(t)s, %(t)s,
    %(t)s + interval '10 days', %(t)s + interval '8 days', '', %(t)s + interval '8 days', 0, %(t)s
FROM generate_series(1, %(n)s) AS g
JOIN domain d ON d.id = (SELECT min(id) FROM domain) + (g %% %(domains)s)
"""


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def setup_cases(url: str, n: int, now: datetime) -> None:
    import psycopg

    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("TRUNCATE legal_case RESTART IDENTITY CASCADE")
        conn.execute("DELETE FROM notice")
        t0 = time.perf_counter()
        conn.execute(INSERT_CASES, {"t": now - timedelta(days=1), "n": n, "domains": DOMAINS})
        conn.execute("VACUUM (ANALYZE) legal_case")
        note(f"{n:,} open cases inserted in {time.perf_counter() - t0:.1f} s")


def make_due(url: str, n_open: int, n_due: int, now: datetime) -> None:
    """`n_due` cases spread over the id range: reminder due an hour ago (and not yet sent)."""
    import psycopg

    step = max(1, n_open // n_due)
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("UPDATE legal_case SET reminder_sent_at = NULL, reminder_at = %(t)s + interval '8 days', "
                     "due_at = %(t)s + interval '8 days' WHERE reminder_sent_at IS NOT NULL OR due_at IS NULL "
                     "OR due_at <= %(now)s",
                     {"t": now - timedelta(days=1), "now": now})  # fmt: skip
        due = {"due": now - timedelta(hours=1), "step": step, "last": step * n_due}
        conn.execute("UPDATE legal_case SET reminder_at = %(due)s, due_at = %(due)s WHERE id %% %(step)s = 0 "
                     "AND id <= %(last)s", due)  # fmt: skip


def bare_claims(url: str, now: datetime) -> tuple[float, int]:
    """The baseline: one claim transaction per due row, raw psycopg."""
    import psycopg

    claimed = 0
    with psycopg.connect(libpq(url)) as conn:
        t0 = time.perf_counter()
        while True:
            with conn.transaction():
                row = conn.execute("SELECT id FROM legal_case WHERE due_at <= %s ORDER BY due_at, id LIMIT 1 "
                                   "FOR UPDATE SKIP LOCKED", (now,)).fetchone()  # fmt: skip
                if row is None:
                    break
                conn.execute("UPDATE legal_case SET due_at = NULL WHERE id = %s", row)
                claimed += 1
        return time.perf_counter() - t0, claimed


def real_sweep(url: str, now: datetime) -> tuple[float, int]:
    from domainpriv.cases import process_due
    from domainpriv.config import load_settings
    from domainpriv.store import UnitOfWork, make_engine

    settings = load_settings(environ={"DOMAINPRIV_DATABASE_URL": url})
    engine = make_engine(url)
    try:
        uow = UnitOfWork(engine, clock=lambda: now)
        t0 = time.perf_counter()
        report = process_due(uow, settings, now)
        elapsed = time.perf_counter() - t0
        if report.failed:
            raise SystemExit(f"the sweep failed on {report.failed} cases: {report.lines[:3]}")
        return elapsed, report.acted
    finally:
        engine.dispose()


def idle_sweep(url: str, now: datetime) -> float:
    """Median seconds of one sweep that finds nothing due."""
    from domainpriv.cases import process_due
    from domainpriv.config import load_settings
    from domainpriv.store import UnitOfWork, make_engine

    settings = load_settings(environ={"DOMAINPRIV_DATABASE_URL": url})
    engine = make_engine(url)
    try:
        uow = UnitOfWork(engine, clock=lambda: now)
        process_due(uow, settings, now)  # the pool's connection opened, the statement prepared
        times = []
        for _ in range(IDLE_CALLS):
            t0 = time.perf_counter()
            report = process_due(uow, settings, now)
            times.append(time.perf_counter() - t0)
            assert report.acted == 0
        return statistics.median(times)
    finally:
        engine.dispose()


def idle_plan(url: str, now: datetime) -> str:
    import psycopg

    with psycopg.connect(libpq(url)) as conn:
        rows = conn.execute("EXPLAIN SELECT id FROM legal_case WHERE due_at <= %s LIMIT 1", (now,)).fetchall()
    return "\n".join(r[0] for r in rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--open", type=int, default=100_000, help="open cases")
    p.add_argument("--due", type=int, default=1_000, help="of which due in each round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--url", default=os.environ.get("DOMAINPRIV_BENCH_SWEEP_URL", DEFAULT_URL))
    args = p.parse_args(argv)
    if not 0 < args.due <= args.open:
        p.error("--due must be between 1 and --open")
    now = datetime.now(UTC).replace(microsecond=0)
    prepare_database(args.url, DOMAINS, 1)
    setup_cases(args.url, args.open, now)
    ratios = []
    print(f"{'round':>5} {'baseline s':>11} {'real s':>8} {'ms/case':>8} {'ratio':>7}")
    for r in range(1, args.rounds + 1):
        make_due(args.url, args.open, args.due, now)
        base, claimed = bare_claims(args.url, now)
        make_due(args.url, args.open, args.due, now)
        real, acted = real_sweep(args.url, now)
        if claimed != args.due or acted != args.due:
            raise SystemExit(f"round {r}: expected {args.due} due cases, baseline claimed {claimed}, sweep {acted}")
        ratios.append(real / base)
        print(f"{r:>5} {base:>11.3f} {real:>8.3f} {real / acted * 1000:>8.2f} {real / base:>6.1f}x", flush=True)
    print(f"sweep of {args.due:,} due among {args.open:,} open cases: median {statistics.median(ratios):.1f}x the "
          "bare claim loop")  # fmt: skip
    idle_big = idle_sweep(args.url, now)
    plan = idle_plan(args.url, now)
    small = max(args.due, args.open // 100)
    import psycopg

    with psycopg.connect(libpq(args.url), autocommit=True) as conn:
        conn.execute("DELETE FROM legal_case WHERE id > %s", (small,))
        conn.execute("VACUUM (ANALYZE) legal_case")
    idle_small = idle_sweep(args.url, now)
    print(f"idle sweep: {idle_big * 1e6:.0f} us with {args.open:,} open cases, {idle_small * 1e6:.0f} us with "
          f"{small:,}: ratio {idle_big / idle_small:.2f}")  # fmt: skip
    print("idle check's plan:\n" + plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: the customer portal (issue 9) on the 100,000-domain PostgreSQL database, and what customers' changes
cost the public read path.

    python bench/bench_portal.py [--sessions 32] [--duration 10] [--rounds 3] [--change-rates 10 50]

Database: `domainpriv_bench_scale_100k` (bench/load_scale.py; loaded by it here if it does not hold 100,000
domains). `--sessions` customer accounts with at least two contacts of their own and domains outside bench_rdds's
WHOIS/RDAP query set are picked (seeded); each gets a known password (`accounts.services.set_password`, only if
the password does not already work: re-runs change nothing) and is logged in once through the portal's login form
(untimed); the session and CSRF cookies are kept for all runs.

* latency -- 32 concurrent sessions, closed loop (one asyncio + httpx client process, each session its own
  `AsyncClient`: its own cookie jar and keep-alive connection): (a) GET `/domains/{name}` of one of the session's
  own domains, (b) POST `/domains/{name}/contacts/tech` choosing the other of two existing contacts of the account
  (every change a real audited change: notices in the outbox, a change-feed row; the daemon delivers the outbox
  to an SMTP sink). Real: `domainpriv.daemon.run_daemon` in a child process (WHOIS + RDAP + portal, as
  production runs it). Baseline: FastAPI under the portal's uvicorn configuration in a child process, answering
  the GET with a fixed real domain page of the sessions' mean page size and the POST with a fixed 303. Rounds
  alternate baseline and real; the figures are medians of the rounds: real/baseline latency (p50, p99),
  baseline/real throughput.
* reads -- bench_rdds's cached WHOIS and RDAP load (its query set: 10,000 names + 5 % unknown, `loadgen.py`, 64
  clients) against the real daemon without portal traffic, then while the sessions make `--change-rates` contact
  changes per second in total (paced, on their own domains: none is in the query set). Per round: no changes,
  then each rate; ratios against the round's run without changes, and the read throughput lost per change/s.

Pinning (2+ CPUs, unless --no-pin): the server children (real daemon, baseline) on CPU 0; the load client, the
portal client and the SMTP sink on CPU 1 (they stand for the customers' browsers, the public's resolvers and the
mail relay, all elsewhere in production); PostgreSQL floats. The portal shares CPU 0 with WHOIS and RDAP, as it
shares their process in production.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_rdds as rdds  # noqa: E402  (puts the package under test on sys.path)
from bench_rdds import HOST, ServerProcess, note  # noqa: E402
from load_scale import DEFAULT_URL_TEMPLATE, count_domains, libpq_dsn, scale_url  # noqa: E402

DEFAULT_WORKDIR = Path("/tmp/domainpriv-bench-portal")
DOMAINS = 100_000
PASSWORD = "bench-portal-password-2026"  # the benchmark database's accounts only
DOMAINS_PER_SESSION = 4
SECURITY_HEADERS = {  # as the portal's SecurityHeaders adds them (portal/security.py), for the baseline
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cache-control": "no-store",
}


def percentile(values: list[float], p: float) -> float:
    from loadgen import percentile as nearest_rank

    return float(nearest_rank(sorted(values), p))


# -- set-up: database, query set, sessions ---------------------------------------------------------------------


def ensure_database(url: str) -> None:
    if count_domains(url) != DOMAINS:
        note(f"{url.rsplit('/', 1)[1]} does not hold {DOMAINS:,} domains: loading it (bench/load_scale.py)")
        subprocess.run([sys.executable, str(BENCH / "load_scale.py"), "--sizes", "100k"], check=True)


def pick_sessions(url: str, n: int, queried: set[str | None], seed: int) -> list[dict[str, Any]]:
    """`n` customer accounts with two or more contacts of their own and domains outside the query set: per
    account up to DOMAINS_PER_SESSION such domains and its first two contacts (the tech contact alternates)."""
    import psycopg

    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT a.handle, d.name FROM account a JOIN domain d ON d.account_id = a.id"
            " WHERE a.kind = 'customer' AND (SELECT count(*) FROM contact c WHERE c.account_id = a.id) >= 2"
            " ORDER BY a.handle, d.name"
        ).fetchall()
        domains: dict[str, list[str]] = {}
        for handle, name in rows:
            if name not in queried:
                domains.setdefault(handle, []).append(name)
        chosen = random.Random(f"bench_portal:{seed}").sample(sorted(domains), n)
        sessions = []
        for handle in chosen:
            contacts = [
                r[0]
                for r in conn.execute(
                    "SELECT c.handle FROM contact c JOIN account a ON a.id = c.account_id WHERE a.handle = %s"
                    " ORDER BY c.handle LIMIT 2",
                    (handle,),
                )
            ]
            sessions.append({"account": handle, "domains": domains[handle][:DOMAINS_PER_SESSION], "contacts": contacts})
    return sessions


def set_passwords(url: str, sessions: list[dict[str, Any]]) -> int:
    """Give each account the benchmark's password unless it already has it (idempotent); returns how many set."""
    from domainpriv.accounts import services
    from domainpriv.audit import Actor
    from domainpriv.store import UnitOfWork, make_engine

    engine = make_engine(url)
    changed = 0
    try:
        uow = UnitOfWork(engine)
        for s in sessions:
            if not services.check_password(uow, account=s["account"], password=PASSWORD):
                services.set_password(uow, actor=Actor("cli", "bench-portal"), account=s["account"],
                                      password=PASSWORD, reason="bench_portal: a known password")  # fmt: skip
                changed += 1
    finally:
        engine.dispose()
    return changed


def log_in(port: int, sessions: list[dict[str, Any]]) -> list[int]:
    """Log every session in through the login form (untimed); keep its cookies and CSRF token. Returns the sizes
    of the sessions' first domain pages."""
    import re

    import httpx

    sizes = []
    for s in sessions:
        with httpx.Client(base_url=f"http://{HOST}:{port}", follow_redirects=False, timeout=30) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token, "no CSRF field in the login page"
            form = {"account": s["account"], "password": PASSWORD, "csrf": token.group(1), "next": "/domains"}
            done = client.post("/login", data=form)
            if done.status_code != 303:
                raise SystemExit(f"login of {s['account']} failed: {done.status_code} {done.text[:300]}")
            first = client.get(f"/domains/{s['domains'][0]}")
            if first.status_code != 200:
                raise SystemExit(f"domain page of {s['account']}: {first.status_code}")
            field = re.search(r'name="csrf" value="([^"]+)"', first.text)
            s["cookies"] = dict(client.cookies.items())
            s["csrf"] = s["cookies"].get("dp_csrf")
            assert field and field.group(1) == s["csrf"], "the page's CSRF field is not its cookie"
            sizes.append(len(first.content))
            s["page"] = first.content.decode("utf-8")
    return sizes


# -- server children -------------------------------------------------------------------------------------------


def server_environ(url: str, workdir: Path) -> dict[str, str]:
    env = rdds.bench_environ(url)
    smtp = workdir / "smtp-port"
    if smtp.exists():
        env["DOMAINPRIV_MAIL_SMTP_PORT"] = smtp.read_text().strip()
    return env


def child_server(kind: str, url: str, workdir: Path, cpu: int | None, log_level: str) -> int:
    """The real daemon (`real`) or the fixed-answer portal (`baseline`); READY <whois> <rdap> <portal> on
    stdout, `stats` answered with the record cache counters, `stop` (or stdin closing) stops it."""
    import logging

    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    from domainpriv.logs import log_to_stderr

    logs = log_to_stderr(getattr(logging, log_level.upper())) if log_level != "off" else contextlib.nullcontext()
    logs.__enter__()
    caches: list[Any] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def command(cmd: str) -> None:
            if cmd == "stats":
                print(json.dumps(rdds.cache_stats(caches)), flush=True)
            elif cmd == "stop":
                stop.set()

        def read_stdin() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(command, line.strip())
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=read_stdin, name="bench-control", daemon=True).start()
        if kind == "real":
            await serve_real(url, workdir, stop, caches)
        else:
            await serve_baseline(url, workdir, stop)

    from domainpriv import daemon

    daemon.run(main())  # both kinds on the loop `domainpriv serve` runs on
    return 0


async def serve_real(url: str, workdir: Path, stop: asyncio.Event, caches: list[Any]) -> None:
    from domainpriv import daemon
    from domainpriv.config import load_settings

    class CountedCache(daemon.RecordCache):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            caches.append(self)

    daemon.RecordCache = CountedCache  # type: ignore[attr-defined]
    settings = load_settings(environ=server_environ(url, workdir))
    if (workdir / "what-if").exists() and (workdir / "what-if").read_text().strip() == "uow-per-thread":
        build_portal = daemon.build_portal

        def portal_with_own_units(settings: Any, uow: Any) -> Any:
            return build_portal(settings, PerThreadUnitOfWork(uow.engine, uow.clock))

        daemon.build_portal = portal_with_own_units  # type: ignore[attr-defined]

    def ready(listening: daemon.Listening) -> None:
        print(f"READY {listening.whois_port} {listening.rdap_port} {listening.portal_port}", flush=True)

    await daemon.run_daemon(settings, stop=stop, ready=ready, handle_signals=False)


class PerThreadUnitOfWork:
    """`--what-if uow-per-thread`: the portal's one UnitOfWork, but each thread of its pool gets its own (a
    UnitOfWork holds one session and one nesting depth: shared by concurrent requests, their transactions
    join and spoil each other). A diagnostic: what the portal would cost with that fixed; not the code as is."""

    def __init__(self, engine: Any, clock: Any) -> None:
        self.engine, self.clock = engine, clock
        self._local = threading.local()

    def _mine(self) -> Any:
        uow = getattr(self._local, "uow", None)
        if uow is None:
            from domainpriv.store import UnitOfWork

            uow = self._local.uow = UnitOfWork(self.engine, clock=self.clock)
        return uow

    def __enter__(self) -> PerThreadUnitOfWork:
        self._mine().__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._mine().__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mine(), name)


async def serve_baseline(url: str, workdir: Path, stop: asyncio.Event) -> None:
    """FastAPI under the portal's uvicorn configuration (daemon.py), sync handlers as the portal's (its thread
    pool), a fixed real domain page for the GET, a fixed 303 for the POST."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    from domainpriv import daemon
    from domainpriv.config import load_settings

    settings = load_settings(environ=server_environ(url, workdir))
    body = (workdir / "baseline-page.html").read_bytes()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/domains/{name}")
    def domain_page(name: str) -> Response:
        return HTMLResponse(body, headers=SECURITY_HEADERS)

    @app.post("/domains/{name}/contacts/{role}")
    def role_post(name: str, role: str) -> Response:
        return RedirectResponse(f"/domains/{name}?changed={role}", status_code=303, headers=SECURITY_HEADERS)

    sock = rdds.listen_tcp(HOST, 0)
    server = uvicorn.Server(uvicorn.Config(  # the daemon's portal configuration
        app, log_level="warning", lifespan="off", server_header=False, access_log=False,
        timeout_graceful_shutdown=int(settings.rdap.shutdown_grace_seconds),
    ))  # fmt: skip
    task = asyncio.create_task(daemon._serve_uvicorn(server, sock))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    print(f"READY 0 0 {sock.getsockname()[1]}", flush=True)
    await stop.wait()
    server.should_exit = True
    await task
    sock.close()


class PortalServer(ServerProcess):
    """bench_rdds's ServerProcess for this script's children, which also report the portal's port."""

    def __init__(self, kind: str, args: argparse.Namespace, cpu: int | None) -> None:
        self.kind = kind
        self.log_path = args.workdir / f"server-{kind}.log"
        self._log = self.log_path.open("wb")
        cmd = [sys.executable, __file__, "--child", "server", kind, "--url", args.url, "--workdir", str(args.workdir)]
        cmd += ["--log-level", args.server_log_level] + (["--cpu", str(cpu)] if cpu is not None else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        line = rdds._readline(self.proc.stdout, rdds.SERVER_START_TIMEOUT)
        if not line.startswith("READY "):
            self.stop()
            raise SystemExit(f"{kind} server did not start (see {self.log_path})")
        self.whois_port, self.rdap_port, self.portal_port = (int(p) for p in line.split()[1:4])


def child_smtp(cpu: int | None, workdir: Path) -> int:
    """An SMTP sink (aiosmtpd) that accepts and drops every message; prints READY <port>, counts on stdin."""
    import socket

    from aiosmtpd.controller import Controller

    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    received = [0]

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received[0] += 1
            return "250 OK"

    probe = socket.socket()
    probe.bind((HOST, 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(Sink(), hostname=HOST, port=port)
    controller.start()
    print(f"READY {port}", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            print(json.dumps({"received": received[0]}), flush=True)
    controller.stop()
    return 0


# -- the portal client -----------------------------------------------------------------------------------------


def child_client(spec: dict[str, Any]) -> int:
    """Portal sessions. `closed`: every session sends its request (`get` or `post`) as soon as the last answered,
    warm-up then a window (marks on stdout as loadgen's), one JSON result line. `paced`: `rate` contact changes
    per second in total, spread over the sessions on one schedule, until stdin closes; `count` on stdin answers
    with the counters and the latencies since the previous `count`."""
    import httpx

    if spec.get("cpu") is not None:
        os.sched_setaffinity(0, {spec["cpu"]})
    sessions: list[dict[str, Any]] = json.loads(Path(spec["sessions_file"]).read_text())
    tech = current_tech(spec["url"], [d for s in sessions for d in s["domains"]])
    state = {"done": 0, "errors": 0, "latencies": [], "window": None, "error_samples": []}
    stop = threading.Event()

    async def one(client: httpx.AsyncClient, s: dict[str, Any], i: int, kind: str) -> None:
        name = s["domains"][i % len(s["domains"])]
        t = time.perf_counter()
        ok = False
        r = None
        try:
            if kind == "get":
                r = await client.get(f"/domains/{name}")
                ok = r.status_code == 200 and (not spec["check"] or f"/domains/{name}/privacy".encode() in r.content)
            else:
                a, b = s["contacts"]
                target = b if tech.get(name) == a else a
                form = {"csrf": s["csrf"], "choice": "existing", "contact": target}
                r = await client.post(f"/domains/{name}/contacts/tech", data=form)
                ok = r.status_code == 303 and r.headers.get("location", "").startswith(f"/domains/{name}")
                if ok:
                    tech[name] = target
        except httpx.HTTPError as exc:
            if len(state["error_samples"]) < 5:
                state["error_samples"].append(f"{type(exc).__name__}: {exc}")
        now = time.perf_counter()
        if not ok:
            state["errors"] += 1
            if r is not None and len(state["error_samples"]) < 5:
                state["error_samples"].append(f"{r.status_code} {r.text[:200]!r}")
        window = state["window"]
        if window is None or window[0] <= now <= window[1]:
            state["done"] += ok
            state["latencies"].append(now - t)

    async def closed(client: httpx.AsyncClient, s: dict[str, Any], end: list[float]) -> None:
        i = 0
        while time.perf_counter() < end[0]:
            await one(client, s, i, spec["request"])
            i += 1

    async def paced(client: httpx.AsyncClient, s: dict[str, Any], k: int) -> None:
        interval = len(sessions) / spec["rate"]
        due = time.perf_counter() + interval * k / len(sessions)
        i = 0
        while not stop.is_set():
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 1.0:  # more than a second behind: skip ahead rather than burst
                due = now
            await one(client, s, i, "post")
            i += 1
            due += interval

    async def main() -> dict[str, Any]:
        base, one_connection = f"http://{HOST}:{spec['port']}", httpx.Limits(max_connections=1)
        clients = [
            httpx.AsyncClient(
                base_url=base, cookies=s["cookies"], follow_redirects=False, timeout=30, limits=one_connection
            )
            for s in sessions
        ]
        try:
            if spec["mode"] == "closed":
                t0 = time.perf_counter()
                end = [t0 + spec["warmup"] + spec["duration"] + 60]
                tasks = [asyncio.create_task(closed(c, s, end)) for c, s in zip(clients, sessions, strict=True)]
                await asyncio.sleep(spec["warmup"])
                start = time.perf_counter()
                state["window"] = (start, start + spec["duration"])
                state["latencies"], state["done"], state["errors"] = [], 0, 0
                cpu0 = time.process_time()
                print("window-start", flush=True)
                await asyncio.sleep(spec["duration"])
                print("window-end", flush=True)
                cpu = time.process_time() - cpu0
                end[0] = 0.0
                await asyncio.gather(*tasks)
                lat = [x for x in state["latencies"]]
                return summary(lat, state["done"], state["errors"], spec["duration"], cpu)
            loop = asyncio.get_running_loop()

            def read_stdin() -> None:
                for line in sys.stdin:
                    if line.strip() == "count":
                        lat = state["latencies"]
                        state["latencies"] = []
                        out = {"changes": state["done"], "errors": state["errors"], "cpu_s": time.process_time(),
                               "p50_ms": percentile(lat, 50) * 1000 if lat else None,
                               "p99_ms": percentile(lat, 99) * 1000 if lat else None, "n": len(lat)}  # fmt: skip
                        print(json.dumps(out), flush=True)
                loop.call_soon_threadsafe(stop.set)

            threading.Thread(target=read_stdin, daemon=True).start()
            print("READY", flush=True)
            await asyncio.gather(*(paced(c, s, k) for k, (c, s) in enumerate(zip(clients, sessions, strict=True))))
            return {"changes": state["done"], "errors": state["errors"], "error_samples": state["error_samples"]}
        finally:
            for c in clients:
                await c.aclose()

    result = asyncio.run(main())
    result["error_samples"] = state["error_samples"]
    print(json.dumps(result), flush=True)
    return 0


def summary(lat: list[float], done: int, errors: int, duration: float, cpu: float) -> dict[str, Any]:
    return {
        "answers": done,
        "rate": done / duration,
        "p50_ms": percentile(lat, 50) * 1000 if lat else float("nan"),
        "p99_ms": percentile(lat, 99) * 1000 if lat else float("nan"),
        "errors": errors,
        "client_cpu": cpu / duration,
    }


def current_tech(url: str, names: list[str]) -> dict[str, str | None]:
    import psycopg

    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT d.name, t.handle FROM domain d LEFT JOIN contact t ON t.id = d.tech_id WHERE d.name = ANY(%s)",
            (names,),
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def client_spec(args: argparse.Namespace, port: int, **more: Any) -> dict[str, Any]:
    return {"sessions_file": str(args.workdir / "sessions.json"), "url": args.url, "port": port,
            "cpu": args.client_cpu, **more}  # fmt: skip


def run_closed(args: argparse.Namespace, server: PortalServer, request: str) -> dict[str, Any]:
    spec = client_spec(args, server.portal_port, mode="closed", request=request, warmup=args.portal_warmup,
                       duration=args.duration, check=server.kind == "real")  # fmt: skip
    proc = subprocess.Popen([sys.executable, __file__, "--child", "client", json.dumps(spec)], stdout=subprocess.PIPE)
    marks: dict[str, tuple[float, float]] = {}
    result: dict[str, Any] | None = None
    try:
        while result is None:
            line = rdds._readline(proc.stdout, args.portal_warmup + args.duration + 120)
            if line in ("window-start", "window-end"):
                marks[line] = (server.cpu_seconds(), rdds.system_busy()[0])
            elif line.startswith("{"):
                result = json.loads(line)
            elif line == "" and proc.poll() is not None:
                raise SystemExit(f"portal client exited with {proc.returncode}")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    result["server_cpu"] = (marks["window-end"][0] - marks["window-start"][0]) / args.duration
    result["server_ms_per_request"] = result["server_cpu"] * args.duration / max(result["answers"], 1) * 1000
    return result


class Pacer:
    """A paced portal client: `count()` gives its counters (and the latencies since the last call)."""

    def __init__(self, args: argparse.Namespace, port: int, rate: float) -> None:
        spec = client_spec(args, port, mode="paced", rate=rate, check=True)
        self.log = (args.workdir / "pacer.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, __file__, "--child", "client", json.dumps(spec)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)  # fmt: skip
        if rdds._readline(self.proc.stdout, 60.0) != "READY":
            raise SystemExit("portal pacer did not start (see pacer.log)")

    def count(self) -> dict[str, Any]:
        """Cumulative counters (run_load takes their deltas over the window); the latencies since the previous
        call stay in `last`."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"count\n")
        self.proc.stdin.flush()
        self.last: dict[str, Any] = json.loads(rdds._readline(self.proc.stdout, 30.0))
        return {k: self.last[k] for k in ("changes", "errors", "cpu_s")}

    def stop(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            final: dict[str, Any] = json.loads(rdds._readline(self.proc.stdout, 60.0) or "{}")
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()
        return final


# -- scenarios -------------------------------------------------------------------------------------------------


def scenario_latency(args: argparse.Namespace, servers: dict[str, PortalServer]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for request in ("get", "post"):
        for round_no in range(1, args.rounds + 1):
            pair = {}
            for side in ("baseline", "real"):
                r = run_closed(args, servers[side], request)
                r.update(request=request, side=side, round=round_no)
                pair[side] = r
                note(
                    f"  portal {request} {side} {round_no}: {r['rate']:,.0f}/s p50 {r['p50_ms']:.1f} ms p99 "
                    f"{r['p99_ms']:.1f} ms errors {r['errors']} server CPU {r['server_cpu']:.0%} client CPU "
                    f"{r['client_cpu']:.0%}"
                )
            real, base = pair["real"], pair["baseline"]
            real["p50_ratio"] = real["p50_ms"] / base["p50_ms"]
            real["p99_ratio"] = real["p99_ms"] / base["p99_ms"]
            real["rate_ratio"] = base["rate"] / real["rate"] if real["rate"] else float("inf")
            rows += [base, real]
    print(
        f"\nportal latency: {args.sessions} sessions, closed loop, {args.duration:g} s windows, {args.rounds} "
        "alternating rounds (ratios: real/baseline latency, baseline/real throughput)"
    )
    line = "{:<5} {:<10} {:>9} {:>8} {:>8} {:>7} {:>8} {:>8} {:>9} {:>9} {:>9}"
    print(line.format("req", "run", "req/s", "p50 ms", "p99 ms", "errors", "srv CPU", "cli CPU", "p50 x", "p99 x",
                      "thru x"))  # fmt: skip
    for r in rows:
        ratios = (f"{r[k]:.2f}x" if k in r else "" for k in ("p50_ratio", "p99_ratio", "rate_ratio"))
        print(line.format(r["request"].upper(), f"{r['side']} {r['round']}", f"{r['rate']:,.0f}", f"{r['p50_ms']:.1f}",
                          f"{r['p99_ms']:.1f}", r["errors"], f"{r['server_cpu']:.0%}", f"{r['client_cpu']:.0%}",
                          *ratios))  # fmt: skip
    out: dict[str, Any] = {"rows": rows}
    for request in ("get", "post"):
        real = [r for r in rows if r["request"] == request and r["side"] == "real"]
        base = [r for r in rows if r["request"] == request and r["side"] == "baseline"]
        med = {k: statistics.median(r[k] for r in real) for k in ("p50_ratio", "p99_ratio", "rate_ratio")}
        out[request] = med
        print(
            f"  {request.upper()}: real p50 {statistics.median(r['p50_ms'] for r in real):.1f} ms, p99 "
            f"{statistics.median(r['p99_ms'] for r in real):.1f} ms, {statistics.median(r['rate'] for r in real):,.0f}"
            f"/s, server CPU {statistics.median(r['server_ms_per_request'] for r in real):.2f} ms/request; baseline "
            f"p50 {statistics.median(r['p50_ms'] for r in base):.1f} ms, p99 "
            f"{statistics.median(r['p99_ms'] for r in base):.1f} ms, {statistics.median(r['rate'] for r in base):,.0f}"
            f"/s; median ratios p50 {med['p50_ratio']:.2f}x, p99 {med['p99_ratio']:.2f}x, throughput "
            f"{med['rate_ratio']:.2f}x; errors {sum(r['errors'] for r in real)}"
        )
    return out


def scenario_reads(args: argparse.Namespace, server: PortalServer, kinds: list[str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        for round_no in range(1, args.rounds + 1):
            note(f"\n== reads {kind}, round {round_no} of {args.rounds} ==")
            group = []
            for rate in [0.0, *args.change_rates]:
                label = f"{kind} {'none' if not rate else f'{rate:g}/s'} {round_no}"
                if rate:
                    pacer = Pacer(args, server.portal_port, rate)
                    try:
                        result = rdds.run_load(kind, label, server, args, args.client_cpu,
                                               {"expect_changes": True}, pacer.count)  # fmt: skip
                    finally:
                        final = pacer.stop()
                    done = result["sampled"]
                    result["change_rate"] = done["changes"] / args.duration
                    result["change_errors"] = done["errors"]
                    result["pacer_cpu"] = done["cpu_s"] / args.duration
                    # the window-end count carried the latencies since the window-start count
                    result["change_p50_ms"], result["change_p99_ms"] = pacer.last["p50_ms"], pacer.last["p99_ms"]
                    if final.get("error_samples"):
                        note(f"  change errors: {final['error_samples']}")
                else:
                    result = rdds.run_load(kind, label, server, args, args.client_cpu)
                result.update(run=label, side="none" if not rate else f"{rate:g}/s", rate_target=rate,
                              round=round_no)  # fmt: skip
                group.append(result)
            base = group[0]
            for r in group[1:]:
                r["ratio"] = r["rate"] / base["rate"]
                lost = base["rate"] - r["rate"]
                r["lost_per_change"] = lost / r["change_rate"] if r["change_rate"] else float("nan")
                # the server CPU an answer takes without changes, times the answers lost: CPU-equivalent per change
                r["ms_per_change"] = r["lost_per_change"] * base["server_cpu"] / base["rate"] * 1000
            for r in group:
                note(
                    f"  {r['run']}: {r['rate']:,.0f}/s p99 {r['p99_ms']:.1f} ms wrong {r['wrong']} srv CPU "
                    f"{r['server_cpu']:.0%} cli CPU {r['client_cpu']:.0%}"
                    + (f" changes {r['change_rate']:.1f}/s ({r['change_errors']} errors) ratio {r['ratio']:.2f}x, "
                       f"{r['lost_per_change']:.0f} answers/s lost per change/s" if "ratio" in r else "")
                )  # fmt: skip
            rows += group
    return {"rows": rows}


def print_reads(args: argparse.Namespace, out: dict[str, Any], kinds: list[str]) -> None:
    rows = out["rows"]
    print(
        f"\nread path while customers change contacts: bench_rdds's cached load ({args.clients} clients, "
        f"{args.duration:g} s windows, {args.rounds} rounds), ratios against the same round without changes"
    )
    line = "{:<6} {:<12} {:>10} {:>8} {:>7} {:>8} {:>8} {:>10} {:>12} {:>8} {:>10} {:>11}"
    print(line.format("server", "run", "answers/s", "p99 ms", "wrong", "srv CPU", "cli CPU", "changes/s",
                      "chg p50/p99", "ratio", "lost/chg", "ms/chg"))  # fmt: skip
    for r in rows:
        has = "ratio" in r
        print(line.format(r["kind"].upper(), f"{r['side']} {r['round']}", f"{r['rate']:,.0f}", f"{r['p99_ms']:.1f}",
                          r["wrong"], f"{r['server_cpu']:.0%}", f"{r['client_cpu']:.0%}",
                          f"{r['change_rate']:.1f}" if has else "",
                          f"{r['change_p50_ms']:.0f}/{r['change_p99_ms']:.0f}" if has and r["change_p50_ms"] else "",
                          f"{r['ratio']:.2f}x" if has else "", f"{r['lost_per_change']:.0f}" if has else "",
                          f"{r['ms_per_change']:.1f}" if has else ""))  # fmt: skip
    out["summary"] = {}
    for kind in kinds:
        for rate in args.change_rates:
            sel = [r for r in rows if r["kind"] == kind and r["rate_target"] == rate]
            none = [r for r in rows if r["kind"] == kind and r["rate_target"] == 0]
            s = {k: statistics.median(r[k] for r in sel) for k in ("ratio", "lost_per_change", "ms_per_change",
                                                                    "change_rate")}  # fmt: skip
            s["p99_ms"] = max(r["p99_ms"] for r in sel)
            s["p99_none_ms"] = max(r["p99_ms"] for r in none)
            out["summary"][f"{kind} {rate:g}"] = s
            print(
                f"  {kind.upper()} at {rate:g} changes/s (achieved {s['change_rate']:.1f}): median {s['ratio']:.2f}x "
                f"of no changes, {s['lost_per_change']:.0f} answers/s lost per change/s (≈ {s['ms_per_change']:.1f} "
                f"ms of the daemon's CPU per change), worst p99 {s['p99_ms']:.1f} ms (without {s['p99_none_ms']:.1f})"
            )
    print("  cache hit rate: " + ", ".join(f"{r['run']} {r.get('cache_hit_rate', float('nan')):.1%}" for r in rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="latency|reads", help="default: both")
    p.add_argument("--sessions", type=int, default=32)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--portal-warmup", type=float, default=2.0, help="latency: unmeasured seconds before each run")
    p.add_argument("--change-rates", type=float, nargs="+", default=[10.0, 50.0], help="reads: changes/s in total")
    p.add_argument("--only", choices=("whois", "rdap", "both"), default="both", help="reads: protocols")
    p.add_argument("--clients", type=int, default=64, help="reads: queries in flight (bench_rdds)")
    p.add_argument("--warmup", type=float, default=3.0, help="reads: unmeasured seconds (and every name once)")
    p.add_argument("--max-warmup", type=float, default=120.0)
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--unknown", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--server-log-level", choices=("info", "warning", "off"), default="info")
    p.add_argument("--no-pin", action="store_true", help="do not pin servers to CPU 0 and clients to CPU 1")
    p.add_argument("--url", default=scale_url(os.environ.get("DOMAINPRIV_BENCH_SCALE_URL_TEMPLATE",
                                                             DEFAULT_URL_TEMPLATE), DOMAINS))  # fmt: skip
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    p.add_argument("--what-if", choices=("none", "uow-per-thread"), default="none",
                   help="diagnostic: the real portal with a UnitOfWork per pool thread (see RESULTS.md)")  # fmt: skip
    args = p.parse_args(argv)
    scenarios = args.scenarios or ["latency", "reads"]
    kinds = ["whois", "rdap"] if args.only == "both" else [args.only]
    args.workdir.mkdir(parents=True, exist_ok=True)
    (args.workdir / "what-if").write_text(args.what_if)
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    server_cpu, args.client_cpu = (0, 1) if pin else (None, None)
    note(
        f"bench_portal: {args.sessions} sessions, {args.duration:g} s per run, {args.rounds} rounds; python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs"
        + ("; servers on CPU 0, load client, portal client and SMTP sink on CPU 1" if pin else "")
    )
    ensure_database(args.url)
    args.pg_url = args.url
    queries_file, qinfo = rdds.build_queries(args.url, args.queries, args.unknown, args.seed, args.workdir)
    import bench_scale

    bench_scale.add_needles(queries_file)
    args.queries_total = qinfo["total"]
    queried = {bench_scale.a_label(n) for n in json.loads(queries_file.read_text(encoding="utf-8"))["names"]}
    sessions = pick_sessions(args.url, args.sessions, queried, args.seed)
    note(f"sessions: {len(sessions)} accounts, {sum(len(s['domains']) for s in sessions)} domains outside the "
         f"{qinfo['total']:,}-name query set; passwords set now: {set_passwords(args.url, sessions)}")  # fmt: skip

    smtp = subprocess.Popen([sys.executable, __file__, "--child", "smtp", "--workdir", str(args.workdir)]
                            + (["--cpu", str(args.client_cpu)] if pin else []),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    (args.workdir / "smtp-port").write_text(rdds._readline(smtp.stdout, 30.0).split()[1])
    servers: dict[str, PortalServer] = {}
    results: dict[str, Any] = {}
    try:
        servers["real"] = PortalServer("real", args, server_cpu)
        t = time.perf_counter()
        sizes = log_in(servers["real"].portal_port, sessions)
        mean = statistics.fmean(sizes)
        fixed = min(sessions, key=lambda s: abs(len(s["page"].encode()) - mean))["page"].encode()
        (args.workdir / "baseline-page.html").write_bytes(fixed)
        for s in sessions:
            del s["page"]
        (args.workdir / "sessions.json").write_text(json.dumps(sessions, indent=1))
        note(f"logged in {len(sessions)} sessions in {time.perf_counter() - t:.1f} s; domain page mean "
             f"{mean:,.0f} bytes, baseline page {len(fixed):,} bytes")  # fmt: skip
        if "latency" in scenarios:
            servers["baseline"] = PortalServer("baseline", args, server_cpu)
            results["latency"] = scenario_latency(args, servers)
            servers.pop("baseline").stop()
        if "reads" in scenarios:
            out = scenario_reads(args, servers["real"], kinds)
            print_reads(args, out, kinds)
            results["reads"] = out
        assert smtp.stdin is not None
        smtp.stdin.write(b"count\n")
        smtp.stdin.flush()
        note(f"SMTP sink received {json.loads(rdds._readline(smtp.stdout, 10.0))['received']:,} notices")
    finally:
        for server in servers.values():
            server.stop()
        with contextlib.suppress(OSError):
            assert smtp.stdin is not None
            smtp.stdin.close()
        smtp.wait(timeout=30)
    path = args.workdir / "results.json"
    path.write_text(json.dumps({"argv": sys.argv[1:], "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                                **results}, indent=2, default=str))  # fmt: skip
    note(f"(figures saved to {path})")
    return 0


def child_main(argv: list[str]) -> int:
    if argv[0] == "client":
        return child_client(json.loads(argv[1]))
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("server", "smtp"))
    p.add_argument("kind", nargs="?", choices=("baseline", "real"))
    p.add_argument("--url")
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--cpu", type=int)
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    if args.role == "smtp":
        return child_smtp(args.cpu, args.workdir)
    return child_server(args.kind, args.url, args.workdir, args.cpu, args.log_level)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())

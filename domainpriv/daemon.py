"""`domainpriv serve`: the WHOIS and RDAP servers, the portal and API, and the scheduler in one process.

The daemon turns SIGTERM and SIGINT into one stop event (hypercorn's shutdown_trigger): all servers stop
accepting, answers in flight get their grace period, and the process exits 0. Tests inject the event.
Both servers share one bounded thread pool for store lookups, so the event loops never block on the database.
The lookups read through their own engine (`database.read_url` if set: a streaming replica), and a change-feed
follower drops from the record cache exactly the domains each commit affected (domainpriv/changes/follower.py).
The daemon starts, and answers "temporarily unavailable", while the database is away; it recovers by itself.
The scheduler (scheduler.enabled) runs the sweep (domainpriv/sweep.py) in whichever daemon holds the leader lock.
Every daemon delivers the outbox every mail.poll_seconds in a thread of its own (domainpriv/notify/poller.py).
The portal (domainpriv/portal) is a second uvicorn server on `portal.port`; its requests run in the portal's own
thread pool (FastAPI's), reading and writing the primary, so customers' changes never wait behind public lookups.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
import uvloop
from sqlalchemy import Engine

from domainpriv.changes.follower import ChangeFollower, FollowerSettings, listen_dsn_for
from domainpriv.config import Settings
from domainpriv.notify.poller import deliver_until
from domainpriv.portal import build_portal
from domainpriv.privacy import PublicRecord
from domainpriv.rdds import DatabaseSource, publication_policy
from domainpriv.rdds.cache import RecordCache
from domainpriv.rdds.rdap_app import RdapApp
from domainpriv.rdds.whois_server import WhoisServer
from domainpriv.registration.lookup import AsyncLookups
from domainpriv.scheduling.leader import LeaderLock
from domainpriv.scheduling.scheduler import JobScheduler
from domainpriv.store import UnitOfWork, make_engine, make_read_engine
from domainpriv.sweep import sweep

log = logging.getLogger("domainpriv.daemon")
# uvicorn's HTTP/1.1 parser: httptools (llhttp, in C) instead of the pure-Python h11 that uvicorn falls back to.
# An uncached RDAP answer cost 0.47 ms of daemon CPU with h11 and 0.34 ms with it (bench/RESULTS.md, issue 7).
UVICORN_HTTP = "httptools"
LOOKUP_THREADS = 16  # lookups in flight at most, each on a connection of the read engine's pool
PORTAL_THREADS = 40  # the portal's request handlers at once (anyio's default thread limiter, which FastAPI uses)
_FEED_CONNECTIONS = 2  # the follower's poll and a poll after a local commit, beside the lookups


T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` (the daemon, or a benchmark's server) on uvloop, the event loop `serve` uses.

    Why uvloop: every WHOIS query and RDAP request is a few loop callbacks and socket calls, and libuv's loop in C
    costs a fraction of asyncio's pure-Python one per callback (bench/RESULTS.md, issue 7). Nothing in the daemon
    depends on which loop runs it: tests run `run_daemon` on asyncio's own loop too."""
    return uvloop.run(main)


@dataclass(frozen=True)
class Listening:
    whois_port: int
    rdap_port: int
    portal_port: int


async def run_daemon(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[Listening], None] | None = None,
    handle_signals: bool = True,
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT arrives, when `handle_signals`)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    db = settings.database
    # The primary serves the portal's request threads (PORTAL_THREADS at most), the outbox and the scheduler.
    engine = make_engine(db.url, sqlite_busy_timeout_seconds=db.sqlite_busy_timeout_seconds, pool_size=8,
                         max_overflow=PORTAL_THREADS)  # fmt: skip
    read_engine = make_read_engine(db.public_read_url, pool_size=LOOKUP_THREADS + _FEED_CONNECTIONS,
                                   sqlite_busy_timeout_seconds=db.sqlite_busy_timeout_seconds)  # fmt: skip
    cache: RecordCache[PublicRecord] | None = None
    follower: ChangeFollower | None = None
    if settings.publication.cache_entries and _cacheable(read_engine):
        cache = RecordCache(settings.publication.cache_entries, admit_on_second_load=True)
        follower = ChangeFollower(
            read_engine, cache, settings=_follower_settings(settings), primary_engine=engine,
            listen_dsn=listen_dsn_for(engine),
        )  # fmt: skip
    # On PostgreSQL a miss runs on the event loop (psycopg's asyncio driver), as many at once as the pool has
    # threads; SQLite's driver has no asyncio form, so its misses go to the lookup pool.
    loop_lookups = AsyncLookups(read_engine, LOOKUP_THREADS) if read_engine.dialect.name == "postgresql" else None
    source = DatabaseSource(UnitOfWork(read_engine), publication_policy(settings), cache, loop_lookups=loop_lookups)
    executor = ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="domainpriv-lookup")
    whois = WhoisServer(settings.whois, source, settings.publication.terms_of_use, executor=executor)
    rdap_socket = _listen(settings.rdap.host, settings.rdap.port)
    rdap_app = RdapApp(settings.rdap, source, executor=executor)
    rdap = uvicorn.Server(uvicorn.Config(
        rdap_app, http=UVICORN_HTTP, log_level="warning", lifespan="off",
        limit_concurrency=settings.rdap.max_connections, server_header=False, access_log=False,
        timeout_graceful_shutdown=int(settings.rdap.shutdown_grace_seconds),
    ))  # fmt: skip
    portal_socket = _listen(settings.portal.host, settings.portal.port)
    portal = uvicorn.Server(uvicorn.Config(
        build_portal(settings, UnitOfWork(engine)), http=UVICORN_HTTP, log_level="warning", lifespan="off",
        server_header=False, access_log=False, timeout_graceful_shutdown=int(settings.rdap.shutdown_grace_seconds),
    ))  # fmt: skip
    scheduler = _scheduler(settings, engine) if settings.scheduler.enabled else None
    outbox_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="domainpriv-outbox")
    outbox: asyncio.Task[None] | None = None
    try:
        if follower is not None:
            await loop.run_in_executor(None, follower.start)  # its first feed read may wait for a slow database
        whois_port = await whois.start()
        rdap_task = asyncio.create_task(_serve_uvicorn(rdap, rdap_socket), name="rdap")
        portal_task = asyncio.create_task(_serve_uvicorn(portal, portal_socket), name="portal")
        for server, task in ((rdap, rdap_task), (portal, portal_task)):
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            if task.done():
                task.result()  # start-up failed: raise its error
        listening = Listening(whois_port, rdap_socket.getsockname()[1], portal_socket.getsockname()[1])
        log.info(
            "serving WHOIS on %s:%d, RDAP on %s:%d and the portal on %s:%d",
            settings.whois.host,
            listening.whois_port,
            settings.rdap.host,
            listening.rdap_port,
            settings.portal.host,
            listening.portal_port,
        )
        # Everything made so far (modules, settings, validation tables, compiled queries) lives as long as the
        # process: moved out of the collector's reach, no full collection walks it again (gc.freeze).
        gc.freeze()
        collector = asyncio.create_task(_collect_cycles_now_and_then(), name="gc")
        if scheduler is not None:
            scheduler.start()
        outbox = asyncio.create_task(
            deliver_until(stop, UnitOfWork(engine), settings.mail, executor=outbox_thread), name="outbox"
        )
        if ready is not None:
            ready(listening)
        await stop.wait()
        collector.cancel()
        log.info("stopping")
        rdap.should_exit = portal.should_exit = True
        # The outbox loop ends after a delivery in progress.
        await asyncio.gather(whois.stop(), rdap_task, portal_task, outbox)
    finally:
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        if scheduler is not None:
            await loop.run_in_executor(None, scheduler.stop)  # waits for a sweep in progress
        if outbox is not None and not outbox.done():
            stop.set()  # left by an error: the loop still ends after its delivery in progress
            await asyncio.gather(outbox, return_exceptions=True)
        outbox_thread.shutdown(wait=True)
        rdap_app.close()
        executor.shutdown(wait=True)
        if follower is not None:
            follower.close()
        if loop_lookups is not None:
            await loop_lookups.close()
        read_engine.dispose()
        engine.dispose()
        rdap_socket.close()
        portal_socket.close()
    log.info("stopped")


# The record cache holds up to publication.cache_entries views (several GC-tracked objects each), replaced all
# the time when queries spread over the whole namespace. CPython's automatic full collections then walk all of
# them every time a quarter has been replaced: a pause of 100+ ms every few seconds under an uncached load
# (bench/RESULTS.md, issue 7). The views hold no reference cycles and are freed by reference counting, so the
# daemon leaves young generations to the collector, takes full collections out of its hands, and runs one
# itself at this interval, for the rare cycles that do reach the old generation.
_FULL_COLLECTION_SECONDS = 300.0


async def _collect_cycles_now_and_then() -> None:
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000_000)  # a full collection only when asked for, below
    try:
        while True:
            await asyncio.sleep(_FULL_COLLECTION_SECONDS)
            gc.collect()
    finally:
        gc.set_threshold(young, middle, old)


def _scheduler(settings: Settings, engine: Engine) -> JobScheduler:
    """The leader-elected scheduler; it wakes at the escrow cron times too, so a deposit starts on time."""
    uow = UnitOfWork(engine)
    es = settings.escrow
    return JobScheduler(
        lock=LeaderLock(engine.url.render_as_string(hide_password=False)),
        sweep=lambda now: log_sweep(sweep(uow, settings, now).lines()),
        cron_wakeups={"escrow.full_cron": es.full_cron, "escrow.incremental_cron": es.incremental_cron},  # "": off
        sweep_interval_seconds=settings.scheduler.sweep_interval_seconds,
        leader_poll_seconds=settings.scheduler.leader_poll_seconds,
    )


def log_sweep(lines: list[str]) -> None:
    for line in lines:
        if line != "nothing was due":
            log.info("sweep: %s", line)


def _follower_settings(settings: Settings) -> FollowerSettings:
    f = settings.feed
    return FollowerSettings(f.poll_interval_seconds, f.stale_grace_seconds, f.lag_warning_seconds, f.retention_hours,
                            f.prune_interval_seconds)  # fmt: skip


def _cacheable(engine: Engine) -> bool:
    """An in-memory SQLite database is private to each connection: there is no feed to follow across them."""
    url = engine.url
    return url.get_backend_name() != "sqlite" or bool(url.database and url.database != ":memory:")


async def _serve_uvicorn(server: uvicorn.Server, sock: socket.socket) -> None:
    """uvicorn's serve() without its own signal handling: the daemon owns SIGTERM."""
    config = server.config
    if not config.loaded:
        config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    if server.should_exit:
        return
    await server.main_loop()
    await server.shutdown(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP given explicitly: asyncio sets TCP_NODELAY on accepted connections only for sockets whose
    # protocol is TCP, and without it every keep-alive response after the first waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock

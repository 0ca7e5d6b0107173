"""`domainpriv serve`: the WHOIS and RDAP servers (later the portal and scheduler) in one process.

The daemon turns SIGTERM and SIGINT into one stop event (hypercorn's shutdown_trigger): both servers stop
accepting, answers in flight get their grace period, and the process exits 0. Tests inject the event.
Both servers share one bounded thread pool for store lookups, so the event loops never block on the database.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import uvicorn

from domainpriv.config import Settings
from domainpriv.privacy import PublicRecord
from domainpriv.rdds import DatabaseSource, publication_policy
from domainpriv.rdds.cache import RecordCache, change_feed_for
from domainpriv.rdds.rdap_app import RdapApp
from domainpriv.rdds.whois_server import WhoisServer
from domainpriv.store import UnitOfWork, make_engine

log = logging.getLogger("domainpriv.daemon")
LOOKUP_THREADS = 16  # PostgreSQL connections in use at most (the pool's default is 5 + 10 overflow)


@dataclass(frozen=True)
class Listening:
    whois_port: int
    rdap_port: int


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
    engine = make_engine(
        settings.database.url, sqlite_busy_timeout_seconds=settings.database.sqlite_busy_timeout_seconds
    )
    feed = change_feed_for(engine) if settings.publication.cache_entries else None
    cache: RecordCache[PublicRecord] | None = RecordCache(feed, settings.publication.cache_entries) if feed else None
    source = DatabaseSource(UnitOfWork(engine), publication_policy(settings), cache)
    executor = ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="domainpriv-lookup")
    whois = WhoisServer(settings.whois, source, settings.publication.terms_of_use, executor=executor)
    rdap_socket = _listen(settings.rdap.host, settings.rdap.port)
    rdap_app = RdapApp(settings.rdap, source, executor=executor)
    rdap = uvicorn.Server(uvicorn.Config(
        rdap_app, log_level="warning", lifespan="off",
        limit_concurrency=settings.rdap.max_connections, server_header=False, access_log=False,
        timeout_graceful_shutdown=int(settings.rdap.shutdown_grace_seconds),
    ))  # fmt: skip
    try:
        whois_port = await whois.start()
        rdap_task = asyncio.create_task(_serve_uvicorn(rdap, rdap_socket), name="rdap")
        while not rdap.started and not rdap_task.done():
            await asyncio.sleep(0.01)
        if rdap_task.done():
            rdap_task.result()  # start-up failed: raise its error
        listening = Listening(whois_port, rdap_socket.getsockname()[1])
        log.info(
            "serving WHOIS on %s:%d and RDAP on %s:%d",
            settings.whois.host,
            listening.whois_port,
            settings.rdap.host,
            listening.rdap_port,
        )
        # Everything made so far (modules, settings, validation tables, compiled queries) lives as long as the
        # process: moved out of the collector's reach, no full collection walks it again (gc.freeze).
        gc.freeze()
        if ready is not None:
            ready(listening)
        await stop.wait()
        log.info("stopping")
        rdap.should_exit = True
        await asyncio.gather(whois.stop(), rdap_task)
    finally:
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        rdap_app.close()
        executor.shutdown(wait=True)
        if feed is not None:
            feed.close()
        engine.dispose()
        rdap_socket.close()
    log.info("stopped")


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

"""The port-43 WHOIS server (RFC 3912): sockets, framing, limits, rate limiting and logging, nothing else.

Why this module exists apart from the answer: the meaning of a query lives in `whois_answer.py`, which has never
seen a socket; this layer only turns bytes into one query and one reply into bytes (STYLE §4; aiosmtpd's protocol
class versus handler, hypercorn's `tcp_server` versus `protocol/`).

Protocol: the client sends one line ending in CR LF (LF or a lone CR also end it); the server writes the reply
and closes the connection. One query per connection.

Every limit is a setting of `[whois]` (config/domainpriv.toml) and every refusal is a one-line `Error:` reply:

* `max_query_bytes`: a longer line is read to its end and thrown away (never buffered), then refused;
* `read_timeout_seconds`: the whole query line must arrive within this time, so slow or silent clients cannot
  hold a connection;
* `max_connections`: connections beyond it are refused at once, without reading;
* `rate_per_second` / `rate_burst`: a token bucket per client address (`rdds.ratelimit.RateLimiter`);
* `shutdown_grace_seconds`: on `stop()`, answers in flight get this long to finish before their connections
  are closed.

Any input gets an answer or a clean close: invalid UTF-8 and anything that is not a domain name get the
malformed-query error; an unexpected exception gets a generic reply naming a request id, and the log line with
the same id carries the details, never the reply.

Store lookups (and rendering) run in a bounded thread pool, off the event loop (Starlette `concurrency.py`);
malformed queries and fresh hits in the source's cache (`RecordSource.peek`) are answered on the loop.

Accepting is done here rather than by `asyncio.start_server`: on Python 3.11 a connection accepted just before
`Server.close()` fails an assertion in `Server._attach` and its socket leaks, and `Server.wait_closed()` does not
wait for connections. Our accept callback creates each connection's task in the same step as `accept()`, so
`stop()` sees every connection. This needs a selector event loop (the default on Unix).

Logging (`domainpriv.whois`): one line per query with the client address, the normalised name (or
`malformed`), the outcome (found, not-found, error, rate-limited, timeout, too-long) and the duration; never any
record content and never the raw query (it may be arbitrary bytes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import socket
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from domainpriv.clock import Clock, utcnow
from domainpriv.config import WhoisSettings
from domainpriv.rdds.ratelimit import RateLimiter
from domainpriv.rdds.source import RecordSource
from domainpriv.rdds.whois_answer import MALFORMED_QUERY, answer_whois_query, normalize_query, peek_whois_answer
from domainpriv.rdds.whois_text import render_error

__all__ = ["DEFAULT_LOOKUP_WORKERS", "LOGGER_NAME", "WhoisServer"]

LOGGER_NAME: Final = "domainpriv.whois"
DEFAULT_LOOKUP_WORKERS: Final = 4  # a few: lookups are short read transactions; the pool bounds store load
_READ_CHUNK_BYTES: Final = 4096
# After the reply we half-close and wait briefly for the client's FIN before closing, so that unread input (e.g.
# the rest of a pipelined request) does not make the kernel send a RST that could destroy the reply in transit.
_LINGER_SECONDS: Final = 2.0
_REFUSAL_LINGER_SECONDS: Final = 0.5
_LISTEN_BACKLOG: Final = 128
_ACCEPT_RETRY_SECONDS: Final = 0.1  # out of file descriptors or buffers: pause accepting this long

log = logging.getLogger(LOGGER_NAME)

_Outcome = Literal["found", "not-found", "error", "rate-limited", "timeout", "too-long"]


class _ClientGone(Exception):
    """The client reset the connection or stopped reading: close without a reply."""


@dataclass(frozen=True, slots=True)
class _Read:
    kind: Literal["line", "empty", "timeout", "too-long"]
    data: bytes = b""


class WhoisServer:
    """An asyncio TCP server answering WHOIS queries from `source`.

    `start()` binds `settings.host:settings.port` (port 0 picks a free port) and returns the bound port;
    `stop()` stops accepting, waits up to `shutdown_grace_seconds` for open connections, then closes the rest.
    `executor` runs the store lookups; by default the server owns a small ThreadPoolExecutor.
    """

    def __init__(
        self,
        settings: WhoisSettings,
        source: RecordSource,
        terms_of_use: str,
        *,
        clock: Clock = utcnow,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.settings = settings
        self._source = source
        self._terms_of_use = terms_of_use
        self._clock = clock
        self._executor = executor
        self._owns_executor = executor is None
        self._limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
        self._listeners: list[socket.socket] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._admitted = 0
        self._refusing = 0

    # ------------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> int:
        """Bind and start accepting; returns the bound port."""
        if self._listeners:
            raise RuntimeError("WhoisServer already started")
        loop = asyncio.get_running_loop()
        self._listeners = await _listen(loop, self.settings.host, self.settings.port)
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=DEFAULT_LOOKUP_WORKERS, thread_name_prefix="whois-lookup"
            )
        for listener in self._listeners:
            loop.add_reader(listener.fileno(), self._accept, listener)
        log.info("whois listening on %s:%d", self.settings.host, self.port)
        return self.port

    @property
    def port(self) -> int:
        if not self._listeners:
            raise RuntimeError("WhoisServer is not running")
        port: int = self._listeners[0].getsockname()[1]
        return port

    @property
    def open_connections(self) -> int:
        """Connections currently being served (admitted ones, not refusals)."""
        return self._admitted

    async def stop(self) -> None:
        """Stop accepting; give open connections `shutdown_grace_seconds`, then close what is left."""
        listeners, self._listeners = self._listeners, []
        if not listeners:
            return
        loop = asyncio.get_running_loop()
        for listener in listeners:
            loop.remove_reader(listener.fileno())
            listener.close()
        open_tasks = set(self._tasks)
        if open_tasks:
            _, open_tasks = await asyncio.wait(open_tasks, timeout=self.settings.shutdown_grace_seconds)
        for task in open_tasks:
            task.cancel()
        if open_tasks:
            await asyncio.gather(*open_tasks, return_exceptions=True)
            log.warning("whois stopped: %d connection(s) closed after the grace period", len(open_tasks))
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        log.info("whois stopped")

    async def serve_until(self, stop_event: asyncio.Event) -> None:
        """Run until `stop_event` is set (the daemon sets it on SIGTERM), then stop gracefully."""
        await self.start()
        try:
            await stop_event.wait()
        finally:
            await self.stop()

    # ----------------------------------------------------------------------------------------- connections

    def _accept(self, listener: socket.socket) -> None:
        """Reader callback of a listening socket: accept what is waiting, one task per connection, at once."""
        loop = asyncio.get_running_loop()
        for _ in range(_LISTEN_BACKLOG):
            try:
                conn, _address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise  # the loop logs and ignores it; the listener stays registered
                log.error("whois cannot accept connections: %s; pausing", exc.strerror)
                loop.remove_reader(listener.fileno())
                loop.call_later(_ACCEPT_RETRY_SECONDS, self._resume_accepting, listener)
                return
            task = loop.create_task(self._connection(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _resume_accepting(self, listener: socket.socket) -> None:
        if listener in self._listeners:
            asyncio.get_running_loop().add_reader(listener.fileno(), self._accept, listener)

    async def _connection(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            reader = asyncio.StreamReader()
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.connect_accepted_socket(
                lambda: asyncio.StreamReaderProtocol(reader), sock=conn
            )
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            await self._handle(reader, writer)
        except OSError:  # reset before the transport was set up
            pass
        finally:
            conn.close()  # a no-op once the transport has closed it

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._admitted >= self.settings.max_connections:
            await self._refuse_busy(reader, writer)
            return
        self._admitted += 1
        try:
            await self._serve(reader, writer)
        finally:
            self._admitted -= 1

    async def _refuse_busy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _client_address(writer)
        log.warning("whois refused client=%s: %d connections open", client, self._admitted)
        reply = render_error("server busy: too many open connections; please retry later", self._clock())
        self._refusing += 1
        try:
            writer.write(reply.encode("utf-8"))
            # A short linger keeps the refusal readable; beyond max_connections lingering refusals, none at all,
            # so a connection flood cannot pile up sockets.
            linger = _REFUSAL_LINGER_SECONDS if self._refusing <= self.settings.max_connections else 0.0
            await self._close(reader, writer, linger)
        except Exception as exc:  # a refusal must never take anything else down
            log.error("whois refusal failed client=%s exception=%s", client, type(exc).__name__)
            writer.transport.abort()
        finally:
            self._refusing -= 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _client_address(writer)
        request_id = uuid.uuid4().hex[:12]
        started = time.monotonic()
        outcome: _Outcome = "error"
        name: str | None = None
        logged = True
        try:
            read = await self._read_query(reader)
            now = self._clock()
            if read.kind == "empty":  # connected and closed without a byte: nothing to answer
                logged = False
                return
            if read.kind == "timeout":
                outcome = "timeout"
                reply = render_error(
                    f"no complete query received within {self.settings.read_timeout_seconds:g} seconds", now
                )
            elif read.kind == "too-long":
                outcome = "too-long"
                reply = render_error(f"query longer than {self.settings.max_query_bytes} bytes", now)
            else:
                outcome, name, reply = await self._answer(client, read.data, now)
            await self._send(writer, reply)
        except _ClientGone:  # reset, broken pipe, or not reading its reply: nothing more to tell it
            writer.transport.abort()
        except asyncio.CancelledError:
            log.warning("whois connection closed by shutdown client=%s request_id=%s", client, request_id)
            writer.transport.abort()
            raise
        except Exception as exc:
            outcome = "error"
            # Where it failed, without the exception's message or source lines: either may quote a record value.
            frames = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
            log.error(
                "whois internal error request_id=%s client=%s exception=%s at %s",
                request_id, client, type(exc).__name__, frames,
            )  # fmt: skip
            reply = render_error(f"internal error (request id {request_id}); please retry later", self._clock())
            try:
                await self._send(writer, reply)
            except _ClientGone:
                writer.transport.abort()
        finally:
            if logged:
                log.info(
                    "whois query client=%s name=%s outcome=%s duration_ms=%.1f request_id=%s",
                    client, name or "malformed", outcome, (time.monotonic() - started) * 1000, request_id,
                )  # fmt: skip
            await self._close(reader, writer, min(_LINGER_SECONDS, self.settings.read_timeout_seconds))

    async def _answer(self, client: str, data: bytes, now: datetime) -> tuple[_Outcome, str | None, str]:
        try:
            query = data.decode("utf-8")
        except UnicodeDecodeError:
            return "error", None, render_error(MALFORMED_QUERY, now)
        wait = self._limiter.acquire(client)
        if wait > 0:
            seconds = self._limiter.retry_after_seconds(wait)
            reply = render_error(f"too many queries from your address; please slow down and retry in {seconds} s", now)
            return "rate-limited", normalize_query(query), reply
        answer = peek_whois_answer(query, self._source, now, self._terms_of_use)  # malformed, or a cache hit
        if answer is None:
            answer = await asyncio.get_running_loop().run_in_executor(
                self._executor, answer_whois_query, query, self._source, now, self._terms_of_use
            )
        return answer.outcome, answer.name, answer.text

    async def _read_query(self, reader: asyncio.StreamReader) -> _Read:
        """Read one line within the read timeout; an over-long line is consumed to its end but not kept."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.read_timeout_seconds
        limit = self.settings.max_query_bytes
        line = bytearray()
        too_long = False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return _Read("too-long" if too_long else "timeout")
            try:
                chunk = await asyncio.wait_for(reader.read(_READ_CHUNK_BYTES), remaining)
            except TimeoutError:
                return _Read("too-long" if too_long else "timeout")
            except ConnectionError as exc:
                raise _ClientGone from exc
            if not chunk:  # the client half-closed: what came so far is the query
                if too_long:
                    return _Read("too-long")
                return _Read("line", bytes(line)) if line else _Read("empty")
            end = _line_end(chunk)
            if not too_long:
                line += chunk if end < 0 else chunk[:end]
                if len(line) > limit:
                    too_long = True
                    line.clear()
            if end >= 0:
                return _Read("too-long") if too_long else _Read("line", bytes(line))

    async def _send(self, writer: asyncio.StreamWriter, reply: str) -> None:
        try:
            writer.write(reply.encode("utf-8"))
            await asyncio.wait_for(writer.drain(), self.settings.read_timeout_seconds)
        except (ConnectionError, TimeoutError) as exc:
            raise _ClientGone from exc

    async def _close(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, linger: float) -> None:
        """Half-close, wait up to `linger` seconds for the client's FIN (discarding its input), then close."""
        try:
            if linger > 0 and not writer.is_closing() and writer.can_write_eof():
                writer.write_eof()
                async with asyncio.timeout(linger):
                    while await reader.read(_READ_CHUNK_BYTES):
                        pass
        except (OSError, TimeoutError):
            pass
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _line_end(chunk: bytes) -> int:
    """Index of the first CR or LF in `chunk`, or -1."""
    ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
    return min(ends) if ends else -1


def _client_address(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unknown"


async def _listen(loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[socket.socket]:
    """Non-blocking listening sockets for every address `host` resolves to, as asyncio's create_server binds
    them; with port 0 the later ones take the port the first one got."""
    infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, _canonical, address in dict.fromkeys(infos):
            bind_to: tuple[Any, ...] = address
            if listeners and port == 0:
                bind_to = (address[0], listeners[0].getsockname()[1], *address[2:])
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # one socket per family, as asyncio
            sock.bind(bind_to)
            sock.listen(_LISTEN_BACKLOG)
            sock.setblocking(False)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners

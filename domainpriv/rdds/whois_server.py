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

Speed (bench/bench_rdds.py): each connection is a small protocol object whose non-blocking socket is driven
directly by the event loop's reader/writer callbacks: no task, no transport, no StreamReader/StreamWriter and no
timer of its own. A fresh hit in the source's cache (`RecordSource.peek`) and a malformed query are answered
synchronously inside `data_received`; only a miss goes to a bounded thread pool for the store lookup (Starlette
`concurrency.py`), whose done-callback writes the reply.
A cached source returns the same PublicRecord object on every hit until the database changes, so the encoded
found reply is memoised per record object (the memo holds the object, so its id cannot be reused meanwhile);
normalised names are memoised per query line. Deadlines (read timeout, linger, a reply the client does not
take) are checked by one periodic sweep while connections are open, so they act up to `_MAX_TICK_SECONDS`
late, never early.

Accepting is done here rather than by `asyncio.start_server`/`loop.create_server`: on Python 3.11 a connection
accepted just before `Server.close()` fails an assertion in `Server._attach` and its socket leaks, and
`Server.wait_closed()` does not wait for connections. Our accept callback registers each connection in the same
step as `accept()`, so `stop()` sees every connection. This needs a selector event loop (the default on Unix).

Logging (`domainpriv.whois`): one line per query with the client address, the normalised name (or
`malformed`), the outcome (found, not-found, error, rate-limited, timeout, too-long, unavailable), the duration and the
request id (`-` unless an error was logged with it); never any record content and never the raw query (it may
be arbitrary bytes). The lines of one event-loop iteration are logged together at its end (`stop()` logs what is
left): a burst wakes a queue-based log writer once, not once per query.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import socket
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, cast

from domainpriv.clock import Clock, utcnow
from domainpriv.config import WhoisSettings
from domainpriv.privacy import PublicRecord
from domainpriv.rdds.memo import RENDERED_ENTRIES, BoundedMemo
from domainpriv.rdds.query_log import BatchedLog
from domainpriv.rdds.ratelimit import RateLimiter
from domainpriv.rdds.source import RecordSource, holds, loop_lookup
from domainpriv.rdds.whois_answer import MALFORMED_QUERY, WhoisAnswer, answer_whois_name, normalize_query
from domainpriv.rdds.whois_text import render_domain, render_error, render_not_found
from domainpriv.store.availability import DatabaseUnavailable, SchemaNotReady

__all__ = ["DEFAULT_LOOKUP_WORKERS", "LOGGER_NAME", "WhoisServer"]

LOGGER_NAME: Final = "domainpriv.whois"
DEFAULT_LOOKUP_WORKERS: Final = 4  # a few: lookups are short read transactions; the pool bounds store load
# After the reply we half-close and wait briefly for the client's FIN before closing, so that unread input (e.g.
# the rest of a pipelined request) does not make the kernel send a RST that could destroy the reply in transit.
_LINGER_SECONDS: Final = 2.0
_REFUSAL_LINGER_SECONDS: Final = 0.5
_LISTEN_BACKLOG: Final = 128
_READ_CHUNK_BYTES: Final = 4096
_ACCEPT_RETRY_SECONDS: Final = 0.1  # out of file descriptors or buffers: pause accepting this long
_NAMES_ENTRIES: Final = 16_384  # query lines already normalised (oldest dropped first) ...
_NAMES_MAX_LINE: Final = 512  # ... if at most this long (a domain name has at most 253 characters)
# Deadlines (read timeout, linger) are checked by one periodic sweep, not a timer per connection; they fire at
# most one tick late, never early.
_MAX_TICK_SECONDS: Final = 0.1
_MIN_TICK_SECONDS: Final = 0.005
_NEVER: Final = float("inf")

log = logging.getLogger(LOGGER_NAME)

_Outcome = Literal["found", "not-found", "error", "rate-limited", "timeout", "too-long", "unavailable"]
# The database cannot answer right now (down, not migrated, replica gone): a temporary error the client may
# retry, not an internal error (the source logged which database, once per spell).
_UNAVAILABLE: Final = "service temporarily unavailable; please retry in a few seconds"

# Connection states: reading the query line; answer being computed (in the lookup pool); reply written, waiting
# for the client's FIN (the linger); closed.
_READING: Final = 0
_ANSWERING: Final = 1
_LINGERING: Final = 2
_CLOSED: Final = 3


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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: set[_Connection] = set()
        self._idle: asyncio.Future[None] | None = None  # set when the last connection closes, while stopping
        self._admitted = 0
        self._refusing = 0
        self._linger = min(_LINGER_SECONDS, settings.read_timeout_seconds)
        self._rendered: BoundedMemo[int, tuple[PublicRecord, bytes]] = BoundedMemo(RENDERED_ENTRIES)
        self._query_log = BatchedLog(log)
        self._names: BoundedMemo[bytes, str | None] = BoundedMemo(_NAMES_ENTRIES)
        self._tick = max(_MIN_TICK_SECONDS, min(_MAX_TICK_SECONDS, self._linger / 4))
        self._sweeper: asyncio.TimerHandle | None = None
        self._lookup_on_loop = loop_lookup(source)
        self._tasks: set[asyncio.Task[None]] = set()  # misses answered on the loop (asyncio keeps weak refs)

    # ------------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> int:
        """Bind and start accepting; returns the bound port."""
        if self._listeners:
            raise RuntimeError("WhoisServer already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
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
        await self._wait_idle(self.settings.shutdown_grace_seconds)
        left = list(self._connections)
        for connection in left:
            connection.close_for_shutdown()
        if left:
            await self._wait_idle(1.0)  # aborted transports report connection_lost on the next loop iteration
            log.warning("whois stopped: %d connection(s) closed after the grace period", len(left))
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for task in list(self._tasks):  # their connections are closed: nothing left to answer
            task.cancel()
        self._query_log.flush()
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

    async def _wait_idle(self, timeout: float) -> None:
        if not self._connections:
            return
        self._idle = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait([self._idle], timeout=timeout)
        finally:
            self._idle = None

    # ----------------------------------------------------------------------------------------- connections

    def _accept(self, listener: socket.socket) -> None:
        """Reader callback of a listening socket: accept what is waiting and register each connection at once
        (no task), so `stop()` sees every connection."""
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        for _ in range(_LISTEN_BACKLOG):
            try:
                conn, address = listener.accept()
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
            client = str(address[0]) if isinstance(address, tuple) and address else "unknown"
            refused = self._admitted >= self.settings.max_connections
            connection = _Connection(self, loop, conn, client, refused)
            if refused:
                self._refusing += 1
            else:
                self._admitted += 1
            self._connections.add(connection)
            if self._sweeper is None:
                self._sweeper = loop.call_later(self._tick, self._sweep)
            connection.start()

    def _resume_accepting(self, listener: socket.socket) -> None:
        if listener in self._listeners:
            asyncio.get_running_loop().add_reader(listener.fileno(), self._accept, listener)

    def _forget(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        if connection.refused:
            self._refusing -= 1
        else:
            self._admitted -= 1
        if not self._connections and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def _sweep(self) -> None:
        """Every tick while there are connections: act on those whose deadline has passed."""
        if not self._connections:
            self._sweeper = None  # the next accepted connection starts it again
            return
        loop = cast(asyncio.AbstractEventLoop, self._loop)
        self._sweeper = loop.call_later(self._tick, self._sweep)  # first: an exception below must not stop it
        now = loop.time()
        for connection in [c for c in self._connections if c.deadline <= now]:
            connection.deadline_passed()

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _normalize(self, line: bytes) -> str | None:
        """`normalize_query` of a query line that is valid UTF-8, memoised: clients ask for the same names."""
        if len(line) > _NAMES_MAX_LINE:
            return normalize_query(line.decode("utf-8"))
        try:
            return self._names[line]
        except KeyError:
            pass
        name = normalize_query(line.decode("utf-8"))
        self._names.put(line, name)
        return name

    def _render(self, record: PublicRecord, *, cached: bool = True) -> bytes:
        """The found reply for `record`, rendered once per record object: a cached source returns the same object
        on every hit until the database changes (and holding it here keeps its id from being reused). A record the
        source did not keep (`cached=False`: a name's first load) is rendered without being remembered: nothing
        would ever ask for that object again."""
        entry = self._rendered.get(id(record))
        if entry is not None and entry[0] is record:
            return entry[1]
        reply = render_domain(record, self._terms_of_use).encode("utf-8")
        if cached:
            self._rendered.put(id(record), (record, reply))
        return reply


class _Connection:
    """One client connection: read one line, answer it, half-close, linger for the client's FIN, close.

    The socket is driven directly by event-loop reader/writer callbacks (no asyncio transport, no task) and the
    server's deadline sweep; only a lookup that misses the source's cache goes to the lookup pool, whose result
    comes back through a done-callback. The method names follow `asyncio.Protocol`.
    """

    __slots__ = (
        "_client", "_close_after_flush", "_done", "_eof", "_fd", "_line", "_loop", "_name", "_out", "_reading",
        "_server", "_shut_after_flush", "_sock", "_started", "_state", "_too_long", "deadline", "refused",
    )  # fmt: skip

    def __init__(
        self, server: WhoisServer, loop: asyncio.AbstractEventLoop, sock: socket.socket, client: str, refused: bool
    ) -> None:
        self._server = server
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._client = client
        self.refused = refused
        self._state = _READING
        self._line: bytearray | None = None  # the part of the query line received so far, if it came in pieces
        self._too_long = False
        self._eof = False  # the client half-closed
        self._reading = False  # registered with the loop for reading
        self._out = b""  # reply bytes the socket did not take yet (registered for writing while non-empty)
        self._shut_after_flush = False  # half-close once `_out` is sent
        self._close_after_flush = False  # close once `_out` is sent
        self._started = time.monotonic()
        self.deadline = _NEVER  # time.monotonic() (= loop.time()) at which `deadline_passed` acts
        self._name: str | None = None
        self._done = False  # the query line was logged (or there is nothing to log)

    # ------------------------------------------------------------------------------------------- socket

    def start(self) -> None:
        try:
            self._sock.setblocking(False)
            self._loop.add_reader(self._fd, self._readable)
        except (OSError, ValueError):  # reset already: nothing to log
            self._done = True
            self._close_now()
            return
        self._reading = True
        if self.refused:
            self._refuse_busy()
            return
        self.deadline = self._started + self._server.settings.read_timeout_seconds

    def _readable(self) -> None:
        try:
            data = self._sock.recv(_READ_CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset: nothing more to tell the client
            self._close_now()
            return
        if data:
            self.data_received(data)
            return
        self._stop_reading()  # at EOF the socket stays readable
        if not self.eof_received():
            self._close_when_sent()

    def _send(self, data: bytes) -> None:
        if self._state == _CLOSED:
            return
        if self._out:
            self._out += data
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # reset, broken pipe
            self._close_now()
            return
        if sent < len(data):
            self._out = data[sent:]
            self._loop.add_writer(self._fd, self._writable)

    def _writable(self) -> None:
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close_now()
            return
        self._out = self._out[sent:]
        if self._out:
            return
        self._loop.remove_writer(self._fd)
        if self._close_after_flush:
            self._close_now()
        elif self._shut_after_flush:
            self._write_eof()

    def _write_eof(self) -> None:
        if self._out:
            self._shut_after_flush = True
            return
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close_now()

    def _close_when_sent(self) -> None:
        """Close once the reply is sent (what `transport.close()` does)."""
        if self._state == _CLOSED:
            return
        if self._out:
            self._close_after_flush = True
            self._stop_reading()
        else:
            self._close_now()

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def _close_now(self) -> None:
        """Close the socket at once (what `transport.abort()` does) and forget the connection."""
        if self._state == _CLOSED:
            return
        self._stop_reading()
        if self._out:
            self._out = b""
            self._loop.remove_writer(self._fd)
        self._sock.close()
        self.connection_lost(None)

    # --------------------------------------------------------------------------------------- protocol

    def data_received(self, data: bytes) -> None:
        if self._state != _READING:  # after the line: the rest is discarded
            return
        cr, lf = data.find(b"\r"), data.find(b"\n")
        end = lf if cr < 0 else cr if lf < 0 or cr < lf else lf
        limit = self._server.settings.max_query_bytes
        if self._line is None and end >= 0 and not self._too_long:  # the usual case: the whole line at once
            if end > limit:
                self._answer_too_long()
            else:
                self._answer(data[:end])
            return
        if not self._too_long:
            line = self._line if self._line is not None else bytearray()
            line += data if end < 0 else data[:end]
            self._line = line
            if len(line) > limit:  # consumed to its end but not kept
                self._too_long = True
                self._line = None
        if end >= 0:
            self._end_of_line()

    def eof_received(self) -> bool:
        """The client half-closed; False: close (once the reply is sent)."""
        self._eof = True
        if self._state == _READING:
            if self._too_long or self._line is not None:
                self._end_of_line()  # the client half-closed: what came so far is the query
            else:  # connected and closed without a byte: nothing to answer
                self._done = True
                return False
        return self._state == _ANSWERING  # keep the sending side open for an answer in flight

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        self._cancel_timer()
        if not self._done:  # reset, or closed by shutdown, before the reply
            self._log("error")
        self._server._forget(self)

    # ------------------------------------------------------------------------------------------ answering

    def _end_of_line(self) -> None:
        if self._too_long:
            self._answer_too_long()
        else:
            self._answer(bytes(self._line or b""))
            self._line = None

    def deadline_passed(self) -> None:
        self.deadline = _NEVER
        if self._state == _LINGERING:  # no FIN within the linger, or the reply not taken: close
            self._abort()
        elif self._state == _READING:
            self._read_timed_out()

    def _read_timed_out(self) -> None:
        self._state = _ANSWERING
        server = self._server
        if self._too_long:
            self._answer_too_long()
            return
        text = f"no complete query received within {server.settings.read_timeout_seconds:g} seconds"
        self._reply(render_error(text, server._clock()).encode("utf-8"), "timeout")

    def _answer_too_long(self) -> None:
        self._state = _ANSWERING
        self._cancel_timer()
        server = self._server
        text = f"query longer than {server.settings.max_query_bytes} bytes"
        self._reply(render_error(text, server._clock()).encode("utf-8"), "too-long")

    def _answer(self, line: bytes) -> None:
        """Answer one query line: on the loop if it needs no store access, else in the lookup pool."""
        self._state = _ANSWERING
        self._cancel_timer()
        server = self._server
        try:
            try:
                name = self._name = server._normalize(line)
            except UnicodeDecodeError:
                self._reply(render_error(MALFORMED_QUERY, server._clock()).encode("utf-8"), "error")
                return
            limiter = server._limiter
            wait = limiter.acquire(self._client)
            if wait > 0:
                seconds = limiter.retry_after_seconds(wait)
                text = f"too many queries from your address; please slow down and retry in {seconds} s"
                self._reply(render_error(text, server._clock()).encode("utf-8"), "rate-limited")
                return
            if name is None:
                self._reply(render_error(MALFORMED_QUERY, server._clock()).encode("utf-8"), "error")
                return
            hit, record = server._source.peek(name)
            if not hit and server._lookup_on_loop is not None:
                server._track(cast(asyncio.AbstractEventLoop, server._loop).create_task(self._answer_on_loop(name)))
            elif not hit:
                loop = cast(asyncio.AbstractEventLoop, server._loop)
                future = loop.run_in_executor(
                    server._executor, answer_whois_name, name, server._source, server._clock(), server._terms_of_use
                )
                future.add_done_callback(self._looked_up)
            elif record is None:  # unknown and hidden names answer alike
                self._reply(render_not_found(name, server._clock()).encode("utf-8"), "not-found")
            else:
                self._reply(server._render(record), "found")
        except Exception as exc:
            self._internal_error(exc)

    async def _answer_on_loop(self, name: str) -> None:
        """A miss looked up on the event loop (the source's asyncio driver): no hand-off to the pool."""
        server = self._server
        lookup = cast(Callable[[str], Awaitable[PublicRecord | None]], server._lookup_on_loop)
        try:
            record = await lookup(name)
            if self._state != _ANSWERING:  # the connection is gone meanwhile
                return
            if record is None:
                self._reply(render_not_found(name, server._clock()).encode("utf-8"), "not-found")
            else:
                self._reply(server._render(record, cached=holds(server._source, name, record)), "found")
        except (DatabaseUnavailable, SchemaNotReady):
            if self._state == _ANSWERING:
                self._reply(render_error(_UNAVAILABLE, server._clock()).encode("utf-8"), "unavailable")
        except Exception as exc:
            if self._state == _ANSWERING:
                self._internal_error(exc)

    def _looked_up(self, future: asyncio.Future[WhoisAnswer]) -> None:
        if self._state != _ANSWERING or future.cancelled():  # the connection is gone, or shutdown cancelled it
            return
        try:
            answer = future.result()
            self._reply(answer.text.encode("utf-8"), answer.outcome)
        except (DatabaseUnavailable, SchemaNotReady):
            self._reply(render_error(_UNAVAILABLE, self._server._clock()).encode("utf-8"), "unavailable")
        except Exception as exc:
            self._internal_error(exc)

    def _internal_error(self, exc: BaseException) -> None:
        request_id = uuid.uuid4().hex[:12]
        # Where it failed, without the exception's message or source lines: either may quote a record value.
        frames = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
        log.error(
            "whois internal error request_id=%s client=%s exception=%s at %s",
            request_id, self._client, type(exc).__name__, frames,
        )  # fmt: skip
        text = f"internal error (request id {request_id}); please retry later"
        try:
            reply = render_error(text, self._server._clock()).encode("utf-8")
        except Exception:  # not even the clock: the connection just closes
            self._log("error", request_id)
            self._abort()
            return
        self._reply(reply, "error", request_id)

    def _reply(self, reply: bytes, outcome: _Outcome, request_id: str = "-") -> None:
        """Log the query, write the reply, then half-close and linger (or close at once if the client already
        half-closed)."""
        if self._state == _CLOSED:
            return
        self._log(outcome, request_id)
        self._send(reply)
        self._close(self._server._linger)

    def _refuse_busy(self) -> None:
        server = self._server
        log.warning("whois refused client=%s: %d connections open", self._client, server._admitted)
        self._done = True
        self._state = _LINGERING  # whatever the client sends is discarded
        try:
            reply = render_error("server busy: too many open connections; please retry later", server._clock())
            self._send(reply.encode("utf-8"))
            # A short linger keeps the refusal readable; beyond max_connections lingering refusals, none at all,
            # so a connection flood cannot pile up sockets.
            self._close(_REFUSAL_LINGER_SECONDS if server._refusing <= server.settings.max_connections else 0.0)
        except Exception as exc:  # a refusal must never take anything else down
            log.error("whois refusal failed client=%s exception=%s", self._client, type(exc).__name__)
            self._abort()

    def _close(self, linger: float) -> None:
        """After the reply: half-close and wait up to `linger` seconds for the client's FIN (discarding its
        input), then close. A client that does not take its reply gets `read_timeout_seconds` more."""
        if self._state == _CLOSED:
            return
        self._state = _LINGERING
        self._cancel_timer()
        pending = bool(self._out)
        if self._eof or linger <= 0:
            self._close_when_sent()
            if not pending:
                return
            linger = 0.0
        else:
            self._write_eof()
            if self._state == _CLOSED:
                return
        delay = linger + (self._server.settings.read_timeout_seconds if pending else 0.0)
        self.deadline = time.monotonic() + delay

    def close_for_shutdown(self) -> None:
        log.warning("whois connection closed by shutdown client=%s", self._client)
        self._abort()

    def _abort(self) -> None:
        self._close_now()

    def _cancel_timer(self) -> None:
        self.deadline = _NEVER

    def _log(self, outcome: _Outcome, request_id: str = "-") -> None:
        self._done = True
        duration_ms = (time.monotonic() - self._started) * 1000
        self._server._query_log.info(
            "whois query client=%s name=%s outcome=%s duration_ms=%.1f request_id=%s",
            self._client, self._name or "malformed", outcome, duration_ms, request_id,
        )  # fmt: skip


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

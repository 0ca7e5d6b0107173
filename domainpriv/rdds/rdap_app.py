"""The public RDAP server: a plain ASGI application (run it under uvicorn) answering RFC 9082 domain lookups.

Why it is built this way (STYLE §4):

* the answer is apart from the protocol: `domain_response(name, ...)` is the whole meaning of
  `GET {base_url}domain/{name}` as status and body bytes, with no HTTP in it, and the CLI's `domainpriv rdap NAME`
  prints exactly those bytes; this module's HTTP layer only routes, limits, logs and sets headers;
* a route list passed to the router's constructor (Starlette's `routing.py`), without a framework: the app is
  small, and every byte it sends is ours; what a middleware stack would do (HEAD, rate limit, the 500 guard) is
  done in `RdapApp.__call__`'s one frame;
* store lookups never block the event loop: on PostgreSQL they run on it through psycopg's asyncio driver,
  batched (`registration.lookup.AsyncLookups`); elsewhere in a bounded thread pool (Starlette `concurrency.py`).

HTTP behaviour (RFC 7480, RFC 9082, ICANN RDAP TIG 2024; shared/reference/rdds.md §2.2-§2.3, §2.11):

* `GET`/`HEAD {base path}domain/{name}`: 200 with the domain object; 404 with an error object when there is
  nothing to publish, whether the name is unknown or hidden (RFC 7480 §5.3, STYLE §3); 400 for a name that is not
  a domain name. Names are case-insensitive and may be U-labels (the path is percent-decoded as UTF-8).
* `GET`/`HEAD {base path}help`: 200 with rdapConformance and notices (TIG 2024 §3.4).
* The other RFC 9082 query types (nameserver/, entity/, ip/, autnum/, domains?, nameservers?, entities?): 501.
  Any other path: 404. Other methods on a known path: 405 with `Allow`.
* Every answer, errors included, is an RDAP JSON body with `Content-Type: application/rdap+json` and
  `Access-Control-Allow-Origin: *` (TIG 2024 §1.14); HEAD gets GET's status and headers without the body.
* Per-client token bucket (`rdap.rate_per_second`, `rdap.rate_burst`, key = the peer address ASGI reports):
  429 with `Retry-After` and an error body.
* The database cannot answer right now (down, not migrated, a replica gone): 503 with `Retry-After` and an error
  body; the daemon recovers by itself when it is back.
* An unexpected exception: 500 with a generic error body naming a request id; the log line with the same id
  names the exception type and place, never its message (which could carry record content).

Logging (`domainpriv.rdap`): one line per request with the normalised name (domain lookups only) and the
outcome; never the raw path, the client address or anything from a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import traceback
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import quote, unquote, urlsplit

import orjson

from domainpriv.clock import Clock, utcnow
from domainpriv.config import RdapSettings
from domainpriv.privacy import PublicRecord
from domainpriv.rdds.memo import RENDERED_ENTRIES, BoundedMemo
from domainpriv.rdds.query_log import BatchedLog
from domainpriv.rdds.ratelimit import RateLimiter
from domainpriv.rdds.rdap_json import RDAP_MEDIA_TYPE, render_domain, render_error, render_help
from domainpriv.rdds.rdap_notices import ERROR_TEXTS
from domainpriv.rdds.source import RecordSource, holds, loop_lookup
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import normalize_domain_name
from domainpriv.store.availability import DatabaseUnavailable, SchemaNotReady

__all__ = [
    "DEFAULT_LOOKUP_WORKERS",
    "LOGGER_NAME",
    "RdapApp",
    "Request",
    "Response",
    "Route",
    "Router",
    "domain_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOGGER_NAME: Final = "domainpriv.rdap"
# Threads for store lookups when the caller gives no executor: lookups are short read transactions, and the
# pool size is the most database connections RDAP can hold at once. (The daemon passes its shared pool.)
DEFAULT_LOOKUP_WORKERS: Final = 4
# RFC 3986 pchar characters besides unreserved ones: kept as they are when a name is put back into a URL.
_PCHAR_SAFE: Final = "!$&'()*+,;=:@"
# RFC 9082 §3.1 and §3.2 query types this registrar server does not implement (rdds.md §2.3): 501, not 404.
_NOT_IMPLEMENTED_PATHS: Final = (
    "nameserver/{name}",
    "entity/{handle}",
    "ip/{address:path}",
    "autnum/{number}",
    "domains",
    "nameservers",
    "entities",
)

log = logging.getLogger(LOGGER_NAME)


# --------------------------------------------------------------------------------------------------- the answer


@dataclass(frozen=True, slots=True)
class _DomainAnswer:
    status: int
    body: bytes
    outcome: Literal["found", "not-found", "malformed"]
    name: str | None  # the normalised A-label; None for a malformed query
    record: PublicRecord | None = None  # the view the body was rendered from (None: not found or malformed)
    # What every request answered from the memo sends and logs, made once with the answer.
    response: Response = field(init=False, repr=False, compare=False)
    log_line: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "response", Response(self.status, self.body))
        object.__setattr__(self, "log_line", f"rdap domain {self.name or '-'} {self.outcome} {self.status}")


def domain_response(name: str, *, source: RecordSource, settings: RdapSettings, now: datetime) -> tuple[int, bytes]:
    """Status and body bytes of `GET {settings.base_url}domain/{name}`, exactly as the server sends them.

    `name` is the decoded path segment (A-label or U-label, any case). Looks the name up in `source`, which may
    block: call it off the event loop."""
    request_url = f"{settings.base_url}domain/{quote(name, safe=_PCHAR_SAFE)}"
    answer = _answer_domain(name, request_url, source, settings, now)
    return answer.status, answer.body


def _answer_domain(
    name: str, request_url: str, source: RecordSource, settings: RdapSettings, now: datetime
) -> _DomainAnswer:
    """The one code path behind the server and `domain_response`. `now` is the answer time; no body carries it
    today (errors have no dates, and the domain object's "last update of RDAP database" is the moment the
    record's public view was computed, which the source stamps), so it is taken for parity with `answer_whois`."""
    del now
    try:
        a_label = normalize_domain_name(name, "name")
    except ValidationError:
        return _DomainAnswer(400, _error_body(400), "malformed", None)
    return _answer_record(a_label, source.lookup(a_label), request_url, settings)


def _answer_record(
    a_label: str, record: PublicRecord | None, request_url: str, settings: RdapSettings
) -> _DomainAnswer:
    if record is None:  # unknown and hidden look the same (RFC 7480 §5.3)
        return _DomainAnswer(404, _error_body(404), "not-found", a_label)
    body = render_domain(record, request_url=request_url, base_url=settings.base_url, terms_url=settings.terms_url)
    return _DomainAnswer(200, orjson.dumps(body), "found", a_label, record)


def _error_body(status: int, *extra: str) -> bytes:
    title, text = ERROR_TEXTS[status]
    return orjson.dumps(render_error(status, title, [text, *extra]))


# ------------------------------------------------------------------------------------------ requests, responses


@dataclass(frozen=True, slots=True)
class Request:
    """What an endpoint sees: path parameters still percent-encoded, and the URL the client asked for."""

    path_params: dict[str, str]
    request_url: str  # settings.base_url + the path below the base path, as received (no query string)


@dataclass(frozen=True, slots=True)
class Response:
    """An RDAP answer: every body is RDAP JSON, so the media type is fixed here (RFC 7480 §4.2)."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    # The two ASGI messages, built once: a memoised answer is sent again and again, and servers only read them.
    start: Message = field(init=False, repr=False, compare=False)
    body_message: Message = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        headers = [
            (b"content-type", _MEDIA_TYPE),
            (b"content-length", str(len(self.body)).encode("ascii")),
            # On every response, errors included: RFC 7480 §5.6; TIG 2024 §1.14 (-20500). Every answer of this
            # app is a Response, so no middleware is needed to add it.
            (b"access-control-allow-origin", b"*"),
            *self.headers,
        ]
        object.__setattr__(self, "start", {"type": "http.response.start", "status": self.status, "headers": headers})
        object.__setattr__(self, "body_message", {"type": "http.response.body", "body": self.body, "more_body": False})

    @classmethod
    def error(cls, status: int, *extra: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> Response:
        return cls(status, _error_body(status, *extra), headers)

    async def __call__(self, send: Send) -> None:
        await send(self.start)
        await send(self.body_message)


_MEDIA_TYPE: Final = RDAP_MEDIA_TYPE.encode("ascii")
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    """A path below the base path: literal segments, `{param}` for one segment, `{param:path}` for the rest."""

    path: str
    endpoint: Endpoint
    methods: frozenset[str] = frozenset({"GET"})  # HEAD is served as GET (RdapApp.__call__)
    pattern: tuple[str, ...] = field(init=False, repr=False, compare=False)  # path split once, not per request

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", tuple(self.path.split("/")))

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        pattern = self.pattern
        for index, part in enumerate(pattern):
            if part.startswith("{") and part.endswith(":path}"):
                rest = segments[index:]
                if not rest or not all(rest):
                    return None
                params[part[1:-6]] = "/".join(rest)
                return params
            if index >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                if not segments[index]:
                    return None
                params[part[1:-1]] = segments[index]
            elif part != segments[index]:
                return None
        return params if len(segments) == len(pattern) else None


class Router:
    """Dispatches on the path below the base path of `base_url`; 404 for unknown paths, 405 for other methods.

    Clients ask for the same paths again and again: what a raw path resolves to (route and Request, or nothing)
    is memoised, so a repeated request skips escaping, splitting and matching. A Request is immutable and
    endpoints only read it, so one object serves every request for its path. Paths longer than any domain query
    needs are not memoised: a client cycling through huge paths cannot make the memo hold megabytes."""

    def __init__(self, routes: Sequence[Route], *, base_url: str) -> None:
        self.routes = list(routes)
        self.base_url = base_url
        self.base_path = urlsplit(base_url).path or "/"
        self._resolved: BoundedMemo[bytes, tuple[Route, Request] | None] = BoundedMemo(RENDERED_ENTRIES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resolved = self.resolve(scope)
        if resolved is None:
            log.info("rdap unknown-path 404")
            await Response.error(404)(send)
            return
        route, request = resolved
        if scope["method"] not in route.methods:
            log.info("rdap method-not-allowed 405")
            served = route.methods | {"HEAD"} if "GET" in route.methods else route.methods  # HEAD is GET
            allow = ", ".join(sorted(served))
            await Response.error(405, headers=((b"allow", allow.encode("ascii")),))(send)
            return
        response = await route.endpoint(request)
        await response(send)

    def resolve(self, scope: Scope) -> tuple[Route, Request] | None:
        """The route and Request of the request's path, or None for a path no route serves."""
        raw = scope.get("raw_path")
        key = None if raw is None or len(raw) > _MEMO_MAX_PATH else raw if type(raw) is bytes else bytes(raw)
        if key is not None:
            try:
                return self._resolved[key]
            except KeyError:
                pass
        resolved = self._match(_raw_path(scope))
        if key is not None:
            self._resolved.put(key, resolved)
        return resolved

    def _match(self, raw: str) -> tuple[Route, Request] | None:
        if not raw.startswith(self.base_path):
            return None
        relative = raw[len(self.base_path) :]
        segments = relative.split("/")
        for route in self.routes:
            params = route.match(segments)
            if params is not None:
                return route, Request(params, self.base_url + relative)
        return None


# Seconds a client is asked to wait when the database cannot answer (RFC 9110 §10.2.3): a restart or fail-over
# usually takes a few seconds; the daemon reconnects by itself.
_RETRY_AFTER: Final = b"5"
# "domain/" + a 253-character name with every character percent-escaped as UTF-8 still fits.
_MEMO_MAX_PATH: Final = 2048
_NOTHING_TO_ESCAPE: Final = re.compile(rb"[A-Za-z0-9_.~/%" + re.escape(("-" + _PCHAR_SAFE).encode()) + rb"]*")


def _raw_path(scope: Scope) -> str:
    """The request path as sent, percent-encoded ASCII (ASGI `path` is already decoded, which would turn an
    encoded "/" inside a name into a separator)."""
    raw = scope.get("raw_path")
    if raw is None:
        return quote(str(scope["path"]), safe="/" + _PCHAR_SAFE)
    raw_bytes = bytes(raw).split(b"?", 1)[0]
    if _NOTHING_TO_ESCAPE.fullmatch(raw_bytes):  # the usual case: quote() would return it unchanged
        return raw_bytes.decode("ascii")
    return quote(raw_bytes, safe="/%" + _PCHAR_SAFE)  # keeps existing escapes; escapes raw non-ASCII bytes


# ----------------------------------------------------------------------------------------------------- the app


class RdapApp:
    """The RDAP ASGI application over `source`.

    `executor` runs the store lookups; without one the app owns a pool of DEFAULT_LOOKUP_WORKERS threads, shut
    down by `close()` or the ASGI lifespan shutdown. `clock` gives the answer time handed to the answer code."""

    def __init__(
        self, settings: RdapSettings, source: RecordSource, *, clock: Clock = utcnow, executor: Executor | None = None
    ) -> None:
        self.settings = settings
        self._source = source
        self._clock = clock
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(DEFAULT_LOOKUP_WORKERS, thread_name_prefix="rdap-lookup")
        self._answers: BoundedMemo[str, _DomainAnswer] = BoundedMemo(RENDERED_ENTRIES)  # by request URL
        self._lookup_on_loop = loop_lookup(source)
        self._query_log = BatchedLog(log)
        self._domain_route = Route("domain/{name}", self._domain)
        routes = [
            self._domain_route,
            Route("help", self._help),
            *(Route(path, self._not_implemented) for path in _NOT_IMPLEMENTED_PATHS),
        ]
        self._limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
        self._router = Router(routes, base_url=settings.base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What every request goes through, in one frame rather than a middleware stack (a layer per concern cost
        a coroutine per request each, on a path that answers tens of thousands of requests a second):

        - HEAD is answered as GET with the body dropped: same status and headers, Content-Length included (RFC
          9110 §9.3.2; the profile checks HEAD and GET agree, -20300);
        - a token bucket per client address (`rdds.ratelimit`); a refused request gets 429, an RDAP error body
          and `Retry-After` in whole seconds (RFC 7480 §5.5);
        - an answer already rendered for this URL, while its record is still current, is sent from here: most
          requests need neither the router's nor the endpoint's frame;
        - any exception becomes a 500 RDAP error naming a request id; the log line carries the same id, the
          exception type and where it was raised, never the exception's message (STYLE §4)."""
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}  # a copy: the server keeps its own scope, and must know it was HEAD
            send = _without_body(send)
        try:
            client = scope.get("client")
            wait = self._limiter.acquire(str(client[0]) if client else "unknown")
            if wait > 0:
                log.info("rdap rate-limited 429")
                retry_after = str(self._limiter.retry_after_seconds(wait)).encode("ascii")
                await Response.error(429, headers=((b"retry-after", retry_after),))(send)
                return
            answer = self._memoised(scope)
            if answer is None:
                await self._router(scope, receive, send)
                return
            self._query_log.info(answer.log_line)
            response = answer.response
            await send(response.start)
            await send(response.body_message)
        except Exception as exc:  # the last line of defence: the client gets an answer, the log the details
            request_id = uuid.uuid4().hex[:16]
            frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            where = f"{frame.filename}:{frame.lineno}" if frame else "?"
            log.error("rdap internal-error 500 request_id=%s exception=%s at %s", request_id, type(exc).__name__, where)
            # If the response had already started, the server refuses a second start: nothing more to send.
            # (Not wrapping `send` to track that keeps the normal path free of a coroutine per message.)
            with contextlib.suppress(RuntimeError):
                await Response.error(500, f"Request id: {request_id}.")(send)

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:  # websocket: not an RDAP transport
            await send({"type": "websocket.close", "code": 1003})

    def close(self) -> None:
        """Log what is still queued; shut down the lookup pool if the app created it (waits for lookups)."""
        self._query_log.flush()
        if self._owns_executor:
            self._executor.shutdown(wait=True)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _domain(self, request: Request) -> Response:
        """A domain query that `__call__` could not answer from the memo (it looked just before)."""
        try:
            name = unquote(request.path_params["name"], errors="strict")
        except UnicodeDecodeError:  # percent-escapes that are not UTF-8 cannot spell a domain name
            log.info("rdap domain - malformed 400")
            return Response.error(400)
        try:
            a_label = normalize_domain_name(name, "name")
        except ValidationError:
            self._query_log.info("rdap domain - malformed 400")
            return Response.error(400)
        try:
            url = request.request_url
            answer = self._from_cache(a_label, url) or await self._look_up(a_label, url)
        except (DatabaseUnavailable, SchemaNotReady):
            self._query_log.info("rdap domain - unavailable 503")
            return Response.error(503, headers=((b"retry-after", _RETRY_AFTER),))
        self._query_log.info(answer.log_line)
        return answer.response

    async def _look_up(self, a_label: str, request_url: str) -> _DomainAnswer:
        """The answer of a normalised name that missed the cache: on the loop when the source can look up there
        without blocking it (PostgreSQL), else in the lookup pool."""
        if self._lookup_on_loop is not None:
            record = await self._lookup_on_loop(a_label)
            answer = _answer_record(a_label, record, request_url, self.settings)
        else:
            lookup = functools.partial(self._answer_name, a_label, request_url)
            answer = await asyncio.get_running_loop().run_in_executor(self._executor, lookup)
        # Kept only if the source kept the record: a name's first load is not (rdds/cache.py's doorkeeper), and
        # no later request could be answered from it.
        if holds(self._source, a_label, answer.record):
            self._answers.put(request_url, answer)
        return answer

    def _memoised(self, scope: Scope) -> _DomainAnswer | None:
        """The memoised answer of a GET domain/{name} whose record the source still holds, else None (the router
        and the endpoint then do their full work). Spares the usual request two coroutine frames."""
        resolved = self._router.resolve(scope)
        if resolved is None or resolved[0] is not self._domain_route or scope["method"] != "GET":
            return None
        return self._from_memo(resolved[1].request_url)

    def _from_memo(self, request_url: str) -> _DomainAnswer | None:
        """The answer already rendered for this very URL, while the source still holds the record it was rendered
        from: no decoding, normalising or rendering again (`rdds.memo`)."""
        answer = self._answers.get(request_url)
        if answer is None or answer.name is None:  # (only looked-up names are kept: name is never None here)
            return None
        return answer if holds(self._source, answer.name, answer.record) else None

    def _answer_name(self, a_label: str, request_url: str) -> _DomainAnswer:
        return _answer_record(a_label, self._source.lookup(a_label), request_url, self.settings)

    def _from_cache(self, a_label: str, request_url: str) -> _DomainAnswer | None:
        """The answer, computed on the event loop, when the source has the record at hand without blocking."""
        hit, record = self._source.peek(a_label)
        if not hit:
            return None
        answer = _answer_record(a_label, record, request_url, self.settings)
        self._answers.put(request_url, answer)
        return answer

    async def _help(self, request: Request) -> Response:
        body = render_help(request.request_url, help_url=self.settings.help_url, terms_url=self.settings.terms_url)
        log.info("rdap help 200")
        return Response(200, orjson.dumps(body))

    async def _not_implemented(self, request: Request) -> Response:
        log.info("rdap not-implemented 501")
        return Response.error(501)


def _without_body(send: Send) -> Send:
    async def send_without_body(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_without_body

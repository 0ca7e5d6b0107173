"""One mapping from domainpriv's errors to HTTP statuses, shared by the API (JSON) and the pages (HTML).

Another tenant's object is a NotFound like a missing one (404, the same text). Messages are the services' own,
which name fields, handles and domain names and never contact values (errors.py); an unexpected exception is
answered with a generic text and a request id, and logged by its type and place only.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domainpriv.accounts.access import Forbidden
from domainpriv.accounts.password_reset import ResetRefused
from domainpriv.accounts.sessions import LoginRefused
from domainpriv.errors import ConflictError, DomainprivError, NotFound
from domainpriv.registration.errors import ValidationError
from domainpriv.selfservice.changes import ReverificationNeeded
from domainpriv.selfservice.registrant_change import RegistrantChangeRefused
from domainpriv.store.availability import DatabaseUnavailable, SchemaNotReady

log = logging.getLogger("domainpriv.portal")

RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    message: str
    field: str | None = None
    retry_after: int | None = None


def problem_for(exc: DomainprivError) -> Problem:
    """The status and message a broken rule is answered with."""
    if isinstance(exc, ValidationError):
        return Problem(422, str(exc), exc.field)
    if isinstance(exc, NotFound):
        return Problem(404, str(exc))
    if isinstance(exc, ReverificationNeeded | Forbidden):
        return Problem(403, str(exc))
    if isinstance(exc, LoginRefused):
        wait = exc.retry_after_seconds
        return Problem(429 if wait else 401, str(exc), retry_after=wait)
    if isinstance(exc, ResetRefused | RegistrantChangeRefused):
        return Problem(410, str(exc))
    if isinstance(exc, DatabaseUnavailable | SchemaNotReady):
        return Problem(
            503, "the service is temporarily unavailable; try again shortly", retry_after=RETRY_AFTER_SECONDS
        )
    if isinstance(exc, ConflictError):
        return Problem(409, str(exc))
    return Problem(409, str(exc))  # a rule of the data (consent missing, a change of registrant needed, ...)


def unexpected(exc: BaseException) -> Problem:
    """A bug: logged with a request id by type and place (never the message, which could hold record data)."""
    request_id = uuid.uuid4().hex[:12]
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f"{frame.filename}:{frame.lineno}" if frame else "?"
    log.error("request %s failed: %s at %s", request_id, type(exc).__name__, place)
    return Problem(500, f"internal error (request {request_id}); it has been logged")


class AnswerBugs:
    """Innermost guard against bugs: a 500 with a request id, logged by type and place only. (Starlette's own
    handler for Exception re-raises to the server, which would log the message: it could hold record data.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            problem = unexpected(exc)
            if started:
                return
            if str(scope.get("path", "")).startswith("/api/"):
                body, kind = orjson.dumps({"error": problem.message, "field": None}), b"application/json"
            else:
                body = f"<!doctype html><title>Error</title><p>{problem.message}</p>".encode()
                kind = b"text/html; charset=utf-8"
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})

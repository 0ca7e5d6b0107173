"""The portal's ASGI application: the API router, the pages, the static style sheet, the security headers and
one error mapping (errors.py) that answers JSON under /api/ and an HTML page elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from domainpriv.config import Settings
from domainpriv.errors import DomainprivError
from domainpriv.portal import api, api_cases, pages
from domainpriv.portal.context import Portal, refuse_nul
from domainpriv.portal.errors import AnswerBugs, Problem, problem_for
from domainpriv.portal.security import Cookies, SecurityHeaders
from domainpriv.rdds import publication_policy
from domainpriv.store import UnitOfWork

STATIC = Path(__file__).parent / "static"


def build_portal(settings: Settings, uow: UnitOfWork) -> FastAPI:
    """The portal and API for `settings`, reading and writing through `uow`."""
    app = FastAPI(
        title="domainpriv API",
        version="1",
        description="Registration data of the caller's domains: contacts, name servers, privacy, consents, "
        "the personal-data export. Authenticate with `Authorization: Bearer TOKEN` (tokens from the portal's "
        "account page or `domainpriv account token`).",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.portal = Portal(
        settings, uow, publication_policy(settings), Cookies(secure=settings.portal.secure_cookies)
    )
    app.include_router(api.router, dependencies=[Depends(refuse_nul)])
    app.include_router(api_cases.router, dependencies=[Depends(refuse_nul)])
    app.include_router(pages.router, dependencies=[Depends(refuse_nul)])
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(DomainprivError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(pages.LoginNeeded, _login_needed)
    app.add_exception_handler(pages.FormRejected, _form_rejected)
    app.add_middleware(AnswerBugs)
    app.add_middleware(SecurityHeaders, tls=settings.portal.secure_cookies)  # outside: on the 500s too
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _answer(request: Request, problem: Problem, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if problem.retry_after is not None:
        headers["Retry-After"] = str(problem.retry_after)
    if _is_api(request):
        body = {"error": problem.message, "field": problem.field}
        return JSONResponse(body, status_code=problem.status, headers=headers)
    return pages.error_page(request, problem, headers)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainprivError)
    return _answer(request, problem_for(exc))


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's own parsing failed (types, a missing field, a body that is not JSON): 422 naming the field."""
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    loc = [part for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    # Named as the services name fields (registration/validation.py): `nameservers[0].host`.
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".") or "body"
    if first.get("type") == "json_invalid":
        return _answer(request, Problem(422, "body: is not valid JSON", "body"))
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return _answer(request, Problem(422, f"{field}: {message[:1].lower()}{message[1:]}", field))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such page"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        detail = "method not allowed"
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return _answer(request, Problem(exc.status_code, detail), headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (RFC 9110 §15.5.6). Starlette names only the first route that
    matches the path, and a path with GET and POST served by two functions is two routes (GET and POST /cases).
    405s are rare: the routes are walked when one happens."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        if route.path and route.methods and compile_path(route.path)[0].match(request.scope["path"]):
            methods |= route.methods
    return ", ".join(sorted(methods))


async def _login_needed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, pages.LoginNeeded)
    return pages.login_redirect(exc.next_path)


async def _form_rejected(request: Request, exc: Exception) -> Response:
    message = "this form has expired or did not come from this site: reload the page and send it again"
    return _answer(request, Problem(403, message))

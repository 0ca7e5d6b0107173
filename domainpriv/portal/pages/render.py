"""Rendering a page and reading a posted form: the CSRF token in every page, checked on every form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from domainpriv.accounts.access import Principal
from domainpriv.portal.context import NUL_REFUSED, page_principal, portal_of
from domainpriv.portal.security import csrf_ok, csrf_token
from domainpriv.registration.errors import ValidationError

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


class LoginNeeded(Exception):
    """Raised by `logged_in`: answered with a redirect to the login page, back here afterwards."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class FormRejected(Exception):
    """A POST without a matching CSRF token, or from another site."""


def logged_in(request: Request, me: Annotated[Principal | None, Depends(page_principal)]) -> Principal:
    if me is None:
        raise LoginNeeded(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return me


async def posted(request: Request) -> dict[str, str]:
    """The posted form's fields (first value of each), once checked (`checked_fields`)."""
    return checked_fields(request, await request.form())


def checked_fields(request: Request, form: FormData) -> dict[str, str]:
    """The form's text fields (first value of each) once its CSRF token is checked and no value, repeated ones
    included, holds a NUL: PostgreSQL cannot compare text holding one, so it is refused here, not as a 500 there.
    Every page form, urlencoded or multipart, goes through this."""
    portal = portal_of(request)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not csrf_ok(request, portal.cookies, fields.get("csrf"), own_origin=portal.origin):
        raise FormRejected()
    texts = ((key, value) for key, value in form.multi_items() if isinstance(value, str))
    nul = next((key for key, value in texts if "\x00" in value or "\x00" in key), None)
    if nul is not None:
        raise ValidationError(nul.replace("\x00", ""), NUL_REFUSED)
    return fields


def page(request: Request, name: str, *, me: Principal | None = None, status: int = 200,
         headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:  # fmt: skip
    """Render template `name`; the CSRF cookie is set when the visitor has none yet."""
    portal = portal_of(request)
    token, new = csrf_token(request, portal.cookies)
    response = TEMPLATES.TemplateResponse(
        request, name, {"me": me, "csrf": token, "errors": {}, "values": {}, "failed": status >= 400, **context},
        status_code=status, headers=headers,
    )  # fmt: skip
    if new:
        response.set_cookie(portal.cookies.csrf, token, **portal.cookies.attributes(same_site="strict"))
    return response


def redirect(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def login_redirect(next_path: str) -> Response:
    return redirect("/login?next=" + quote(next_path, safe="/"))


def safe_next(value: str | None, default: str = "/domains") -> str:
    """Only a path on this site (no scheme, no //host): the login form must not become an open redirect. No
    white space or control characters either: browsers drop tabs and line breaks from a URL, so `/` TAB `/host`
    would become `//host`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(c.isspace() or not c.isprintable() for c in value):
        return default
    return value

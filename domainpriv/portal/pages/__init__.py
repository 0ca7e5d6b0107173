"""The portal's HTML pages (server-rendered, no JavaScript), one module per area."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from domainpriv.portal.errors import Problem
from domainpriv.portal.pages import account, cases, domains, links, login
from domainpriv.portal.pages.render import FormRejected, LoginNeeded, login_redirect, page

router = APIRouter(include_in_schema=False)
for module in (login, domains, account, links, cases):
    router.include_router(module.router)

TITLES = {401: "Not logged in", 403: "Not allowed", 404: "Not found", 409: "Not possible", 410: "Link not valid",
          422: "Please check the form", 429: "Too many attempts", 503: "Temporarily unavailable"}  # fmt: skip

__all__ = ["FormRejected", "LoginNeeded", "error_page", "login_redirect", "router"]


def error_page(request: Request, problem: Problem, headers: dict[str, str]) -> HTMLResponse:
    return page(request, "message.html", status=problem.status, headers=headers,
                title=TITLES.get(problem.status, "Error"), message=problem.message)  # fmt: skip

"""What every request handler needs: the settings, the unit of work, the cookies, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request

from domainpriv.accounts import sessions
from domainpriv.accounts.access import Principal, principal_for
from domainpriv.accounts.services import authenticate_token
from domainpriv.config import Settings
from domainpriv.portal.security import Cookies, origin_of
from domainpriv.privacy import PublicationPolicy
from domainpriv.registration.errors import ValidationError
from domainpriv.store import UnitOfWork


@dataclass(frozen=True)
class Portal:
    settings: Settings
    uow: UnitOfWork
    policy: PublicationPolicy
    cookies: Cookies

    @property
    def link_base(self) -> str:
        return self.settings.portal.base_url

    @property
    def origin(self) -> str:
        return origin_of(self.settings.portal.base_url)


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def session_id(request: Request) -> str:
    return request.cookies.get(portal_of(request).cookies.session, "")


def page_principal(request: Request) -> Principal | None:
    """The account whose open session the cookie names, or None."""
    portal = portal_of(request)
    found = sessions.current_session(portal.uow, session_id(request))
    return None if found is None else principal_for(portal.uow, found.account, via="session")


def api_principal(request: Request) -> Principal:
    """The account of the request's `Authorization: Bearer` API token; 401 without a valid one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    handle = authenticate_token(portal_of(request).uow, token.strip()) if scheme.lower() == "bearer" else None
    if handle is None:
        raise HTTPException(401, "an API token is needed: Authorization: Bearer TOKEN",
                            headers={"WWW-Authenticate": 'Bearer realm="domainpriv"'})  # fmt: skip
    return principal_for(portal_of(request).uow, handle, via="token")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


NUL_REFUSED = "must not contain NUL characters"


def refuse_nul(request: Request) -> None:
    """A router dependency: a NUL character in a path parameter or a query value is a 422 naming it, before
    any handler runs (PostgreSQL cannot store or compare text holding one: the query would fail with a 500)."""
    for source in (request.path_params, request.query_params):
        for name, value in source.items():
            if "\x00" in str(value):
                raise ValidationError(name, NUL_REFUSED)

"""Login, logout, password reset, re-verification and two-factor set-up."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from domainpriv.accounts import password_reset, reverify, sessions, two_factor
from domainpriv.accounts.access import Principal
from domainpriv.accounts.password_reset import ResetRefused
from domainpriv.accounts.sessions import LoginRefused
from domainpriv.portal.context import client_address, page_principal, portal_of, session_id
from domainpriv.portal.pages.render import logged_in, page, posted, redirect, safe_next
from domainpriv.registration.errors import ValidationError

router = APIRouter(include_in_schema=False)
Me = Annotated[Principal, Depends(logged_in)]
Form = Annotated[dict[str, str], Depends(posted)]


@router.get("/")
def home(me: Annotated[Principal | None, Depends(page_principal)]) -> Response:
    return redirect("/domains" if me is not None else "/login")


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    return page(request, "login.html", next=safe_next(next), needs_code=False)


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    portal = portal_of(request)
    next_path = safe_next(form.get("next"))
    account, code = form.get("account", ""), form.get("code") or None
    try:
        done = sessions.login(portal.uow, account=account, password=form.get("password", ""),
                              source=client_address(request), code=code)  # fmt: skip
    except LoginRefused as refused:
        status = 429 if refused.retry_after_seconds else 401
        headers = {"Retry-After": str(refused.retry_after_seconds)} if refused.retry_after_seconds else None
        return page(request, "login.html", status=status, headers=headers, next=next_path, message=str(refused),
                    needs_code=refused.needs_code, values={"account": account})  # fmt: skip
    response = redirect(next_path)
    cookies = portal.cookies
    # A new session id and a new CSRF token: whatever a visitor was given before logging in is worthless now.
    response.set_cookie(cookies.session, done.session_id, **cookies.attributes(same_site="lax"))
    response.delete_cookie(cookies.csrf, path="/", secure=cookies.secure, httponly=True, samesite="strict")
    return response


@router.post("/logout")
def logout(request: Request, form: Form) -> Response:
    portal = portal_of(request)
    sessions.logout(portal.uow, session_id(request))
    return _logged_out(request)


@router.post("/logout-everywhere")
def logout_everywhere(request: Request, me: Me, form: Form) -> Response:
    sessions.end_all_sessions(portal_of(request).uow, actor=me.actor, account=me.handle, reason="logout everywhere")
    return _logged_out(request)


def _logged_out(request: Request) -> Response:
    cookies = portal_of(request).cookies
    response = redirect("/login")
    response.delete_cookie(cookies.session, path="/", secure=cookies.secure, httponly=True, samesite="lax")
    return response


@router.get("/password-reset")
def reset_request_form(request: Request) -> Response:
    return page(request, "reset_request.html", by=portal_of(request).settings.accounts.reset_to)


@router.post("/password-reset")
def reset_request(request: Request, form: Form) -> Response:
    portal = portal_of(request)
    by = portal.settings.accounts.reset_to
    with contextlib.suppress(ValidationError):  # the same answer for a malformed address as for an unknown one
        password_reset.request_reset(portal.uow, email=form.get("email", ""), domain=form.get("domain", ""),
                                     link_base=portal.link_base, reset_to=by)  # fmt: skip
    return page(request, "reset_requested.html", by=by)


@router.get("/password-reset/{token}")
def reset_form(request: Request, token: str) -> Response:
    return page(request, "reset_form.html", token=token)


@router.post("/password-reset/{token}")
def reset(request: Request, token: str, form: Form) -> Response:
    portal = portal_of(request)
    try:
        password_reset.reset_password(portal.uow, token=token, password=form.get("password", ""))
    except ValidationError as exc:
        return page(request, "reset_form.html", status=422, token=token, errors={"password": exc.problem})
    except ResetRefused as exc:
        return page(request, "message.html", status=410, title="Password reset", message=str(exc),
                    link=("/password-reset", "Ask for a new link"))  # fmt: skip
    done = "Your password has been changed and every session has ended. Log in with the new one."
    return page(request, "message.html", title="Password changed", link=("/login", "Log in"), message=done)


@router.get("/reverify")
def reverify_form(request: Request, me: Me, next: str = "") -> Response:
    return page(request, "reverify.html", me=me, next=safe_next(next, "/account"), sent=False)


@router.post("/reverify")
def reverify_post(request: Request, me: Me, form: Form) -> Response:
    uow, sid = portal_of(request).uow, session_id(request)
    next_path = safe_next(form.get("next"), "/account")
    action = form.get("action", "password")
    if action == "send-code":
        try:
            reverify.send_code(uow, session_id=sid)
        except reverify.TooManyCodes as exc:
            return page(request, "reverify.html", me=me, status=429, next=next_path, sent=False,
                        headers={"Retry-After": str(exc.retry_after_seconds)}, errors={"code": str(exc)})  # fmt: skip
        return page(request, "reverify.html", me=me, next=next_path, sent=True)
    ok = (reverify.with_code(uow, session_id=sid, code=form.get("code", "")) if action == "code"
          else reverify.with_password(uow, session_id=sid, password=form.get("password", "")))  # fmt: skip
    if ok:
        return redirect(next_path)
    field = "code" if action == "code" else "password"
    return page(request, "reverify.html", me=me, status=422, next=next_path, sent=action == "code",
                errors={field: f"that {field} is not right"})  # fmt: skip


@router.get("/account/two-factor")
def two_factor_page(request: Request, me: Me) -> Response:
    enabled = two_factor.enabled(portal_of(request).uow, me.handle)
    return page(request, "two_factor.html", me=me, enrolment=None, codes=None, enabled=enabled)


@router.post("/account/two-factor")
def two_factor_post(request: Request, me: Me, form: Form) -> Response:
    uow = portal_of(request).uow
    if form.get("action") == "begin":
        if two_factor.enabled(uow, me.handle):
            return page(request, "two_factor.html", me=me, enrolment=None, codes=None,
                        message="Two-factor authentication is already on.")  # fmt: skip
        enrolment = two_factor.begin(uow, actor=me.actor, account=me.handle)
        return page(request, "two_factor.html", me=me, enrolment=enrolment, codes=None)
    try:
        codes = two_factor.confirm(uow, actor=me.actor, account=me.handle, code=form.get("code", ""))
    except ValidationError as exc:
        return page(request, "two_factor.html", me=me, status=422, enrolment=two_factor.pending(uow, me.handle),
                    codes=None, errors={"code": exc.problem})  # fmt: skip
    return page(request, "two_factor.html", me=me, enrolment=None, codes=codes)

"""The account page: consents and their ledger, API tokens, the e-mail address, the personal-data export; and
staff's customer search."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from domainpriv import cases
from domainpriv.accounts import consent, reverify, two_factor
from domainpriv.accounts import services as credentials
from domainpriv.accounts.access import Permission, Principal, require
from domainpriv.portal.context import portal_of, session_id
from domainpriv.portal.pages.domains import change_of
from domainpriv.portal.pages.render import logged_in, page, posted, redirect
from domainpriv.registration.errors import ValidationError
from domainpriv.selfservice import changes, scope
from domainpriv.selfservice.changes import ReverificationNeeded
from domainpriv.selfservice.consents import CHOICES, set_consent
from domainpriv.selfservice.export import export_in_scope
from domainpriv.vocabulary import ConsentPurpose

router = APIRouter(include_in_schema=False)
Me = Annotated[Principal, Depends(logged_in)]
Form = Annotated[dict[str, str], Depends(posted)]
PURPOSE_NAMES = {
    ConsentPurpose.MARKETING: "Our offers by e-mail",
    ConsentPurpose.PARTNER_OFFERS: "Partners' offers, sent by us (your address is never given to them)",
    ConsentPurpose.RESELLER_NEWSLETTER: "Your reseller's newsletter",
    ConsentPurpose.PUBLISH_ORGANIZATION: "Show your organisation's name in WHOIS even when contact data is hidden",
    ConsentPurpose.PUBLISH_CONTACT_DATA: "Publish your contact data in WHOIS (privacy mode public)",
}


def _account_page(request: Request, me: Principal, *, status: int = 200, **extra: Any) -> Response:
    uow = portal_of(request).uow
    return page(request, "account.html", me=me, status=status, in_force=consent.in_force(uow, me.handle),
                ledger=consent.ledger(uow, me.handle), choices=CHOICES, purpose_names=PURPOSE_NAMES,
                tokens=credentials.list_tokens(uow, account=me.handle),
                two_factor_on=two_factor.enabled(uow, me.handle),
                disclosures=cases.ledger_for_account(uow, account=me.handle, principal=me),
                **({"new_token": None} | extra))  # fmt: skip


@router.get("/account")
def account(request: Request, me: Me) -> Response:
    return _account_page(request, me)


@router.post("/account/consents")
def consent_post(request: Request, me: Me, form: Form) -> Response:
    portal = portal_of(request)
    set_consent(portal.uow, change_of(me, form), account=me.handle, purpose=form.get("purpose", ""),
                granted=form.get("granted") == "1", policy_version=portal.settings.consent.policy_version)  # fmt: skip
    return redirect("/account?changed=consent")


@router.post("/account/tokens")
def token_post(request: Request, me: Me, form: Form) -> Response:
    try:
        issued = credentials.issue_token(portal_of(request).uow, actor=me.actor, account=me.handle,
                                         name=form.get("name", ""), reason="created in the portal")  # fmt: skip
    except ValidationError as exc:
        return _account_page(request, me, status=422, errors={"name": exc.problem})
    return _account_page(request, me, new_token=issued)


@router.post("/account/tokens/{token_id}/revoke")
def token_revoke(request: Request, me: Me, token_id: int, form: Form) -> Response:
    credentials.revoke_token(portal_of(request).uow, actor=me.actor, account=me.handle, token_id=token_id,
                             reason="revoked in the portal")  # fmt: skip
    return redirect("/account?changed=tokens")


@router.get("/account/email")
def email_form(request: Request, me: Me) -> Response:
    if not reverify.is_fresh(portal_of(request).uow, session_id=session_id(request)):
        return redirect("/reverify?next=/account/email")
    return page(request, "email.html", me=me)


@router.post("/account/email")
def email_post(request: Request, me: Me, form: Form) -> Response:
    portal = portal_of(request)
    try:
        fresh = reverify.is_fresh(portal.uow, session_id=session_id(request))
        changes.change_account_email(portal.uow, change_of(me, form), account=me.handle,
                                     email=form.get("email", ""), reverified=fresh)  # fmt: skip
    except ReverificationNeeded:
        return redirect("/reverify?next=/account/email")
    except ValidationError as exc:
        return page(request, "email.html", me=me, status=422, values=form, errors={"email": exc.problem})
    return redirect("/account?changed=email")


@router.get("/account/export")
def export(request: Request, me: Me) -> Response:
    """The personal-data export as a JSON download, after a fresh re-verification."""
    uow = portal_of(request).uow
    if not reverify.is_fresh(uow, session_id=session_id(request)):
        return redirect("/reverify?next=/account/export")
    document = export_in_scope(uow, me, account=me.handle, reason="export downloaded from the portal")
    return Response(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
                    media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{me.handle}-export.json"'})  # fmt: skip


@router.get("/customers")
def customers(request: Request, me: Me, q: str = "") -> Response:
    require(me, Permission.CUSTOMERS_FIND)
    found = scope.find_customers(portal_of(request).uow, me, q) if q.strip() else []
    return page(request, "customers.html", me=me, q=q, found=found)

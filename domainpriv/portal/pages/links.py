"""Pages reached from e-mailed links, without logging in: unsubscribe and the registrant's confirmation.
A GET only shows a button (mail scanners and link previews fetch links); the POST does it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from domainpriv.notify.mailings import unsubscribe
from domainpriv.portal.context import portal_of
from domainpriv.portal.pages.render import page, posted
from domainpriv.selfservice import registrant_change
from domainpriv.selfservice.registrant_change import RegistrantChangeRefused

router = APIRouter(include_in_schema=False)
Form = Annotated[dict[str, str], Depends(posted)]
PURPOSES = {"marketing": "our offers", "partner_offers": "partners' offers", "reseller_newsletter":
            "your reseller's newsletter"}  # fmt: skip


@router.get("/unsubscribe/{token}")
def unsubscribe_form(request: Request, token: str) -> Response:
    return page(request, "confirm_link.html", title="Unsubscribe", action=f"/unsubscribe/{token}",
                text="Stop these e-mails? Notices about your domains and account still reach you.",
                button="Unsubscribe")  # fmt: skip


@router.post("/unsubscribe/{token}")
def unsubscribe_post(request: Request, token: str, form: Form) -> Response:
    portal = portal_of(request)
    purpose = unsubscribe(portal.uow, token, policy_version=portal.settings.consent.policy_version)
    text = (f"You will no longer receive {PURPOSES.get(purpose.value, purpose.value)} by e-mail."
            if purpose is not None else "This link has been used already or is not valid: nothing was changed. "
            "You can manage what you receive on your account page.")  # fmt: skip
    return page(request, "message.html", title="Unsubscribe", message=text, link=("/account", "Your account"))


@router.get("/registrant-change/{token}")
def registrant_change_form(request: Request, token: str) -> Response:
    return page(request, "confirm_link.html", title="Confirm the change of registrant",
                action=f"/registrant-change/{token}", button="Confirm the change",
                text="You are the registrant of record. Confirming hands the registration to the new registrant "
                "given in the e-mail. If you did not expect this, do nothing: the link expires.")  # fmt: skip


@router.post("/registrant-change/{token}")
def registrant_change_post(request: Request, token: str, form: Form) -> Response:
    try:
        record = registrant_change.confirm_change(portal_of(request).uow, token)
    except RegistrantChangeRefused as exc:
        return page(request, "message.html", status=410, title="Change of registrant", message=str(exc))
    return page(request, "message.html", title="Change of registrant",
                message=f"The change of registrant of {record.u_label} is done.")  # fmt: skip

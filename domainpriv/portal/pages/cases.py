"""Cases in the portal: the public form for complaints, disclosure requests and abuse reports (no login), and
the customer's side of a complaint: the cases about its domains it has been told of, and its answer (assurances
with evidence, cancelling the registration instead, or court proceedings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from domainpriv import cases
from domainpriv.accounts.access import Principal
from domainpriv.audit import Actor
from domainpriv.portal.case_access import told_case, told_cases
from domainpriv.portal.context import portal_of
from domainpriv.portal.pages.render import checked_fields, logged_in, page, redirect
from domainpriv.registration.errors import ValidationError

router = APIRouter(include_in_schema=False)
Me = Annotated[Principal, Depends(logged_in)]
WEB_FORM = Actor("public", "web-form")
MAX_FILES = 5
CUSTOMER_ACTIONS = {
    "cancel": "Cancel the registration instead",
    "court-proceedings": "I have started court proceedings",
}
KIND_NAMES = {"complaint": "Complaint about a privacy-protected domain", "disclosure": "Request for disclosure of "
              "registration data", "abuse": "Abuse report (malware, phishing, botnets, spam)"}  # fmt: skip


async def posted_with_files(request: Request) -> tuple[dict[str, str], dict[str, list[str]], list[cases.Evidence]]:
    """A multipart form once checked (`checked_fields`): first values, every value by name, and the files, read
    into memory (each at most cases.max_evidence_bytes), so their spooled temporary files are closed at once."""
    limit = portal_of(request).settings.cases.max_evidence_bytes
    form = await request.form(max_files=MAX_FILES, max_part_size=limit)
    try:
        fields = checked_fields(request, form)
        lists = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
        files = [cases.Evidence(f.filename or "evidence", await f.read())
                 for f in form.getlist("evidence") if isinstance(f, UploadFile) and f.filename]  # fmt: skip
    finally:
        await form.close()
    return fields, lists, files


Posted = Annotated[tuple[dict[str, str], dict[str, list[str]], list[cases.Evidence]], Depends(posted_with_files)]


def _report_page(request: Request, *, status: int = 200, values: dict[str, str] | None = None,
                 errors: dict[str, str] | None = None, chosen: list[str] | None = None) -> Response:  # fmt: skip
    return page(request, "report.html", status=status, kinds=KIND_NAMES, fields=cases.PUBLIC_FIELDS,
                values=values or {}, errors=errors or {}, chosen=chosen or [])  # fmt: skip


@router.get("/report")
def report_form(request: Request, kind: str = "complaint", domain: str = "") -> Response:
    return _report_page(request, values={"kind": kind if kind in KIND_NAMES else "complaint", "domain": domain})


@router.post("/report")
def report(request: Request, posted: Posted) -> Response:
    form, lists, files = posted
    portal = portal_of(request)
    requester = cases.Requester(name=form.get("name", ""), email=form.get("email", ""), org=form.get("org") or None,
                                address=form.get("address") or None, phone=form.get("phone") or None)  # fmt: skip
    try:
        case = cases.open_case(portal.uow, portal.settings, actor=WEB_FORM, kind=form.get("kind", ""),
                               domain=form.get("domain", ""), requester=requester, text=form.get("text", ""),
                               legal_basis=form.get("legal_basis") or None, fields=lists.get("fields", []),
                               urgent=form.get("urgent") == "1", evidence=files)  # fmt: skip
    except ValidationError as exc:
        return _report_page(request, status=422, values=form, chosen=lists.get("fields", []),
                            errors={exc.field.removeprefix("requester."): exc.problem})  # fmt: skip
    return page(request, "message.html", status=201, title="Received",
                message=f"Your {case.kind} about {case.domain} is registered as {case.reference}. An acknowledgement "
                "is on its way to your e-mail address; quote the reference in any message about it.")  # fmt: skip


@router.get("/cases")
def case_list(request: Request, me: Me) -> Response:
    found = told_cases(portal_of(request).uow, me)
    return page(request, "cases.html", me=me, found=found)


def _case_page(request: Request, me: Principal, reference: str, *, status: int = 200,
               errors: dict[str, str] | None = None, values: dict[str, str] | None = None) -> Response:  # fmt: skip
    case = told_case(portal_of(request).uow, me, reference)
    answerable = case.state == "customer_notified"
    return page(request, "case.html", me=me, status=status, case=case, doc=case.customer_json(),
                answerable=answerable, actions=CUSTOMER_ACTIONS, errors=errors or {}, values=values or {})  # fmt: skip


@router.get("/cases/{reference}")
def case_page(request: Request, me: Me, reference: str) -> Response:
    return _case_page(request, me, reference)


@router.post("/cases/{reference}/assurances")
def assurances(request: Request, me: Me, reference: str, posted: Posted) -> Response:
    form, _, files = posted
    portal = portal_of(request)
    told_case(portal.uow, me, reference)  # not told of it: 404 before anything is recorded
    try:
        cases.give_assurances(portal.uow, reference, settings=portal.settings, actor=me,
                              indemnity=form.get("indemnity") == "1",
                              contacted_complainant=form.get("contacted_complainant") == "1",
                              statement=form.get("statement", ""), evidence=files)  # fmt: skip
    except ValidationError as exc:
        field = "statement" if exc.field == "reason" else exc.field
        return _case_page(request, me, reference, status=422, values=form, errors={field: exc.problem})
    return redirect(f"/cases/{reference}?answered=1")


@router.post("/cases/{reference}/answer")
def answer(request: Request, me: Me, reference: str, posted: Posted) -> Response:
    form, _, files = posted
    portal = portal_of(request)
    action = form.get("action", "")
    told_case(portal.uow, me, reference)  # another tenant's case: 404 before the action is looked at
    if action not in CUSTOMER_ACTIONS:
        raise ValidationError("action", f"must be one of {', '.join(CUSTOMER_ACTIONS)}")
    cases.act(portal.uow, reference, action, settings=portal.settings, actor=me,
              reason=form.get("statement") or CUSTOMER_ACTIONS[action], evidence=files)  # fmt: skip
    return redirect(f"/cases/{reference}?answered=1")

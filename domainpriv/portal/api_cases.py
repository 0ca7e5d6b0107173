"""The cases part of the API: filing a complaint, disclosure request or abuse report (no token needed, like the
public form), the customer's cases and answer, and the registrant's disclosure ledger."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from domainpriv import cases
from domainpriv.accounts.access import Principal
from domainpriv.portal.api import ERRORS
from domainpriv.portal.case_access import told_case, told_cases
from domainpriv.portal.context import api_principal, portal_of
from domainpriv.portal.pages.cases import CUSTOMER_ACTIONS, WEB_FORM
from domainpriv.registration.errors import ValidationError

router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["cases"])
Caller = Annotated[Principal, Depends(api_principal)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvidenceIn(_In):
    name: str = Field(max_length=255)
    content_base64: str = Field(max_length=14_000_000, description="The file, base64-encoded.")


class RequesterIn(_In):
    name: str = Field(max_length=255)
    email: str = Field(max_length=254)
    org: str | None = Field(default=None, max_length=255)
    address: str | None = Field(default=None, max_length=800)
    phone: str | None = Field(default=None, max_length=64)


class CaseIn(_In):
    kind: str = Field(max_length=16, description="complaint, disclosure or abuse.")
    domain: str = Field(max_length=253)
    requester: RequesterIn
    text: str = Field(max_length=20_000, description="The allegation, or why the data is needed.")
    legal_basis: str | None = Field(default=None, max_length=20_000)
    fields: list[str] = Field(default_factory=list, max_length=18, description="Public field names asked for.")
    urgent: bool = False
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=5)


class CaseReceipt(BaseModel):
    reference: str
    kind: str
    domain: str
    state: str


class AssurancesIn(_In):
    indemnity: bool
    contacted_complainant: bool
    statement: str = Field(max_length=20_000)
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=5)


class AnswerIn(_In):
    statement: str = Field(default="", max_length=20_000)


class LedgerOut(BaseModel):
    case: str
    domain: str
    recipient_name: str
    recipient_org: str | None
    fields: list[str]
    basis: str
    legal_order: bool
    at: str | None


def _evidence(items: list[EvidenceIn]) -> list[cases.Evidence]:
    out = []
    for i, item in enumerate(items):
        try:
            out.append(cases.Evidence(item.name, base64.b64decode(item.content_base64, validate=True)))
        except (binascii.Error, ValueError):
            raise ValidationError(f"evidence[{i}].content_base64", "is not valid base64") from None
    return out


@router.post("/cases", status_code=201, summary="File a complaint, a disclosure request or an abuse report")
def open_case(request: Request, body: CaseIn) -> CaseReceipt:
    portal = portal_of(request)
    r = body.requester
    case = cases.open_case(portal.uow, portal.settings, actor=WEB_FORM, kind=body.kind, domain=body.domain,
                           requester=cases.Requester(r.name, r.email, r.org, r.address, r.phone), text=body.text,
                           legal_basis=body.legal_basis, fields=body.fields, urgent=body.urgent,
                           evidence=_evidence(body.evidence))  # fmt: skip
    return CaseReceipt(reference=case.reference, kind=case.kind, domain=case.domain, state=case.state)


@router.get("/cases", summary="The cases about the caller's domains that it has been told of")
def list_cases(request: Request, me: Caller) -> list[dict[str, Any]]:
    return [c.customer_json() for c in told_cases(portal_of(request).uow, me)]


@router.get("/cases/{reference}", summary="One case about the caller's domains")
def get_case(request: Request, me: Caller, reference: str) -> dict[str, Any]:
    case = told_case(portal_of(request).uow, me, reference)
    return case.to_json() if me.is_staff else case.customer_json()


@router.post("/cases/{reference}/assurances", summary="The customer's assurances (indemnity, complainant contacted)")
def give_assurances(request: Request, me: Caller, reference: str, body: AssurancesIn) -> dict[str, Any]:
    portal = portal_of(request)
    told_case(portal.uow, me, reference)
    case = cases.give_assurances(portal.uow, reference, settings=portal.settings, actor=me, indemnity=body.indemnity,
                                 contacted_complainant=body.contacted_complainant, statement=body.statement,
                                 evidence=_evidence(body.evidence))  # fmt: skip
    return case.customer_json()


@router.post("/cases/{reference}/answers/{action}", summary="Cancel the registration instead, or court proceedings")
def answer(request: Request, me: Caller, reference: str, action: str, body: AnswerIn) -> dict[str, Any]:
    portal = portal_of(request)
    told_case(portal.uow, me, reference)  # 404 before the action is looked at
    if action not in CUSTOMER_ACTIONS:
        raise ValidationError("action", f"must be one of {', '.join(CUSTOMER_ACTIONS)}")
    case = cases.act(portal.uow, reference, action, settings=portal.settings, actor=me,
                     reason=body.statement or CUSTOMER_ACTIONS[action])  # fmt: skip
    return case.customer_json()


@router.get("/account/disclosures", summary="Who received which of the account's data, when, on what basis")
def disclosures(
    request: Request, me: Caller, account: Annotated[str | None, Query(max_length=64)] = None
) -> list[LedgerOut]:
    entries = cases.ledger_for_account(portal_of(request).uow, account=account or me.handle, principal=me)
    return [LedgerOut.model_validate(e.to_json()) for e in entries]

"""Builders that create valid registration data through the real services, with overridable fields."""

from __future__ import annotations

import itertools
from typing import Any

from domainpriv.audit import Actor
from domainpriv.registration import services
from domainpriv.registration.records import AccountRecord, ContactRecord, DomainRecord
from domainpriv.registration.validation import validate_contact
from domainpriv.store import AccountKind, ConsentPurpose, PrivacyMode, UnitOfWork

ACTOR = Actor("staff", "tester")
_counter = itertools.count(1)


def contact_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Ada Lovelace",
        "org": "Analytical Engines Ltd",
        "street": ["12 St James's Square"],
        "city": "London",
        "state": None,
        "postal_code": "SW1Y 4JH",
        "country": "GB",
        "phone": "+44.2079460958",
        "phone_ext": None,
        "fax": None,
        "fax_ext": None,
        "email": "ada@engines.example",
    }
    fields.update(overrides)
    return fields


def make_account(
    uow: UnitOfWork,
    handle: str | None = None,
    kind: AccountKind = AccountKind.CUSTOMER,
    parent: str | None = None,
) -> AccountRecord:
    handle = handle or f"acct-{next(_counter)}"
    return services.create_account(
        uow,
        actor=ACTOR,
        handle=handle,
        kind=kind,
        name="Account Holder",
        email=f"{handle}@mail.example",
        parent=parent,
        reason="test",
    )


def make_contact(uow: UnitOfWork, account: str, handle: str | None = None, **overrides: Any) -> ContactRecord:
    handle = handle or f"C{next(_counter):05d}"
    return services.create_contact(
        uow,
        actor=ACTOR,
        handle=handle,
        account=account,
        data=validate_contact(contact_fields(**overrides)),
        reason="test",
    )


def make_domain(
    uow: UnitOfWork,
    name: str | None = None,
    *,
    account: str | None = None,
    mode: PrivacyMode = PrivacyMode.REDACTED,
    **kwargs: Any,
) -> DomainRecord:
    if account is None:
        account = make_account(uow).handle
    if "registrant" not in kwargs:
        kwargs["registrant"] = make_contact(uow, account).handle
    if mode is PrivacyMode.PUBLIC:
        grant_publish_consent(uow, account)
    return services.create_domain(
        uow,
        actor=ACTOR,
        name=name or f"example-{next(_counter)}.com",
        account=account,
        privacy_mode=mode,
        reason="test",
        **kwargs,
    )


def grant_publish_consent(uow: UnitOfWork, account: str, granted: bool = True) -> None:
    services.record_consent(
        uow,
        actor=ACTOR,
        account=account,
        purpose=ConsentPurpose.PUBLISH_CONTACT_DATA,
        granted=granted,
        source="portal",
        reason="test",
    )

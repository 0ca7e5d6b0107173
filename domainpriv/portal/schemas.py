"""The API's request and response bodies, as they appear in /api/v1/openapi.json.

Request bodies only shape the input (types); the services validate the content and name the field that is
wrong (`contact.email`, `nameservers[0].host`), so the rules live in one place (registration/validation.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """No NUL in any text (PostgreSQL cannot store or compare it): a 422 naming the field, not a 500."""
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain NUL characters")
        return value


class ErrorOut(BaseModel):
    error: str = Field(description="What is wrong, in plain words (never personal data).")
    field: str | None = Field(default=None, description="The input field at fault, as a dotted path.")


class ContactIn(_In):
    """A contact's fields as in the JSON-lines format (docs/jsonl-format.md), or `handle`: one of the
    account's existing contacts."""

    handle: str | None = Field(default=None, max_length=16)
    name: str | None = Field(default=None, max_length=255)
    org: str | None = Field(default=None, max_length=255)
    street: list[str] | None = Field(default=None, max_length=3)
    city: str | None = Field(default=None, max_length=255)
    state: str | None = Field(default=None, max_length=255)
    postal_code: str | None = Field(default=None, max_length=16)
    country: str | None = Field(default=None, max_length=2)
    phone: str | None = Field(default=None, max_length=64)
    phone_ext: str | None = Field(default=None, max_length=10)
    fax: str | None = Field(default=None, max_length=64)
    fax_ext: str | None = Field(default=None, max_length=10)
    email: str | None = Field(default=None, max_length=254)

    def fields(self, exclude: set[str] | None = None) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"handle"} | (exclude or set()))


class RegistrantChangeIn(ContactIn):
    lock_opt_out: bool = False


class PrivacyIn(_In):
    mode: str = Field(max_length=16, description="proxy, redacted or public.")
    consent_to_publish: bool = Field(default=False, description="Needed (once) to switch to public.")


class NameserverIn(_In):
    host: str = Field(max_length=253)
    addresses: list[str] = Field(default_factory=list, max_length=13)


class NameserversIn(_In):
    nameservers: list[NameserverIn] = Field(max_length=13)


class ConsentIn(_In):
    granted: bool


class DomainSummaryOut(BaseModel):
    name: str
    unicode_name: str
    account: str
    expires_at: datetime
    privacy_mode: str


class DomainListOut(BaseModel):
    domains: list[DomainSummaryOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class ContactOut(BaseModel):
    handle: str
    account: str
    name: str
    org: str | None
    street: list[str]
    city: str
    state: str | None
    postal_code: str | None
    country: str
    phone: str | None
    phone_ext: str | None
    fax: str | None
    fax_ext: str | None
    email: str
    verified_at: str | None
    created_at: str | None
    updated_at: str | None


class NameserverOut(BaseModel):
    host: str
    addresses: list[str]


class DomainOut(BaseModel):
    name: str
    unicode_name: str
    account: str
    reseller: str | None
    registry_domain_id: str
    created_at: str | None
    expires_at: str | None
    updated_at: str | None
    statuses: list[str]
    dnssec: bool
    privacy_mode: str
    contacts: dict[str, ContactOut | None]
    nameservers: list[NameserverOut]
    consents: list[str]
    pending_registrant_change: dict[str, Any] | None = None


class PreviewOut(BaseModel):
    mode: str
    whois: str = Field(description="The WHOIS answer the domain would get in this mode.")


class PendingChangeOut(BaseModel):
    domain: str
    expires_at: datetime
    lock_opt_out: bool
    message: str


class AccountOut(BaseModel):
    handle: str
    kind: str
    role: str
    permissions: list[str]


class ConsentEntryOut(BaseModel):
    time: datetime
    purpose: str
    granted: bool
    source: str
    policy_version: str | None


class ConsentsOut(BaseModel):
    in_force: dict[str, bool]
    ledger: list[ConsentEntryOut]


class CustomerOut(BaseModel):
    handle: str
    kind: str
    name: str
    email: str
    domains: int

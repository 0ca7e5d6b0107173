"""Errors of the registration capability, one class per broken rule."""

from __future__ import annotations

from domainpriv.errors import ConflictError, DomainprivError, NotFound


class ValidationError(DomainprivError):
    """Input breaks a format rule; `field` names the input field (dotted path)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class DomainNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"domain {name} not found")
        self.name = name


class ContactNotFound(NotFound):
    def __init__(self, handle: str) -> None:
        super().__init__(f"contact {handle} not found")
        self.handle = handle


class AccountNotFound(NotFound):
    def __init__(self, handle: str) -> None:
        super().__init__(f"account {handle} not found")
        self.handle = handle


class DomainExists(ConflictError):
    def __init__(self, name: str) -> None:
        super().__init__(f"domain {name} already exists")
        self.name = name


class ContactExists(ConflictError):
    def __init__(self, handle: str) -> None:
        super().__init__(f"contact {handle} already exists")
        self.handle = handle


class AccountExists(ConflictError):
    def __init__(self, handle: str) -> None:
        super().__init__(f"account {handle} already exists")
        self.handle = handle


class ContactNotOwned(DomainprivError):
    """A domain may only use contacts of its own account (or of the account's reseller)."""

    def __init__(self, handle: str, account: str) -> None:
        super().__init__(f"contact {handle} does not belong to account {account}")
        self.handle = handle
        self.account = account


class ConsentMissing(DomainprivError):
    """Publishing full contact data needs the customer's recorded consent."""

    def __init__(self, account: str, purpose: str) -> None:
        super().__init__(f"account {account} has not consented to {purpose!s}")
        self.account = account
        self.purpose = purpose


class InvalidAccountHierarchy(DomainprivError):
    """Only customers may have a parent, and the parent must be a reseller."""

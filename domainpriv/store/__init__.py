"""Persistence: SQLAlchemy models, the engine, the unit of work and the Alembic migrations."""

from domainpriv.store.accounts import (
    Account,
    ApiToken,
    Consent,
    LoginAttempt,
    LoginSession,
    PasswordReset,
    RecoveryCode,
    UnsubscribeLink,
    VerificationCode,
)
from domainpriv.store.audit import AuditEvent
from domainpriv.store.base import Base
from domainpriv.store.cases import Case, CaseEvent, CaseEvidence, Deactivation, DisclosureEntry
from domainpriv.store.changes import ChangeFeedState, DomainChange
from domainpriv.store.escrow import EscrowDeposit, EscrowFile
from domainpriv.store.notify import Notice
from domainpriv.store.registration import Contact, Domain, Nameserver, PrivacyServiceIdentity, RegistrantChange
from domainpriv.store.session import UnitOfWork, make_engine, make_read_engine, session_factory
from domainpriv.vocabulary import CONTACT_ROLES, AccountKind, ConsentPurpose, PrivacyMode, StaffRole

__all__ = [
    "CONTACT_ROLES",
    "Account",
    "AccountKind",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Case",
    "CaseEvent",
    "CaseEvidence",
    "ChangeFeedState",
    "Consent",
    "ConsentPurpose",
    "Contact",
    "Deactivation",
    "DisclosureEntry",
    "Domain",
    "DomainChange",
    "EscrowDeposit",
    "EscrowFile",
    "LoginAttempt",
    "LoginSession",
    "Nameserver",
    "Notice",
    "PasswordReset",
    "PrivacyMode",
    "PrivacyServiceIdentity",
    "RecoveryCode",
    "RegistrantChange",
    "StaffRole",
    "UnitOfWork",
    "UnsubscribeLink",
    "VerificationCode",
    "make_engine",
    "make_read_engine",
    "session_factory",
]

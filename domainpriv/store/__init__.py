"""Persistence: SQLAlchemy models, the engine, the unit of work and the Alembic migrations."""

from domainpriv.store.accounts import Account, AccountKind, Consent, ConsentPurpose
from domainpriv.store.audit import AuditEvent
from domainpriv.store.base import Base
from domainpriv.store.registration import (
    CONTACT_ROLES,
    Contact,
    Domain,
    Nameserver,
    PrivacyMode,
    PrivacyServiceIdentity,
)
from domainpriv.store.session import UnitOfWork, make_engine, session_factory

__all__ = [
    "CONTACT_ROLES",
    "Account",
    "AccountKind",
    "AuditEvent",
    "Base",
    "Consent",
    "ConsentPurpose",
    "Contact",
    "Domain",
    "Nameserver",
    "PrivacyMode",
    "PrivacyServiceIdentity",
    "UnitOfWork",
    "make_engine",
    "session_factory",
]

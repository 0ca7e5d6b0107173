"""The root of domainpriv's own errors.

Every error raised on purpose derives from :class:`DomainprivError`, so the CLI and the servers can tell a
broken rule (answered with its message) from a bug (answered with a generic text and a log line)::

    DomainprivError
    ├── ConfigError                      config.py
    ├── DatabaseUnavailable              store/availability.py (unreachable, missing, unusable; names the database)
    ├── SchemaNotReady                   store/availability.py (no schema, or not at this code's head revision)
    ├── ValidationError                  registration/errors.py (carries the field name)
    ├── NotFound
    │   ├── DomainNotFound               registration/errors.py
    │   ├── ContactNotFound
    │   └── AccountNotFound
    ├── ConflictError
    │   ├── DomainExists
    │   └── ContactExists / AccountExists
    ├── ConsentMissing, ContactNotOwned  registration/errors.py
    ├── ImportRejected                   transfer/errors.py (carries the line number)
    └── AuditChainBroken                 audit.py

Messages never carry personal data: they name fields, handles and domain names, never contact values.
"""

from __future__ import annotations


class DomainprivError(Exception):
    """Base of every error domainpriv raises on purpose."""


class NotFound(DomainprivError):
    """The named object does not exist (or is not visible to the actor)."""


class ConflictError(DomainprivError):
    """The change collides with existing data."""

"""The publication policy: what of the registration data the public may see. Pure: no I/O, no store."""

from domainpriv.privacy.policy import ProxyIdentity, PublicationPolicy, effective_mode, public_view
from domainpriv.privacy.record import PublicContact, PublicRecord, RedactableField, RegistrarIdentity
from domainpriv.privacy.relay import relay_address, relay_alias

__all__ = [
    "ProxyIdentity",
    "PublicContact",
    "PublicRecord",
    "PublicationPolicy",
    "RedactableField",
    "RegistrarIdentity",
    "effective_mode",
    "public_view",
    "relay_address",
    "relay_alias",
]

"""The words every layer shares: account kinds, privacy modes, consent purposes, contact roles.

A module with no imports, so the pure layers (privacy policy, renderers, validation) can use the same
vocabulary as the store without depending on it.
"""

from __future__ import annotations

import enum

__all__ = ["CONTACT_ROLES", "AccountKind", "ConsentPurpose", "PrivacyMode"]

CONTACT_ROLES = ("registrant", "admin", "tech", "billing")


class AccountKind(enum.StrEnum):
    CUSTOMER = "customer"
    RESELLER = "reseller"
    STAFF = "staff"


class PrivacyMode(enum.StrEnum):
    PROXY = "proxy"  # the privacy service's identity and a relay address replace the customer's
    REDACTED = "redacted"  # Registration Data Policy redaction
    PUBLIC = "public"  # full data; needs recorded consent


class ConsentPurpose(enum.StrEnum):
    """What a customer may agree to; each purpose is recorded separately and can be withdrawn."""

    PUBLISH_CONTACT_DATA = "publish_contact_data"  # full data in WHOIS/RDAP (privacy mode `public`)
    PUBLISH_ORGANIZATION = "publish_organization"  # Registrant Organization shown even when redacted
    MARKETING = "marketing"

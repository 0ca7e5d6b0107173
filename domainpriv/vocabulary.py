"""The words every layer shares: account kinds, privacy modes, consent purposes, contact roles.

A module with no imports, so the pure layers (privacy policy, renderers, validation) can use the same
vocabulary as the store without depending on it.
"""

from __future__ import annotations

import enum

__all__ = ["CONTACT_ROLES", "MAILING_PURPOSES", "AccountKind", "ConsentPurpose", "PrivacyMode", "StaffRole"]

CONTACT_ROLES = ("registrant", "admin", "tech", "billing")


class AccountKind(enum.StrEnum):
    CUSTOMER = "customer"
    RESELLER = "reseller"
    STAFF = "staff"


class StaffRole(enum.StrEnum):
    """What a staff account may do (least privilege: each role sees only what it needs)."""

    SUPPORT = "support"  # find customers, change their data on an e-mailed request (ticket + reason)
    LEGAL = "legal"  # complaints, disclosure requests, the disclosure ledger; reads registration data
    ESCROW_OPS = "escrow-ops"  # escrow deposits: run, verify, restore-test; no personal data in the portal
    ADMIN = "admin"  # everything, including staff accounts


class PrivacyMode(enum.StrEnum):
    PROXY = "proxy"  # the privacy service's identity and a relay address replace the customer's
    REDACTED = "redacted"  # Registration Data Policy redaction
    PUBLIC = "public"  # full data; needs recorded consent


class ConsentPurpose(enum.StrEnum):
    """What a customer may agree to; each purpose is recorded separately and can be withdrawn."""

    PUBLISH_CONTACT_DATA = "publish_contact_data"  # full data in WHOIS/RDAP (privacy mode `public`)
    PUBLISH_ORGANIZATION = "publish_organization"  # Registrant Organization shown even when redacted
    MARKETING = "marketing"  # our own offers by e-mail
    PARTNER_OFFERS = "partner_offers"  # offers of partners, sent by us (the address is never given to them)
    RESELLER_NEWSLETTER = "reseller_newsletter"  # the customer's reseller's newsletter


# The purposes that are mailings: each mailing carries an unsubscribe link for its purpose.
MAILING_PURPOSES = (ConsentPurpose.MARKETING, ConsentPurpose.PARTNER_OFFERS, ConsentPurpose.RESELLER_NEWSLETTER)

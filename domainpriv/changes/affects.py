"""What a change affects, as the change feed records it: named domains, the domains of a contact or of an
account, everything, or nothing public.

Every audited change says which of these it is (`audit.record_event(..., affects=...)` has no default), so a
new service cannot forget to tell the caches and escrow what it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Affects:
    """Resolved to domain names when the change is recorded: contact and account ids by a query in the same
    transaction, so the feed names every domain using the contact as it stands at commit."""

    names: tuple[str, ...] = ()  # lowercase A-labels
    contact_ids: tuple[int, ...] = ()  # every domain using one of these contacts, in any role
    account_ids: tuple[int, ...] = ()  # every domain of these accounts
    everything: bool = False

    @property
    def nothing(self) -> bool:
        return not (self.names or self.contact_ids or self.account_ids or self.everything)


NOTHING: Final = Affects()
EVERYTHING: Final = Affects(everything=True)


def domains(*names: str) -> Affects:
    return Affects(names=names)


def domains_of_contact(contact_id: int) -> Affects:
    return Affects(contact_ids=(contact_id,))


def domains_of_account(account_id: int) -> Affects:
    return Affects(account_ids=(account_id,))

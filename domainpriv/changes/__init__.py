"""The change feed: every audited change records, in its own transaction, which domains it affected; readers
(the public servers' caches, escrow) follow it from their own position. See store/changes.py for the table and
its ordering guarantee."""

from domainpriv.changes.affects import (
    EVERYTHING,
    NOTHING,
    Affects,
    domains,
    domains_of_account,
    domains_of_contact,
)
from domainpriv.changes.reader import ChangeBatch, feed_position, read_changes
from domainpriv.changes.writer import record_changes

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "Affects",
    "ChangeBatch",
    "domains",
    "domains_of_account",
    "domains_of_contact",
    "feed_position",
    "read_changes",
    "record_changes",
]

"""The public field names a requester asks for and a disclosure releases (DESIGN: `--fields`), and their values
taken from the stored record. Pure: no I/O.

`registrant.name`, `registrant.org`, `registrant.street`, `registrant.city`, `registrant.state`,
`registrant.postal_code`, `registrant.country`, `registrant.phone`, `registrant.email`, and the same with `tech.`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from domainpriv.registration.errors import ValidationError
from domainpriv.registration.records import DomainRecord

__all__ = ["PUBLIC_FIELDS", "field_values", "join_fields", "parse_fields", "split_fields"]

_ROLES: Final = ("registrant", "tech")
_NAMES: Final = ("name", "org", "street", "city", "state", "postal_code", "country", "phone", "email")
PUBLIC_FIELDS: Final = tuple(f"{role}.{name}" for role in _ROLES for name in _NAMES)
_KNOWN: Final = frozenset(PUBLIC_FIELDS)
_SHOWABLE: Final = re.compile(r"^[a-z_.]{1,40}$")


def parse_fields(value: str | Iterable[str], field: str = "fields") -> tuple[str, ...]:
    """Public field names from "a,b" or a list: sorted, each once. Raises ValidationError naming `field[i]` for a
    name that is not a public field (the name is shown only when it looks like one)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out: set[str] = set()
    for i, raw in enumerate(items):
        if not isinstance(raw, str):
            raise ValidationError(f"{field}[{i}]", "must be a field name")
        name = raw.strip()
        if not name and isinstance(value, str):
            continue
        if name not in _KNOWN:
            shown = f"{name} " if _SHOWABLE.match(name) else ""
            raise ValidationError(f"{field}[{i}]", f"{shown}is not a public field name (one of "
                                  f"{', '.join(PUBLIC_FIELDS)})")  # fmt: skip
        out.add(name)
    return tuple(sorted(out, key=PUBLIC_FIELDS.index))


def join_fields(fields: Iterable[str]) -> str:
    return " ".join(sorted(set(fields), key=PUBLIC_FIELDS.index))


def split_fields(stored: str) -> tuple[str, ...]:
    return tuple(stored.split())


def field_values(record: DomainRecord, fields: Sequence[str]) -> list[tuple[str, str]]:
    """(field name, value) of each of `fields` from the stored record, in the order given; a value the record does
    not hold reads "(none)"."""
    out: list[tuple[str, str]] = []
    for name in fields:
        role, _, attribute = name.partition(".")
        contact = record.contacts.get(role)
        value: object = None if contact is None else getattr(contact.data, attribute)
        if isinstance(value, tuple):
            value = ", ".join(value) or None
        out.append((name, "(none)" if value is None else str(value)))
    return out

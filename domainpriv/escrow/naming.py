"""Deposit file names, from one pluggable `Naming` (escrow.md §8: check the forms against the published spec or a
test upload, then swap the implementation, not the callers).

`DEFAULT_NAMING` follows the 2007 registrar pattern [secondary: Hexonet, timapril, Namingo]
`<IANAID>_RDE_<YYYY-MM-DD>_<type>_<n>.csv`, n the split sequence from 1 (Namingo, timapril), with the hash file
`<IANAID>_RDE_<YYYY-MM-DD>_hash.txt`. Revision 0 of a full deposit gets exactly these names. The pattern alone would
give a full and an incremental of the same date the same `hdl` and hash names, and a same-day re-run the same
names as the first run, so domainpriv adds (its own choice [unconfirmed], to be agreed with the agent):

* in an **incremental** deposit the domain file is `inc` (the 2007 type) and every other file carries `inc_`
  before its type: `<IANAID>_RDE_<date>_inc_hdl_<n>.csv`, `..._inc_del_<n>.csv`, `<IANAID>_RDE_<date>_inc_hash.txt`;
* a **revision** r > 0 appends `_R<r>` before the extension: `..._full_1_R1.csv`, `..._hash_R1.txt`.

No two (deposit, file type, sequence) share a name: a full deposit's types are full/hdl/del, never `inc`; in an
incremental `inc_` is followed by a sequence (digits) or a type (letters); `_R<r>` starts with a letter where a
sequence has digits. Each file type appears as `_<type>_` in its data files' names (escrow/restore.py relies on
it). Extensions after `.csv` (`.gz`, `.gpg`, `.sig`) are appended by the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal, Protocol

from domainpriv.errors import DomainprivError

__all__ = ["DEFAULT_NAMING", "DepositKind", "DepositName", "DepositNameInvalid", "Naming", "RegistrarNaming"]

DepositKind = Literal["full", "incremental"]

_TYPES: Final = {"full": frozenset({"full", "hdl", "del"}), "incremental": frozenset({"inc", "hdl", "del"})}


class DepositNameInvalid(DomainprivError, ValueError):
    """A deposit or a file of it cannot be named (bad IANA ID, revision, file type or sequence)."""


@dataclass(frozen=True, slots=True)
class DepositName:
    """What a deposit's file names are made of."""

    iana_id: int
    deposit_date: date
    kind: DepositKind
    revision: int  # 0 for the first build of this date and kind

    def __post_init__(self) -> None:
        if self.iana_id < 1:
            raise DepositNameInvalid(f"IANA ID {self.iana_id} is not a registrar's (1 or more)")
        if self.kind not in _TYPES:
            raise DepositNameInvalid(f"deposit kind {self.kind!r} is neither full nor incremental")
        if self.revision < 0:
            raise DepositNameInvalid(f"revision {self.revision} is negative")


class Naming(Protocol):
    def data_file(self, deposit: DepositName, file_type: str, sequence: int) -> str:
        """The plain CSV's name; file_type full/inc/hdl/del, sequence from 1."""
        ...

    def hash_file(self, deposit: DepositName) -> str: ...


class RegistrarNaming:
    """The 2007 registrar pattern with domainpriv's incremental and revision forms (module docstring)."""

    def data_file(self, deposit: DepositName, file_type: str, sequence: int) -> str:
        allowed = _TYPES[deposit.kind]
        if file_type not in allowed:
            raise DepositNameInvalid(
                f"file type {file_type!r} does not belong to a {deposit.kind} deposit ({', '.join(sorted(allowed))})"
            )
        if sequence < 1:
            raise DepositNameInvalid(f"file sequence {sequence} is below 1")
        token = file_type if deposit.kind == "full" or file_type == "inc" else f"inc_{file_type}"
        return f"{_stem(deposit)}_{token}_{sequence}{_revision(deposit)}.csv"

    def hash_file(self, deposit: DepositName) -> str:
        kind = "inc_" if deposit.kind == "incremental" else ""
        return f"{_stem(deposit)}_{kind}hash{_revision(deposit)}.txt"


def _stem(deposit: DepositName) -> str:
    return f"{deposit.iana_id}_RDE_{deposit.deposit_date.isoformat()}"


def _revision(deposit: DepositName) -> str:
    return f"_R{deposit.revision}" if deposit.revision else ""


DEFAULT_NAMING: Final[Naming] = RegistrarNaming()

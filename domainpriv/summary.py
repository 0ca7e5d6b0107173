"""Read-only counts of what the database holds, for `demo summary` and operators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from domainpriv.accounts import passwords
from domainpriv.store import Account, Contact, Domain, PrivacyMode, UnitOfWork


@dataclass(frozen=True)
class Summary:
    counts: list[tuple[str, int]]
    examples: dict[str, list[str]]
    demo_logins: list[tuple[str, str]]  # (kind, handle) of the demo logins whose password is still the demo's


def count_domains(uow: UnitOfWork) -> int:
    with uow.reading() as r:
        return r.session.scalar(select(func.count()).select_from(Domain)) or 0


def summarize(
    uow: UnitOfWork, examples_per_mode: int = 3, *, demo_logins: Sequence[tuple[str, str]] = (),
    demo_password: str = "",
) -> Summary:  # fmt: skip
    with uow.reading() as r:
        s = r.session
        counts: list[tuple[str, int]] = []
        for kind, n in s.execute(select(Account.kind, func.count()).group_by(Account.kind).order_by(Account.kind)):
            counts.append((f"accounts: {kind.value}", n))
        counts.append(("contacts", s.scalar(select(func.count()).select_from(Contact)) or 0))
        by_mode = {
            mode: n for mode, n in s.execute(select(Domain.privacy_mode, func.count()).group_by(Domain.privacy_mode))
        }
        for mode in PrivacyMode:
            counts.append((f"domains: {mode.value}", by_mode.get(mode, 0)))
        examples = {
            mode.value: list(
                s.scalars(
                    select(Domain.name).where(Domain.privacy_mode == mode).order_by(Domain.id).limit(examples_per_mode)
                )
            )
            for mode in PrivacyMode
        }
        wanted = [handle for _, handle in demo_logins]
        rows = s.execute(select(Account.handle, Account.password_hash).where(Account.handle.in_(wanted)))
        hashes = {handle: hashed for handle, hashed in rows}
    usable = [(kind, handle) for kind, handle in demo_logins
              if passwords.check(hashes.get(handle), demo_password).ok]  # fmt: skip
    return Summary(counts, examples, usable)

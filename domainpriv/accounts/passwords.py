"""Password hashing with argon2id (argon2-cffi), and the rules a new password must meet.

Why argon2id with argon2-cffi's defaults (t=3, 64 MiB, p=4: about 110 ms a hash here): a stolen table of hashes
must cost an attacker memory as well as time per guess. When the parameters change, a successful login re-hashes
the password with the new ones (`check`), so stored hashes follow the configuration without a reset.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domainpriv.registration.errors import ValidationError

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 1024  # argon2 takes any length; a bound keeps one request from hashing megabytes
DEFAULT_HASHER: Final = PasswordHasher()  # argon2id, the library's current recommended parameters


def check_new_password(password: str, *, field: str = "password") -> None:
    """Raises ValidationError naming the field (never echoing the password)."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(field, f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValidationError(field, f"must be at most {MAX_LENGTH} characters")
    if not password.strip():
        raise ValidationError(field, "must not be only white space")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise ValidationError(field, "must not contain control characters")


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(password)


@dataclass(frozen=True, slots=True)
class Checked:
    ok: bool
    rehashed: str | None  # a new hash with the current parameters, to store, when the stored one is outdated


def check(stored: str | None, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> Checked:
    """Whether `password` matches the stored hash. With no stored hash (no password set) a dummy hash is
    verified instead, so that the answer takes the same time whether or not the account has a password."""
    if stored is None or len(password) > MAX_LENGTH:
        _equal_time(password[:MAX_LENGTH], hasher)
        return Checked(False, None)
    try:
        hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Checked(False, None)
    return Checked(True, hasher.hash(password) if hasher.check_needs_rehash(stored) else None)


_DUMMY: dict[tuple[int, int, int], str] = {}


def _equal_time(password: str, hasher: PasswordHasher) -> None:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    dummy = _DUMMY.get(key)
    if dummy is None:
        dummy = _DUMMY[key] = hasher.hash("domainpriv: no password is set for this account")
    with contextlib.suppress(VerificationError):
        hasher.verify(dummy, password)

"""API tokens: random, shown once, stored as a digest.

Why SHA-256 and not argon2 for tokens: a token is 256 random bits, not a human's password; a fast digest cannot be
brute-forced, and every API request checks one. The `dp_` prefix lets secret scanners and people recognise a
leaked domainpriv token.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

PREFIX: Final = "dp_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX) and 20 <= len(value) <= 128 and value[len(PREFIX) :].isascii()

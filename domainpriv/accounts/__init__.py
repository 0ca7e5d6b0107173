"""Accounts' credentials: passwords (argon2id) and API tokens. Sessions, two-factor and password reset follow
(issue 9)."""

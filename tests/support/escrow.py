"""Settings for escrow tests: the test keys of support/pgp_keys.py and a private output folder."""

from __future__ import annotations

from pathlib import Path

from domainpriv.config import Settings, load_settings
from support.pgp_keys import EscrowKeys


def escrow_settings(keys: EscrowKeys, out: Path, **extra: str) -> Settings:
    """Settings whose [escrow] keys point at `keys` and `out`; `extra` sets other [escrow] keys by name."""
    env = {
        "DOMAINPRIV_ESCROW_OUTPUT_DIR": str(out),
        "DOMAINPRIV_ESCROW_GNUPG_HOME": str(keys.registrar_home),
        "DOMAINPRIV_ESCROW_AGENT_PUBLIC_KEY": str(keys.agent_public_key),
        **{f"DOMAINPRIV_ESCROW_{k.upper()}": v for k, v in extra.items()},
    }
    return load_settings(environ=env)

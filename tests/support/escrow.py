"""Settings for escrow tests: the test keys of support/pgp_keys.py and a private output folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from domainpriv.config import Settings, load_settings
from support.daemons import daemon_env
from support.pgp_keys import EscrowKeys


def escrow_env(keys: EscrowKeys, out: Path, **extra: str) -> dict[str, str]:
    """The DOMAINPRIV_ESCROW_* variables of a CLI or daemon using `keys` and `out` (plus `extra` variables)."""
    return {
        "DOMAINPRIV_ESCROW_OUTPUT_DIR": str(out),
        "DOMAINPRIV_ESCROW_GNUPG_HOME": str(keys.registrar_home),
        "DOMAINPRIV_ESCROW_AGENT_PUBLIC_KEY": str(keys.agent_public_key),
        **extra,
    }


def run_cli(db_url: str, env: Mapping[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`domainpriv ARGS` on `db_url` with `env`, as an operator runs it; by default it must succeed."""
    proc = subprocess.run([sys.executable, "-m", "domainpriv", *args], env=daemon_env(db_url, env),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def escrow_settings(keys: EscrowKeys, out: Path, **extra: str) -> Settings:
    """Settings whose [escrow] keys point at `keys` and `out`; `extra` sets other [escrow] keys by name."""
    return load_settings(
        environ=escrow_env(keys, out, **{f"DOMAINPRIV_ESCROW_{k.upper()}": v for k, v in extra.items()})
    )

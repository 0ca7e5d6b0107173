"""Key set-up: the registrar's signing key (`escrow keygen`) and the demo's clearly labelled agent key pair.

The demo agent key exists so that `make run` gives a working `escrow run --no-upload` and `escrow restore-test`
out of the box; its user id says DEMO, its secret half lies beside its public half under var/, and it must never
receive a real deposit (a real agent's key comes from its onboarding pack: see the README, "Escrow").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from domainpriv.config import Settings
from domainpriv.escrow import openpgp
from domainpriv.escrow.openpgp import KeyInfo

DEMO_AGENT_PUBLIC_KEY = "var/escrow-demo-agent/agent-public.asc"  # the embedded default of escrow.agent_public_key
DEMO_AGENT_USER_ID = "DEMO escrow agent - for trying domainpriv only, never for real deposits <escrow-demo@invalid>"


def signing_user_id(settings: Settings) -> str:
    return f"{settings.registrar.name} escrow deposits (IANA {settings.registrar.iana_id})"


def ensure_signing_key(settings: Settings, *, user_id: str | None = None) -> tuple[KeyInfo, bool]:
    """The registrar's signing key in escrow.gnupg_home, created if there is none; (key, created)."""
    home = settings.escrow.gnupg_home
    existing = openpgp.secret_keys(home) if home.is_dir() else []
    wanted = settings.escrow.signing_key.upper()
    for key in existing:
        if not wanted or key.fingerprint.upper() == wanted:
            return key, False
    return openpgp.generate_key(home, user_id=user_id or signing_user_id(settings)), True


def demo_agent_secret_key(settings: Settings) -> Path:
    """Where the demo agent's secret key lies: beside its public key."""
    public = Path(settings.escrow.agent_public_key)
    return public.with_name(public.name.replace("public", "secret"))


def ensure_demo_agent_key(settings: Settings) -> tuple[Path, bool]:
    """The demo agent key pair at escrow.agent_public_key (and its secret beside it), created if missing;
    (public key path, created)."""
    public = Path(settings.escrow.agent_public_key)
    secret = demo_agent_secret_key(settings)
    if public.is_file() and secret.is_file():
        return public, False
    public.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dp-demo-agent-", dir="/tmp") as tmp:
        home = Path(tmp) / "g"
        key = openpgp.generate_key(home, user_id=DEMO_AGENT_USER_ID, algorithm="ed25519")
        _write_private(secret, openpgp.export_secret_key(home, key.fingerprint))
        public.write_text(openpgp.export_public_key(home, key.fingerprint), encoding="utf-8")
    return public, True


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)

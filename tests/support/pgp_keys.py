"""Test OpenPGP keys for escrow, made quickly with the gpg CLI (not with the code under test), and gpg/sq helpers.

Typical use in a test module::

    from support.pgp_keys import EscrowKeys, escrow_keys  # noqa: F401  # a fixture

    def test_deposit(escrow_keys: EscrowKeys) -> None:
        crypto = DepositCrypto(gnupg_home=escrow_keys.registrar_home, agent_public_key=escrow_keys.agent_public_key)

`escrow_keys` is a private copy (fresh directories, its gpg-agents stopped afterwards) of one agent key pair and
one registrar key made once per process: ed25519/cv25519, no passphrase. `make_escrow_keys` makes other kinds
(RSA, a passphrase).

Homes live in short directories under /tmp, never under pytest's `tmp_path`: gpg-agent's socket paths must stay
under 106 bytes. Every home gets `s2k-count 65536` in its gpg-agent.conf: protecting a key with the agent's
calibrated count takes ~3.5 s on the CI machine, and tests need no slow key derivation.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pytest

_TMP = "/tmp"
_AGENT_CONF = "s2k-count 65536\n"  # fast key protection, tests only (see the module docstring)
_ALGORITHMS = {
    "ed25519": ("Key-Type: EDDSA\nKey-Curve: ed25519\n", "Subkey-Type: ECDH\nSubkey-Curve: cv25519\n"),
    "rsa3072": ("Key-Type: RSA\nKey-Length: 3072\n", "Subkey-Type: RSA\nSubkey-Length: 3072\n"),
}


@dataclass(frozen=True, slots=True)
class EscrowKeys:
    agent_public_key: Path  # armoured, what `escrow.agent_public_key` points to
    agent_secret_key: Path  # armoured, for `escrow restore-test --agent-secret-key`
    agent_home: Path  # the agent's secret key and the registrar's public key: `gpg --homedir agent_home --decrypt`
    agent_fingerprint: str
    registrar_home: Path  # `escrow.gnupg_home`: the registrar's secret key only
    registrar_public_key: Path  # armoured; `sq verify --signer-cert` takes it
    registrar_fingerprint: str
    passphrase: str | None  # the registrar key's (the agent key has none)


def short_dir(prefix: str = "dpt-") -> Path:
    """A fresh private directory whose path is short enough for gpg-agent's sockets."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_TMP))


def new_home(parent: Path, name: str) -> Path:
    home = parent / name
    home.mkdir(mode=0o700)
    (home / "gpg-agent.conf").write_text(_AGENT_CONF, encoding="ascii")
    return home


def gpg(home: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """`gpg --homedir home --batch ...`, status lines on stdout; never raises on gpg's exit code."""
    command = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--status-fd", "1", *args]
    return subprocess.run(command, input=stdin, capture_output=True, check=False, env={**os.environ, "LC_ALL": "C"})


def make_key(
    home: Path,
    user_id: str,
    *,
    algorithm: Literal["ed25519", "rsa3072"] = "ed25519",
    encryption_subkey: bool = True,
    passphrase: str | None = None,
    faked_time: str | None = None,
    expire: str = "0",
) -> str:
    """A new key in `home`; its fingerprint. `faked_time` (e.g. "20200101T000000") with `expire` "1d" makes a
    key that has long expired."""
    primary, subkey = _ALGORITHMS[algorithm]
    params = f"{primary}Key-Usage: sign\n"
    if encryption_subkey:
        params += f"{subkey}Subkey-Usage: encrypt\n"
    params += f"Name-Real: {user_id}\nExpire-Date: {expire}\n"
    params += "%no-protection\n" if passphrase is None else f"Passphrase: {passphrase}\n"
    options = ["--faked-system-time", faked_time] if faked_time else []
    result = gpg(home, *options, "--gen-key", stdin=f"{params}%commit\n".encode())
    created = [line.split()[-1] for line in result.stdout.decode().splitlines() if " KEY_CREATED " in line]
    assert result.returncode == 0 and created, result.stderr.decode()
    return created[0]


def export_public(home: Path, fingerprint: str, path: Path) -> Path:
    result = gpg(home, "--yes", "--armor", "-o", str(path), "--export", fingerprint)
    assert result.returncode == 0 and path.read_bytes().startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK"), result.stderr
    return path


def export_secret(home: Path, fingerprint: str, path: Path, passphrase: str | None = None) -> Path:
    phrase = ["--passphrase", passphrase] if passphrase else []
    result = gpg(home, *phrase, "--yes", "--armor", "-o", str(path), "--export-secret-keys", fingerprint)
    assert result.returncode == 0 and path.read_bytes().startswith(b"-----BEGIN PGP PRIVATE KEY BLOCK"), result.stderr
    return path


def revoke(home: Path, fingerprint: str) -> None:
    """Import the revocation certificate gpg stored when it made the key."""
    certificate = (home / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text(encoding="ascii")
    armoured = certificate.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----")
    result = gpg(home, "--import", stdin=armoured.encode("ascii"))
    assert result.returncode == 0, result.stderr.decode()


def status_lines(output: bytes) -> dict[str, list[list[str]]]:
    """`[GNUPG:] KEYWORD args` lines: keyword -> the arguments of each occurrence."""
    status: dict[str, list[list[str]]] = {}
    for line in output.decode("utf-8", "replace").splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, *args = line[9:].split()
            status.setdefault(keyword, []).append(args)
    return status


def gpg_decrypt(agent_home: Path, encrypted: Path, out: Path) -> tuple[int, dict[str, list[list[str]]]]:
    """What the agent runs (escrow.md §13): `gpg --batch --status-fd 1 --decrypt -o out FILE`."""
    result = gpg(agent_home, "--yes", "--decrypt", "-o", str(out), str(encrypted))
    return result.returncode, status_lines(result.stdout)


def sq_verify(signature: Path, cert: Path, data: Path) -> subprocess.CompletedProcess[str]:
    """Sequoia's check of a detached signature (sq 0.27), a second implementation beside gpg."""
    command = ["sq", "verify", "--detached", str(signature), "--signer-cert", str(cert), str(data)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def agent_homes(under: Path) -> dict[int, Path]:
    """pid -> home of every gpg-agent running for a home inside `under` (its command line names the home)."""
    found: dict[int, Path] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            words = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if words[0].endswith(b"gpg-agent") and b"--homedir" in words[:-1]:
            home = Path(os.fsdecode(words[words.index(b"--homedir") + 1]))
            if home == under or under in home.parents:
                found[int(proc.name)] = home
    return found


def stop_agents(under: Path) -> None:
    """Stop every gpg-agent of a home inside `under`, by its home (gpgconf --kill)."""
    for home in set(agent_homes(under).values()):
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


def remove(root: Path) -> None:
    stop_agents(root)
    shutil.rmtree(root, ignore_errors=True)


def make_escrow_keys(
    root: Path, *, algorithm: Literal["ed25519", "rsa3072"] = "ed25519", passphrase: str | None = None
) -> EscrowKeys:
    """An agent key pair and a registrar key under `root` (a `short_dir()`); their gpg-agents stopped."""
    agent_home = new_home(root, "agent")
    registrar_home = new_home(root, "registrar")
    agent = make_key(agent_home, "Demo escrow agent (TEST KEY) <agent@example.invalid>", algorithm=algorithm)
    registrar = make_key(
        registrar_home,
        "Example Registrar escrow <escrow@registrar.example>",
        algorithm=algorithm,
        passphrase=passphrase,
    )
    registrar_public = export_public(registrar_home, registrar, root / "registrar-public.asc")
    imported = gpg(agent_home, "--import", stdin=registrar_public.read_bytes())
    assert imported.returncode == 0, imported.stderr.decode()  # the agent holds the registrar's key on file
    keys = EscrowKeys(
        agent_public_key=export_public(agent_home, agent, root / "agent-public.asc"),
        agent_secret_key=export_secret(agent_home, agent, root / "agent-secret.asc"),
        agent_home=agent_home,
        agent_fingerprint=agent,
        registrar_home=registrar_home,
        registrar_public_key=registrar_public,
        registrar_fingerprint=registrar,
        passphrase=passphrase,
    )
    stop_agents(root)
    return keys


@functools.cache
def _made_once() -> EscrowKeys:
    root = short_dir("dpk-")
    atexit.register(remove, root)
    return make_escrow_keys(root)


def copy_escrow_keys(keys: EscrowKeys, root: Path) -> EscrowKeys:
    """The same keys in fresh homes under `root`: tests may change them (import keys) without effect elsewhere."""
    source = keys.agent_home.parent
    for entry in source.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, root / entry.name, ignore=shutil.ignore_patterns("S.*", "*.lock"))
        else:
            shutil.copy2(entry, root / entry.name)
    moved = {name: root / getattr(keys, name).relative_to(source) for name in _PATHS}
    return replace(keys, **moved)


_PATHS = ("agent_public_key", "agent_secret_key", "agent_home", "registrar_home", "registrar_public_key")


@pytest.fixture
def escrow_keys() -> Iterator[EscrowKeys]:
    """A private copy of the process's test keys (ed25519/cv25519, no passphrase); agents stopped afterwards."""
    root = short_dir()
    try:
        yield copy_escrow_keys(_made_once(), root)
    finally:
        remove(root)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short private directory for more homes; gpg-agents of homes in it are stopped afterwards."""
    root = short_dir()
    try:
        yield root
    finally:
        remove(root)

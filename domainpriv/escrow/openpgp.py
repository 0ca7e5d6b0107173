"""OpenPGP for escrow deposits: encrypt to the escrow agent, sign as the registrar, verify, and the drill's decrypt.

gpg itself does the work, driven by python-gnupg (toolchain.md §4: GnuPG interoperates with the agent's GnuPG keys
by construction, and with OpenPGP compression off it is about as fast as the CLI). Each deposit file is already
gzip, so OpenPGP compression is off (escrow.md §9 step 4); it is encrypted to the agent's key and signed inline with
the registrar's (§9 step 5). The registrar cannot decrypt what it encrypted to the agent, so every file also gets a
detached binary signature that `escrow verify` and `sq verify --detached` check with public keys only (§13).

Data always streams file to file through gpg: deposits can be gigabytes.

Homes and agents:

* The registrar's gnupg home holds its secret key and the agent's public key, imported from its file by `check()`.
  The agent's secret key never goes there: the restore drill decrypts in a temporary home.
* gpg-agent listens on Unix sockets in the home (unless /run/user/<uid>/gnupg is set up), and fails with a bare
  "No agent running" when a socket path is longer than 106 bytes; such homes are refused up front with the limit
  named, and temporary homes get short names.
* An agent started here is stopped when done (`DepositCrypto.close()`, the key functions, the drill); one that was
  already running (an operator's, another process's) is left alone.
* gpg-agent caches passphrases, so a wrong configured passphrase would pass after a right one: `check()` flushes
  the cache before its trial signature.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal

import gnupg

from domainpriv.errors import DomainprivError

__all__ = [
    "MAX_SOCKET_PATH_BYTES",
    "Decrypted",
    "DepositCrypto",
    "KeyInfo",
    "OpenPgpError",
    "decrypt_with_agent_key",
    "export_public_key",
    "export_secret_key",
    "generate_key",
    "secret_keys",
]

MAX_SOCKET_PATH_BYTES = 106  # gpg 2.2.40's agent does not start when S.gpg-agent.browser's path is longer (measured)
_LONGEST_SOCKET = "S.gpg-agent.browser"
_MAX_KEY_FILE_BYTES = 16 << 20  # an armoured key with many certifications stays far below; a bigger file is no key
_MAX_SIGNATURE_BYTES = 64 << 10  # one detached signature is under 1 KiB
_GPGCONF_TIMEOUT_SECONDS = 30
_OPTIONS = ["--pinentry-mode", "loopback", "--no-auto-key-retrieve", "--no-encrypt-to"]  # never a GUI prompt
_FINGERPRINT = re.compile(r"[0-9A-F]{40}")
_TRIAL_MESSAGE = b"domainpriv escrow: signing key check\n"
_PASSPHRASE_ERRORS = {11, 177}  # GPG_ERR_BAD_PASSPHRASE, GPG_ERR_NO_PASSPHRASE: the low 16 bits of gpg's codes
_NOISE = ("checking the trustdb", "marginals needed", "depth:", "next trustdb check", "WARNING: unsafe")
_ALGORITHMS = {
    "rsa3072": ("Key-Type: RSA\nKey-Length: 3072\n", "Subkey-Type: RSA\nSubkey-Length: 3072\n"),
    "ed25519": ("Key-Type: EDDSA\nKey-Curve: ed25519\n", "Subkey-Type: ECDH\nSubkey-Curve: cv25519\n"),
}


class OpenPgpError(DomainprivError):
    """A key, a file or gpg itself is unusable; the message names which, never a passphrase."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    fingerprint: str  # 40 hex digits, upper case as gpg prints them
    user_id: str


@dataclass(frozen=True, slots=True)
class Decrypted:
    signer_fingerprint: str  # the primary key of VALIDSIG
    status: frozenset[str]  # gpg's status keywords, e.g. DECRYPTION_OKAY, GOODMDC, GOODSIG, VALIDSIG


@dataclass(frozen=True, slots=True)
class _AgentKey:
    fingerprint: str
    key_ids: frozenset[str]  # 16 hex digits: the primary key and every subkey


# -- key generation and export ------------------------------------------------------------------------------------


def generate_key(
    home: Path,
    *,
    user_id: str,
    passphrase: str | None = None,
    algorithm: Literal["rsa3072", "ed25519"] = "rsa3072",
) -> KeyInfo:
    """Add a sign+certify key with an encryption subkey to `home` (made 0700 if missing); it never expires.

    RSA 3072 is what the agent accepts until January 2027 (escrow.md §9). `passphrase` None or "": unprotected.
    Raises OpenPgpError (a multi-line user id or passphrase, gpg failing).
    """
    if not user_id.strip() or not user_id.isprintable():
        raise OpenPgpError("the key's user id must be one line of printable characters")
    secret = _one_line_passphrase(passphrase)
    if secret is not None and secret != secret.strip():
        raise OpenPgpError("a key's passphrase may not start or end with whitespace (gpg's key parameters drop it)")
    primary, subkey = _ALGORITHMS[algorithm]
    protection = "%no-protection\n" if secret is None else f"Passphrase: {secret}\n"
    params = (
        f"{primary}Key-Usage: sign\n{subkey}Subkey-Usage: encrypt\nName-Real: {user_id.strip()}\n"
        f"Expire-Date: 0\n{protection}%commit\n"
    )
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _session(home) as gpg:
        result = gpg.gen_key(params)
        fingerprint = result.fingerprint
        if result.returncode != 0 or not fingerprint:
            raise OpenPgpError(f"could not generate a key in {home}: {_reason(result.stderr)}")
        listed = _listed_key(gpg, fingerprint)
    return KeyInfo(fingerprint, listed["uids"][0] if listed and listed["uids"] else user_id.strip())


def secret_keys(home: Path) -> list[KeyInfo]:
    """The secret keys of `home` (`escrow keygen` creates one only when there is none)."""
    with _session(_existing_home(home, "gnupg home")) as gpg:
        return [KeyInfo(k["fingerprint"], (k.get("uids") or [""])[0]) for k in gpg.list_keys(secret=True)]


def export_public_key(home: Path, fingerprint: str) -> str:
    """The armoured public key (certificate) `fingerprint` of `home`. Raises OpenPgpError."""
    fpr = _fingerprint(fingerprint, "key")
    with _session(_existing_home(home, "gnupg home")) as gpg:
        if _listed_key(gpg, fpr) is None:
            raise OpenPgpError(f"no key {fpr} in the gnupg home {home}")
        armoured: str = gpg.export_keys(fpr, armor=True)
    if "BEGIN PGP PUBLIC KEY BLOCK" not in armoured:
        raise OpenPgpError(f"could not export the public key {fpr} from {home}")
    return armoured


def export_secret_key(home: Path, fingerprint: str, passphrase: str | None = None) -> str:
    """The armoured secret key `fingerprint` of `home`, still protected by its passphrase. Raises OpenPgpError."""
    fpr = _fingerprint(fingerprint, "key")
    secret = _one_line_passphrase(passphrase)
    with _session(_existing_home(home, "gnupg home")) as gpg:
        if fpr not in {k["fingerprint"] for k in gpg.list_keys(secret=True)}:
            raise OpenPgpError(f"no secret key {fpr} in the gnupg home {home}")
        armoured: str = gpg.export_keys(fpr, secret=True, passphrase=secret, expect_passphrase=False)
    if "BEGIN PGP PRIVATE KEY BLOCK" not in armoured:
        raise OpenPgpError(f"could not export the secret key {fpr} from {home}: wrong or missing passphrase")
    return armoured


# -- the registrar's side -----------------------------------------------------------------------------------------


class DepositCrypto:
    """The registrar's side: encrypt+sign deposit files, sign detached, check its own signatures.

    Use it as a context manager (or call `close()`): that stops the gpg-agent it started. `check()` runs on first
    use when not called before; call it up front to fail early with one clear error.
    """

    def __init__(
        self, *, gnupg_home: Path, agent_public_key: Path, signing_key: str = "", passphrase: str | None = None
    ) -> None:
        self._home = Path(gnupg_home)
        self._agent_file = Path(agent_public_key)
        self._signing_key = signing_key.strip()
        self._passphrase = _one_line_passphrase(passphrase)
        self._gpg: Any = None
        self._stop_agent = False
        self._agent: _AgentKey | None = None
        self._signer: str | None = None
        self._checked = False

    def __enter__(self) -> DepositCrypto:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the gpg-agent this object started (none, or another process's: nothing happens)."""
        if self._gpg is not None and self._stop_agent:
            _kill_agent(self._home)
        self._gpg = None
        self._checked = False

    def check(self) -> None:
        """Import the agent's key from its file and check both keys and the passphrase, by a trial signature.

        Idempotent; a changed agent key file takes effect. Raises OpenPgpError naming the key, file or config key.
        """
        gpg = self._open()
        self._agent = _import_agent_key(gpg, self._agent_file)
        self._signer = _signing_key(gpg, self._home, self._signing_key, self._agent)
        _flush_passphrases(self._home)
        _trial_signature(gpg, self._signer, self._passphrase)
        self._checked = True

    @property
    def agent_fingerprint(self) -> str:
        return self._agent_key().fingerprint

    @property
    def agent_key_ids(self) -> frozenset[str]:
        """The agent key's 16-hex key ids (primary and subkeys), to compare with `recipients()`."""
        return self._agent_key().key_ids

    @property
    def signing_fingerprint(self) -> str:
        if self._signer is None:
            self._signer = _signing_key(self._open(), self._home, self._signing_key, None)
        return self._signer

    def encrypt_and_sign(self, src: Path, dst: Path) -> None:
        """Encrypt `src` to the agent and sign it inline, binary, uncompressed, into `dst`. Raises OpenPgpError."""
        gpg = self._ready()
        options = ["--compress-algo", "none", "--set-filename", src.name]
        with _reading(src, "deposit file") as fh:
            result = _streamed(
                src,
                lambda: gpg.encrypt_file(
                    fh,
                    recipients=[self.agent_fingerprint],
                    sign=self.signing_fingerprint,
                    always_trust=True,
                    passphrase=self._passphrase,
                    armor=False,
                    output=str(dst),
                    extra_args=options,
                ),
            )
        status = _status(result.stderr)
        if result.returncode != 0 or "END_ENCRYPTION" not in status or not self._signed_by_us(status):
            dst.unlink(missing_ok=True)
            raise OpenPgpError(f"could not encrypt and sign {src.name}: {_reason(result.stderr)}")

    def sign_detached(self, src: Path, dst: Path) -> None:
        """Write a detached binary signature of `src` to `dst`. Raises OpenPgpError."""
        gpg = self._ready()
        with _reading(src, "file to sign") as fh:
            result = _streamed(
                src,
                lambda: gpg.sign_file(
                    fh,
                    keyid=self.signing_fingerprint,
                    passphrase=self._passphrase,
                    detach=True,
                    binary=True,
                    output=str(dst),
                ),
            )
        if result.returncode != 0 or not self._signed_by_us(_status(result.stderr)):
            dst.unlink(missing_ok=True)
            raise OpenPgpError(f"could not sign {src.name}: {_reason(result.stderr)}")

    def verify_detached(self, data: Path, signature: Path) -> str:
        """The signer's fingerprint when `signature` is a good signature of `data` by the signing key.

        Public keys only. Raises OpenPgpError when a file is missing, the signature is bad (the data changed), or
        it was made by any other key.
        """
        signer = self.signing_fingerprint
        _require_file(data, "signed file")
        _require_file(signature, "signature")
        if signature.stat().st_size > _MAX_SIGNATURE_BYTES:
            raise OpenPgpError(f"{signature.name} is not a detached signature (over {_MAX_SIGNATURE_BYTES} bytes)")
        returncode, stderr = _run(self._open(), ["--verify", str(signature), str(data)])
        return _verified(_status(stderr), returncode, signer, f"{signature.name} (over {data.name})", stderr)

    def recipients(self, encrypted: Path) -> set[str]:
        """The 16-hex key ids `encrypted` is encrypted to, read from its packets without decrypting anything."""
        _require_file(encrypted, "encrypted file")
        _, stderr = _run(self._open(), ["--list-only", "--decrypt", str(encrypted)])  # gpg skips the data by seek
        ids = {args[0].upper() for args in _status(stderr).get("ENC_TO", []) if args}
        if not ids:
            raise OpenPgpError(f"{encrypted.name} is not an OpenPGP file encrypted to a public key")
        return ids

    def _open(self) -> Any:
        if self._gpg is None:
            home = _existing_home(
                self._home, "escrow.gnupg_home", hint="run `domainpriv escrow keygen` to create it with a key"
            )
            self._stop_agent = not _agent_running(home)
            self._gpg = _make_gpg(home)
        return self._gpg

    def _ready(self) -> Any:
        if not self._checked:
            self.check()
        return self._open()

    def _agent_key(self) -> _AgentKey:
        if self._agent is None:
            self._agent = _import_agent_key(self._open(), self._agent_file)
        return self._agent

    def _signed_by_us(self, status: dict[str, list[list[str]]]) -> bool:
        """gpg.conf's `local-user` lines could add or swap signers: exactly our key must have signed."""
        created = status.get("SIG_CREATED", [])
        return len(created) == 1 and created[0][-1:] == [self.signing_fingerprint]


def _import_agent_key(gpg: Any, path: Path) -> _AgentKey:
    data = _read_key_file(path, "escrow.agent_public_key")
    keys = gpg.scan_keys_mem(data)
    what = f"escrow.agent_public_key {path}"
    if not keys:
        raise OpenPgpError(f"{what} is not an OpenPGP public key (expected the agent's armoured public key)")
    if any(k["type"] == "sec" for k in keys):
        raise OpenPgpError(
            f"{what} holds a secret key: give the agent's public key only (its secret key must never be in the "
            "registrar's gnupg home)"
        )
    if len(keys) > 1:
        fingerprints = ", ".join(k["fingerprint"] for k in keys)
        raise OpenPgpError(f"{what} holds {len(keys)} keys ({fingerprints}); it must hold only the agent's key")
    fingerprint = keys[0]["fingerprint"]
    result = gpg.import_keys(data)
    if fingerprint not in result.fingerprints:
        raise OpenPgpError(f"{what}: gpg could not import key {fingerprint}: {_reason(result.stderr)}")
    listed = _listed_key(gpg, fingerprint)
    if listed is None:
        raise OpenPgpError(f"{what}: key {fingerprint} is missing after its import")
    _require_valid(listed, f"the agent key {fingerprint} ({path})")
    if "E" not in listed["cap"]:
        raise OpenPgpError(
            f"the agent key {fingerprint} ({path}) has no usable encryption key (no encryption subkey, or it "
            "expired or was revoked)"
        )
    return _AgentKey(fingerprint, frozenset([listed["keyid"], *(sub[0] for sub in listed["subkeys"])]))


def _signing_key(gpg: Any, home: Path, configured: str, agent: _AgentKey | None) -> str:
    secrets = {k["fingerprint"] for k in gpg.list_keys(secret=True)}
    if not secrets:
        raise OpenPgpError(f"no secret key in escrow.gnupg_home {home}: run `domainpriv escrow keygen`")
    if agent is not None and agent.fingerprint in secrets:
        raise OpenPgpError(
            f"the agent's secret key {agent.fingerprint} is in escrow.gnupg_home {home}: delete it there "
            "(gpg --delete-secret-keys); only the restore drill may use it, in a temporary home"
        )
    if configured:
        fingerprint = _fingerprint(configured, "escrow.signing_key")
        if fingerprint not in secrets:
            raise OpenPgpError(f"escrow.signing_key {fingerprint}: no such secret key in {home}")
    elif len(secrets) > 1:
        raise OpenPgpError(
            f"escrow.gnupg_home {home} holds {len(secrets)} secret keys ({', '.join(sorted(secrets))}): set "
            "escrow.signing_key to the fingerprint of the one to sign with"
        )
    else:
        (fingerprint,) = secrets
    listed = _listed_key(gpg, fingerprint)
    if listed is None:
        raise OpenPgpError(f"the signing key {fingerprint} has no public key in {home}")
    _require_valid(listed, f"the signing key {fingerprint}")
    if "S" not in listed["cap"]:
        raise OpenPgpError(f"the signing key {fingerprint} cannot sign (no usable signing capability)")
    return fingerprint


def _trial_signature(gpg: Any, fingerprint: str, passphrase: str | None) -> None:
    """Sign a few bytes: the only way to know the passphrase is right before a deposit is built."""
    result = gpg.sign(_TRIAL_MESSAGE, keyid=fingerprint, passphrase=passphrase, detach=True, binary=True)
    status = _status(result.stderr)
    created = status.get("SIG_CREATED", [])
    if result.returncode == 0 and len(created) == 1 and created[0][-1:] == [fingerprint]:
        return
    if passphrase is None and "NEED_PASSPHRASE" in status:
        raise OpenPgpError(
            f"the signing key {fingerprint} is protected by a passphrase: set escrow.signing_passphrase_file"
        )
    if "BAD_PASSPHRASE" in status or _error_codes(status, "sign") & _PASSPHRASE_ERRORS:
        raise OpenPgpError(f"wrong passphrase for the signing key {fingerprint} (check escrow.signing_passphrase_file)")
    if "KEYEXPIRED" in status or "SIGEXPIRED" in status:
        raise OpenPgpError(f"the signing key {fingerprint} has expired")
    raise OpenPgpError(f"a trial signature with the signing key {fingerprint} failed: {_reason(result.stderr)}")


def _verified(status: dict[str, list[list[str]]], returncode: int, signer: str, what: str, stderr: str) -> str:
    """The signer of the one good signature, which must be `signer`; else OpenPgpError saying what is wrong."""
    if "BADSIG" in status:
        raise OpenPgpError(f"bad signature {what}: the data changed since it was signed, or is truncated")
    for keyword, state in (("EXPKEYSIG", "an expired"), ("REVKEYSIG", "a revoked")):
        if keyword in status:
            raise OpenPgpError(f"signature {what} was made by {state} key {status[keyword][0][0]}")
    if "ERRSIG" in status or "NO_PUBKEY" in status:
        key_id = (status.get("ERRSIG") or status.get("NO_PUBKEY") or [["?"]])[0][0]
        raise OpenPgpError(f"signature {what} was made by an unknown key {key_id}, not the registrar key {signer}")
    valid = status.get("VALIDSIG", [])
    if not valid or "GOODSIG" not in status:
        raise OpenPgpError(f"no valid OpenPGP signature in {what}: {_reason(stderr)}")
    made_by = {_primary(args) for args in valid}
    if made_by != {signer}:
        raise OpenPgpError(f"signature {what} was made by key {', '.join(sorted(made_by))}, not {signer}")
    if returncode != 0 or len(valid) != 1:
        raise OpenPgpError(f"signature {what} does not verify: {_reason(stderr)}")
    return signer


# -- the restore drill's side -------------------------------------------------------------------------------------


def decrypt_with_agent_key(
    encrypted: Path, out: Path, *, agent_secret_key: Path, registrar_public_key: str, passphrase: str | None = None
) -> Decrypted:
    """Decrypt `encrypted` into `out` as the agent would, and require the registrar's signature on it.

    Works in a temporary gnupg home (the agent's secret key never enters the registrar's), removed afterwards
    with its gpg-agent. `out` is kept only when DECRYPTION_OKAY, GOODMDC and a GOODSIG/VALIDSIG by the registrar
    key are all present; otherwise it is deleted (no unverified plain text stays behind) and OpenPgpError says why.
    """
    secret = _read_key_file(agent_secret_key, "agent secret key file")
    phrase = _one_line_passphrase(passphrase)
    _require_file(encrypted, "encrypted file")
    with _temporary_home() as home:
        gpg = _make_gpg(home)
        _import_secret(gpg, secret, agent_secret_key)
        registrar = _import_registrar(gpg, registrar_public_key.encode("utf-8"))
        with _reading(encrypted, "encrypted file") as fh:
            result = _streamed(
                encrypted,
                lambda: gpg.decrypt_file(fh, always_trust=True, passphrase=phrase, output=str(out)),
            )
        status = _status(result.stderr)
        try:
            _require_decrypted(status, encrypted.name, registrar, agent_secret_key, result.stderr)
        except OpenPgpError:
            out.unlink(missing_ok=True)
            raise
    return Decrypted(registrar, frozenset(status))


def _import_secret(gpg: Any, data: bytes, path: Path) -> None:
    keys = gpg.scan_keys_mem(data)
    if not any(k["type"] == "sec" for k in keys):
        raise OpenPgpError(f"agent secret key file {path} holds no OpenPGP secret key")
    result = gpg.import_keys(data)
    if not result.sec_imported and not result.sec_dups:
        raise OpenPgpError(f"agent secret key file {path}: gpg could not import it: {_reason(result.stderr)}")


def _import_registrar(gpg: Any, data: bytes) -> str:
    keys = gpg.scan_keys_mem(data)
    if len(keys) != 1 or keys[0]["type"] != "pub":
        raise OpenPgpError(f"the registrar public key must be one OpenPGP public key, not {len(keys)} keys")
    fingerprint: str = keys[0]["fingerprint"]
    if fingerprint not in gpg.import_keys(data).fingerprints:
        raise OpenPgpError(f"the registrar public key {fingerprint} could not be imported")
    return fingerprint


def _require_decrypted(status: dict[str, list[list[str]]], name: str, registrar: str, key: Path, stderr: str) -> None:
    if "DECRYPTION_OKAY" not in status:
        if _error_codes(status, "pkdecrypt_failed") & _PASSPHRASE_ERRORS or "NEED_PASSPHRASE" in status:
            raise OpenPgpError(f"{name}: wrong or missing passphrase for the agent secret key ({key})")
        if "NO_SECKEY" in status:
            ids = ", ".join(sorted({args[0] for args in status.get("ENC_TO", []) if args}))
            raise OpenPgpError(f"{name} is not encrypted to the agent secret key in {key} (it is for key {ids})")
        raise OpenPgpError(f"{name} could not be decrypted: {_reason(stderr)}")
    if "GOODMDC" not in status or "BADMDC" in status:
        raise OpenPgpError(f"{name} failed its integrity check (modification detection code)")
    if not {"NEWSIG", "GOODSIG", "BADSIG", "ERRSIG", "EXPKEYSIG", "REVKEYSIG"} & status.keys():
        raise OpenPgpError(f"{name} is not signed: the registrar signs every deposit file")
    _verified(status, 0, registrar, name, stderr)


# -- gpg plumbing -------------------------------------------------------------------------------------------------


def _make_gpg(home: Path) -> Any:
    _check_socket_path(home)
    try:
        gpg = gnupg.GPG(gnupghome=str(home), options=list(_OPTIONS), env=_env())
    except (OSError, ValueError) as exc:
        raise OpenPgpError(f"gpg cannot run with the gnupg home {home}: {exc}") from None
    return gpg


@contextlib.contextmanager
def _session(home: Path) -> Iterator[Any]:
    """A gpg for one short job: the agent it starts (if none ran) is stopped afterwards."""
    gpg = _make_gpg(home)
    started = not _agent_running(home)
    try:
        yield gpg
    finally:
        if started:
            _kill_agent(home)


@contextlib.contextmanager
def _temporary_home() -> Iterator[Path]:
    base = tempfile.gettempdir()
    if len(os.fsencode(base)) + len(f"/dpg-12345678/{_LONGEST_SOCKET}") > MAX_SOCKET_PATH_BYTES:
        base = "/tmp"  # noqa: S108  # a short private directory (mkdtemp: 0700, random name) for the sockets
    home = Path(tempfile.mkdtemp(prefix="dpg-", dir=base))
    try:
        yield home
    finally:
        _kill_agent(home)
        shutil.rmtree(home, ignore_errors=True)


def _run(gpg: Any, args: list[str]) -> tuple[int, str]:
    """gpg reading files by path, which python-gnupg cannot do: it pipes everything through stdin."""
    command = gpg.make_args(args, False)
    proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, env=gpg.env, check=False)  # noqa: S603  # our own arguments
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def _streamed(path: Path, call: Callable[[], Any]) -> Any:
    """python-gnupg re-raises the error of its copying thread: gpg stopped reading (it failed early)."""
    try:
        return call()
    except OSError as exc:
        raise OpenPgpError(f"gpg stopped reading {path.name}: {exc.strerror or exc}") from None


def _gpgconf(home: Path, *args: str) -> str:
    binary = shutil.which("gpgconf")
    if binary is None:
        raise OpenPgpError("gpgconf (GnuPG) is not installed")
    try:
        proc = subprocess.run(  # noqa: S603  # our own arguments
            [binary, "--homedir", str(home), *args],
            capture_output=True,
            env=_env(),
            timeout=_GPGCONF_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OpenPgpError(f"gpgconf {' '.join(args)} timed out for {home}") from None
    return proc.stdout.decode("utf-8", "replace").strip()


def _socket_dir(home: Path) -> Path:
    listed = _gpgconf(home, "--list-dirs", "socketdir")
    return Path(re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), listed) or home)


def _check_socket_path(home: Path) -> None:
    path = _socket_dir(home) / _LONGEST_SOCKET
    length = len(os.fsencode(path))
    if length > MAX_SOCKET_PATH_BYTES:
        raise OpenPgpError(
            f"gpg-agent cannot run for the gnupg home {home}: its socket {path} would be {length} bytes, over the "
            f"{MAX_SOCKET_PATH_BYTES}-byte limit of Unix socket paths; move the home to a shorter path"
        )


def _agent_running(home: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(_socket_dir(home) / "S.gpg-agent"))
        except OSError:
            return False
    return True


def _kill_agent(home: Path) -> None:
    _gpgconf(home, "--kill", "gpg-agent")


def _flush_passphrases(home: Path) -> None:
    """gpg-agent's reload flushes its passphrase cache (and starts no agent when none runs)."""
    _gpgconf(home, "--reload", "gpg-agent")


def _env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}  # gpg's messages in English, for the reasons shown


def _status(stderr: str) -> dict[str, list[list[str]]]:
    """gpg's status lines (python-gnupg sends them to stderr): keyword -> the arguments of each occurrence."""
    status: dict[str, list[list[str]]] = {}
    for line in stderr.splitlines():
        if line.startswith("[GNUPG:] ") and line[9:].split():
            keyword, *args = line[9:].split()
            status.setdefault(keyword, []).append(args)
    return status


def _error_codes(status: dict[str, list[list[str]]], operation: str) -> set[int]:
    """The gpg error codes (without their source) of `ERROR operation code` and `FAILURE operation code` lines."""
    lines = [*status.get("ERROR", []), *status.get("FAILURE", [])]
    return {int(args[-1]) & 0xFFFF for args in lines if len(args) >= 2 and args[0] == operation and args[-1].isdigit()}


def _reason(stderr: str) -> str:
    """gpg's last message, shortened: it names keys and files, never a passphrase."""
    lines = [line[5:].strip() for line in stderr.splitlines() if line.startswith("gpg: ")]
    lines = [line for line in lines if line and not line.startswith(_NOISE)]
    return lines[-1][:200] if lines else "gpg gave no reason"


def _primary(validsig: list[str]) -> str:
    """VALIDSIG's primary key fingerprint (field 10), which differs from field 1 when a subkey signed."""
    return validsig[9] if len(validsig) >= 10 else validsig[0]


def _listed_key(gpg: Any, fingerprint: str) -> dict[str, Any] | None:
    for key in gpg.list_keys(keys=[fingerprint]):
        if key["fingerprint"] == fingerprint:
            return dict(key)
    return None


def _require_valid(listed: dict[str, Any], what: str) -> None:
    validity = listed.get("trust", "")
    problems = {"e": "has expired", "r": "was revoked", "i": "is invalid", "d": "is disabled"}
    if validity in problems:
        raise OpenPgpError(f"{what} {problems[validity]}")


def _fingerprint(value: str, what: str) -> str:
    fingerprint = value.replace(" ", "").upper().removeprefix("0X")
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise OpenPgpError(f"{what} {value!r} is not a fingerprint (40 hex digits)")
    return fingerprint


def _one_line_passphrase(passphrase: str | None) -> str | None:
    """gpg reads a passphrase as one line from a pipe; "" means none (it would otherwise read the data)."""
    if not passphrase:
        return None
    if any(c in passphrase for c in "\r\n\x00"):
        raise OpenPgpError("the passphrase must be one line without NUL characters")
    return passphrase


def _existing_home(home: Path, what: str, *, hint: str = "") -> Path:
    if not home.is_dir():
        raise OpenPgpError(f"{what} {home} does not exist" + (f": {hint}" if hint else ""))
    return home


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise OpenPgpError(f"{what} {path} does not exist" if not path.exists() else f"{what} {path} is not a file")


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        if path.is_dir():
            raise OpenPgpError(f"{what} {path} is a directory, not a key file")
        with path.open("rb") as fh:
            data = fh.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise OpenPgpError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise OpenPgpError(f"{what} {path} cannot be read (permission denied)") from None
    except OSError as exc:
        raise OpenPgpError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise OpenPgpError(f"{what} {path} is over {_MAX_KEY_FILE_BYTES >> 20} MiB: not a key file")
    return data


@contextlib.contextmanager
def _reading(path: Path, what: str) -> Iterator[BinaryIO]:
    _require_file(path, what)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise OpenPgpError(f"{what} {path} cannot be read: {exc.strerror}") from None
    with fh:
        yield fh

"""The OpenPGP layer of escrow deposits against real gpg 2.2 and sq 0.27 (escrow.md §9, §13; toolchain.md §4)."""

from __future__ import annotations

import filecmp
import gzip
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domainpriv.escrow.openpgp import (
    MAX_SOCKET_PATH_BYTES,
    Decrypted,
    DepositCrypto,
    OpenPgpError,
    decrypt_with_agent_key,
    export_public_key,
    export_secret_key,
    generate_key,
)
from support import pgp_keys
from support.pgp_keys import (
    EscrowKeys,
    agent_homes,
    export_public,
    export_secret,
    gpg,
    gpg_decrypt,
    make_escrow_keys,
    make_key,
    new_home,
    revoke,
    sq_verify,
    stop_agents,
)

escrow_keys = pgp_keys.escrow_keys  # fixtures (imported by name, they would shadow-warn as unused imports)
short_tmp = pgp_keys.short_tmp
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def crypto(escrow_keys: EscrowKeys) -> Iterator[DepositCrypto]:
    with DepositCrypto(gnupg_home=escrow_keys.registrar_home, agent_public_key=escrow_keys.agent_public_key) as c:
        yield c


def deposit_file(folder: Path, size: int, name: str = "9999_RDE_2026-12-06_full_1.csv.gz") -> Path:
    """A gzip file of `size` bytes or a little more, like a deposit's (random rows: incompressible)."""
    path = folder / name
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(os.urandom(size))
    return path


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def wait_for_no_agents(under: Path) -> dict[int, Path]:
    deadline = time.monotonic() + 5
    while (running := agent_homes(under)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running


def secret_keys(home: Path) -> set[str]:
    lines = gpg(home, "--with-colons", "--list-secret-keys").stdout.decode().splitlines()
    return {lines[i + 1].split(":")[9] for i, line in enumerate(lines) if line.startswith("sec:")}


def other_signer(folder: Path) -> tuple[Path, str]:
    """A home with a key that is not the registrar's."""
    home = new_home(folder, "other")
    return home, make_key(home, "Someone else <other@example.invalid>")


# -- encrypt + sign -----------------------------------------------------------------------------------------------


def test_encrypt_and_sign_round_trips_through_the_agents_gpg_decrypt(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    src = deposit_file(short_tmp, 3_000_000)
    sealed = short_tmp / "sealed.tmp"
    crypto.encrypt_and_sign(src, sealed)

    returncode, status = gpg_decrypt(escrow_keys.agent_home, sealed, short_tmp / "out")

    assert returncode == 0
    assert {"DECRYPTION_OKAY", "GOODMDC", "GOODSIG", "VALIDSIG"} <= status.keys()
    assert status["VALIDSIG"][0][9] == escrow_keys.registrar_fingerprint == crypto.signing_fingerprint
    assert subprocess.run(["cmp", str(src), str(short_tmp / "out")], check=False).returncode == 0
    assert sealed.read_bytes()[:1] != b"-"  # binary, not armoured


def test_encrypted_deposits_carry_no_openpgp_compression_and_their_file_name(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    src = deposit_file(short_tmp, 200_000)
    crypto.encrypt_and_sign(src, short_tmp / "sealed")

    packets = gpg(escrow_keys.agent_home, "--list-packets", str(short_tmp / "sealed")).stdout.decode()

    assert ":literal data packet:" in packets and f'name="{src.name}"' in packets
    assert ":compressed packet:" not in packets
    assert os.path.getsize(short_tmp / "sealed") < src.stat().st_size + 1000  # compression off, not merely weak


def test_an_empty_file_round_trips(crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    src = short_tmp / "empty.csv.gz"
    src.write_bytes(b"")
    crypto.encrypt_and_sign(src, short_tmp / "sealed")

    returncode, status = gpg_decrypt(escrow_keys.agent_home, short_tmp / "sealed", short_tmp / "out")

    assert returncode == 0 and "GOODSIG" in status
    assert (short_tmp / "out").read_bytes() == b""


def test_recipients_shows_the_agents_encryption_subkey(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    crypto.encrypt_and_sign(deposit_file(short_tmp, 1000), short_tmp / "sealed")
    listing = gpg(escrow_keys.agent_home, "--with-colons", "--list-keys", escrow_keys.agent_fingerprint).stdout
    subkeys = {line.split(":")[4] for line in listing.decode().splitlines() if line.startswith("sub:")}

    recipients = crypto.recipients(short_tmp / "sealed")

    assert recipients == subkeys
    assert recipients <= crypto.agent_key_ids
    assert crypto.agent_fingerprint == escrow_keys.agent_fingerprint


def test_recipients_refuses_a_file_that_is_not_encrypted(crypto: DepositCrypto, short_tmp: Path) -> None:
    with pytest.raises(OpenPgpError, match="is not an OpenPGP file encrypted"):
        crypto.recipients(deposit_file(short_tmp, 1000))


def test_a_failed_encryption_leaves_no_output(crypto: DepositCrypto, short_tmp: Path) -> None:
    with pytest.raises(OpenPgpError, match=r"could not encrypt and sign .*No such file or directory"):
        crypto.encrypt_and_sign(deposit_file(short_tmp, 1000), short_tmp / "missing-folder" / "sealed")
    with pytest.raises(OpenPgpError, match=r"deposit file .*absent\.csv\.gz does not exist"):
        crypto.encrypt_and_sign(short_tmp / "absent.csv.gz", short_tmp / "sealed")
    assert not (short_tmp / "sealed").exists()


# -- detached signatures ------------------------------------------------------------------------------------------


def test_detached_signatures_verify_with_sq_and_sq_detects_tampering(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    sealed = short_tmp / "x.csv.gz.gpg"
    crypto.encrypt_and_sign(deposit_file(short_tmp, 100_000), sealed)
    hashes = short_tmp / "9999_RDE_2026-12-06_hash.txt"
    hashes.write_text(f"{'ab' * 32}  9999_RDE_2026-12-06_full_1.csv\n", encoding="ascii")
    for path in (sealed, hashes):
        crypto.sign_detached(path, short_tmp / f"{path.name}.sig")

        good = sq_verify(short_tmp / f"{path.name}.sig", escrow_keys.registrar_public_key, path)
        assert good.returncode == 0, good.stderr
        assert "1 good signature" in good.stderr

        flip_byte(path, path.stat().st_size // 2)
        bad = sq_verify(short_tmp / f"{path.name}.sig", escrow_keys.registrar_public_key, path)
        assert bad.returncode != 0
        assert "good signature" not in bad.stderr.replace("0 good signatures", "")


def test_verify_detached_accepts_the_registrars_signature(crypto: DepositCrypto, short_tmp: Path) -> None:
    data = deposit_file(short_tmp, 50_000)
    crypto.sign_detached(data, short_tmp / "data.sig")

    assert crypto.verify_detached(data, short_tmp / "data.sig") == crypto.signing_fingerprint
    assert (short_tmp / "data.sig").read_bytes()[:1] != b"-"  # binary


def test_verify_detached_rejects_a_tampered_file(crypto: DepositCrypto, short_tmp: Path) -> None:
    data = deposit_file(short_tmp, 50_000)
    crypto.sign_detached(data, short_tmp / "data.sig")
    flip_byte(data, 100)

    with pytest.raises(OpenPgpError, match=r"bad signature .*the data changed"):
        crypto.verify_detached(data, short_tmp / "data.sig")


def test_verify_detached_rejects_a_truncated_file(crypto: DepositCrypto, short_tmp: Path) -> None:
    data = deposit_file(short_tmp, 50_000)
    crypto.sign_detached(data, short_tmp / "data.sig")
    data.write_bytes(data.read_bytes()[:-1])

    with pytest.raises(OpenPgpError, match="bad signature"):
        crypto.verify_detached(data, short_tmp / "data.sig")


def test_verify_detached_rejects_a_signature_by_an_unknown_key(crypto: DepositCrypto, short_tmp: Path) -> None:
    data = deposit_file(short_tmp, 1000)
    home, other = other_signer(short_tmp)
    gpg(home, "-u", other, "-o", str(short_tmp / "data.sig"), "--detach-sign", str(data))

    with pytest.raises(OpenPgpError, match=f"made by an unknown key {other[-16:]}, not the registrar key"):
        crypto.verify_detached(data, short_tmp / "data.sig")


def test_verify_detached_rejects_a_good_signature_by_another_known_key(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    """The agent's public key is in the registrar's home, so gpg finds its signature good: still not ours."""
    data = deposit_file(short_tmp, 1000)
    agent = escrow_keys.agent_fingerprint
    gpg(escrow_keys.agent_home, "-u", agent, "-o", str(short_tmp / "data.sig"), "--detach-sign", str(data))
    crypto.check()  # imports the agent's key

    with pytest.raises(OpenPgpError, match=f"made by key {agent}, not {crypto.signing_fingerprint}"):
        crypto.verify_detached(data, short_tmp / "data.sig")


@pytest.mark.parametrize(
    ("signature", "error"),
    [
        (None, r"signature .*data\.sig does not exist"),
        (b"not a signature at all", "no valid OpenPGP signature"),
        (b"\x00" * (65 << 10), "is not a detached signature"),
    ],
)
def test_verify_detached_rejects_a_missing_or_broken_signature(
    crypto: DepositCrypto, short_tmp: Path, signature: bytes | None, error: str
) -> None:
    data = deposit_file(short_tmp, 1000)
    if signature is not None:
        (short_tmp / "data.sig").write_bytes(signature)

    with pytest.raises(OpenPgpError, match=error):
        crypto.verify_detached(data, short_tmp / "data.sig")


def test_verify_detached_needs_no_passphrase(short_tmp: Path) -> None:
    """`escrow verify` checks with public keys: a wrong passphrase does not stop it."""
    keys = make_escrow_keys(short_tmp, passphrase=PASSPHRASE)
    data = deposit_file(short_tmp, 1000)
    with DepositCrypto(
        gnupg_home=keys.registrar_home, agent_public_key=keys.agent_public_key, passphrase=PASSPHRASE
    ) as signer:
        signer.sign_detached(data, short_tmp / "data.sig")
    with DepositCrypto(
        gnupg_home=keys.registrar_home, agent_public_key=keys.agent_public_key, passphrase="wrong"
    ) as verifier:
        assert verifier.verify_detached(data, short_tmp / "data.sig") == keys.registrar_fingerprint


# -- check(): one clear error per broken setup ----------------------------------------------------------------------


def checked(
    keys: EscrowKeys,
    *,
    gnupg_home: Path | None = None,
    agent_public_key: Path | None = None,
    signing_key: str = "",
    passphrase: str | None = None,
) -> DepositCrypto:
    """A DepositCrypto on `keys` (or the overrides), checked and closed."""
    crypto = DepositCrypto(
        gnupg_home=gnupg_home or keys.registrar_home,
        agent_public_key=agent_public_key or keys.agent_public_key,
        signing_key=signing_key,
        passphrase=passphrase,
    )
    try:
        crypto.check()
    finally:
        crypto.close()
    return crypto


def test_check_passes_and_imports_the_agent_key_idempotently(escrow_keys: EscrowKeys) -> None:
    first = checked(escrow_keys)
    again = checked(escrow_keys, signing_key=escrow_keys.registrar_fingerprint.lower())

    assert first.agent_fingerprint == again.agent_fingerprint == escrow_keys.agent_fingerprint
    assert again.signing_fingerprint == escrow_keys.registrar_fingerprint
    listed = gpg(escrow_keys.registrar_home, "--with-colons", "--list-keys").stdout.decode()
    assert listed.count(f"fpr:::::::::{escrow_keys.agent_fingerprint}:") == 1
    assert secret_keys(escrow_keys.registrar_home) == {escrow_keys.registrar_fingerprint}


def test_check_takes_a_changed_agent_key_file(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    home = new_home(short_tmp, "new-agent")
    new_agent = make_key(home, "Demo escrow agent, rotated (TEST KEY) <agent@example.invalid>")
    with DepositCrypto(gnupg_home=escrow_keys.registrar_home, agent_public_key=escrow_keys.agent_public_key) as c:
        c.check()
        assert c.agent_fingerprint == escrow_keys.agent_fingerprint
        export_public(home, new_agent, escrow_keys.agent_public_key)

        c.check()
        c.encrypt_and_sign(deposit_file(short_tmp, 1000), short_tmp / "sealed")

        assert c.agent_fingerprint == new_agent
        assert c.recipients(short_tmp / "sealed") <= c.agent_key_ids
    assert gpg_decrypt(home, short_tmp / "sealed", short_tmp / "out")[1].keys() >= {"DECRYPTION_OKAY", "GOODMDC"}


def agent_file_missing(keys: EscrowKeys, folder: Path) -> Path:
    return folder / "absent.asc"


def agent_file_directory(keys: EscrowKeys, folder: Path) -> Path:
    return folder


def agent_file_garbage(keys: EscrowKeys, folder: Path) -> Path:
    (folder / "garbage.asc").write_bytes(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64 at all!\n")
    return folder / "garbage.asc"


def agent_file_secret(keys: EscrowKeys, folder: Path) -> Path:
    return keys.agent_secret_key


def agent_file_two_keys(keys: EscrowKeys, folder: Path) -> Path:
    both = folder / "two.asc"
    both.write_bytes(keys.agent_public_key.read_bytes() + keys.registrar_public_key.read_bytes())
    return both


def agent_file_expired(keys: EscrowKeys, folder: Path) -> Path:
    home = new_home(folder, "expired")
    fingerprint = make_key(home, "Old agent <old@example.invalid>", faked_time="20200101T000000", expire="1d")
    return export_public(home, fingerprint, folder / "expired.asc")


def agent_file_revoked(keys: EscrowKeys, folder: Path) -> Path:
    home = new_home(folder, "revoked")
    fingerprint = make_key(home, "Revoked agent <revoked@example.invalid>")
    revoke(home, fingerprint)
    return export_public(home, fingerprint, folder / "revoked.asc")


def agent_file_sign_only(keys: EscrowKeys, folder: Path) -> Path:
    home = new_home(folder, "sign-only")
    fingerprint = make_key(home, "Sign-only agent <sign@example.invalid>", encryption_subkey=False)
    return export_public(home, fingerprint, folder / "sign-only.asc")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (agent_file_missing, r"escrow\.agent_public_key .*absent\.asc does not exist"),
        (agent_file_directory, r"escrow\.agent_public_key .* is a directory, not a key file"),
        (agent_file_garbage, r"escrow\.agent_public_key .*garbage\.asc is not an OpenPGP public key"),
        (agent_file_secret, r"escrow\.agent_public_key .*agent-secret\.asc holds a secret key"),
        (agent_file_two_keys, r"escrow\.agent_public_key .*two\.asc holds 2 keys"),
        (agent_file_expired, r"the agent key [0-9A-F]{40} \(.*expired\.asc\) has expired"),
        (agent_file_revoked, r"the agent key [0-9A-F]{40} \(.*revoked\.asc\) was revoked"),
        (agent_file_sign_only, r"the agent key [0-9A-F]{40} \(.*sign-only\.asc\) has no usable encryption key"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[len("agent_file_") :] or None,
)
def test_check_refuses_an_unusable_agent_key_file(
    escrow_keys: EscrowKeys, short_tmp: Path, make: Callable[[EscrowKeys, Path], Path], error: str
) -> None:
    agent_file = make(escrow_keys, short_tmp)

    with pytest.raises(OpenPgpError, match=error):
        checked(escrow_keys, agent_public_key=agent_file)
    assert secret_keys(escrow_keys.registrar_home) == {escrow_keys.registrar_fingerprint}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode; the directory case stands in")
def test_check_refuses_an_unreadable_agent_key_file(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    unreadable = short_tmp / "agent.asc"
    shutil.copy(escrow_keys.agent_public_key, unreadable)
    unreadable.chmod(0)

    with pytest.raises(OpenPgpError, match=r"escrow\.agent_public_key .*agent\.asc cannot be read \(permission"):
        checked(escrow_keys, agent_public_key=unreadable)


def test_check_refuses_a_home_without_a_secret_key(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    empty = new_home(short_tmp, "empty")

    with pytest.raises(OpenPgpError, match=r"no secret key in escrow\.gnupg_home .*empty: run `domainpriv escrow"):
        checked(escrow_keys, gnupg_home=empty)


def test_check_refuses_a_missing_home(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    with pytest.raises(OpenPgpError, match=r"escrow\.gnupg_home .*nowhere does not exist: run `domainpriv escrow"):
        checked(escrow_keys, gnupg_home=short_tmp / "nowhere")
    assert not (short_tmp / "nowhere").exists()


def test_check_asks_which_of_several_secret_keys_signs(escrow_keys: EscrowKeys) -> None:
    second = make_key(escrow_keys.registrar_home, "Second registrar key <second@registrar.example>")

    with pytest.raises(OpenPgpError, match=r"holds 2 secret keys .*: set escrow\.signing_key"):
        checked(escrow_keys)
    assert checked(escrow_keys, signing_key=second).signing_fingerprint == second


@pytest.mark.parametrize(
    ("signing_key", "error"),
    [
        ("0123456789ABCDEF0123456789ABCDEF01234567", r"escrow\.signing_key 0123.*4567: no such secret key"),
        ("registrar", r"escrow\.signing_key 'registrar' is not a fingerprint"),
        ("DEADBEEFDEADBEEF", r"escrow\.signing_key 'DEADBEEFDEADBEEF' is not a fingerprint"),
    ],
)
def test_check_refuses_an_unknown_signing_key(escrow_keys: EscrowKeys, signing_key: str, error: str) -> None:
    with pytest.raises(OpenPgpError, match=error):
        checked(escrow_keys, signing_key=signing_key)


def test_check_refuses_the_agents_secret_key_in_the_registrars_home(escrow_keys: EscrowKeys) -> None:
    gpg(escrow_keys.registrar_home, "--import", stdin=escrow_keys.agent_secret_key.read_bytes())

    with pytest.raises(OpenPgpError, match=f"the agent's secret key {escrow_keys.agent_fingerprint} is in escrow"):
        checked(escrow_keys, signing_key=escrow_keys.registrar_fingerprint)


def test_check_refuses_an_expired_signing_key(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    home = new_home(short_tmp, "registrar-old")
    old = make_key(home, "Old registrar key <old@registrar.example>", faked_time="20200101T000000", expire="1d")

    with pytest.raises(OpenPgpError, match=f"the signing key {old} has expired"):
        checked(escrow_keys, gnupg_home=home)


def test_check_refuses_a_long_home_path_with_the_socket_limit(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    deep = short_tmp / ("d" * (MAX_SOCKET_PATH_BYTES - len(str(short_tmp)) - 10))
    shutil.copytree(escrow_keys.registrar_home, deep)

    with pytest.raises(OpenPgpError, match=r"its socket .*S\.gpg-agent\.browser would be \d+ bytes, over the 106"):
        checked(escrow_keys, gnupg_home=deep)


def test_check_detects_a_wrong_passphrase_even_after_a_right_one_was_cached(short_tmp: Path) -> None:
    keys = make_escrow_keys(short_tmp, passphrase=PASSPHRASE)
    with DepositCrypto(
        gnupg_home=keys.registrar_home, agent_public_key=keys.agent_public_key, passphrase=PASSPHRASE
    ) as right:
        right.check()  # the agent now caches the passphrase...
        with pytest.raises(OpenPgpError, match=r"wrong passphrase for the signing key .*signing_passphrase_file") as e:
            checked(keys, passphrase="wrong horse")  # ...and is still running: the cache must not hide this
    assert "wrong horse" not in str(e.value) and PASSPHRASE not in str(e.value)


def test_check_says_a_protected_key_needs_a_passphrase(short_tmp: Path) -> None:
    keys = make_escrow_keys(short_tmp, passphrase=PASSPHRASE)

    with pytest.raises(OpenPgpError, match=r"is protected by a passphrase: set escrow\.signing_passphrase_file"):
        checked(keys)


def test_a_protected_key_signs_with_its_passphrase(short_tmp: Path) -> None:
    keys = make_escrow_keys(short_tmp, passphrase=PASSPHRASE)
    src = deposit_file(short_tmp, 10_000)
    with DepositCrypto(
        gnupg_home=keys.registrar_home, agent_public_key=keys.agent_public_key, passphrase=PASSPHRASE
    ) as crypto:
        crypto.encrypt_and_sign(src, short_tmp / "sealed")  # check() runs on first use

    assert gpg_decrypt(keys.agent_home, short_tmp / "sealed", short_tmp / "out")[1].keys() >= {"GOODSIG"}
    assert filecmp.cmp(src, short_tmp / "out", shallow=False)


def test_a_multi_line_passphrase_is_refused_without_echoing_it(escrow_keys: EscrowKeys) -> None:
    with pytest.raises(OpenPgpError, match="one line") as error:
        DepositCrypto(
            gnupg_home=escrow_keys.registrar_home, agent_public_key=escrow_keys.agent_public_key, passphrase="a\nb"
        )
    assert "a\nb" not in str(error.value)


def test_close_stops_the_agent_it_started_and_only_that(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    home = escrow_keys.registrar_home
    with DepositCrypto(gnupg_home=home, agent_public_key=escrow_keys.agent_public_key) as crypto:
        crypto.sign_detached(deposit_file(short_tmp, 100), short_tmp / "x.sig")
        assert set(agent_homes(home).values()) == {home}
    assert not wait_for_no_agents(home)

    gpg(home, "-K")  # someone else's agent (an operator's shell) is running before us
    assert agent_homes(home)
    with DepositCrypto(gnupg_home=home, agent_public_key=escrow_keys.agent_public_key) as crypto:
        crypto.sign_detached(deposit_file(short_tmp, 100), short_tmp / "y.sig")
    time.sleep(0.2)
    assert set(agent_homes(home).values()) == {home}
    stop_agents(home)


# -- the restore drill's decrypt ----------------------------------------------------------------------------------


def drill(keys: EscrowKeys, encrypted: Path, out: Path, passphrase: str | None = None) -> Decrypted:
    return decrypt_with_agent_key(
        encrypted,
        out,
        agent_secret_key=keys.agent_secret_key,
        registrar_public_key=keys.registrar_public_key.read_text(encoding="ascii"),
        passphrase=passphrase,
    )


def test_decrypt_with_agent_key_restores_the_file_and_names_the_signer(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = deposit_file(short_tmp, 500_000)
    crypto.encrypt_and_sign(src, short_tmp / "sealed")
    scratch = short_tmp / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))  # where the temporary home goes

    result = drill(escrow_keys, short_tmp / "sealed", short_tmp / "out")

    assert result.signer_fingerprint == escrow_keys.registrar_fingerprint
    assert {"DECRYPTION_OKAY", "GOODMDC", "GOODSIG", "VALIDSIG"} <= result.status
    assert filecmp.cmp(src, short_tmp / "out", shallow=False)
    assert list(scratch.iterdir()) == []  # the temporary home is gone...
    assert not wait_for_no_agents(scratch)  # ...and so is its agent
    assert secret_keys(escrow_keys.registrar_home) == {escrow_keys.registrar_fingerprint}


def test_decrypt_with_agent_key_refuses_a_file_signed_by_another_key(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    home, other = other_signer(short_tmp)
    gpg(home, "--import", stdin=escrow_keys.agent_public_key.read_bytes())
    src = deposit_file(short_tmp, 1000)
    made = gpg(home, "--trust-model", "always", "-z", "0", "-u", other, "-r", escrow_keys.agent_fingerprint,
               "-o", str(short_tmp / "forged"), "--sign", "--encrypt", str(src))  # fmt: skip
    assert made.returncode == 0

    with pytest.raises(OpenPgpError, match=f"signed by an unknown key {other[-16:]}|made by an unknown key"):
        drill(escrow_keys, short_tmp / "forged", short_tmp / "out")
    assert not (short_tmp / "out").exists()


def test_decrypt_with_agent_key_refuses_a_file_signed_by_the_agent_itself(
    escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    """The agent's own key is in the drill's home and its signature is good: still not the registrar's."""
    agent = escrow_keys.agent_fingerprint
    made = gpg(escrow_keys.agent_home, "-z", "0", "-u", agent, "-r", agent, "-o", str(short_tmp / "self"),
               "--sign", "--encrypt", str(deposit_file(short_tmp, 1000)))  # fmt: skip
    assert made.returncode == 0

    with pytest.raises(OpenPgpError, match=f"made by key {agent}, not {escrow_keys.registrar_fingerprint}"):
        drill(escrow_keys, short_tmp / "self", short_tmp / "out")
    assert not (short_tmp / "out").exists()


def test_decrypt_with_agent_key_refuses_a_file_encrypted_to_another_key(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    other = make_escrow_keys(short_dir_in(short_tmp, "other"))
    with DepositCrypto(gnupg_home=escrow_keys.registrar_home, agent_public_key=other.agent_public_key) as wrong:
        wrong.encrypt_and_sign(deposit_file(short_tmp, 1000), short_tmp / "sealed")

    with pytest.raises(OpenPgpError, match=r"sealed is not encrypted to the agent secret key in .*agent-secret\.asc"):
        drill(escrow_keys, short_tmp / "sealed", short_tmp / "out")
    assert not (short_tmp / "out").exists()


def test_decrypt_with_agent_key_refuses_an_unsigned_file(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    made = gpg(escrow_keys.agent_home, "-r", escrow_keys.agent_fingerprint, "-o", str(short_tmp / "unsigned"),
               "--encrypt", str(deposit_file(short_tmp, 1000)))  # fmt: skip
    assert made.returncode == 0

    with pytest.raises(OpenPgpError, match="unsigned is not signed"):
        drill(escrow_keys, short_tmp / "unsigned", short_tmp / "out")


def test_decrypt_with_agent_key_refuses_a_tampered_file(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    crypto.encrypt_and_sign(deposit_file(short_tmp, 100_000), short_tmp / "sealed")
    flip_byte(short_tmp / "sealed", 50_000)

    with pytest.raises(OpenPgpError, match="sealed"):
        drill(escrow_keys, short_tmp / "sealed", short_tmp / "out")
    assert not (short_tmp / "out").exists()


def test_decrypt_with_agent_key_refuses_a_public_key_as_the_secret_key(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path
) -> None:
    crypto.encrypt_and_sign(deposit_file(short_tmp, 1000), short_tmp / "sealed")

    with pytest.raises(OpenPgpError, match=r"agent secret key file .*agent-public\.asc holds no OpenPGP secret key"):
        decrypt_with_agent_key(
            short_tmp / "sealed",
            short_tmp / "out",
            agent_secret_key=escrow_keys.agent_public_key,
            registrar_public_key=escrow_keys.registrar_public_key.read_text(encoding="ascii"),
        )


def test_decrypt_with_a_protected_agent_key_needs_its_passphrase(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    home = new_home(short_tmp, "agent-protected")
    agent = make_key(home, "Protected agent (TEST KEY) <agent@example.invalid>", passphrase=PASSPHRASE)
    secret = export_secret(home, agent, short_tmp / "protected-secret.asc", PASSPHRASE)
    with DepositCrypto(
        gnupg_home=escrow_keys.registrar_home, agent_public_key=export_public(home, agent, short_tmp / "p.asc")
    ) as crypto:
        crypto.encrypt_and_sign(deposit_file(short_tmp, 1000), short_tmp / "sealed")
    agent_side = replace(escrow_keys, agent_secret_key=secret)

    for passphrase in (None, "nope"):
        with pytest.raises(OpenPgpError, match="wrong or missing passphrase for the agent secret key") as error:
            drill(agent_side, short_tmp / "sealed", short_tmp / "out", passphrase)
        assert "nope" not in str(error.value)
    result = drill(agent_side, short_tmp / "sealed", short_tmp / "out", PASSPHRASE)
    assert result.signer_fingerprint == escrow_keys.registrar_fingerprint


def short_dir_in(parent: Path, name: str) -> Path:
    folder = parent / name
    folder.mkdir()
    return folder


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=70_000))
def test_any_bytes_survive_encrypt_sign_and_the_drill(
    crypto: DepositCrypto, escrow_keys: EscrowKeys, short_tmp: Path, data: bytes
) -> None:
    (short_tmp / "in").write_bytes(data)
    crypto.encrypt_and_sign(short_tmp / "in", short_tmp / "sealed")
    crypto.sign_detached(short_tmp / "sealed", short_tmp / "sealed.sig")

    drill(escrow_keys, short_tmp / "sealed", short_tmp / "out")

    assert (short_tmp / "out").read_bytes() == data
    assert crypto.verify_detached(short_tmp / "sealed", short_tmp / "sealed.sig") == escrow_keys.registrar_fingerprint


# -- key generation -----------------------------------------------------------------------------------------------


def test_generate_key_makes_a_signing_key_with_an_encryption_subkey(short_tmp: Path) -> None:
    home = short_tmp / "new" / "gnupg"
    key = generate_key(home, user_id="Example Registrar escrow <escrow@registrar.example>", algorithm="ed25519")

    assert not wait_for_no_agents(home)  # the agent generate_key started is stopped
    assert key.fingerprint.isupper() and len(key.fingerprint) == 40
    assert key.user_id == "Example Registrar escrow <escrow@registrar.example>"
    assert home.stat().st_mode & 0o777 == 0o700
    listed = gpg(home, "--with-colons", "-K", key.fingerprint).stdout.decode().splitlines()
    assert [line.split(":")[11] for line in listed if line.startswith(("sec:", "ssb:"))] == ["scESC", "e"]


def test_exported_keys_import_elsewhere(short_tmp: Path) -> None:
    home = new_home(short_tmp, "gnupg")  # an existing home is used as it is (here: with fast key protection)
    key = generate_key(home, user_id="Demo agent (TEST KEY) <agent@example.invalid>", passphrase=PASSPHRASE,
                       algorithm="ed25519")  # fmt: skip
    public = export_public_key(home, key.fingerprint)
    secret = export_secret_key(home, key.fingerprint, PASSPHRASE)
    elsewhere = new_home(short_tmp, "elsewhere")

    assert public.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert gpg(elsewhere, "--import", stdin=secret.encode()).returncode == 0
    assert key.fingerprint in gpg(elsewhere, "--with-colons", "-K").stdout.decode()
    with pytest.raises(OpenPgpError, match=r"could not export the secret key .*wrong or missing passphrase"):
        export_secret_key(home, key.fingerprint, "wrong")
    with pytest.raises(OpenPgpError, match="no key 0123"):
        export_public_key(home, "0123456789ABCDEF0123456789ABCDEF01234567")
    assert not wait_for_no_agents(home)


@pytest.mark.parametrize(
    ("user_id", "passphrase", "error"),
    [
        ("Two\nlines", None, "one line of printable"),
        ("", None, "one line of printable"),
        ("Registrar <r@example.net>", "x\ny", "one line"),
        ("Registrar <r@example.net>", " padded ", "may not start or end with whitespace"),
    ],
)
def test_generate_key_refuses_unsafe_parameters(
    short_tmp: Path, user_id: str, passphrase: str | None, error: str
) -> None:
    with pytest.raises(OpenPgpError, match=error):
        generate_key(short_tmp / "gnupg", user_id=user_id, passphrase=passphrase)
    assert not (short_tmp / "gnupg").exists()


@pytest.mark.slow
def test_rsa_3072_keys_from_generate_key_work_end_to_end(short_tmp: Path) -> None:
    """What production uses until January 2027 (escrow.md §9): RSA 3072 for the registrar and the agent."""
    registrar = generate_key(short_tmp / "registrar", user_id="Example Registrar escrow <escrow@registrar.example>")
    agent = generate_key(short_tmp / "agent", user_id="Demo escrow agent (TEST KEY) <agent@example.invalid>")
    (short_tmp / "agent.asc").write_text(export_public_key(short_tmp / "agent", agent.fingerprint))
    (short_tmp / "registrar.asc").write_text(export_public_key(short_tmp / "registrar", registrar.fingerprint))
    gpg(short_tmp / "agent", "--import", str(short_tmp / "registrar.asc"))
    src = deposit_file(short_tmp, 1_000_000)

    with DepositCrypto(gnupg_home=short_tmp / "registrar", agent_public_key=short_tmp / "agent.asc") as crypto:
        crypto.encrypt_and_sign(src, short_tmp / "sealed")
        crypto.sign_detached(short_tmp / "sealed", short_tmp / "sealed.sig")
    returncode, status = gpg_decrypt(short_tmp / "agent", short_tmp / "sealed", short_tmp / "out")

    listed = gpg(short_tmp / "registrar", "--with-colons", "-k", registrar.fingerprint).stdout.decode()
    assert [line.split(":")[2:4] for line in listed.splitlines() if line[:4] in ("pub:", "sub:")] == [
        ["3072", "1"],
        ["3072", "1"],
    ]
    assert returncode == 0 and status["VALIDSIG"][0][9] == registrar.fingerprint and "GOODMDC" in status
    assert filecmp.cmp(src, short_tmp / "out", shallow=False)
    assert sq_verify(short_tmp / "sealed.sig", short_tmp / "registrar.asc", short_tmp / "sealed").returncode == 0


# -- memory stays flat ----------------------------------------------------------------------------------------------

PEAK_RSS = """
import sys
from dataclasses import replace
from pathlib import Path
from domainpriv.escrow.openpgp import DepositCrypto, decrypt_with_agent_key
home, agent_pub, agent_sec, registrar_pub, src, folder = map(Path, sys.argv[1:])
with DepositCrypto(gnupg_home=home, agent_public_key=agent_pub) as crypto:
    crypto.encrypt_and_sign(src, folder / "sealed")
    crypto.sign_detached(folder / "sealed", folder / "sealed.sig")
    crypto.verify_detached(folder / "sealed", folder / "sealed.sig")
decrypt_with_agent_key(folder / "sealed", folder / "out", agent_secret_key=agent_sec,
                       registrar_public_key=registrar_pub.read_text())
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""  # VmHWM, not ru_maxrss: Linux carries the forking parent's (pytest's) peak over into ru_maxrss


def peak_rss_kib(keys: EscrowKeys, src: Path, folder: Path) -> int:
    arguments = [keys.registrar_home, keys.agent_public_key, keys.agent_secret_key, keys.registrar_public_key]
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *map(str, [*arguments, src, folder])],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip())


def test_memory_stays_flat_for_a_50_mb_deposit(escrow_keys: EscrowKeys, short_tmp: Path) -> None:
    """A deposit streams through gpg: 50 MB costs no more memory than 1 KB (each run in its own process)."""
    small = short_tmp / "small"
    small.mkdir()
    large = short_tmp / "large"
    large.mkdir()
    (small / "in").write_bytes(os.urandom(1000))
    with (large / "in").open("wb") as fh:
        for _ in range(50):
            fh.write(os.urandom(1 << 20))

    baseline = peak_rss_kib(escrow_keys, small / "in", small)
    peak = peak_rss_kib(escrow_keys, large / "in", large)

    assert filecmp.cmp(large / "in", large / "out", shallow=False)
    assert peak - baseline < 15 << 10, f"peak RSS grew by {(peak - baseline) >> 10} MiB"

"""Deposits end to end on both backends, checked with the real tools: gpg decrypts and verifies every file, sq
checks the detached signatures, sha256sum accepts the hash file, the CSV parses strictly against the mapping, and
the restore drill rebuilds the data identically."""

from __future__ import annotations

import csv
import gzip
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from domainpriv.audit import Actor
from domainpriv.config import Settings
from domainpriv.escrow import restore, services, verify
from domainpriv.escrow.profiles import get_profile
from domainpriv.escrow.services import EscrowError
from domainpriv.registration import services as registration
from domainpriv.store import UnitOfWork
from domainpriv.vocabulary import PrivacyMode
from support import pgp_keys
from support.escrow import escrow_settings
from support.pgp_keys import EscrowKeys, gpg_decrypt, sq_verify

ACTOR = Actor("cli", "tests")

escrow_keys = pgp_keys.escrow_keys  # the shared fixture


def decrypted_rows(keys: EscrowKeys, settings: Settings, deposit: services.DepositView, work: Path,
                   file_type: str = "full") -> list[dict[str, str]]:  # fmt: skip
    """Decrypt every data file of `file_type` with gpg itself, check the status lines, parse the CSV strictly."""
    folder = services.deposit_folder(settings.escrow, deposit)
    rows: list[dict[str, str]] = []
    header = None
    for f in deposit.files:
        if f.role != "data" or not re.search(rf"_{file_type}_\d+(_R\d+)?\.csv", f.name):
            continue
        out = work / f.name.removesuffix(".gpg")
        code, status = gpg_decrypt(keys.agent_home, folder / f.name, out)
        assert code == 0
        assert {"DECRYPTION_OKAY", "GOODMDC", "GOODSIG", "VALIDSIG"} <= set(status)
        assert status["VALIDSIG"][0][0] == keys.registrar_fingerprint
        data = gzip.decompress(out.read_bytes()).decode("utf-8")
        (work / out.name.removesuffix(".gz")).write_text(data, encoding="utf-8", newline="")
        reader = csv.reader(io.StringIO(data, newline=""), strict=True)
        header = next(reader)
        rows += [dict(zip(header, r, strict=True)) for r in reader]
    return rows


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def test_a_full_deposit_holds_the_underlying_data_and_passes_gpg_sq_and_sha256sum(
    demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path, work: Path
) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow")
    deposit = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    assert deposit.state == "built" and deposit.domains == 60 and deposit.revision == 0
    folder = services.deposit_folder(settings.escrow, deposit)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in deposit.files)  # no leftovers
    assert not list((tmp_path / "escrow" / ".work").glob("*/*"))  # no plain text left behind

    rows = decrypted_rows(escrow_keys, settings, deposit, work)
    header = list(rows[0])
    mapping = list(csv.reader(io.StringIO(get_profile("icann-2024").mapping_csv(), newline="")))
    assert mapping[0] == ["ICANN RDE Spec", "Field Name", "Abbreviation"]
    assert [m[2] for m in mapping[1:]] == [*header, "deleted"]  # the deletions file adds its timestamp
    by_name = {r["domainname"]: r for r in rows}
    assert len(by_name) == 60
    modes = set()
    for name, row in by_name.items():
        record = registration.get_domain(demo_uow, name=name)
        registrant = record.contacts["registrant"]
        assert registrant is not None
        assert row["rt-name"] == registrant.data.name  # the customer, whatever the privacy mode
        assert row["rt-mail"] == registrant.data.email
        assert row["rt-country"] == registrant.data.country
        billing = record.contacts["billing"]
        assert row["bc-name"] == (billing.data.name if billing else "")
        pp = {k: v for k, v in row.items() if k.startswith("pp-")}
        if record.privacy_mode is PrivacyMode.PROXY:
            assert pp and all(pp[k] for k in pp if k.endswith(("name", "mail", "email", "country")))
            assert registrant.data.name in pp.values() and registrant.data.email in pp.values()
        else:
            assert not any(pp.values())
        modes.add(record.privacy_mode)
    assert modes == set(PrivacyMode)

    # The hash file lists the uncompressed CSVs: sha256sum -c accepts it where they are.
    hash_file = next(f for f in deposit.files if f.role == "hash")
    shutil.copy(folder / hash_file.name, work / hash_file.name)
    check = subprocess.run(["sha256sum", "-c", hash_file.name], cwd=work, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # Every stored file but the signatures has a detached signature that Sequoia accepts.
    for f in deposit.files:
        if f.role != "signature":
            result = sq_verify(folder / f"{f.name}.sig", escrow_keys.registrar_public_key, folder / f.name)
            assert result.returncode == 0, result.stderr
    assert not verify.verify_deposit(demo_uow, settings, deposit.id).problems


def test_the_restore_drill_rebuilds_the_deposit_identically_and_names_what_differs(
    demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path
) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow")
    deposit = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    report = restore.restore_test(demo_uow, settings, deposit.id, agent_secret_key=escrow_keys.agent_secret_key)
    assert report.identical and report.compared == 60 and report.rows == {"domains": 60}

    # A change made through the services after the watermark is not a difference: the drill is as of then.
    name = registration.get_domain(demo_uow, name=_a_domain(demo_uow)).name
    registration.set_nameservers(demo_uow, actor=ACTOR, domain=name, nameservers=[("ns1.elsewhere.example", [])],
                                 reason="test")  # fmt: skip
    report = restore.restore_test(demo_uow, settings, deposit.id, agent_secret_key=escrow_keys.agent_secret_key)
    assert report.identical and report.changed_since == 1 and report.compared == 59

    # A change behind the services' back (no feed row) is: named by domain and column, never by value.
    other = next(n for n in _names(demo_uow) if n != name)
    with demo_uow.engine.begin() as conn:
        conn.execute(text("UPDATE domain SET expires_at = created_at WHERE name = :n"), {"n": other})
    report = restore.restore_test(demo_uow, settings, deposit.id, agent_secret_key=escrow_keys.agent_secret_key)
    assert not report.identical
    assert [(d.key, d.column) for d in report.differences] == [(other, "expire")]


def test_incrementals_carry_exactly_the_domains_each_change_affected(
    demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path, work: Path
) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow")
    with pytest.raises(EscrowError, match="run a full deposit first"):
        services.run_deposit(demo_uow, settings, kind="incremental", actor=ACTOR, upload=False)
    services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    names = _names(demo_uow)

    def incremental(expected: set[str], deleted: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        deposit = services.run_deposit(demo_uow, settings, kind="incremental", actor=ACTOR, upload=False)
        got = {r["domainname"] for r in decrypted_rows(escrow_keys, settings, deposit, work, "inc")}
        gone = {r["domainname"] for r in decrypted_rows(escrow_keys, settings, deposit, work, "del")}
        assert (got, gone) == (expected, deleted)
        assert deposit.domains == len(expected) and deposit.deletions == len(deleted)
        drill = restore.restore_test(demo_uow, settings, deposit.id, agent_secret_key=escrow_keys.agent_secret_key)
        assert drill.identical, drill.differences

    incremental(set())  # nothing changed since the full deposit
    registration.set_privacy_mode(demo_uow, actor=ACTOR, domain=names[0], mode="redacted", reason="t")
    registration.set_privacy_mode(demo_uow, actor=ACTOR, domain=names[0], mode="proxy", reason="t")
    incremental({names[0]})  # a privacy toggle
    registration.set_nameservers(demo_uow, actor=ACTOR, domain=names[1], nameservers=[("ns.x.example", [])],
                                 reason="t")  # fmt: skip
    incremental({names[1]})
    shared = _shared_contact(demo_uow)
    record = registration.get_domain(demo_uow, name=shared[1][0])
    contact = next(c for c in record.contacts.values() if c is not None and c.handle == shared[0])
    from domainpriv.registration.validation import validate_contact

    data = contact.data.to_json() | {"city": "Elsewhere"}
    registration.update_contact(demo_uow, actor=ACTOR, handle=shared[0], data=validate_contact(data), reason="t")
    incremental(set(shared[1]))  # a contact edit reaches every domain using it
    registration.delete_domain(demo_uow, actor=ACTOR, domain=names[2], reason="t")
    incremental(set(), {names[2]})  # a deletion


def test_rerunning_the_same_day_makes_a_new_revision(
    demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path
) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow")
    first = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    second = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    assert (first.revision, second.revision) == (0, 1)
    assert not {f.name for f in first.files} & {f.name for f in second.files}
    assert [d.id for d in services.list_deposits(demo_uow)] == [second.id, first.id]


def test_a_split_deposit_respects_the_row_limit(demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path,
                                                 work: Path) -> None:  # fmt: skip
    settings = escrow_settings(escrow_keys, tmp_path / "escrow", max_rows_per_file="11")
    deposit = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    data = [f for f in deposit.files if f.role == "data"]
    assert [f.rows for f in data] == [11] * 6  # 10 domains + the header row each
    assert len(decrypted_rows(escrow_keys, settings, deposit, work)) == 60
    report = restore.restore_test(demo_uow, settings, deposit.id, agent_secret_key=escrow_keys.agent_secret_key)
    assert report.identical


def test_the_2007_profile_deposits_a_domain_file_and_a_handle_file(
    demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path, work: Path
) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow", profile="icann-2007")
    deposit = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    domains = decrypted_rows(escrow_keys, settings, deposit, work, "full")
    handles = decrypted_rows(escrow_keys, settings, deposit, work, "hdl")
    assert len(domains) == 60
    used = {v for r in domains for k, v in r.items() if k.endswith("-handle") and v}
    assert {h["handle"] for h in handles} == used  # each contact once, every one used
    report = restore.restore_test(demo_uow, settings, deposit.id, agent_secret_key=escrow_keys.agent_secret_key)
    assert report.identical


def test_verify_names_a_changed_file(demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow")
    deposit = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    data = next(f for f in deposit.files if f.role == "data")
    path = services.deposit_folder(settings.escrow, deposit) / data.name
    content = path.read_bytes()
    path.write_bytes(content[:-1] + bytes([content[-1] ^ 0xFF]))  # a changed byte, whatever it was
    problems = verify.verify_deposit(demo_uow, settings, deposit.id).problems
    assert problems == [f"{data.name}: size or SHA-256 differs from what was recorded when it was built"]


def test_a_missing_agent_key_is_one_clear_error_and_writes_nothing(
    demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path
) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow", agent_public_key=str(tmp_path / "nope.asc"))
    with pytest.raises(Exception, match=r"nope\.asc") as caught:
        services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    assert "\n" not in str(caught.value)
    assert services.list_deposits(demo_uow) == []


def test_every_transition_is_audited(demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path) -> None:
    from domainpriv.audit import verify_audit_log

    settings = escrow_settings(escrow_keys, tmp_path / "escrow")
    deposit = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    with demo_uow.engine.connect() as conn:
        actions = (
            conn.execute(
                text(
                    "SELECT action FROM audit_event WHERE object_type = 'escrow_deposit' AND object_key = :k"
                    " ORDER BY seq"
                ),
                {"k": deposit.label},
            )
            .scalars()
            .all()
        )
    assert actions == ["escrow:deposit:building", "escrow:deposit:built"]
    verify_audit_log(demo_uow)


def _names(uow: UnitOfWork) -> list[str]:
    with uow.engine.connect() as conn:
        return list(conn.execute(text("SELECT name FROM domain ORDER BY name")).scalars())


def _a_domain(uow: UnitOfWork) -> str:
    return _names(uow)[0]


def _shared_contact(uow: UnitOfWork) -> tuple[str, list[str]]:
    """A contact used by several domains (any role), and those domains."""
    with uow.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.handle, d.name FROM contact c JOIN domain d ON c.id IN "
            "(d.registrant_id, d.admin_id, d.tech_id, d.billing_id) ORDER BY c.handle, d.name"
        )).all()  # fmt: skip
    by_contact: dict[str, list[str]] = {}
    for handle, name in rows:
        by_contact.setdefault(handle, []).append(name)
    handle, names = max(by_contact.items(), key=lambda kv: len(kv[1]))
    assert len(names) > 1
    return handle, names


def test_a_resumed_deposit_follows_the_upload_choice_of_the_run_that_resumes_it(
    demo_uow: UnitOfWork, escrow_keys: EscrowKeys, tmp_path: Path
) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow", sftp_url="sftp://agent@127.0.0.1:1/in",
                               sftp_identity_file=str(tmp_path / "none"), sftp_known_hosts=str(tmp_path / "none"),
                               upload_attempts="1")  # fmt: skip
    with pytest.raises(EscrowError):
        services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR)  # built, then the upload fails
    (failed,) = services.list_deposits(demo_uow)
    assert (failed.state, failed.upload_wanted, failed.built_at is not None) == ("failed", True, True)
    kept = services.run_deposit(demo_uow, settings, kind="full", actor=ACTOR, upload=False)
    assert (kept.id, kept.state, kept.upload_wanted) == (failed.id, "built", False)  # kept local, complete

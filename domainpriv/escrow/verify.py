"""`escrow verify`: what the registrar can check about a deposit with public keys only.

Every stored file against its recorded size and SHA-256; every detached signature against the registrar's key;
every data file encrypted to the agent's key (its packet headers, no decryption); the hash file listing exactly the
recorded CSV digests. Decrypting needs the agent's secret key: that is the restore drill (restore.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from domainpriv.config import Settings
from domainpriv.escrow.build import size_and_digest
from domainpriv.escrow.csvfiles import DepositFileError, read_hash_file
from domainpriv.escrow.openpgp import DepositCrypto, OpenPgpError
from domainpriv.escrow.services import crypto_for, deposit_folder, get_deposit
from domainpriv.escrow.views import DepositView, FileView
from domainpriv.store import UnitOfWork


@dataclass(slots=True)
class VerifyReport:
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def verify_deposit(uow: UnitOfWork, settings: Settings, deposit_id: int) -> VerifyReport:
    deposit = get_deposit(uow, deposit_id)
    report = VerifyReport()
    if deposit.built_at is None:
        report.problems.append(f"deposit {deposit.label} was never completely built ({deposit.state})")
        return report
    with crypto_for(settings.escrow) as crypto:
        _check_files(crypto, deposit, deposit_folder(settings.escrow, deposit), report)
    return report


def _check_files(crypto: DepositCrypto, deposit: DepositView, folder: Path, report: VerifyReport) -> None:
    by_name = {f.name: f for f in deposit.files}
    for f in deposit.files:
        path = folder / f.name
        if not path.is_file():
            report.problems.append(f"{f.name}: missing from {folder}")
            continue
        if size_and_digest(path) != (f.bytes, f.sha256):
            report.problems.append(f"{f.name}: size or SHA-256 differs from what was recorded when it was built")
            continue
        report.checked.append(f"{f.name}: {f.bytes} bytes, SHA-256 as recorded")
        if f.role == "signature":
            continue
        signature = by_name.get(f"{f.name}.sig")
        if signature is None:
            report.problems.append(f"{f.name}: no detached signature recorded")
        else:
            try:
                signer = crypto.verify_detached(path, folder / signature.name)
                report.checked.append(f"{f.name}: signed by the registrar key {signer}")
            except OpenPgpError as exc:
                report.problems.append(f"{f.name}: {exc}")
        if f.role == "data":
            recipients = crypto.recipients(path)
            if recipients & crypto.agent_key_ids:
                report.checked.append(f"{f.name}: encrypted to the agent key {crypto.agent_fingerprint}")
            else:
                report.problems.append(f"{f.name}: not encrypted to the configured agent key")
    _check_hash_file(deposit.files, folder, report)


def _check_hash_file(files: tuple[FileView, ...], folder: Path, report: VerifyReport) -> None:
    hashes = [f for f in files if f.role == "hash"]
    if len(hashes) != 1:
        report.problems.append(f"{len(hashes)} hash files recorded (one expected)")
        return
    path = folder / hashes[0].name
    if not path.is_file():
        return  # already reported missing
    try:
        listed = read_hash_file(path)
    except DepositFileError as exc:
        report.problems.append(str(exc))
        return
    recorded = {f.csv_name: f.csv_sha256 for f in files if f.role == "data"}
    if listed != recorded:
        report.problems.append(f"{path.name}: does not list exactly the recorded CSV files and digests")
    else:
        report.checked.append(f"{path.name}: lists the {len(listed)} CSV files with their recorded digests")

"""Frozen views of deposits handed out by the escrow services (no session behind them), and their JSON form
(`escrow list --json`, `escrow show ID --json`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domainpriv.registration.records import iso
from domainpriv.store import EscrowDeposit, EscrowFile


@dataclass(frozen=True, slots=True)
class FileView:
    name: str
    role: str  # data | signature | hash
    bytes: int
    sha256: str
    csv_name: str | None
    rows: int | None
    csv_bytes: int | None
    csv_sha256: str | None
    uploaded_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "csv_name": self.csv_name,
            "rows": self.rows,
            "csv_bytes": self.csv_bytes,
            "csv_sha256": self.csv_sha256,
            "uploaded_at": iso(self.uploaded_at),
        }


@dataclass(frozen=True, slots=True)
class DepositView:
    id: int
    deposit_date: date
    kind: str
    revision: int
    state: str
    profile: str
    trigger: str
    scheduled_for: datetime | None
    upload_wanted: bool
    watermark: datetime | None
    feed_position: int | None
    base_deposit_id: int | None
    base_position: int | None
    domains: int | None
    deletions: int | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    built_at: datetime | None
    uploaded_at: datetime | None
    files: tuple[FileView, ...]

    @property
    def label(self) -> str:
        """How messages and the audit log name it: date, kind and revision."""
        return deposit_label(self.deposit_date, self.kind, self.revision)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "date": self.deposit_date.isoformat(),
            "kind": self.kind,
            "revision": self.revision,
            "state": self.state,
            "profile": self.profile,
            "trigger": self.trigger,
            "scheduled_for": iso(self.scheduled_for),
            "upload": self.upload_wanted,
            "watermark": iso(self.watermark),
            "feed_position": self.feed_position,
            "base_deposit": self.base_deposit_id,
            "base_position": self.base_position,
            "domains": self.domains,
            "deletions": self.deletions,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "built_at": iso(self.built_at),
            "uploaded_at": iso(self.uploaded_at),
            "files": [f.to_json() for f in self.files],
        }


def deposit_label(deposit_date: date, kind: str, revision: int) -> str:
    return f"{deposit_date.isoformat()}/{kind}/r{revision}"


def file_view(row: EscrowFile) -> FileView:
    return FileView(
        row.name, row.role, row.bytes, row.sha256, row.csv_name, row.rows, row.csv_bytes, row.csv_sha256,
        row.uploaded_at,
    )  # fmt: skip


def deposit_view(row: EscrowDeposit) -> DepositView:
    return DepositView(
        id=row.id,
        deposit_date=row.deposit_date,
        kind=row.kind,
        revision=row.revision,
        state=row.state,
        profile=row.profile,
        trigger=row.trigger,
        scheduled_for=row.scheduled_for,
        upload_wanted=row.upload_wanted,
        watermark=row.watermark,
        feed_position=row.feed_position,
        base_deposit_id=row.base_deposit_id,
        base_position=row.base_position,
        domains=row.domains,
        deletions=row.deletions,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        built_at=row.built_at,
        uploaded_at=row.uploaded_at,
        files=tuple(file_view(f) for f in row.files),
    )

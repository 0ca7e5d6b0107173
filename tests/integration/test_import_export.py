"""Bulk import and export on real SQLite and PostgreSQL: round trips, all-or-nothing, one audit event."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from domainpriv import demo
from domainpriv.audit import Actor, verify_chain
from domainpriv.registration import services
from domainpriv.store import AuditEvent, PrivacyMode, UnitOfWork, make_engine
from domainpriv.store.migrate import upgrade
from domainpriv.transfer import ImportRejected, export_registrations, import_registrations
from support.builders import make_domain
from support.counting import table_counts

ACTOR = Actor("cli", "tester")


def lines_of(records: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(r) + b"\n" for r in records]


def export_bytes(uow: UnitOfWork) -> bytes:
    buf = io.BytesIO()
    export_registrations(uow, out=buf)
    return buf.getvalue()


def demo_lines(domains: int = 40, seed: int = 7) -> list[bytes]:
    return lines_of(list(demo.demo_records(domains, seed)))


def test_export_import_export_is_identical(uow: UnitOfWork, tmp_path: Any) -> None:
    import_registrations(uow, actor=ACTOR, lines=demo_lines(), reason="test")
    first = export_bytes(uow)
    other = make_engine(f"sqlite:///{tmp_path / 'second.sqlite3'}")
    upgrade(other)
    second_uow = UnitOfWork(other)
    import_registrations(second_uow, actor=ACTOR, lines=io.BytesIO(first), reason="round trip")
    assert export_bytes(second_uow) == first
    other.dispose()


def test_demo_data_covers_every_mode_role_and_idn(uow: UnitOfWork) -> None:
    stats = import_registrations(uow, actor=ACTOR, lines=demo_lines(200), reason="test")
    assert (stats.domains, stats.nameservers) == (200, 400)
    records = [orjson.loads(line) for line in export_bytes(uow).splitlines()]
    domains = [r for r in records if r["type"] == "domain"]
    assert {d["privacy_mode"] for d in domains} == {"proxy", "redacted", "public"}
    assert any(d["name"].startswith("xn--") or ".xn--" in d["name"] for d in domains)
    assert all(d["contacts"]["registrant"] for d in domains)
    assert any(d["contacts"]["billing"] is None for d in domains)
    shared = [d for d in domains if d["contacts"]["registrant"] == d["contacts"]["admin"]]
    assert shared and any(d["contacts"]["tech"] != d["contacts"]["registrant"] for d in domains)
    accounts = [r for r in records if r["type"] == "account"]
    assert {a["kind"] for a in accounts} == {"staff", "reseller", "customer"}
    assert any(a["parent"] for a in accounts)
    contacts = [r for r in records if r["type"] == "contact"]
    assert any(c["org"] is None for c in contacts) and any(c["fax"] is None for c in contacts)
    reg_counts: dict[str, int] = {}
    for d in domains:
        reg_counts[d["contacts"]["registrant"]] = reg_counts.get(d["contacts"]["registrant"], 0) + 1
    assert max(reg_counts.values()) > 1  # contacts shared between domains


def test_demo_data_is_deterministic() -> None:
    assert demo_lines(50, seed=3) == demo_lines(50, seed=3)
    assert demo_lines(50, seed=3) != demo_lines(50, seed=4)


def test_import_writes_one_audit_event_with_counts_and_digest(uow: UnitOfWork) -> None:
    lines = demo_lines(30)
    stats = import_registrations(uow, actor=ACTOR, lines=lines, reason="migration from old system")
    with uow.reading() as r:
        events = list(r.session.scalars(select(AuditEvent)))
        assert verify_chain(r.session).events == 1
    assert len(events) == 1
    event = events[0]
    assert event.action == "registration:import:run"
    assert event.object_key == hashlib.sha256(b"".join(lines)).hexdigest() == stats.sha256
    details = orjson.loads(event.details)
    assert details["domains"] == 30 and details["contacts"] == stats.contacts


BAD_FILES: list[tuple[str, int, str, list[dict[str, Any]] | bytes]] = []


def _demo_with(line_no: int, change: dict[str, Any]) -> list[dict[str, Any]]:
    records = list(demo.demo_records(20, 1))
    records[line_no - 1] = {**records[line_no - 1], **change}
    return records


def _first_line_of(kind: str) -> int:
    return next(i for i, r in enumerate(demo.demo_records(20, 1), start=1) if r["type"] == kind)


def _last_line() -> int:
    return len(list(demo.demo_records(20, 1)))


BAD_CASES = [
    ("wrong type", "domain", {"ds_records": "yes"}, "ds_records: must be a list"),
    (
        "bad DS digest",
        "domain",
        {"ds_records": [{"key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": "AB"}]},
        "ds_records[0].digest",
    ),
    ("unknown field", "domain", {"dnssec": True}, "dnssec: unknown field"),
    ("number as name", "domain", {"name": 42}, "name: must be a string"),
    ("invalid IDN", "domain", {"name": "xn--a.example"}, "name"),
    ("unknown field owner", "domain", {"owner": "x"}, "owner: unknown field"),
    ("malformed phone", "contact", {"phone": "12345"}, "contact.phone"),
    ("unknown country", "contact", {"country": "XX"}, "contact.country"),
    ("bad email", "contact", {"email": "not-an-address"}, "contact.email"),
    ("naive timestamp", "domain", {"created_at": "2020-01-01T00:00:00"}, "created_at"),
    ("unknown contact", "domain", {"contacts": {"registrant": "NOSUCH"}}, "contacts.registrant"),
    ("unknown account", "contact", {"account": "nobody"}, "account"),
    ("unknown record type", "domain", {"type": "host"}, "type"),
]


@pytest.mark.parametrize(("case", "kind", "change", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_a_bad_line_rejects_the_whole_file_and_names_the_line(
    uow: UnitOfWork, engine: Engine, case: str, kind: str, change: dict[str, Any], message: str
) -> None:
    line_no = _last_line() if kind == "domain" else _first_line_of(kind)  # the last line: all else went in
    before = table_counts(engine)
    with pytest.raises(ImportRejected) as rejected:
        import_registrations(uow, actor=ACTOR, lines=lines_of(_demo_with(line_no, change)), reason="test")
    assert rejected.value.line == line_no
    assert message in str(rejected.value)
    assert table_counts(engine) == before


@pytest.mark.parametrize(
    ("case", "content", "line", "message"),
    [
        (
            "not json",
            b'{"type": "header", "format": "domainpriv-registrations", "version": 1}\n{oops\n',
            2,
            "not valid JSON",
        ),
        (
            "json array",
            b'{"type": "header", "format": "domainpriv-registrations", "version": 1}\n[1]\n',
            2,
            "JSON object",
        ),
        ("no header", b'{"type": "account"}\n', 1, "header"),
        ("empty", b"", 0, "empty"),
        (
            "wrong version",
            b'{"type": "header", "format": "domainpriv-registrations", "version": 9}\n',
            1,
            "version",
        ),
    ],
)
def test_malformed_files_are_refused(
    uow: UnitOfWork, engine: Engine, case: str, content: bytes, line: int, message: str
) -> None:
    before = table_counts(engine)
    with pytest.raises(ImportRejected) as rejected:
        import_registrations(uow, actor=ACTOR, lines=io.BytesIO(content), reason="test")
    assert rejected.value.line == line and message in str(rejected.value)
    assert table_counts(engine) == before


def test_duplicates_in_the_file_or_the_database_are_refused(uow: UnitOfWork, engine: Engine) -> None:
    records = list(demo.demo_records(20, 1))
    dup = [*records, records[-1]]
    with pytest.raises(ImportRejected, match="appears twice"):
        import_registrations(uow, actor=ACTOR, lines=lines_of(dup), reason="test")
    import_registrations(uow, actor=ACTOR, lines=lines_of(records), reason="test")
    before = table_counts(engine)
    with pytest.raises(ImportRejected, match="already exists"):
        import_registrations(uow, actor=ACTOR, lines=lines_of(records), reason="again")
    only_domain = [records[0], records[-1]]
    with pytest.raises(ImportRejected, match=f"domain {records[-1]['name']} already exists"):
        import_registrations(uow, actor=ACTOR, lines=lines_of(only_domain), reason="again")
    assert table_counts(engine) == before


def test_import_into_a_database_with_data_links_to_stored_accounts_and_contacts(uow: UnitOfWork) -> None:
    existing = make_domain(uow, "stored.example")
    registrant = existing.contacts["registrant"]
    assert registrant is not None
    records = [
        demo.jsonl.HEADER,
        {
            "type": "domain",
            "name": "added.example",
            "account": existing.account,
            "created_at": "2020-01-01T00:00:00Z",
            "expires_at": "2030-01-01T00:00:00Z",
            "contacts": {"registrant": registrant.handle},
        },
    ]
    stats = import_registrations(uow, actor=ACTOR, lines=lines_of(records), reason="test")
    assert stats.domains == 1
    added = services.get_domain(uow, name="added.example")
    assert added.contacts["registrant"] == registrant
    assert added.privacy_mode is PrivacyMode.REDACTED and added.statuses == ("ok",)


def test_public_mode_without_consent_is_refused(uow: UnitOfWork) -> None:
    records = [r for r in demo.demo_records(20, 1) if r["type"] != "consent"]
    domain_line = next(i for i, r in enumerate(records, 1) if r["type"] == "domain")
    records[domain_line - 1] = {**records[domain_line - 1], "privacy_mode": "public"}
    with pytest.raises(ImportRejected, match="consent") as rejected:
        import_registrations(uow, actor=ACTOR, lines=lines_of(records), reason="test")
    assert rejected.value.line == domain_line

"""The PostgreSQL fast path renders exactly the records the Python path writes: every profile column has two
forms (profiles.Column.value and .sql), and this is what keeps them byte-identical, on hostile data too."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from domainpriv.escrow.csvfiles import encode_row
from domainpriv.escrow.profiles import PROFILES, DepositContext
from domainpriv.escrow.snapshot import open_snapshot
from domainpriv.store import UnitOfWork

CTX = DepositContext(1234567)


def python_and_sql(uow: UnitOfWork, profile: str) -> tuple[list[bytes], list[bytes]]:
    layout = PROFILES[profile].domains
    with open_snapshot(uow) as snap:
        python = [encode_row(layout.row(d, CTX)) for d in snap.domains()]
        records = snap.records(layout.sql_fields(CTX))
        assert records is not None
        return python, list(records)


@pytest.fixture
def pg_demo(demo_uow: UnitOfWork) -> UnitOfWork:
    if demo_uow.dialect != "postgresql":
        pytest.skip("the fast path is PostgreSQL's (SQLite has the Python path only)")
    return demo_uow


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_both_paths_write_the_same_bytes_on_the_demo(pg_demo: UnitOfWork, profile: str) -> None:
    python, sql = python_and_sql(pg_demo, profile)
    assert len(python) == 60
    assert sql == python


def test_sqlite_has_no_fast_path(demo_uow: UnitOfWork) -> None:
    if demo_uow.dialect != "sqlite":
        pytest.skip("SQLite only")
    with open_snapshot(demo_uow) as snap:
        assert snap.records(PROFILES["icann-2024"].domains.sql_fields(CTX)) is None


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_text, street=st.lists(_text, min_size=1, max_size=3), org=st.none() | _text, city=_text,
       glue=st.sampled_from(["", "192.0.2.1", " 192.0.2.1  2001:db8::1 "]),
       statuses=st.sampled_from(["ok", "clientHold  clientTransferProhibited", ""]))  # fmt: skip
def test_both_paths_agree_on_hostile_values(
    pg_demo: UnitOfWork, name: str, street: list[str], org: str | None, city: str, glue: str, statuses: str
) -> None:
    """Stored values the services would refuse (quotes, commas, CR/LF, any Unicode) written behind their back:
    the two renderings must still agree byte for byte."""
    streets = [*street, None, None][:3]
    with pg_demo.engine.begin() as conn:
        contact = conn.execute(text("SELECT registrant_id FROM domain ORDER BY name LIMIT 1")).scalar_one()
        conn.execute(
            text("UPDATE contact SET name = :n, org = :o, street1 = :s1, street2 = :s2, street3 = :s3, city = :c"
                 " WHERE id = :id"),
            {"n": name, "o": org, "s1": streets[0], "s2": streets[1], "s3": streets[2], "c": city, "id": contact},
        )  # fmt: skip
        conn.execute(text("UPDATE nameserver SET addresses = :g"), {"g": glue})
        conn.execute(text("UPDATE domain SET statuses = :s"), {"s": statuses})
    for profile in sorted(PROFILES):
        python, sql = python_and_sql(pg_demo, profile)
        assert sql == python


def _abandon_a_stream(uow: UnitOfWork, fail: bool) -> int:
    """Read one record of the COPY stream, then leave the snapshot (by a writer's failure or normally)."""
    try:
        with open_snapshot(uow) as snap:
            records = snap.records(PROFILES["icann-2024"].domains.sql_fields(CTX))
            assert records is not None
            next(records)
            if fail:
                raise OSError("the deposit file's writer failed half-way")
    except OSError:
        pass
    with open_snapshot(uow) as snap:  # the pooled connection is usable again
        return snap.count_domains()


@pytest.mark.parametrize("fail", [True, False], ids=["writer-fails", "block-ends"])
def test_a_copy_stream_left_half_way_ends_with_its_snapshot(pg_demo: UnitOfWork, fail: bool) -> None:
    """The COPY holds the connection: a stream still open when the snapshot ends used to leave the rollback
    waiting on it for ever (a deposit whose writer failed hung, idle in transaction)."""
    counted: list[int] = []
    worker = threading.Thread(target=lambda: counted.append(_abandon_a_stream(pg_demo, fail)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "leaving the snapshot hung on the open COPY stream"
    assert counted == [60]

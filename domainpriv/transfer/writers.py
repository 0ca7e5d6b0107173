"""Fast row writers for bulk import: PostgreSQL COPY and SQLite executemany, behind one small interface.

Both write into the caller's open transaction on the session's own connection, so a savepoint rollback or
the final rollback undoes them like any ORM write. Row values are already validated and in column order;
timestamps are aware UTC and are stored naive, as the UTCDateTime column type does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

Row = tuple[Any, ...]


class RowWriter(Protocol):
    def write(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None: ...

    def allocate_ids(self, table: str, count: int) -> Iterator[int]: ...


def writer_for(session: Session) -> RowWriter:
    if session.get_bind().dialect.name == "postgresql":
        return PostgresCopyWriter(session)
    return SqliteWriter(session)


class PostgresCopyWriter:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._sequences: dict[str, str] = {}

    def write(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        dbapi = self._session.connection().connection.driver_connection
        assert dbapi is not None
        naive = [_naive_row(r) for r in rows]
        with dbapi.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in naive:
                copy.write_row(row)

    def allocate_ids(self, table: str, count: int) -> Iterator[int]:
        """Draw ids from the table's own sequence, so concurrent ORM inserts never collide with ours."""
        seq = self._sequences.get(table)
        if seq is None:
            seq = self._session.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
            assert seq is not None
            self._sequences[table] = seq
        ids = self._session.scalars(
            text("SELECT nextval(CAST(:s AS regclass)) FROM generate_series(1, :n)"), {"s": seq, "n": count}
        )
        return iter(list(ids))


class SqliteWriter:
    """SQLite has one writer at a time (our write transactions start with BEGIN IMMEDIATE), so max(id)+1 is
    safe to hand out for the length of the import."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._next: dict[str, int] = {}

    def write(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        dbapi = self._session.connection().connection.driver_connection
        assert dbapi is not None
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        dbapi.executemany(sql, [_sqlite_row(r) for r in rows])

    def allocate_ids(self, table: str, count: int) -> Iterator[int]:
        start = self._next.get(table)
        if start is None:
            start = (self._session.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1  # noqa: S608  # our table names
        self._next[table] = start + count
        return iter(range(start, start + count))


def _naive_row(row: Row) -> Row:
    return tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row)


def _sqlite_row(row: Row) -> Row:
    # The exact text SQLAlchemy's SQLite DateTime type writes and reads back.
    return tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row)

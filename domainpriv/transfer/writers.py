"""Fast row writers for bulk import: PostgreSQL COPY and SQLite executemany, behind one small interface.

Both write into the caller's open transaction on the session's own connection, so a savepoint rollback or
the final rollback undoes them like any ORM write. Row values are already validated and in column order;
timestamps are aware UTC and are stored naive, as the UTCDateTime column type does.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

import psycopg
from sqlalchemy import DateTime, text
from sqlalchemy.orm import Session

from domainpriv.store.base import Base, UTCDateTime

Row = tuple[Any, ...]
# The writers talk to the driver directly, so a duplicate key surfaces as the driver's own exception class.
DBAPI_INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)


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
        at = _datetime_positions(table, columns)
        with dbapi.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            write_row = copy.write_row
            if at is None:
                for row in rows:
                    write_row(_naive_row(row))
            elif not at:
                for row in rows:
                    write_row(row)
            else:
                for row in rows:
                    values = list(row)
                    for i in at:
                        v = values[i]
                        if v is not None:
                            values[i] = v.replace(tzinfo=None)
                    write_row(values)

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
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608  # our own table and column names; values are bound
        at = _datetime_positions(table, columns)
        if at is None:
            dbapi.executemany(sql, [_sqlite_row(r) for r in rows])
        elif not at:
            dbapi.executemany(sql, rows)
        else:
            dbapi.executemany(sql, _sqlite_rows(rows, at))

    def allocate_ids(self, table: str, count: int) -> Iterator[int]:
        start = self._next.get(table)
        if start is None:
            start = (self._session.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1  # noqa: S608  # our table names
        self._next[table] = start + count
        return iter(range(start, start + count))


def _datetime_positions(table: str, columns: Sequence[str]) -> tuple[int, ...] | None:
    """Positions of the timestamp columns in `columns` (from the models), so only those values are converted;
    None for a table the models do not know (then every value is checked)."""
    return _positions(table, tuple(columns))


@functools.cache
def _positions(table: str, columns: tuple[str, ...]) -> tuple[int, ...] | None:
    model = Base.metadata.tables.get(table)
    if model is None or any(c not in model.c for c in columns):
        return None
    return tuple(i for i, c in enumerate(columns) if isinstance(model.c[c].type, (UTCDateTime, DateTime)))


def _naive_row(row: Row) -> Row:
    return tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row)


def _sqlite_text(v: datetime) -> str:
    # The exact text SQLAlchemy's SQLite DateTime type writes and reads back ("%Y-%m-%d %H:%M:%S.%f").
    # isoformat gives the same characters for years 1000-9999 and is several times faster than strftime.
    if v.year >= 1000:
        return v.isoformat(" ", "microseconds")[:26]
    return v.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_row(row: Row) -> Row:
    return tuple(_sqlite_text(v) if isinstance(v, datetime) else v for v in row)


def _sqlite_rows(rows: Sequence[Row], at: tuple[int, ...]) -> list[list[Any]]:
    out = []
    for row in rows:
        values = list(row)
        for i in at:
            v = values[i]
            if v is not None:
                values[i] = _sqlite_text(v)
        out.append(values)
    return out

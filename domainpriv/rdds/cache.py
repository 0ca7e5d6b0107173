"""A cache of loaded registration records for the public servers, with invalidation that crosses processes.

Every answer must show the last committed change, in this daemon and in any other daemon on the same database
(issue 3, "fresh answers"). The cache therefore stamps each entry with the database's *change generation* at
load time and serves an entry only while the generation is unchanged; any commit anywhere moves it on:

* PostgreSQL: every audited change (and every change is audited, DESIGN invariant 4) sends
  ``NOTIFY domainpriv_change`` inside its transaction; PostgreSQL delivers it at commit. A listener thread
  counts notifications. Until it is listening, and whenever its connection is lost, the generation is
  "unknown" and the cache is bypassed: a lost listener costs speed, never freshness.
* SQLite: ``PRAGMA data_version`` on a connection of our own changes whenever any other connection, in any
  process, commits to the file: an exact, cheap check on each lookup.

The generation is read *before* a load, so a change that commits while a record is loading leaves the entry
with an old stamp, and the next lookup loads again.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import psycopg
from sqlalchemy import Engine

from domainpriv.audit import CHANGE_CHANNEL as CHANNEL

log = logging.getLogger("domainpriv.cache")


class ChangeFeed(Protocol):
    def generation(self) -> int | None:
        """A number that changes whenever anything commits; None when it cannot be known right now."""
        ...

    def close(self) -> None: ...


class SqliteDataVersion:
    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        with self._lock:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        self._conn.close()


class PostgresNotifications:
    """Counts NOTIFYs on CHANNEL in a daemon thread; reconnects after a failure."""

    RETRY_SECONDS = 1.0

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self.application_name = f"domainpriv-change-feed-{os.getpid()}-{id(self):x}"
        self._count = 0
        self._listening = False
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="domainpriv-change-feed", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def generation(self) -> int | None:
        return self._count if self._listening else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, application_name=self.application_name) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._count += 1  # whatever was loaded before we listened is suspect
                    self._listening = True
                    self._ready.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._count += 1
            except psycopg.Error as exc:
                log.warning("change feed lost (%s); cache bypassed until it is back", type(exc).__name__)
            finally:
                self._listening = False
            self._stop.wait(self.RETRY_SECONDS)


def change_feed_for(engine: Engine) -> ChangeFeed | None:
    """The feed that fits the engine's database, or None (no cache) for an in-memory SQLite database."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        feed = PostgresNotifications(url.set(drivername="postgresql").render_as_string(hide_password=False))
        feed.wait_ready(5.0)
        return feed
    if url.database and url.database != ":memory:":
        return SqliteDataVersion(url.database)
    return None


T = TypeVar("T")


class RecordCache(Generic[T]):
    """LRU of a_label -> (generation, value); the value may be None for "no such domain"."""

    def __init__(self, feed: ChangeFeed, max_entries: int) -> None:
        self._feed = feed
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[int, T | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, a_label: str, load: Callable[[str], T | None]) -> T | None:
        generation = self._feed.generation()
        if generation is None:
            self.misses += 1
            return load(a_label)
        with self._lock:
            entry = self._entries.get(a_label)
            if entry is not None and entry[0] == generation:
                self._entries.move_to_end(a_label)
                self.hits += 1
                return entry[1]
        self.misses += 1
        record = load(a_label)
        with self._lock:
            self._entries[a_label] = (generation, record)
            self._entries.move_to_end(a_label)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return record

    def peek(self, a_label: str) -> tuple[bool, T | None]:
        """(True, record) on a fresh hit, (False, None) otherwise; never loads, so never blocks on the store."""
        generation = self._feed.generation()
        if generation is None:
            return False, None
        with self._lock:
            entry = self._entries.get(a_label)
            if entry is None or entry[0] != generation:
                return False, None
            self._entries.move_to_end(a_label)
            self.hits += 1
            return True, entry[1]

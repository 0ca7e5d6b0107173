"""`domainpriv serve`'s logging: records go through a queue to one writer thread, so a server's event loop never
waits on stderr, and the writer writes whatever is waiting at once (both servers log one line per query, at
full query rate: STYLE §4)."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@contextmanager
def log_to_stderr(level: int = logging.INFO) -> Iterator[None]:
    """Log lines go through a queue to a writer thread: a server's event loop never waits on stderr (one line
    per query is written at full query rate)."""
    records: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
    writer = _LogWriter(records, sys.stderr, logging.Formatter(FORMAT))
    root = logging.getLogger()
    queued = _QueueHandler(records)
    root.addHandler(queued)
    root.setLevel(level)
    # The format names no thread or process: spare every LogRecord looking them up (per query, at full rate).
    collected = logging.logThreads, logging.logProcesses, logging.logMultiprocessing
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    writer.start()
    try:
        yield
    finally:
        root.removeHandler(queued)
        writer.stop()
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = collected


class _QueueHandler(logging.handlers.QueueHandler):
    """QueueHandler.prepare formats the message in the logging thread and copies the record, so that what is
    queued no longer refers to mutable arguments, exceptions or tracebacks. A record whose arguments are plain
    values (every per-query line) has nothing that could change: it is queued as it is and formatted by the
    writer. Anything else takes the standard path."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info or record.stack_info or not _plain(record.args):
            prepared: logging.LogRecord = super().prepare(record)
            return prepared
        return record


def _plain(args: object) -> bool:
    return args is None or (type(args) is tuple and all(type(a) in _IMMUTABLE for a in args))


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


class _LogWriter:
    """The thread behind log_to_stderr. It writes every line waiting in the queue with one write and one flush,
    then rests PACE_SECONDS before it looks again (logging.handlers.QueueListener writes and flushes each record
    as it comes: a system call per line, and a thread that wakes for every line and takes the GIL from the busy
    event loop each time). A line thus reaches stderr up to PACE_SECONDS late; its timestamp is when it was
    logged. `None` in the queue means stop, after what came before it."""

    PACE_SECONDS = 0.05

    def __init__(
        self, records: queue.SimpleQueue[logging.LogRecord | None], stream: TextIO, formatter: logging.Formatter
    ) -> None:
        self._records = records
        self._stream = stream
        self._formatter = formatter
        self._thread = threading.Thread(target=self._run, name="domainpriv-log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._records.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch = [self._records.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._records.get_nowait())
            text = "".join(self._line(record) for record in batch if record is not None)
            if text:
                with contextlib.suppress(OSError, ValueError):  # stderr gone or closed: nowhere left to say so
                    self._stream.write(text)
                    self._stream.flush()
            if None in batch:
                return
            time.sleep(self.PACE_SECONDS)  # lets lines gather while the writer holds no GIL and waits on nothing

    def _line(self, record: logging.LogRecord) -> str:
        try:
            return f"{self._formatter.format(record)}\n"
        except Exception as exc:  # a message that does not fit its arguments: say so, without the arguments
            where = f"{record.pathname}:{record.lineno}"
            return f"{record.levelname} {record.name} unformattable log line at {where} ({type(exc).__name__})\n"

"""`domainpriv serve`'s logging: records go through a queue to one writer thread, so a server's event loop never
waits on stderr, and the writer writes whatever is waiting at once (both servers log one line per query, at
full query rate: STYLE §4).

Per-query lines may skip the LogRecord altogether (`direct_lines`): where nothing but this writer would see them,
the servers hand it finished text, in the same format, for a whole burst of queries at once."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@contextmanager
def log_to_stderr(level: int = logging.INFO) -> Iterator[None]:
    """Log lines go through a queue to a writer thread: a server's event loop never waits on stderr (one line
    per query is written at full query rate)."""
    global _active
    records: queue.SimpleQueue[_Item] = queue.SimpleQueue()
    writer = _LogWriter(records, sys.stderr, logging.Formatter(FORMAT))
    root = logging.getLogger()
    queued = _QueueHandler(records)
    root.addHandler(queued)
    _active = queued
    root.setLevel(level)
    # The format names no thread or process: spare every LogRecord looking them up (per query, at full rate).
    collected = logging.logThreads, logging.logProcesses, logging.logMultiprocessing
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    writer.start()
    try:
        yield
    finally:
        _active = None
        root.removeHandler(queued)
        writer.stop()
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = collected


def direct_lines(logger: logging.Logger) -> Callable[[Sequence[tuple[str, tuple[object, ...]]]], None] | None:
    """Where `logger`'s INFO lines would reach nothing but log_to_stderr's writer (no handler, filter or level
    of their own on the way, no other handler on the root), a function that queues a burst of INFO lines,
    (message, args) as Logger.info takes them, for it: formatted at once, in FORMAT, with one timestamp.
    Otherwise None, and the caller logs records as usual (under pytest, say, whose capture handler must see
    them)."""
    queued = _active
    if queued is None or queued.filters or logging.getLogger().handlers != [queued]:
        return None
    if not logger.isEnabledFor(logging.INFO) or queued.level > logging.INFO:
        return None
    node: logging.Logger | None = logger
    while node is not None and node is not logging.root:
        if node.handlers or node.filters or not node.propagate:
            return None
        node = node.parent
    put = queued.queue.put_nowait

    def write(lines: Sequence[tuple[str, tuple[object, ...]]]) -> None:
        put(_info_text(logger.name, lines, time.time()))

    return write


def _info_text(name: str, lines: Sequence[tuple[str, tuple[object, ...]]], when: float) -> str:
    """The lines as the writer's Formatter would write INFO records of `name` logged at `when`."""
    prefix = f"{timestamp(when)} INFO {name} "
    text = []
    for message, args in lines:
        try:  # as LogRecord.getMessage: no %-formatting without arguments
            text.append(f"{prefix}{message % args if args else message}\n")
        except (TypeError, ValueError):  # a message that does not fit its arguments: named without them
            text.append(f"{prefix}unformattable log line {message!r}\n")
    return "".join(text)


def timestamp(when: float) -> str:
    """`when` as FORMAT's asctime writes it (logging.Formatter's default: local time, milliseconds after a
    comma); the seconds part is computed once per second."""
    global _stamped
    second = int(when)
    if _stamped[0] != second:
        _stamped = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second)))
    return f"{_stamped[1]},{int((when - second) * 1000):03d}"


_Item = logging.LogRecord | str | None  # a record, finished text (direct_lines), or None: stop
_active: _QueueHandler | None = None  # log_to_stderr's handler while it runs
_stamped: tuple[int, str] = (-1, "")


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

    def __init__(self, records: queue.SimpleQueue[_Item], stream: TextIO, formatter: logging.Formatter) -> None:
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

    def _line(self, record: logging.LogRecord | str) -> str:
        if type(record) is str:  # finished lines (direct_lines)
            return record
        assert isinstance(record, logging.LogRecord)
        try:
            return f"{self._formatter.format(record)}\n"
        except Exception as exc:  # a message that does not fit its arguments: say so, without the arguments
            where = f"{record.pathname}:{record.lineno}"
            return f"{record.levelname} {record.name} unformattable log line at {where} ({type(exc).__name__})\n"

"""Per-query log lines, emitted once per event-loop iteration instead of one by one.

Both servers log one line per query (STYLE §4). Handing each line to the logging queue as it happens wakes the
log writer thread once per query, and the GIL hand-offs that follow cost a busy server more than the answer
itself; collecting an iteration's lines and logging them together at its end wakes it once per burst. A line
may therefore carry a timestamp one loop iteration late.

Under `domainpriv serve` the burst does not even become LogRecords: it is formatted here, with one timestamp,
and handed to the log writer as one piece of text (logs.direct_lines). A LogRecord per query, its handler
dispatch and its formatting in the writer thread were about a sixth of a cached RDAP answer's time.
"""

from __future__ import annotations

import asyncio
import logging

from domainpriv.logs import direct_lines


class BatchedLog:
    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._pending: list[tuple[str, tuple[object, ...]]] = []

    def info(self, message: str, *args: object) -> None:
        """Queue one INFO line (same arguments as Logger.info); call from the event loop's thread."""
        if not self._logger.isEnabledFor(logging.INFO):
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append((message, args))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        logger = self._logger
        write = direct_lines(logger)
        if write is not None:
            write(pending)
            return
        for message, args in pending:
            # makeRecord + handle is Logger.info without its findCaller() stack walk: the caller of a batched
            # line would be this method, which tells a reader nothing.
            logger.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, args, None))

"""`domainpriv serve`'s logging: a queue to one writer thread that writes whatever is waiting in one go."""

from __future__ import annotations

import logging
import re
import threading

import pytest

from domainpriv.daemon import log_to_stderr

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING) domainpriv\.test (.*)$")


def test_every_line_is_written_once_in_order_before_the_context_ends(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("domainpriv.test")
    with log_to_stderr(logging.INFO):
        for i in range(2_000):
            logger.info("line %d", i)
        logger.debug("below the level")
    lines = capsys.readouterr().err.splitlines()
    messages = [m.group(2) for m in map(LINE.match, lines) if m]
    assert messages == [f"line {i}" for i in range(2_000)]
    assert len(lines) == 2_000


def test_lines_from_several_threads_are_all_written_whole(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("domainpriv.test")

    def talk(who: int) -> None:
        for i in range(300):
            logger.warning("thread %d says %d", who, i)

    with log_to_stderr(logging.INFO):
        threads = [threading.Thread(target=talk, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = capsys.readouterr().err.splitlines()
    assert all(LINE.match(line) for line in lines)
    for who in range(4):
        said = [line.rsplit(" ", 1)[1] for line in lines if f"thread {who} says" in line]
        assert said == [str(i) for i in range(300)]


def test_the_process_wide_record_settings_are_restored() -> None:
    before = logging.logThreads, logging.logProcesses, logging.logMultiprocessing
    with log_to_stderr(logging.INFO):
        assert logging.logThreads is False  # the format names no thread: not looked up per record
    assert (logging.logThreads, logging.logProcesses, logging.logMultiprocessing) == before

"""`domainpriv serve`'s logging: a queue to one writer thread that writes whatever is waiting in one go."""

from __future__ import annotations

import logging
import re
import threading

import pytest

from domainpriv.logs import log_to_stderr

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


def test_a_message_that_does_not_fit_its_arguments_is_named_without_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # pytest's own capture handler raises on such lines
    logger = logging.getLogger("domainpriv.test")
    with log_to_stderr(logging.INFO):
        logger.info("one %d two %d", 1, "secret@example.com")  # %d of a str: fails when the writer formats it
        logger.info("still %s", "writing")
    err = capsys.readouterr().err
    assert "secret@example.com" not in err
    assert "INFO domainpriv.test unformattable log line at" in err and "(TypeError)" in err
    assert err.rstrip().endswith("INFO domainpriv.test still writing")


def test_an_exception_keeps_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("domainpriv.test")
    with log_to_stderr(logging.INFO):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    err = capsys.readouterr().err
    assert "ERROR domainpriv.test failed" in err and "Traceback" in err and "RuntimeError: boom" in err

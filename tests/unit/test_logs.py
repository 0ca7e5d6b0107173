"""`domainpriv serve`'s logging: a queue to one writer thread that writes whatever is waiting in one go."""

from __future__ import annotations

import asyncio
import logging
import re
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domainpriv.logs import FORMAT, direct_lines, log_to_stderr, timestamp
from domainpriv.rdds.query_log import BatchedLog

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
    without_pytests_handlers(monkeypatch)  # pytest's own capture handler raises on such lines
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


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_the_direct_timestamp_is_the_formatters(when: float) -> None:
    record = logging.makeLogRecord({"created": when, "msecs": int((when - int(when)) * 1000) + 0.0})
    assert timestamp(when) == logging.Formatter(FORMAT).formatTime(record)


def without_pytests_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `domainpriv serve` runs with. (pytest adds its capture handlers to the root logger for each phase of
    a test, after the fixtures are set up: this is called from the test itself.)"""
    monkeypatch.setattr(logging.getLogger(), "handlers", [])


def test_a_burst_of_query_lines_is_written_as_records_would_be_in_order_with_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    without_pytests_handlers(monkeypatch)
    logger = logging.getLogger("domainpriv.test")

    async def serve() -> None:
        batched = BatchedLog(logger)
        logger.info("before %d", 0)
        for i in range(500):
            batched.info("query %s %d", f"name{i}.example", i)
        batched.info("%d%% of %s", 100, "them")
        batched.info("no arguments: 100%% as written")
        batched.info("%d of a str", "not a number")
        batched.flush()
        logger.info("after %s", "all")

    with log_to_stderr(logging.INFO):
        assert direct_lines(logger) is not None
        asyncio.run(serve())
    lines = capsys.readouterr().err.splitlines()
    assert all(LINE.match(line) for line in lines)
    messages = [line.split(" domainpriv.test ", 1)[1] for line in lines]
    assert messages == [
        "before 0", *(f"query name{i}.example {i}" for i in range(500)),
        "100% of them", "no arguments: 100%% as written", "unformattable log line '%d of a str'", "after all",
    ]  # fmt: skip
    assert "not a number" not in "".join(lines)


def test_lines_go_through_records_wherever_something_else_would_see_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without_pytests_handlers(monkeypatch)
    logger = logging.getLogger("domainpriv.test.direct")
    assert direct_lines(logger) is None  # log_to_stderr is not running
    with log_to_stderr(logging.INFO):
        assert direct_lines(logger) is not None
        for node, attribute, value in [
            (logger, "handlers", [logging.NullHandler()]),  # a handler of its own
            (logger.parent, "filters", [logging.Filter("other")]),  # a filter on the way
            (logger, "propagate", False),
            (logging.getLogger(), "handlers", [*logging.getLogger().handlers, logging.NullHandler()]),
        ]:
            with monkeypatch.context() as patch:
                patch.setattr(node, attribute, value)
                assert direct_lines(logger) is None, (node, attribute)
        logger.setLevel(logging.WARNING)  # INFO lines are not wanted at all
        try:
            assert direct_lines(logger) is None
        finally:
            logger.setLevel(logging.NOTSET)
        assert direct_lines(logger) is not None

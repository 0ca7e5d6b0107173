"""`domainpriv serve` delivers the outbox every mail.poll_seconds to a real SMTP server (aiosmtpd), off its event
loop, and stops cleanly with a delivery in progress; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from domainpriv.notify.outbox import SENT, enqueue
from domainpriv.store import Notice, UnitOfWork, make_engine
from support.daemons import cli, daemon, whois
from support.ports import HOST, free_port
from support.smtp_sink import Sink, smtp_sink

ADDRESS = "ada@engines.example"


@pytest.fixture
def upgraded_db(db_url: str) -> str:
    cli(db_url, "db", "upgrade")
    return db_url


def env(port: int) -> dict[str, str]:
    """The sink as relay, a short poll, and no scheduler: what arrives was sent by the outbox loop, not a sweep."""
    return {"DOMAINPRIV_MAIL_SMTP_PORT": str(port), "DOMAINPRIV_MAIL_POLL_SECONDS": "0.5",
            "DOMAINPRIV_SCHEDULER_ENABLED": "false"}  # fmt: skip


def queue_notice(db_url: str, subject: str = "Your password was changed") -> None:
    """Commit a notice from another process's point of view: a unit of work of its own."""
    engine = make_engine(db_url)
    uow = UnitOfWork(engine)
    with uow:
        enqueue(uow.session, now=uow.clock(), kind="password-changed", to=ADDRESS, subject=subject,
                body="The password was changed.\n", mandatory=True)  # fmt: skip
        uow.commit()
    engine.dispose()


def stored_states(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    with UnitOfWork(engine).reading() as r:
        states = list(r.session.scalars(select(Notice.state).order_by(Notice.id)))
    engine.dispose()
    return states


def wait_for(condition: Any, seconds: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - started


@dataclass
class SlowSink(Sink):
    """A relay that takes `delay_seconds` to accept each message; `receiving` is set when one comes in."""

    delay_seconds: float = 3.0
    receiving: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.receiving.set()
        await asyncio.sleep(self.delay_seconds)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def slow_sink() -> Iterator[SlowSink]:
    sink = SlowSink(free_port())
    controller = Controller(sink, hostname=HOST, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def test_a_notice_queued_while_the_daemon_runs_arrives_within_seconds(upgraded_db: str, tmp_path: Path) -> None:
    with smtp_sink() as sink, daemon(upgraded_db, tmp_path, extra_env=env(sink.port)) as (proc, _, _):
        queue_notice(upgraded_db)
        wait_for(lambda: sink.messages, 5)
        (message,) = sink.messages
        assert message["To"] == ADDRESS and message["Subject"] == "Your password was changed"
        queue_notice(upgraded_db, "A second one")
        wait_for(lambda: len(sink.messages) == 2, 5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert proc.stderr is not None
        assert ADDRESS not in proc.stderr.read()  # no personal data in the daemon's log
    assert stored_states(upgraded_db) == [SENT, SENT]


def test_a_slow_relay_does_not_hold_up_whois(upgraded_db: str, tmp_path: Path) -> None:
    with slow_sink() as sink, daemon(upgraded_db, tmp_path, extra_env=env(sink.port)) as (proc, whois_port, _):
        queue_notice(upgraded_db)
        assert sink.receiving.wait(timeout=10)
        started = time.monotonic()
        assert "No match" in whois(whois_port, "not-registered.example")
        assert time.monotonic() - started < 1.0, "the delivery blocked the event loop"
        assert not sink.messages  # the relay is still taking its time
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_sigterm_during_a_delivery_lets_it_finish_and_the_notice_is_sent_once(upgraded_db: str, tmp_path: Path) -> None:
    with slow_sink() as sink, daemon(upgraded_db, tmp_path, extra_env=env(sink.port)) as (proc, _, _):
        sink.delay_seconds = 1.5
        queue_notice(upgraded_db)
        assert sink.receiving.wait(timeout=10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert len(sink.messages) == 1
    assert stored_states(upgraded_db) == [SENT]

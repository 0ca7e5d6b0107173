"""Child processes for the leader lock and scheduler tests: a lock holder and a scheduler whose sweep appends a
line per sweep to a shared file, run as `python leader_procs.py ...` so that they can be killed for real.

    hold URL NAME                              take the lock (polling every 0.05 s; "waiting" after a first miss),
                                               print "held", then wait to be killed
    schedule URL NAME OUT INTERVAL POLL        run a JobScheduler until SIGTERM; each sweep appends "pid now\\n"
                                               to OUT; prints "started", then "stopped" after a clean stop()
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve()


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(HERE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def read_line(proc: subprocess.Popen[str], timeout: float) -> str | None:
    """The child's next stdout line, or None if none comes within `timeout` seconds."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else None


def finish(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def sweep_lines(out: Path) -> list[tuple[int, datetime]]:
    """(pid, now) of every sweep so far."""
    if not out.exists():
        return []
    rows = [line.split(" ", 1) for line in out.read_text().splitlines() if line]
    return [(int(pid), datetime.fromisoformat(now)) for pid, now in rows]


def _hold(url: str, name: str) -> None:
    from domainpriv.scheduling import LeaderLock

    lock = LeaderLock(url, name=name)
    if not lock.try_acquire():
        print("waiting", flush=True)
        while not lock.try_acquire():
            time.sleep(0.05)
    print("held", flush=True)
    while True:
        time.sleep(60)


def _schedule(url: str, name: str, out: str, interval: str, poll: str) -> None:
    from domainpriv.scheduling import JobScheduler, LeaderLock

    def sweep(now: datetime) -> None:
        fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{os.getpid()} {now.isoformat()}\n".encode())  # one write: lines never interleave
        finally:
            os.close(fd)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = JobScheduler(lock=LeaderLock(url, name=name), sweep=sweep, sweep_interval_seconds=float(interval),
                             leader_poll_seconds=float(poll))  # fmt: skip
    scheduler.start()
    print("started", flush=True)
    stop.wait()
    scheduler.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "hold":
        _hold(*arguments)
    else:
        _schedule(*arguments)

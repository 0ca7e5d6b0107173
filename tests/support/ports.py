"""Loopback ports for the real servers the tests start."""

from __future__ import annotations

import random
import socket
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A port that is free on 127.0.0.1 right now (toolchain.md §3: ask just before starting)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def restartable_port() -> int:
    """A free port below the kernel's ephemeral range, for a server the test stops and starts again on the same
    port (a second postmaster). A port from `free_port` is in that range: while its server is down, any outgoing
    connection on the machine, or another test asking for a free port, may take it, and the restart fails with
    "Address already in use". Below the range only servers that pick their port this way can meet."""
    low = _ephemeral_low()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12_000), low)
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return port
    return free_port()  # a machine with nothing free below its ephemeral range: the old way


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default

"""Loopback ports for the real servers the tests start."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A port that is free on 127.0.0.1 right now (toolchain.md §3: ask just before starting)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port

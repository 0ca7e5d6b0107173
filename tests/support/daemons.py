"""`domainpriv serve` and the CLI as subprocesses, the way an operator runs them, for the daemon tests."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

READY = re.compile(r"WHOIS on [\d.]+:(\d+), RDAP on [\d.]+:(\d+)")


def daemon_env(db_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_")}
    env.update(
        {
            "DOMAINPRIV_DATABASE_URL": db_url,
            "DOMAINPRIV_WHOIS_PORT": "0",
            "DOMAINPRIV_RDAP_PORT": "0",
            "DOMAINPRIV_PORTAL_PORT": "0",
        }
    )
    env.update(extra or {})
    return env


def cli(db_url: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "domainpriv", *args], env=daemon_env(db_url), capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    return proc.stdout


@contextmanager
def daemon(
    db_url: str, cwd: Path, *, extra_env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    proc = subprocess.Popen([sys.executable, "-m", "domainpriv", "serve"], env=daemon_env(db_url, extra_env), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = READY.search(line)
        assert match, f"no ready line: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield proc, int(match.group(1)), int(match.group(2))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def cli_bytes(db_url: str, *args: str) -> bytes:
    return subprocess.run([sys.executable, "-m", "domainpriv", *args], env=daemon_env(db_url), capture_output=True,
                          timeout=120, check=True).stdout  # fmt: skip


def whois(port: int, name: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(name.encode() + b"\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def rdap(port: int, name: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/domain/{name}", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def first_domain(db_url: str, mode: str) -> str:
    for line in cli(db_url, "export").splitlines():
        record = json.loads(line)
        if record["type"] == "domain" and record["privacy_mode"] == mode:
            return str(record["name"])
    raise AssertionError(f"no {mode} domain in the demo")

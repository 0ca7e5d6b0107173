"""SFTP servers for the escrow tests: OpenSSH's sshd on loopback, and an in-process asyncssh server that can
misbehave on purpose (drop the connection or stop answering mid-upload) for the transfer's retries and timeouts.

Both yield an :class:`SftpServer`: the URL of its upload folder, a client identity it accepts, a known_hosts file
pinning its host key, and the local folder the uploads land in. Keys are fresh ed25519 keys per server.

* `openssh_sftp_server(folder)`: /usr/sbin/sshd (by absolute path, toolchain.md §7) with a generated config,
  `ForceCommand internal-sftp -d <upload folder>`, on a port the OS said was free just before the start (retried
  when another process took it first); stopped by PID. As root the login is root with `PermitRootLogin
  prohibit-password` (key only); otherwise it is the current user. Skipped with the reason when sshd is missing,
  a failure instead with DOMAINPRIV_REQUIRE_SERVICES=1.
* `asyncssh_sftp_server(folder, fault=...)`: asyncssh on port 0 in a thread of its own (its own event loop, so a
  synchronous client in the test thread can talk to it), SFTP chrooted to a root holding `/incoming`. A
  :class:`Fault` drops or stalls connections after some bytes of file data.

Fixtures `openssh_sftp` and `asyncssh_sftp` wrap them for tests that just need a server.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import socket
import subprocess
import threading
import time
from collections.abc import Awaitable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import asyncssh
import pytest

from support.databases import services_required
from support.ports import free_port

T = TypeVar("T")
HOST = "127.0.0.1"
SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT_SECONDS = 10.0
_PRIVSEP = re.compile(r"Missing privilege separation directory: (\S+)")


@dataclass(frozen=True, slots=True)
class SftpServer:
    kind: Literal["openssh", "asyncssh"]
    host: str
    port: int
    user: str
    url: str  # sftp://user@host:port/path of the upload folder (escrow.sftp_url)
    upload_dir: Path  # where uploads land, on this machine
    identity_file: Path  # a private key the server accepts (escrow.sftp_identity_file)
    known_hosts: Path  # pins this server's host key (escrow.sftp_known_hosts)
    host_key_line: str  # the known_hosts line in `known_hosts`

    def names(self) -> list[str]:
        """The entries of the upload folder, sorted."""
        return sorted(p.name for p in self.upload_dir.iterdir())


@dataclass(slots=True)
class Fault:
    """Misbehave once one connection has received more than `after_bytes` of file data.

    `drop` aborts the connection (a network cut); `stall` leaves the write unanswered for good (a hung server).
    `times` bounds how many connections misbehave (None: every one); `fired` counts them.
    """

    action: Literal["drop", "stall"]
    after_bytes: int
    times: int | None = 1
    fired: int = 0

    def armed(self) -> bool:
        return self.times is None or self.fired < self.times


def make_key(path: Path) -> asyncssh.SSHKey:
    """A fresh ed25519 key: OpenSSH private key at `path` (mode 0600), public half at `path`.pub."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.export_private_key("openssh"))
    path.chmod(0o600)
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key("openssh"))
    return key


def public_line(key: asyncssh.SSHKey) -> str:
    """`ssh-ed25519 AAAA…`: the form of authorized_keys and of a known_hosts line's key part."""
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


def known_hosts_line(host: str, port: int, key: asyncssh.SSHKey) -> str:
    """The known_hosts line pinning `key` for host:port (the `[host]:port` form off port 22)."""
    pattern = host if port == 22 else f"[{host}]:{port}"
    return f"{pattern} {public_line(key)}\n"


# --- OpenSSH ---------------------------------------------------------------------------------------------------


def sshd_unavailable_reason() -> str | None:
    if not (SSHD.is_file() and os.access(SSHD, os.X_OK)):
        return f"openssh-server is not installed ({SSHD} missing)"
    return None


def require_sshd() -> None:
    reason = sshd_unavailable_reason()
    if reason is not None:
        if services_required():
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


@contextmanager
def openssh_sftp_server(folder: Path) -> Iterator[SftpServer]:
    require_sshd()
    conf = folder / "sshd"
    upload = folder / "upload"
    upload.mkdir(parents=True)
    host_key = make_key(conf / "ssh_host_ed25519_key")
    client_key = make_key(folder / "client" / "id_ed25519")
    (conf / "authorized_keys").write_text(public_line(client_key) + "\n")
    user = pwd.getpwuid(os.getuid()).pw_name
    proc, port = _start_sshd(conf, upload, user)
    try:
        yield _described("openssh", port, user, quote(str(upload)), upload, folder, host_key)
    finally:
        _stop(proc)


def _start_sshd(conf: Path, upload: Path, user: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start sshd on a free port; another try on a new port when something took the port in between."""
    log = conf / "sshd.log"
    for _ in range(3):
        port = free_port()
        config = _write_sshd_config(conf, upload, user, port)
        _ensure_privsep_dir(config)
        with log.open("ab") as err:
            proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=err)
        if _wait_for_banner(proc, port):
            return proc, port
        _stop(proc)
        if "Address already in use" not in log.read_text(errors="replace"):
            break
    raise RuntimeError(f"sshd did not start: {log.read_text(errors='replace')[-2000:]}")


def _write_sshd_config(conf: Path, upload: Path, user: str, port: int) -> Path:
    config = conf / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {HOST}",
                f"HostKey {conf / 'ssh_host_ed25519_key'}",
                f"PidFile {conf / 'sshd.pid'}",
                f"AuthorizedKeysFile {conf / 'authorized_keys'}",
                f"AllowUsers {user}",
                "PermitRootLogin prohibit-password",  # root may log in, by key only (the tests run as root here)
                "AuthenticationMethods publickey",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",  # the temporary folders are not root-owned 0755 all the way up
                "UseDNS no",
                "PrintMotd no",
                "Subsystem sftp internal-sftp",
                f"ForceCommand internal-sftp -d {upload}",
                "",
            ]
        )
    )
    return config


def _ensure_privsep_dir(config: Path) -> None:
    """sshd refuses to start without its privilege separation directory; `sshd -t` names it."""
    for _ in range(2):
        check = subprocess.run([str(SSHD), "-t", "-f", str(config)], capture_output=True, text=True, timeout=30)
        if check.returncode == 0:
            return
        missing = _PRIVSEP.search(check.stderr)
        if missing is None:
            break
        Path(missing.group(1)).mkdir(mode=0o755, parents=True, exist_ok=True)
    raise RuntimeError(f"sshd -t rejects the generated config: {check.stderr.strip()}")


def _wait_for_banner(proc: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.settimeout(2)
                if sock.recv(4).startswith(b"SSH-"):
                    return True
        except OSError:
            time.sleep(0.02)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# --- asyncssh --------------------------------------------------------------------------------------------------


@contextmanager
def asyncssh_sftp_server(folder: Path, *, fault: Fault | None = None) -> Iterator[SftpServer]:
    root = folder / "sftp-root"
    upload = root / "incoming"
    upload.mkdir(parents=True)
    host_key = make_key(folder / "asyncssh" / "ssh_host_ed25519_key")
    client_key = make_key(folder / "client" / "id_ed25519")
    authorized = folder / "asyncssh" / "authorized_keys"
    authorized.write_text(public_line(client_key) + "\n")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="asyncssh-sftp", daemon=True)
    thread.start()
    state = _ServerState(root, fault)
    try:
        port = _call(loop, state.listen(host_key, authorized))
        try:
            user = "registrar"
            yield _described("asyncssh", port, user, "/incoming", upload, folder, host_key)
        finally:
            _call(loop, state.shutdown())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass(slots=True)
class _ServerState:
    """Lives in the server's loop thread: the listener, its connections, and the fault's bookkeeping."""

    root: Path
    fault: Fault | None
    acceptor: asyncssh.SSHAcceptor | None = None
    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)
    stalled: asyncio.Event | None = None
    open_files: set[Any] = field(default_factory=set)  # by faulty sessions: closed at shutdown if a fault left any

    async def listen(self, host_key: asyncssh.SSHKey, authorized: Path) -> int:
        self.stalled = asyncio.Event()  # never set: a stalled write waits until shutdown cancels it
        self.acceptor = await asyncssh.listen(
            HOST,
            0,
            server_host_keys=[host_key],
            authorized_client_keys=str(authorized),
            server_factory=lambda: _Tracked(self.connections),
            sftp_factory=self.sftp_session,
            allow_scp=False,
        )
        return self.acceptor.get_port()

    def sftp_session(self, chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return _FaultySFTP(chan, self) if self.fault is not None else asyncssh.SFTPServer(chan, chroot=bytes(self.root))

    async def shutdown(self) -> None:
        assert self.acceptor is not None
        self.acceptor.close()
        for conn in list(self.connections):
            conn.abort()
        await self.acceptor.wait_closed()
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        for file_obj in list(self.open_files):  # a cancelled stalled write skips asyncssh's own cleanup
            file_obj.close()


class _Tracked(asyncssh.SSHServer):
    def __init__(self, connections: set[asyncssh.SSHServerConnection]) -> None:
        self._connections = connections
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._connections.discard(self._conn)


class _FaultySFTP(asyncssh.SFTPServer):
    """Chrooted SFTP whose writes trip the server's Fault once past its byte count (one SFTP session per conn)."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], state: _ServerState) -> None:
        super().__init__(chan, chroot=bytes(state.root))
        self._state = state
        self._received = 0
        self._tripped = False

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        file_obj = super().open(path, pflags, attrs)  # the base class opens synchronously
        self._state.open_files.add(file_obj)
        return file_obj

    def close(self, file_obj: object) -> None:
        self._state.open_files.discard(file_obj)
        super().close(file_obj)

    def write(self, file_obj: object, offset: int, data: bytes) -> int | Awaitable[int]:
        fault = self._state.fault
        self._received += len(data)
        if fault is not None and not self._tripped and self._received > fault.after_bytes and fault.armed():
            self._tripped = True
            fault.fired += 1
            if fault.action == "drop":
                self.connection.abort()
                return 0
            return self._stall()
        return super().write(file_obj, offset, data)

    async def _stall(self) -> int:
        assert self._state.stalled is not None
        await self._state.stalled.wait()
        return 0


def _call(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=START_TIMEOUT_SECONDS)


def _described(
    kind: Literal["openssh", "asyncssh"],
    port: int,
    user: str,
    path: str,
    upload: Path,
    folder: Path,
    host_key: asyncssh.SSHKey,
) -> SftpServer:
    line = known_hosts_line(HOST, port, host_key)
    known_hosts = folder / "client" / "known_hosts"
    known_hosts.write_text(line)
    return SftpServer(
        kind=kind,
        host=HOST,
        port=port,
        user=user,
        url=f"sftp://{user}@{HOST}:{port}{path}",
        upload_dir=upload,
        identity_file=folder / "client" / "id_ed25519",
        known_hosts=known_hosts,
        host_key_line=line,
    )


# --- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture
def openssh_sftp(tmp_path: Path) -> Iterator[SftpServer]:
    with openssh_sftp_server(tmp_path / "openssh") as server:
        yield server


@pytest.fixture
def asyncssh_sftp(tmp_path: Path) -> Iterator[SftpServer]:
    with asyncssh_sftp_server(tmp_path / "asyncssh") as server:
        yield server

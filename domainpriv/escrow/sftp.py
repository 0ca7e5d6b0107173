"""The transfer of a deposit's files to the escrow agent over SFTP (escrow.md §10, toolchain.md §7).

Safety rules, each enforced here rather than left to the server:

* The agent's host key is pinned by `escrow.sftp_known_hosts`; an unknown or changed key is refused
  (:class:`HostKeyRefused`) and never retried. Login is by the `escrow.sftp_identity_file` key only: no password, no
  ssh-agent, no `~/.ssh` keys, config or known_hosts.
* A file appears under its final name only when complete: it is written as `NAME.part` (a stale one is
  truncated), its remote size is checked, then it is renamed (atomically replacing a stale final file of another
  size where the server offers posix-rename) and the final size is checked again.
* Reruns are idempotent: deposit file names are deterministic, so a final file of the same name and size is
  already delivered and is skipped.
* Connection and transport failures are retried with exponential backoff, up to `attempts` connections for the
  whole batch, each resuming with the files not yet delivered. Every network step has a timeout, so a hung
  server costs at most `timeout_seconds` per attempt. Refusals (host key, login, a missing remote folder, an SFTP
  error such as a full disk) are not retried: the same request would be refused again.

The client is asyncio (asyncssh); :func:`upload_files` is synchronous and runs it on an event loop of its own, so
services, CLI commands and scheduler threads can call it whatever loop runs elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import posixpath
import re
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote, unquote, urlsplit

import asyncssh

from domainpriv.errors import DomainprivError

__all__ = ["HostKeyRefused", "SftpTarget", "TransferError", "Uploaded", "upload_files"]

T = TypeVar("T")
Progress = Callable[[str, int, int], None]  # (file name, bytes done, total bytes)

URL_KEY = "escrow.sftp_url"
IDENTITY_KEY = "escrow.sftp_identity_file"
KNOWN_HOSTS_KEY = "escrow.sftp_known_hosts"
PART_SUFFIX = ".part"
CHUNK_BYTES = 8 * 1024 * 1024  # one timed write; asyncssh splits it into parallel SFTP requests
_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TransferError(DomainprivError):
    """The deposit's files could not be delivered to the escrow agent."""


class HostKeyRefused(TransferError):
    """The SFTP server's host key is not the pinned one (unknown or changed); never retried."""


@dataclass(frozen=True, slots=True)
class SftpTarget:
    """The agent's upload folder: `sftp://user@host:port/path` (port 22 by default).

    As in the sftp URI draft (draft-ietf-secsh-scp-sftp-ssh-uri-04 §3.4) the path is absolute, `/~/folder` is
    relative to the login directory, and no path at all means the login directory itself (".").
    """

    user: str
    host: str
    port: int
    path: str  # remote folder: absolute, or relative to the login directory

    @classmethod
    def parse(cls, url: str) -> SftpTarget:
        """Raises TransferError naming `escrow.sftp_url` and what is wrong with it (never echoing a password)."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise _bad_url(f"it is not a valid URL ({exc})") from None
        if parts.scheme.lower() != "sftp":
            raise _bad_url(f"the scheme must be sftp:// (found {parts.scheme + '://' if parts.scheme else 'none'})")
        if parts.password is not None:
            raise _bad_url(f"it must not carry a password: login is by the key in {IDENTITY_KEY}")
        if parts.query or parts.fragment or url.strip().endswith(("?", "#")):
            raise _bad_url("it must not have a query (?...) or a fragment (#...)")
        user = unquote(parts.username or "")
        if not user or _CONTROL.search(user) or " " in user:
            raise _bad_url("it names no user (sftp://USER@host:port/path)" if not user else "the user name is invalid")
        host = parts.hostname or ""
        if not _valid_host(host):
            raise _bad_url("it names no host" if not host else "the host is neither a host name nor an IP address")
        if port == 0:
            raise _bad_url("the port must be between 1 and 65535")
        path = _remote_folder(parts.path)
        if _CONTROL.search(path):
            raise _bad_url("the path holds control characters")
        return cls(user=user, host=host, port=port or 22, path=path)

    @property
    def address(self) -> str:
        """host:port, as in messages and known_hosts ([v6]:port)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL that parses back to this target."""
        if self.path == ".":
            path = ""
        elif self.path.startswith("/"):
            path = quote(self.path).replace("~", "%7E")  # an absolute folder named ~ is not the login directory
        else:
            path = "/~/" + quote(self.path)
        return f"sftp://{quote(self.user, safe='')}@{self.address}{path}"

    def remote(self, name: str) -> str:
        return posixpath.join(self.path, name)


@dataclass(frozen=True, slots=True)
class Uploaded:
    name: str
    bytes: int
    skipped: bool  # already complete at the agent (same name and size) before this call


def upload_files(
    target: SftpTarget,
    files: Sequence[Path],
    *,
    identity_file: Path,
    known_hosts: Path,
    attempts: int = 5,
    backoff_seconds: float = 2.0,
    timeout_seconds: float = 60.0,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Uploaded]:
    """Deliver `files` into the target folder under their own names; one `Uploaded` per file, in order.

    Rules: see the module docstring. Attempt n+1 waits backoff_seconds × 2^(n-1) after attempt n failed.
    Raises HostKeyRefused; TransferError for unreadable local files, identity or known_hosts, a refused login, an
    SFTP refusal, or when the attempts are exhausted (naming the file in transfer and the last cause).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    batch = _Batch(target, _local_files(files), _credentials(identity_file, known_hosts), timeout_seconds, progress)
    if not batch.files:
        return []
    for attempt in range(1, attempts + 1):
        try:
            _run_coroutine(_deliver(batch))
        except _Retryable as exc:
            batch.last_error = exc
            if attempt < attempts:
                sleep(backoff_seconds * 2 ** (attempt - 1))
        else:
            return [batch.done[f.name] for f in batch.files]
    raise _exhausted(batch, attempts)


@dataclass(frozen=True, slots=True)
class _LocalFile:
    path: Path
    name: str
    size: int


@dataclass(frozen=True, slots=True)
class _Credentials:
    identity_file: Path
    key: asyncssh.SSHKey
    known_hosts_file: Path
    known_hosts: asyncssh.SSHKnownHosts


@dataclass(slots=True)
class _Batch:
    """What one call delivers, and how far it got: shared by its attempts."""

    target: SftpTarget
    files: list[_LocalFile]
    credentials: _Credentials
    timeout_seconds: float
    progress: Progress | None
    done: dict[str, Uploaded] = field(default_factory=dict)
    renamed: set[str] = field(default_factory=set)  # final names this call created (not skipped on a resume)
    current: str | None = None  # the file in transfer, for messages
    last_error: _Retryable | None = None


class _Retryable(Exception):
    """A connection or transport failure, or an incomplete file: a new connection may succeed."""

    def __init__(self, cause: str, file: str | None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.file = file


def _bad_url(problem: str) -> TransferError:
    return TransferError(f"{URL_KEY} is not usable: {problem}; expected sftp://user@host:port/path")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST.fullmatch(host)) and ".." not in host
    return True


def _remote_folder(raw_path: str) -> str:
    """The folder of a URL path, before percent-decoding: an encoded `%7E` is a folder named ~, not the home."""
    if raw_path in ("", "/~", "/~/"):
        return "."
    if raw_path.startswith("/~/"):
        return unquote(raw_path[3:]).rstrip("/") or "."
    return unquote(raw_path).rstrip("/") or "/"


def _local_files(files: Sequence[Path]) -> list[_LocalFile]:
    found: list[_LocalFile] = []
    for path in files:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise TransferError(f"deposit file {path} cannot be read: {exc.strerror}") from None
        if not path.is_file():
            raise TransferError(f"deposit file {path} is not a regular file")
        if path.name in {f.name for f in found}:
            raise TransferError(f"two deposit files are named {path.name}: the upload folder can hold only one")
        found.append(_LocalFile(path, path.name, size))
    return found


def _credentials(identity_file: Path, known_hosts: Path) -> _Credentials:
    """Load the key and the pins before any connection, so a setup mistake is named, not retried."""
    try:
        key = asyncssh.read_private_key(str(identity_file))
    except OSError as exc:
        raise TransferError(f"{IDENTITY_KEY} ({identity_file}) cannot be read: {exc.strerror}") from None
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise TransferError(
            f"{IDENTITY_KEY} ({identity_file}) is not a usable unencrypted SSH private key: {exc}"
        ) from None
    try:
        text = known_hosts.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise TransferError(f"{KNOWN_HOSTS_KEY} ({known_hosts}) cannot be read: {reason}") from None
    _check_known_hosts(text, known_hosts)
    return _Credentials(identity_file, key, known_hosts, asyncssh.import_known_hosts(text))


def _check_known_hosts(text: str, path: Path) -> None:
    """asyncssh skips lines it cannot parse; a pin file that pins nothing must fail loudly instead."""
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip() and line[0] != "#"]
    if not lines:
        raise TransferError(f"{KNOWN_HOSTS_KEY} ({path}) pins no host key: add the agent's known_hosts line")
    for number, fields in lines:
        if fields[0].startswith("@"):
            fields = fields[1:]
        try:
            asyncssh.import_public_key(" ".join(fields[1:3]))
        except (asyncssh.KeyImportError, ValueError):
            raise TransferError(
                f"{KNOWN_HOSTS_KEY} ({path}) line {number} is not a known_hosts line (hosts key-type base64-key)"
            ) from None


def _run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run on a fresh event loop: this thread's, or a helper thread's when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sftp") as pool:
        return pool.submit(asyncio.run, coro).result()


async def _deliver(batch: _Batch) -> None:
    """One connection: deliver every file not done yet. Failures are sorted into retryable or final here."""
    target, timeout = batch.target, batch.timeout_seconds
    conn: asyncssh.SSHClientConnection | None = None
    batch.current = None
    try:
        conn = await asyncio.wait_for(_connect(target, batch.credentials, timeout), timeout)
        sftp = await asyncio.wait_for(conn.start_sftp_client(), timeout)
        await _check_folder(sftp, target, timeout)
        for local in batch.files:
            if local.name not in batch.done:
                batch.current = local.name
                batch.done[local.name] = await _deliver_file(sftp, batch, local)
        batch.current = None
        sftp.exit()
        closing, conn = conn, None  # from here on, nothing is retried
        await _close(closing, timeout)
    except asyncssh.HostKeyNotVerifiable:
        raise HostKeyRefused(
            f"SFTP server {target.address} presented a host key that {KNOWN_HOSTS_KEY} "
            f"({batch.credentials.known_hosts_file}) does not pin (unknown or changed): refusing to upload"
        ) from None
    except asyncssh.PermissionDenied:
        raise TransferError(
            f"SFTP server {target.address} refused the login of {target.user!r} with the key in {IDENTITY_KEY} "
            f"({batch.credentials.identity_file}): is its public half registered with the escrow agent?"
        ) from None
    except (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection) as exc:
        raise _Retryable(_describe(exc), batch.current) from exc
    except asyncssh.SFTPError as exc:
        what = f"{batch.current}" if batch.current else f"the folder {target.path}"
        raise TransferError(f"SFTP server {target.address} refused {what}: {_describe(exc)}") from None
    except TimeoutError as exc:
        raise _Retryable(f"no answer within {timeout:g} s (timeout)", batch.current) from exc
    except (OSError, asyncssh.DisconnectError, asyncssh.ChannelOpenError) as exc:
        raise _Retryable(_describe(exc), batch.current) from exc
    finally:
        if conn is not None:
            conn.abort()  # after a failure: do not wait for a hung server to read a goodbye


async def _close(conn: asyncssh.SSHClientConnection, timeout: float) -> None:
    """Say goodbye politely; every file is confirmed already, so a failure here must not cause a retry."""
    conn.close()
    try:
        await asyncio.wait_for(conn.wait_closed(), timeout)
    except (TimeoutError, OSError, asyncssh.Error):
        conn.abort()


async def _connect(target: SftpTarget, credentials: _Credentials, timeout: float) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        target.host,
        target.port,
        username=target.user,
        known_hosts=credentials.known_hosts,
        client_keys=[credentials.key],
        preferred_auth="publickey",
        agent_path=None,
        password=None,
        config=None,  # no ~/.ssh/config
        x509_trusted_certs=None,  # no ~/.ssh/ca-bundle.crt
        gss_host=None,
        connect_timeout=timeout,
        login_timeout=timeout,
    )


async def _check_folder(sftp: asyncssh.SFTPClient, target: SftpTarget, timeout: float) -> None:
    try:
        is_dir = await asyncio.wait_for(sftp.isdir(target.path), timeout)
    except asyncssh.SFTPNoSuchFile:
        is_dir = False
    if not is_dir:
        raise TransferError(f"the upload folder {target.path} of {URL_KEY} does not exist on {target.address}")


async def _deliver_file(sftp: asyncssh.SFTPClient, batch: _Batch, local: _LocalFile) -> Uploaded:
    target, timeout = batch.target, batch.timeout_seconds
    final = target.remote(local.name)
    part = final + PART_SUFFIX
    existing = await _remote_size(sftp, final, timeout)
    if existing == local.size:
        _report(batch, local.name, local.size, local.size)
        return Uploaded(local.name, local.size, skipped=local.name not in batch.renamed)
    await _write(sftp, batch, local, part)
    await _check_size(sftp, part, local, timeout)
    await _replace(sftp, part, final, stale=existing is not None, timeout=timeout)
    batch.renamed.add(local.name)
    await _check_size(sftp, final, local, timeout)
    return Uploaded(local.name, local.size, skipped=False)


async def _write(sftp: asyncssh.SFTPClient, batch: _Batch, local: _LocalFile, part: str) -> None:
    """Write `part` from scratch (truncating a stale one), one timed chunk at a time."""
    timeout = batch.timeout_seconds
    remote = await asyncio.wait_for(sftp.open(part, "wb"), timeout)
    done = 0
    _report(batch, local.name, 0, local.size)
    with _open_local(local) as source:
        while chunk := _read_local(source, local):
            await asyncio.wait_for(remote.write(chunk, done), timeout)
            done += len(chunk)
            _report(batch, local.name, done, local.size)
    with contextlib.suppress(asyncssh.SFTPOpUnsupported):  # fsync@openssh.com is an extension
        await asyncio.wait_for(remote.fsync(), timeout)
    await asyncio.wait_for(remote.close(), timeout)  # on failure the aborted connection drops the handle


def _open_local(local: _LocalFile) -> BinaryIO:
    try:
        return local.path.open("rb")
    except OSError as exc:
        raise TransferError(f"deposit file {local.path} cannot be read: {exc.strerror}") from None


def _read_local(source: BinaryIO, local: _LocalFile) -> bytes:
    try:
        return source.read(CHUNK_BYTES)
    except OSError as exc:
        raise TransferError(f"deposit file {local.path} cannot be read: {exc.strerror}") from None


async def _replace(sftp: asyncssh.SFTPClient, part: str, final: str, *, stale: bool, timeout: float) -> None:
    """Rename `part` to `final`; a stale `final` is replaced atomically where the server offers posix-rename."""
    try:
        await asyncio.wait_for(sftp.posix_rename(part, final), timeout)
    except asyncssh.SFTPOpUnsupported:
        if stale:
            await asyncio.wait_for(sftp.remove(final), timeout)
        await asyncio.wait_for(sftp.rename(part, final), timeout)


async def _remote_size(sftp: asyncssh.SFTPClient, path: str, timeout: float) -> int | None:
    try:
        attrs = await asyncio.wait_for(sftp.stat(path), timeout)
    except asyncssh.SFTPNoSuchFile:
        return None
    return -1 if attrs.size is None else attrs.size  # -1: a server that reports no size never matches


async def _check_size(sftp: asyncssh.SFTPClient, path: str, local: _LocalFile, timeout: float) -> None:
    size = await _remote_size(sftp, path, timeout)
    if size != local.size:
        found = "missing" if size is None else "of unknown size" if size < 0 else f"{size} bytes"
        raise _Retryable(f"remote {posixpath.basename(path)} is {found}, expected {local.size} bytes", local.name)


def _report(batch: _Batch, name: str, done: int, total: int) -> None:
    if batch.progress is not None:
        batch.progress(name, done, total)


def _describe(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", "") or exc) or "no detail"
    return f"{type(exc).__name__}: {text}"[:300]


def _exhausted(batch: _Batch, attempts: int) -> TransferError:
    pending = [f.name for f in batch.files if f.name not in batch.done]
    last = batch.last_error
    file = last.file if last is not None and last.file else pending[0]
    cause = last.cause if last is not None else "unknown"
    return TransferError(
        f"upload to SFTP server {batch.target.address} gave up after {attempts} attempt(s) at {file} "
        f"({len(pending)} of {len(batch.files)} file(s) not delivered); last error: {cause}"
    )

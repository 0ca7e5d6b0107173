"""Real PostgreSQL servers that a test starts, stops, restarts or kills itself.

The machine's test server (support.databases.pg_url()) is shared by every test and engineer, so it is never
stopped; a test that needs a server to go away or to lag behind gets its own postmaster from here:

* `private_cluster()`: a throw-away initdb'd cluster (trust auth, fsync off) with a database `test`. It accepts
  replication connections, so it can also be the primary of `replica_of`.
* `replica_of(host, port)`: `pg_basebackup -R -X stream` of a running server plus a hot-standby postmaster;
  `replica_of_test_server()` does it for the machine's test server, `wait_for_replay` measures the lag.

Rules (toolchain.md §3, §5): every postmaster listens on 127.0.0.1 only, on a port the OS said was free just
before the first start (restarts keep it, so clients can reconnect), with its unix socket in its own temporary
directory, never /var/run/postgresql. As root the binaries run as `postgres` (initdb and postgres refuse root)
in a directory owned by postgres; it is removed afterwards. Stopping never leaves a process behind: the postmaster
is our direct child (no pg_ctl or runuser in between), and whatever survives a stop or `kill()` is found by its
process title (`postgres: <cluster_name>: …`, unique per cluster) and killed.

Cost: `pg_basebackup` copies the whole primary cluster, every database, and there is no way to leave one out
(physical replication is all or nothing). The machine's test server also holds the benchmarks' scale databases
(domainpriv_bench_scale_*: 1.7 GB on 2 Dec 2026, ~10 GB once the 10m one is loaded); the copy ran at 200–450 MB/s
here, 3–12 s for 1.3 GB depending on the machine's load, so expect 25–50 s at 10 GB. Hence tests share one
replica of it per module (a module-scoped fixture) instead of making one per test. A replica of a private cluster
takes ~1 s. Private clusters: one initdb per test process (1 s idle, 4–6 s on a loaded machine), then a copy of it
and a start, ~0.3 s each.

A hot standby may not be possible at all for a while: see `replica_of` (HotStandbyBlocked).

Durability: fsync=off loses nothing when a postmaster is killed (the kernel still has every write), only on a
machine crash; synchronous_commit stays on, so a commit that returned survives `kill()`.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import IO, Any, Literal

import psycopg
import pytest
from sqlalchemy.engine import make_url

from support.databases import pg_url, services_required
from support.ports import restartable_port

HOST = "127.0.0.1"
SUPERUSER = "postgres"
StopMode = Literal["smart", "fast", "immediate"]
_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
_MAX_SOCKET_DIR = 90  # sun_path holds 107 bytes; postgres appends "/.s.PGSQL.<port>"

# Speed over durability (see the module docstring); replication on, so a private cluster can be a primary.
CLUSTER_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
    "wal_level": "replica",
    "max_wal_senders": "10",
    "wal_keep_size": "256MB",  # a replica started after a burst of writes still finds its WAL
    "shared_buffers": "32MB",
    "logging_collector": "off",
    "log_line_prefix": "%m [%p] ",
}
REPLICA_SETTINGS: Mapping[str, str] = {
    "hot_standby": "on",
    "log_min_messages": "debug1",
    "fsync": "off",
    "logging_collector": "off",
    "log_line_prefix": "%m [%p] ",
    "wal_receiver_status_interval": "1s",
}
# logged at DEBUG1 (hence log_min_messages in REPLICA_SETTINGS) while a standby cannot build its first snapshot
_SNAPSHOT_OVERFLOW = "recovery snapshot waiting for non-overflowed snapshot"
_HBA = """\
# written by tests/support/pg_cluster.py: trust, loopback and this cluster's own socket only
local all all trust
host all all 127.0.0.1/32 trust
local replication all trust
host replication all 127.0.0.1/32 trust
"""
_INITDB_OPTIONS = ("-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions")
# -R: standby.signal and primary_conninfo; fast checkpoint: no wait for a spread one (minutes on an idle server)
_BASEBACKUP_OPTIONS = ("-R", "-X", "stream", "--checkpoint=fast", "--no-sync", "--no-manifest", "--no-password")
# pg_controldata names of the settings a hot standby needs at least as high as its primary's
_STANDBY_MINIMUMS = {
    "max_connections": "max_connections",
    "max_worker_processes": "max_worker_processes",
    "max_wal_senders": "max_wal_senders",
    "max_prepared_xacts": "max_prepared_transactions",
    "max_locks_per_xact": "max_locks_per_transaction",
}


class PostgresStartError(RuntimeError):
    """A postmaster that exited or did not accept connections in time; the message ends with its log."""


class HotStandbyBlocked(PostgresStartError):
    """A standby that cannot accept reads until a transaction of its primary ends (see `replica_of`)."""


# --- binaries and the account they run as -------------------------------------------------------------------


def _server_account() -> pwd.struct_passwd | None:
    """The account the server binaries run as: postgres when we are root (they refuse root), else None (us)."""
    return pwd.getpwnam(SUPERUSER) if os.geteuid() == 0 else None


@cache
def _bindir_major(bindir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "-V"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\) (\d+)", out)
    return int(found.group(1)) if found else None


def pg_bindir(major: int | None = None) -> Path | None:
    """Server binaries of that major version (default: the newest): DOMAINPRIV_PG_BINDIR, Debian's, or PATH."""
    candidates: list[Path] = []
    if override := os.environ.get("DOMAINPRIV_PG_BINDIR"):
        candidates.append(Path(override))
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates += sorted(debian, key=lambda p: int(p.parent.name), reverse=True)
    if on_path := shutil.which("postgres"):
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "postgres").exists() and (major is None or _bindir_major(bindir) == major):
            return bindir
    return None


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment without PG* variables (PGDATA, PGPORT … would redirect the tools) and in the C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if (account := _server_account()) is not None:
        env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    env.update(extra or {})
    return env


def _popen(
    args: Sequence[str | Path], *, cwd: Path, log: IO[bytes], env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a binary as the server account with no process in between, so its PID is the one we signal."""
    account = _server_account()
    return subprocess.Popen(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        user=account.pw_uid if account else None,
        group=account.pw_gid if account else None,
        extra_groups=[] if account else None,
        start_new_session=True,  # terminal signals reach it only through our teardown
    )


def _run(args: Sequence[str | Path], *, cwd: Path, timeout: float = 120.0, env: Mapping[str, str] | None = None) -> str:
    """Run a tool as the server account; its output, or RuntimeError naming the command and its output."""
    account = _server_account()
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        user=account.pw_uid if account else None,
        group=account.pw_gid if account else None,
        extra_groups=[] if account else None,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def _give_to_server(*paths: Path) -> None:
    if (account := _server_account()) is not None:
        for path in paths:
            os.chown(path, account.pw_uid, account.pw_gid)


def _usable_parent(tmp_dir: Path | None) -> Path | None:
    """tmp_dir if the server account may write there and socket paths stay short, else None (system temp).

    pytest's tmp_path is neither when we are root (/tmp/pytest-of-root is 0700, and the paths are long), so it
    is silently replaced: where the cluster lives does not matter, only that it is removed afterwards."""
    if tmp_dir is None or len(str(tmp_dir)) > _MAX_SOCKET_DIR - 20:
        return None
    try:
        _run(["test", "-w", tmp_dir, "-a", "-x", tmp_dir], cwd=Path("/"), timeout=10)
    except (RuntimeError, OSError):
        return None
    return tmp_dir


@contextmanager
def _workdir(tmp_dir: Path | None) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="dp-pg-", dir=_usable_parent(tmp_dir)))
    try:
        _give_to_server(base)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- processes --------------------------------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, state, command line) of every process, from /proc."""
    table: dict[int, tuple[int, str, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), fields[0], cmdline)
    return table


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie has exited: only its parent's reaping is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] not in "ZX"


class Postmaster:
    """One postgres server process on 127.0.0.1 that a test owns: start, stop, restart, kill at will."""

    def __init__(
        self, data_dir: Path, *, socket_dir: Path, log_path: Path, bindir: Path, settings: Mapping[str, str]
    ) -> None:
        self.data_dir = data_dir
        self.socket_dir = socket_dir
        self.log_path = log_path
        self.bindir = bindir
        self.settings = dict(settings)
        self.cluster_name = self.settings.setdefault("cluster_name", data_dir.parent.name)
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}  # seconds: initdb or basebackup, and the last start
        self.snapshot_wait = 5.0  # seconds a hot standby may wait on a subxid overflow (HotStandbyBlocked)
        _ALL.add(self)

    def __repr__(self) -> str:
        state = f"pid {self._proc.pid}" if self.running and self._proc else "stopped"
        return f"<Postmaster {self.cluster_name} port {self._port} {state}>"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("not started yet: the port is chosen just before the first start")
        return self._port

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def url_for(self, url: str) -> str:
        """`url` (its database, options such as a search_path) pointed at this server as the superuser."""
        moved = make_url(url).set(host=HOST, port=self.port, username=SUPERUSER, password=None)
        return moved.render_as_string(hide_password=False)

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
        """An autocommit psycopg connection (use it in `with`)."""
        return psycopg.connect(
            host=HOST, port=self.port, user=SUPERUSER, dbname=database, autocommit=True, connect_timeout=5
        )

    def processes(self) -> list[int]:
        """PIDs of the postmaster and every process of this cluster still alive (orphans included)."""
        title = f"postgres: {self.cluster_name}: "
        table = _proc_table()
        found = {pid for pid, (_, state, cmd) in table.items() if cmd.startswith(title) and state not in "ZX"}
        if self._proc is not None and alive(self._proc.pid):
            root = self._proc.pid
            found.add(root)
            found |= {pid for pid, (ppid, state, _) in table.items() if ppid == root and state not in "ZX"}
        return sorted(found)

    def log_tail(self, lines: int = 40, *, since: int = 0) -> str:
        """The last lines of the server log (from byte offset `since`)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until it accepts connections (a standby: read-only ones); else PostgresStartError."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        started = time.monotonic()
        for attempt in range(3):
            fresh = self._port is None
            if fresh:
                self._port = restartable_port()
            try:
                self._start_once(timeout)
                self.timings["start"] = time.monotonic() - started
                return
            except PostgresStartError as exc:
                taken = "could not bind" in str(exc) or "Address already in use" in str(exc)
                if not (fresh and taken) or attempt == 2:
                    raise
                self._port = None  # someone took the port between asking and binding: ask again

    def _start_once(self, timeout: float) -> None:
        args: list[str | Path] = [self.bindir / "postgres", "-D", self.data_dir, "-p", str(self.port)]
        args += ["-k", self.socket_dir, "-c", f"listen_addresses={HOST}"]
        for key, value in self.settings.items():
            args += ["-c", f"{key}={value}"]
        since = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            _give_to_server(self.log_path)
            self._proc = proc = _popen(args, cwd=self.socket_dir, log=log)
        deadline = time.monotonic() + timeout
        blocked_at: float | None = None
        while True:
            if (code := proc.poll()) is not None:
                self._finish(proc)
                raise PostgresStartError(
                    f"postgres exited with {code} while starting; log:\n{self.log_tail(since=since)}"
                )
            if self._pid_file_status(proc.pid) in ("ready", "standby"):
                try:
                    with self.connect():
                        return
                except psycopg.OperationalError:
                    pass
            now = time.monotonic()
            if blocked_at is None and _SNAPSHOT_OVERFLOW in self.log_tail(10_000, since=since):
                blocked_at = now
            if blocked_at is not None and now - blocked_at > self.snapshot_wait:
                self.kill()
                raise HotStandbyBlocked(
                    f"hot standby still waiting after {self.snapshot_wait} s for a snapshot: its primary has a"
                    " transaction with more than 64 subtransactions open (subxid overflow, e.g. a bulk import with"
                    " a savepoint per batch); reads are possible only once it ends. It logged:\n"
                    + self._overflow_lines(since)
                )
            if now > deadline:
                self.kill()
                raise PostgresStartError(
                    f"postgres accepted no connection within {timeout} s; log:\n{self.log_tail(since=since)}"
                )
            time.sleep(0.02)

    def _overflow_lines(self, since: int) -> str:
        """The standby's last complaint about the overflow and its CONTEXT (the primary's running xids)."""
        lines = self.log_tail(10_000, since=since).splitlines()
        last = max(i for i, line in enumerate(lines) if _SNAPSHOT_OVERFLOW in line)
        return "\n".join(lines[last : last + 2])

    def _pid_file_status(self, pid: int) -> str:
        """Line 8 of postmaster.pid: starting, ready (a primary) or standby (a hot standby accepting reads)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return ""
        return lines[7].strip() if len(lines) >= 8 and lines[0].strip() == str(pid) else ""

    def stop(self, mode: StopMode = "fast", timeout: float = 30.0) -> None:
        """Shut down (smart/fast/immediate, as pg_ctl -m); after `timeout` s, or if anything survives, SIGKILL."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(_STOP_SIGNALS[mode])
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_all(proc)
        self._finish(proc)

    def restart(self, mode: StopMode = "fast", timeout: float = 30.0) -> None:
        """Stop, then start on the same port."""
        self.stop(mode, timeout)
        self.start(timeout)

    def kill(self) -> None:
        """SIGKILL of the postmaster and all its processes at once, as a machine crash would; the next
        `start()` runs crash recovery."""
        proc = self._proc
        if proc is None:
            return
        self._kill_all(proc)
        self._finish(proc)

    def _kill_all(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGSTOP)  # frozen, it forks no new backend while we collect its children
        victims = self.processes()
        for pid in victims:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        self._wait_gone(victims)

    def _finish(self, proc: subprocess.Popen[bytes]) -> None:
        """Reap the postmaster; kill and wait out any process of the cluster that outlived it."""
        proc.wait()
        leftovers = self.processes()
        for pid in leftovers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._wait_gone(leftovers)
        self._proc = None

    @staticmethod
    def _wait_gone(pids: list[int], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while (survivors := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.01)
        if survivors:
            raise RuntimeError(f"postgres processes {survivors} survived SIGKILL")


_ALL: weakref.WeakSet[Postmaster] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """A run interrupted past its teardowns still stops every postmaster it started."""
    for postmaster in list(_ALL):
        postmaster.stop("immediate", timeout=5)


# --- clusters -----------------------------------------------------------------------------------------------


def cluster_unavailable_reason() -> str | None:
    """Why no private cluster can be made here (no server binaries, no postgres account), or None."""
    bindir = pg_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        return "no PostgreSQL server binaries (initdb, postgres) found: install postgresql or set DOMAINPRIV_PG_BINDIR"
    try:
        _server_account()
    except KeyError:
        return f"running as root, but there is no {SUPERUSER!r} account to run the PostgreSQL binaries as"
    return None


def _require(reason: str | None) -> None:
    if reason is not None:
        if services_required():
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


def require_cluster() -> None:
    """Skip (or fail, with DOMAINPRIV_REQUIRE_SERVICES=1) when `private_cluster` cannot work here."""
    _require(cluster_unavailable_reason())


@cache
def _initdb_template(bindir: Path) -> Path:
    """One initdb per test process (1 s idle, 4 s on a busy machine); every private cluster is a copy of it."""
    base = Path(tempfile.mkdtemp(prefix="dp-pg-template-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    _give_to_server(base)
    data = base / "data"
    _run([bindir / "initdb", "-D", data, "-A", "trust", "-U", SUPERUSER, *_INITDB_OPTIONS], cwd=base)
    (data / "pg_hba.conf").write_text(_HBA)
    return data


@contextmanager
def private_cluster(
    tmp_dir: Path | None = None, *, settings: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[Postmaster]:
    """A fresh cluster, started, with a database `test`; stopped and removed afterwards, even on failure.

    `tmp_dir` is only a preferred parent (see `_usable_parent`); `settings` add or override server settings."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError(cluster_unavailable_reason())
    started = time.monotonic()
    template = _initdb_template(bindir)
    with _workdir(tmp_dir) as base:
        data = base / "data"
        _run(["cp", "-a", template, data], cwd=base)
        postmaster = Postmaster(
            data,
            socket_dir=base,
            log_path=base / "postgres.log",
            bindir=bindir,
            settings={**CLUSTER_SETTINGS, **(settings or {})},
        )
        postmaster.timings["initdb"] = time.monotonic() - started
        try:
            postmaster.start(timeout)
            with postmaster.connect() as conn:
                conn.execute("CREATE DATABASE test")
            yield postmaster
        finally:
            postmaster.stop("immediate")


# --- replicas -----------------------------------------------------------------------------------------------


def default_primary() -> tuple[str, int]:
    """Host and port of the machine's test server (DOMAINPRIV_TEST_DATABASE_URL may point elsewhere)."""
    url = make_url(pg_url())
    return url.host or HOST, url.port or 5432


def _replication_connect(host: str, port: int, user: str, password: str | None) -> int:
    """Open (and close) a physical replication connection; the server's major version."""
    with psycopg.connect(
        host=host, port=port, user=user, password=password, dbname="replication", replication="true", connect_timeout=3
    ) as conn:
        return conn.info.server_version // 10000


def replication_unavailable_reason(
    host: str | None = None, port: int | None = None, *, user: str = SUPERUSER, password: str | None = None
) -> str | None:
    """Why no replica of host:port (default: the test server) can be made here, or None."""
    if host is None or port is None:
        host, port = default_primary()
    try:
        major = _replication_connect(host, port, user, password)
    except psycopg.Error as exc:
        hint = " (.ci/ensure-postgres adds `host replication all 127.0.0.1/32 trust`)" if "pg_hba" in str(exc) else ""
        return f"no replication connection to PostgreSQL at {host}:{port}{hint}: {exc!s:.300}"
    bindir = pg_bindir(major)
    if bindir is None or not (bindir / "pg_basebackup").exists():
        return f"no PostgreSQL {major} binaries (pg_basebackup, postgres) to run a replica of {host}:{port}"
    if (reason := cluster_unavailable_reason()) is not None:
        return reason
    return None


def require_replication(host: str | None = None, port: int | None = None) -> None:
    """Skip (or fail, with DOMAINPRIV_REQUIRE_SERVICES=1) when no replica of host:port can be made."""
    _require(replication_unavailable_reason(host, port))


def _standby_minimums(bindir: Path, data: Path) -> dict[str, str]:
    """The primary's settings a hot standby must match or exceed, read from the copied control file."""
    out = _run([bindir / "pg_controldata", data], cwd=data.parent, timeout=30)
    found = dict(re.findall(r"^(\w+) setting:\s+(\d+)$", out, flags=re.MULTILINE))
    return {setting: found[name] for name, setting in _STANDBY_MINIMUMS.items() if name in found}


@contextmanager
def replica_of(
    primary_host: str,
    primary_port: int,
    tmp_dir: Path | None = None,
    *,
    user: str = SUPERUSER,
    password: str | None = None,
    settings: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    snapshot_wait: float = 5.0,
) -> Iterator[Postmaster]:
    """A streaming hot standby of the server at primary_host:primary_port, started and accepting reads;
    stopped and removed afterwards. The primary must accept replication connections (.ci/ensure-postgres).

    A hot standby accepts no connection before it has a snapshot of the primary's running transactions, and
    while one of them has overflowed its subtransaction cache (> 64 savepoints, as the bulk importer's one
    transaction does with a savepoint per batch) it gets none until that transaction ends: HotStandbyBlocked
    after `snapshot_wait` s, naming the primary's open transactions, rather than a wait of unknown length."""
    major = _replication_connect(primary_host, primary_port, user, password)
    bindir = pg_bindir(major)
    if bindir is None:
        raise RuntimeError(f"no PostgreSQL {major} binaries to run a replica with")
    with _workdir(tmp_dir) as base:
        data = base / "data"
        started = time.monotonic()
        primary = ["-h", primary_host, "-p", str(primary_port), "-U", user]
        _run(
            [bindir / "pg_basebackup", *primary, "-D", data, *_BASEBACKUP_OPTIONS],
            cwd=base,
            timeout=timeout,
            env={"PGPASSWORD": password} if password else None,
        )
        # A Debian cluster keeps its configuration in /etc, which the backup does not copy.
        for name, text in (("postgresql.conf", ""), ("pg_hba.conf", _HBA), ("pg_ident.conf", "")):
            if not (data / name).exists():
                (data / name).write_text(text)
                _give_to_server(data / name)
        postmaster = Postmaster(
            data,
            socket_dir=base,
            log_path=base / "postgres.log",
            bindir=bindir,
            settings={**REPLICA_SETTINGS, **_standby_minimums(bindir, data), **(settings or {})},
        )
        postmaster.timings["basebackup"] = time.monotonic() - started
        postmaster.snapshot_wait = snapshot_wait
        try:
            try:
                postmaster.start(timeout)
            except HotStandbyBlocked as exc:
                open_xacts = _open_transactions(primary_host, primary_port, user, password)
                raise HotStandbyBlocked(
                    f"{exc}\nopen transactions on {primary_host}:{primary_port}: {open_xacts}"
                ) from None
            yield postmaster
        finally:
            postmaster.stop("immediate")


def _open_transactions(host: str, port: int, user: str, password: str | None) -> str:
    """The oldest transactions holding an xid on the server, for the message of HotStandbyBlocked."""
    query = """
        SELECT string_agg(format('pid %s in %s since %s (xid %s)', pid, datname, xact_start, backend_xid), '; ')
        FROM (SELECT * FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY xact_start LIMIT 5) AS oldest
    """
    try:
        with psycopg.connect(
            host=host, port=port, user=user, password=password, dbname="postgres", connect_timeout=3
        ) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.Error as exc:
        return f"unknown ({exc!s:.100})"
    return str(row[0]) if row and row[0] else "none left"


@contextmanager
def replica_of_test_server(tmp_dir: Path | None = None, **options: Any) -> Iterator[Postmaster]:
    """`replica_of` the machine's test server, with the user and password of its URL; skips when impossible."""
    url = make_url(pg_url())
    host, port = default_primary()
    user = url.username or SUPERUSER
    _require(replication_unavailable_reason(host, port, user=user, password=url.password))
    with ExitStack() as stack:
        try:
            replica = stack.enter_context(replica_of(host, port, tmp_dir, user=user, password=url.password, **options))
        except HotStandbyBlocked as exc:
            _require(f"the test server at {host}:{port} can have no hot standby right now: {exc}")
            raise
        yield replica


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as a libpq URI for psycopg.connect."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def wait_for_replay(primary_url: str, replica_url: str, timeout_seconds: float = 10.0) -> float:
    """Wait until the replica has replayed the primary's current WAL position; the seconds it took.

    TimeoutError when it has not within `timeout_seconds` (the message says how far it got)."""
    with psycopg.connect(libpq_url(primary_url), autocommit=True) as primary:
        row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    target: str = row[0]
    started = time.monotonic()
    # autocommit: a standby transaction held open would hold a snapshot, which can delay replay itself
    with psycopg.connect(libpq_url(replica_url), autocommit=True) as replica:
        while True:
            state = replica.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, pg_last_wal_replay_lsn() >= %s::pg_lsn",
                (target,),
            ).fetchone()
            assert state is not None
            in_recovery, replayed, caught_up = state
            if not in_recovery:
                raise ValueError(f"{make_url(replica_url).render_as_string()} is not a standby")
            elapsed = time.monotonic() - started
            if caught_up:
                return elapsed
            if elapsed > timeout_seconds:
                raise TimeoutError(f"replica replayed up to {replayed}, not {target}, within {timeout_seconds} s")
            time.sleep(0.005)

"""The CLI against a database it cannot use: one `error: ` line naming the database and what to do, exit 1.

Every command is its own real `python -m domainpriv` process (about 0.8 s of CPU each, mostly imports), and the
processes of one case run side by side. All commands but `db upgrade` reach the database the same way (`_uow`:
check the schema, then work), and how an error is classified does not depend on the command. So every command
runs against the two cases that would catch one bypassing that path (an unreachable server: the error escapes to
`main`; an empty SQLite file: the schema check must speak first); the other cases run the issue's three commands.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from domainpriv.store import make_engine
from domainpriv.store.availability import SchemaNotReady, check_schema
from domainpriv.store.migrate import head_revision, upgrade
from support.databases import pg_url, require_postgres

NAME = "bakery-0.com"
UPGRADE = ("db", "upgrade")
COMMANDS = [
    UPGRADE,
    ("demo", "summary"),
    ("whois", NAME),
    ("rdap", NAME),
    ("domain", "show", NAME),
    ("export",),
    ("audit", "verify"),
    ("privacy", "set", NAME, "proxy"),
]
USING = [c for c in COMMANDS if c != UPGRADE]  # what must say "run `domainpriv db upgrade`" on an empty database
ISSUE = [UPGRADE, ("demo", "summary"), ("whois", NAME)]  # the commands the issue quotes


def run(db_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_")}
    env["DOMAINPRIV_DATABASE_URL"] = db_url
    return subprocess.run(
        [sys.executable, "-m", "domainpriv", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_each(db_url: str, cwd: Path, commands: list[tuple[str, ...]]) -> dict[tuple[str, ...], list[str]]:
    """Run every command side by side; assert each failed with exactly one `error: ` line; return those lines."""
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        procs = dict(zip(commands, pool.map(lambda args: run(db_url, cwd, *args), commands), strict=True))
    lines = {}
    for args, proc in procs.items():
        assert proc.returncode == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        assert proc.stdout == "", (args, proc.stdout)
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("error: "), (args, proc.stderr)
        lines[args] = proc.stderr.splitlines()
    return lines


def closed_port() -> int:
    """A loopback port nobody listens on (bound for a moment to learn it, never listened on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_server_is_named_without_its_password(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql+psycopg://app:s3cret-pw@127.0.0.1:{port}/x"
    for args, (line,) in run_each(url, tmp_path, COMMANDS).items():
        assert f"postgresql://app@127.0.0.1:{port}/x" in line, args
        assert "connection refused" in line and "DOMAINPRIV_DATABASE_URL" in line, args
        assert "s3cret-pw" not in line and "***" not in line, args
        assert "Is the server running" not in line, args  # libpq's text is never copied


def test_missing_database_says_it_does_not_exist(tmp_path: Path) -> None:
    require_postgres()
    name = f"domainpriv_no_such_db_{uuid.uuid4().hex[:10]}"
    url = make_url(pg_url()).set(database=name).render_as_string(hide_password=False)
    for args, (line,) in run_each(url, tmp_path, ISSUE).items():
        assert f"/{name}: the database does not exist" in line, args
        assert f"createdb {name}" in line and "domainpriv db upgrade" in line, args


def test_empty_database_says_run_db_upgrade(db_url: str, tmp_path: Path) -> None:
    commands = USING if db_url.startswith("sqlite") else [c for c in ISSUE if c != UPGRADE]
    for args, (line,) in run_each(db_url, tmp_path, commands).items():
        assert "has no domainpriv schema yet: run `domainpriv db upgrade`" in line, args
    assert "upgraded from empty" in run(db_url, tmp_path, *UPGRADE).stdout  # and that is indeed the cure


@pytest.mark.parametrize("where", ["under-a-file", "is-a-folder"])
def test_unusable_sqlite_path_is_one_line(tmp_path: Path, where: str) -> None:
    if where == "under-a-file":
        (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
        path, says = tmp_path / "a-file" / "sub" / "domainpriv.sqlite3", "its folder cannot be created"
    else:
        (tmp_path / "a-folder.sqlite3").mkdir()
        path, says = tmp_path / "a-folder.sqlite3", "the SQLite file cannot be opened"
    for args, (line,) in run_each(f"sqlite:///{path}", tmp_path, ISSUE).items():
        assert line.startswith(f"error: cannot use database {path}: {says}"), args


def test_schema_behind_the_code_names_both_revisions(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    engine.dispose()
    (line,) = run_each(db_url, tmp_path, [("demo", "summary")])[("demo", "summary")]
    assert line.endswith(f"is at revision 0001, this version needs {head_revision()}: run `domainpriv db upgrade`")


def test_schema_ahead_of_the_code_is_refused(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaNotReady) as caught:
        check_schema(engine)
    engine.dispose()
    assert caught.value.newer and (caught.value.current, caught.value.head) == ("9999", head_revision())
    assert "newer than this version of domainpriv knows" in str(caught.value)
    assert "db upgrade" not in str(caught.value)
    if db_url.startswith("sqlite"):  # one process is enough: the classification is the same on both backends
        (line,) = run_each(db_url, tmp_path, [UPGRADE])[UPGRADE]
        assert line == f"error: {caught.value}"

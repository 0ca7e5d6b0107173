"""The escrow commands as an operator runs them (subprocesses), and runs killed with SIGKILL at any moment."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from support import pgp_keys
from support.daemons import daemon_env
from support.escrow import escrow_env, run_cli
from support.pgp_keys import EscrowKeys, gpg_decrypt

escrow_keys = pgp_keys.escrow_keys  # the shared fixture


run = run_cli


def spawn(db_url: str, env: Mapping[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "domainpriv", *args], env=daemon_env(db_url, env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def states(db_url: str) -> list[tuple[int, str, int]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT id, state, revision FROM escrow_deposit ORDER BY id"))]
    finally:
        engine.dispose()


@pytest.fixture
def loaded(db_url: str, escrow_keys: EscrowKeys, tmp_path: Path) -> tuple[str, dict[str, str]]:
    env = escrow_env(escrow_keys, tmp_path / "escrow")
    run(db_url, env, "db", "upgrade")
    run(db_url, env, "demo", "load", "--domains", "60")
    return db_url, env


def test_run_list_show_verify_restore_and_mapping(loaded: tuple[str, dict[str, str]], escrow_keys: EscrowKeys) -> None:
    db_url, env = loaded
    made = run(db_url, env, "escrow", "run", "--no-upload").stdout
    assert made.startswith("deposit 1 (") and ": built, 60 domains" in made
    listed = json.loads(run(db_url, env, "escrow", "list", "--json").stdout)
    assert [(d["id"], d["state"], d["kind"]) for d in listed] == [(1, "built", "full")]
    shown = json.loads(run(db_url, env, "escrow", "show", "1", "--json").stdout)
    assert {f["role"] for f in shown["files"]} == {"data", "signature", "hash"}
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in shown["files"])
    assert "verified" in run(db_url, env, "escrow", "verify", "1").stdout
    drill = run(db_url, env, "escrow", "restore-test", "1", "--agent-secret-key", str(escrow_keys.agent_secret_key))
    assert "identical" in drill.stdout
    mapping = subprocess.run([sys.executable, "-m", "domainpriv", "escrow", "mapping"], env=daemon_env(db_url, env),
                             capture_output=True, check=True).stdout  # fmt: skip
    assert mapping.startswith(b"ICANN RDE Spec,Field Name,Abbreviation\r\n8.1.1,domain,domainname\r\n")
    # A drill with a key that cannot decrypt the deposit fails with one line naming the problem.
    wrong = run(db_url, env, "escrow", "restore-test", "1", "--agent-secret-key", str(escrow_keys.registrar_public_key),
                check=False)  # fmt: skip
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: ") and wrong.stderr.count("\n") == 1


def test_configuration_mistakes_are_one_line_naming_the_key(loaded: tuple[str, dict[str, str]],
                                                             tmp_path: Path) -> None:  # fmt: skip
    db_url, env = loaded
    missing = run(db_url, {**env, "DOMAINPRIV_ESCROW_AGENT_PUBLIC_KEY": str(tmp_path / "agent.asc")},
                  "escrow", "run", "--no-upload", check=False)  # fmt: skip
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1, missing.stderr
    assert missing.stderr.startswith("error: ") and "agent.asc" in missing.stderr
    cron = run(db_url, {**env, "DOMAINPRIV_ESCROW_FULL_CRON": "every sunday"}, "sweep", check=False)
    assert cron.returncode == 1 and cron.stderr.count("\n") == 1, cron.stderr
    assert "escrow.full_cron" in cron.stderr
    upload = run(db_url, env, "escrow", "run", check=False)  # no sftp_url, upload asked (by default: no)
    assert upload.returncode == 0
    assert states(db_url) == [(1, "built", 0)]


def test_a_run_killed_while_building_is_finished_by_the_next_one(
    db_url: str, escrow_keys: EscrowKeys, tmp_path: Path
) -> None:
    env = escrow_env(escrow_keys, tmp_path / "escrow", DOMAINPRIV_ESCROW_MAX_ROWS_PER_FILE="400")
    run(db_url, env, "db", "upgrade")
    run(db_url, env, "demo", "load", "--domains", "3000")
    rng = random.Random(7)
    folder = tmp_path / "escrow"
    for _ in range(2):  # killed twice, at a random moment of the build
        proc = spawn(db_url, env, "escrow", "run", "--no-upload")
        deadline = time.monotonic() + 60
        while not any(s == "building" for _, s, _ in states(db_url)) and time.monotonic() < deadline:
            time.sleep(0.02)
        # A random point of the build, by its progress (files written so far), not by time: on a fast machine a
        # timed kill came after the run had finished, and the next run was then, rightly, a new revision.
        files_at_kill = rng.randint(0, 4)
        while sum(1 for p in folder.rglob("*") if p.is_file()) < files_at_kill and proc.poll() is None:
            time.sleep(0.002)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        for path in folder.rglob("*.gpg"):  # whatever carries a final name is complete
            code, status = gpg_decrypt(escrow_keys.agent_home, path, tmp_path / "check.out")
            assert code == 0 and "GOODSIG" in status, path
    finished = run(db_url, env, "escrow", "run", "--no-upload").stdout
    assert ": built, 3000 domains" in finished
    rows = states(db_url)
    assert len(rows) == 1 and rows[0][1:] == ("built", 0)  # one deposit, resumed: nothing doubled
    shown = json.loads(run(db_url, env, "escrow", "show", "1", "--json").stdout)
    folder = next(p for p in (tmp_path / "escrow").iterdir() if p.name != ".work")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f["name"] for f in shown["files"])
    assert shown["attempts"] >= 2
    assert not list((tmp_path / "escrow" / ".work").rglob("*.csv*"))
    drill = run(db_url, env, "escrow", "restore-test", "1", "--agent-secret-key", str(escrow_keys.agent_secret_key))
    assert "identical" in drill.stdout

"""Deposits uploaded to real SFTP servers (a run killed mid-upload included), and scheduled by daemons: a missed
run caught up at start, exactly one deposit with two daemons on one database."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import create_engine, text

from support import pgp_keys, sftp_servers
from support.daemons import daemon, daemon_env
from support.escrow import escrow_env, run_cli
from support.pgp_keys import EscrowKeys
from support.sftp_servers import Fault, SftpServer

openssh_sftp = sftp_servers.openssh_sftp  # the shared fixture

escrow_keys = pgp_keys.escrow_keys  # the shared fixture


def env_for(keys: EscrowKeys, out: Path, server: SftpServer | None = None, **extra: str) -> dict[str, str]:
    env = escrow_env(keys, out, **extra)
    if server is not None:
        env |= {
            "DOMAINPRIV_ESCROW_SFTP_URL": server.url,
            "DOMAINPRIV_ESCROW_SFTP_IDENTITY_FILE": str(server.identity_file),
            "DOMAINPRIV_ESCROW_SFTP_KNOWN_HOSTS": str(server.known_hosts),
            "DOMAINPRIV_ESCROW_UPLOAD_BACKOFF_SECONDS": "0.1",
        }
    return env


cli = run_cli


def deposits(db_url: str) -> list[dict[str, object]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, kind, state, revision, trigger, scheduled_for FROM escrow_deposit"
                                     " ORDER BY id")).mappings().all()  # fmt: skip
            return [dict(r) for r in rows]
    finally:
        engine.dispose()


def uploaded_as_built(db_url: str, env: Mapping[str, str], server: SftpServer, deposit_id: int) -> None:
    shown = json.loads(cli(db_url, env, "escrow", "show", str(deposit_id), "--json").stdout)
    assert shown["state"] == "uploaded" and all(f["uploaded_at"] for f in shown["files"])
    assert sorted(server.names()) == sorted(f["name"] for f in shown["files"])  # no .part left, nothing else
    for f in shown["files"]:
        data = (server.upload_dir / f["name"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (f["bytes"], f["sha256"])


def prepared(db_url: str, env: Mapping[str, str], domains: int = 60) -> None:
    cli(db_url, env, "db", "upgrade")
    cli(db_url, env, "demo", "load", "--domains", str(domains))


def test_a_deposit_is_uploaded_to_an_openssh_server(
    db_url: str, escrow_keys: EscrowKeys, tmp_path: Path, openssh_sftp: SftpServer
) -> None:
    env = env_for(escrow_keys, tmp_path / "escrow", openssh_sftp)
    prepared(db_url, env)
    assert ": uploaded, 60 domains" in cli(db_url, env, "escrow", "run").stdout
    uploaded_as_built(db_url, env, openssh_sftp, 1)
    # A changed host key is refused with one clear line; the deposit stays failed, and a later run finishes it.
    other = tmp_path / "other_known_hosts"
    other.write_text(openssh_sftp.host_key_line.rsplit(" ", 1)[0] + " " + _another_key(tmp_path) + "\n")
    refused = cli(db_url, {**env, "DOMAINPRIV_ESCROW_SFTP_KNOWN_HOSTS": str(other)}, "escrow", "run", check=False)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "host key" in refused.stderr
    assert [d["state"] for d in deposits(db_url)] == ["uploaded", "failed"]
    cli(db_url, env, "escrow", "run")
    assert [(d["state"], d["revision"]) for d in deposits(db_url)] == [("uploaded", 0), ("uploaded", 1)]


def test_a_run_killed_while_uploading_is_finished_by_the_next_one(
    db_url: str, escrow_keys: EscrowKeys, tmp_path: Path
) -> None:
    fault = Fault("stall", after_bytes=1000)
    with sftp_servers.asyncssh_sftp_server(tmp_path / "agent", fault=fault) as server:
        env = env_for(escrow_keys, tmp_path / "escrow", server, DOMAINPRIV_ESCROW_UPLOAD_TIMEOUT_SECONDS="60")
        prepared(db_url, env, domains=500)
        proc = subprocess.Popen([sys.executable, "-m", "domainpriv", "escrow", "run"], env=daemon_env(db_url, env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.monotonic() + 60
        while not fault.fired and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fault.fired, "the upload never reached the stall"
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert [d["state"] for d in deposits(db_url)] == ["uploading"]
        assert all(n.endswith(".part") or (server.upload_dir / n).stat().st_size > 0 for n in server.names())
        assert ": uploaded, 500 domains" in cli(db_url, env, "escrow", "run").stdout
        assert [(d["state"], d["revision"]) for d in deposits(db_url)] == [("uploaded", 0)]  # resumed, not doubled
        uploaded_as_built(db_url, env, server, 1)


def test_two_daemons_make_one_scheduled_deposit_and_catch_up_a_missed_one(
    db_url: str, escrow_keys: EscrowKeys, tmp_path: Path
) -> None:
    fast = {"DOMAINPRIV_SCHEDULER_LEADER_POLL_SECONDS": "0.2", "DOMAINPRIV_SCHEDULER_SWEEP_INTERVAL_SECONDS": "0.3"}
    env = env_for(escrow_keys, tmp_path / "escrow", DOMAINPRIV_ESCROW_INCREMENTAL_CRON="", **fast)
    prepared(db_url, env)
    with daemon(db_url, tmp_path, extra_env=env) as (first, _, _), daemon(db_url, tmp_path, extra_env=env):
        deadline = time.monotonic() + 60
        while not [d for d in deposits(db_url) if d["state"] == "built"] and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # several sweeps of both daemons
        made = deposits(db_url)
        first.kill()  # whoever leads, the survivor sweeps from now on and finds the deposit made
        first.wait(timeout=10)
        time.sleep(2.0)
        assert deposits(db_url) == made
    assert len(made) == 1
    (deposit,) = made
    assert (deposit["kind"], deposit["state"], deposit["revision"], deposit["trigger"]) == ("full", "built", 0,
                                                                                          "schedule")  # fmt: skip
    # The catch-up made the deposit of the newest missed Sunday 00:00 UTC.
    scheduled = deposit["scheduled_for"]
    assert scheduled is not None and str(scheduled)[11:19] == "00:00:00"
    assert cli(db_url, env, "sweep").stdout == "nothing was due\n"  # a late, doubled trigger doubles nothing
    assert deposits(db_url) == made


def _another_key(tmp_path: Path) -> str:
    """The base64 of a fresh ed25519 host key: the pin of a server that is not the agent."""
    key = sftp_servers.make_key(tmp_path / "impostor")
    return sftp_servers.public_line(key).split()[1]

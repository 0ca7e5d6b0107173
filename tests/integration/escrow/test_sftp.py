"""The SFTP transfer of escrow deposits against real servers: OpenSSH's sshd and asyncssh (one that misbehaves).

Every upload is checked byte for byte (SHA-256) in the server's folder; retries and timeouts run against servers
that really drop or stall connections; the backoff is observed through the injected `sleep`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domainpriv.errors import DomainprivError
from domainpriv.escrow.sftp import HostKeyRefused, SftpTarget, TransferError, Uploaded, upload_files
from support import sftp_servers
from support.sftp_servers import HOST, Fault, SftpServer, asyncssh_sftp_server, known_hosts_line, make_key

MiB = 1024 * 1024
openssh_sftp = sftp_servers.openssh_sftp  # the shared fixtures, as other tests use them
asyncssh_sftp = sftp_servers.asyncssh_sftp


@pytest.fixture(params=["openssh_sftp", "asyncssh_sftp"], ids=["openssh", "asyncssh"])
def server(request: pytest.FixtureRequest) -> SftpServer:
    result: SftpServer = request.getfixturevalue(request.param)
    return result


@pytest.fixture
def deposit(tmp_path: Path) -> list[Path]:
    """A deposit's files: a data file larger than one write chunk (8 MiB), its signature, an empty file."""
    folder = tmp_path / "deposit"
    folder.mkdir()
    data = folder / "example_2026-11-01_full_S1_R0.ryde"
    data.write_bytes(os.urandom(9 * MiB + 123))
    signature = folder / "example_2026-11-01_full_S1_R0.sig"
    signature.write_bytes(os.urandom(310))
    empty = folder / "example_2026-11-01_full_S1_R0.empty"
    empty.write_bytes(b"")
    return [data, signature, empty]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload(server: SftpServer, files: list[Path], **options: object) -> list[Uploaded]:
    options.setdefault("identity_file", server.identity_file)
    options.setdefault("known_hosts", server.known_hosts)
    return upload_files(SftpTarget.parse(server.url), files, **options)  # type: ignore[arg-type]


# --- delivery ----------------------------------------------------------------------------------------------------


def test_upload_files_delivers_every_file_intact_and_a_rerun_skips_them(
    server: SftpServer, deposit: list[Path]
) -> None:
    events: list[tuple[str, int, int]] = []
    sleeps: list[float] = []

    first = upload(server, deposit, progress=lambda *event: events.append(event), sleep=sleeps.append)

    assert first == [Uploaded(p.name, p.stat().st_size, skipped=False) for p in deposit]
    assert server.names() == sorted(p.name for p in deposit)  # no .part left
    for path in deposit:
        assert sha256(server.upload_dir / path.name) == sha256(path)
        done = [d for name, d, total in events if name == path.name]
        assert done == sorted(done) and done[-1] == path.stat().st_size
    assert sleeps == []

    before = {p.name: (server.upload_dir / p.name).stat().st_mtime_ns for p in deposit}
    again = upload(server, deposit, sleep=sleeps.append)

    assert again == [Uploaded(p.name, p.stat().st_size, skipped=True) for p in deposit]
    assert {p.name: (server.upload_dir / p.name).stat().st_mtime_ns for p in deposit} == before
    assert sleeps == []


def test_a_stale_part_and_a_stale_final_file_of_another_size_are_replaced(
    server: SftpServer, deposit: list[Path]
) -> None:
    data, signature, _ = deposit
    (server.upload_dir / (data.name + ".part")).write_bytes(os.urandom(10 * MiB))  # longer than the real file
    (server.upload_dir / signature.name).write_bytes(b"half a signature")

    result = upload(server, [data, signature])

    assert [u.skipped for u in result] == [False, False]
    assert server.names() == sorted([data.name, signature.name])
    assert sha256(server.upload_dir / data.name) == sha256(data)
    assert sha256(server.upload_dir / signature.name) == sha256(signature)


def test_a_url_without_path_uploads_to_the_login_directory(openssh_sftp: SftpServer, deposit: list[Path]) -> None:
    """sshd's `ForceCommand internal-sftp -d <folder>` starts the session in the upload folder."""
    target = SftpTarget.parse(f"sftp://{openssh_sftp.user}@{HOST}:{openssh_sftp.port}")
    assert target.path == "."

    upload_files(target, deposit[1:], identity_file=openssh_sftp.identity_file, known_hosts=openssh_sftp.known_hosts)

    assert openssh_sftp.names() == sorted(p.name for p in deposit[1:])


def test_upload_files_runs_from_a_worker_thread_and_inside_a_running_event_loop(
    asyncssh_sftp: SftpServer, deposit: list[Path]
) -> None:
    async def from_a_worker_thread() -> list[Uploaded]:
        return await asyncio.to_thread(upload, asyncssh_sftp, deposit[1:2])

    async def blocking_inside_the_loop() -> list[Uploaded]:
        return upload(asyncssh_sftp, deposit[2:])

    assert [u.name for u in asyncio.run(from_a_worker_thread())] == [deposit[1].name]
    assert [u.name for u in asyncio.run(blocking_inside_the_loop())] == [deposit[2].name]
    assert asyncssh_sftp.names() == sorted(p.name for p in deposit[1:])


# --- refusals ------------------------------------------------------------------------------------------------------


def test_a_changed_host_key_is_refused_and_nothing_is_written(server: SftpServer, deposit: list[Path]) -> None:
    pins = server.known_hosts.with_name("changed_known_hosts")
    pins.write_text(known_hosts_line(HOST, server.port, make_key(pins.with_name("other_host_key"))))
    sleeps: list[float] = []

    with pytest.raises(HostKeyRefused) as refused:
        upload(server, deposit, known_hosts=pins, sleep=sleeps.append)

    message = str(refused.value)
    assert f"SFTP server {HOST}:{server.port} presented a host key" in message
    assert "escrow.sftp_known_hosts" in message and "refusing to upload" in message
    assert server.names() == []
    assert sleeps == []  # never retried


def test_an_unknown_host_is_refused(asyncssh_sftp: SftpServer, deposit: list[Path]) -> None:
    """The right key, pinned for another host:port, does not vouch for this one."""
    pins = asyncssh_sftp.known_hosts.with_name("elsewhere_known_hosts")
    pins.write_text(asyncssh_sftp.host_key_line.replace(f"[{HOST}]:{asyncssh_sftp.port}", "escrow.example.net"))

    with pytest.raises(HostKeyRefused, match=r"unknown or changed"):
        upload(asyncssh_sftp, deposit, known_hosts=pins)
    assert asyncssh_sftp.names() == []


def test_a_refused_login_is_named_and_not_retried(server: SftpServer, deposit: list[Path], tmp_path: Path) -> None:
    stranger = tmp_path / "stranger" / "id_ed25519"
    make_key(stranger)
    sleeps: list[float] = []

    with pytest.raises(TransferError) as refused:
        upload(server, deposit, identity_file=stranger, attempts=3, sleep=sleeps.append)

    assert not isinstance(refused.value, HostKeyRefused)
    assert f"{HOST}:{server.port} refused the login of {server.user!r}" in str(refused.value)
    assert "escrow.sftp_identity_file" in str(refused.value)
    assert sleeps == []
    assert server.names() == []


def test_a_missing_upload_folder_is_named(asyncssh_sftp: SftpServer, deposit: list[Path]) -> None:
    target = SftpTarget.parse(asyncssh_sftp.url.replace("/incoming", "/outgoing"))
    sleeps: list[float] = []

    with pytest.raises(TransferError, match=r"upload folder /outgoing of escrow.sftp_url does not exist"):
        upload_files(target, deposit, identity_file=asyncssh_sftp.identity_file,
                     known_hosts=asyncssh_sftp.known_hosts, sleep=sleeps.append)  # fmt: skip
    assert sleeps == []


def encrypted_key(folder: Path) -> Path:
    path = folder / "encrypted_id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(path)], check=True)
    return path


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("no identity", r"escrow.sftp_identity_file \(.*missing_id\) cannot be read: No such file"),
        ("garbage identity", r"escrow.sftp_identity_file \(.*\) is not a usable unencrypted SSH private key"),
        ("encrypted identity", r"escrow.sftp_identity_file \(.*\) is not a usable unencrypted SSH private key"),
        ("no known_hosts", r"escrow.sftp_known_hosts \(.*missing_known_hosts\) cannot be read: No such file"),
        ("empty known_hosts", r"escrow.sftp_known_hosts \(.*\) pins no host key"),
        ("garbage known_hosts", r"escrow.sftp_known_hosts \(.*\) line 2 is not a known_hosts line"),
    ],
)
def test_setup_mistakes_are_named_before_any_connection(
    setup: str, expected: str, asyncssh_sftp: SftpServer, deposit: list[Path], tmp_path: Path
) -> None:
    identity, pins = asyncssh_sftp.identity_file, asyncssh_sftp.known_hosts
    if setup == "no identity":
        identity = tmp_path / "missing_id"
    elif setup == "garbage identity":
        identity = tmp_path / "garbage_id"
        identity.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n")
    elif setup == "encrypted identity":
        identity = encrypted_key(tmp_path)
    elif setup == "no known_hosts":
        pins = tmp_path / "missing_known_hosts"
    else:
        pins = tmp_path / "known_hosts"
        pins.write_text(
            "# onboarding\n\n" if setup == "empty known_hosts" else f"{asyncssh_sftp.host_key_line}garbage\n"
        )
    sleeps: list[float] = []

    with pytest.raises(TransferError, match=expected) as refused:
        upload(asyncssh_sftp, deposit, identity_file=identity, known_hosts=pins, sleep=sleeps.append)

    assert "a passphrase" not in str(refused.value)
    assert sleeps == [] and asyncssh_sftp.names() == []


def test_unreadable_or_duplicate_local_files_are_named(asyncssh_sftp: SftpServer, deposit: list[Path]) -> None:
    with pytest.raises(TransferError, match=r"deposit file .*gone.ryde cannot be read"):
        upload(asyncssh_sftp, [deposit[0].with_name("gone.ryde")])
    with pytest.raises(TransferError, match=r"deposit file .* is not a regular file"):
        upload(asyncssh_sftp, [deposit[0].parent])
    twin = deposit[0].parent / "twin"
    twin.mkdir()
    (twin / deposit[1].name).write_bytes(b"x")
    with pytest.raises(TransferError, match=r"two deposit files are named"):
        upload(asyncssh_sftp, [deposit[1], twin / deposit[1].name])
    assert asyncssh_sftp.names() == []


# --- retries and timeouts ----------------------------------------------------------------------------------------


def test_a_connection_dropped_mid_upload_is_retried_and_resumes_with_the_files_not_done(
    tmp_path: Path, deposit: list[Path]
) -> None:
    data, signature, _ = deposit
    fault = Fault("drop", after_bytes=2 * MiB)
    events: list[tuple[str, int, int]] = []
    sleeps: list[float] = []

    with asyncssh_sftp_server(tmp_path / "server", fault=fault) as server:
        result = upload(server, [signature, data], attempts=3, backoff_seconds=0.25, sleep=sleeps.append,
                        progress=lambda *event: events.append(event))  # fmt: skip
        names = server.names()
        digests = {name: sha256(server.upload_dir / name) for name in names}

    assert fault.fired == 1 and sleeps == [0.25]
    assert result == [Uploaded(signature.name, 310, skipped=False), Uploaded(data.name, data.stat().st_size, False)]
    assert names == sorted([data.name, signature.name])  # one final file each, no .part
    assert digests == {data.name: sha256(data), signature.name: sha256(signature)}
    assert events.count((signature.name, 0, 310)) == 1  # delivered before the drop: not sent again
    assert events.count((data.name, 0, data.stat().st_size)) == 2


def test_exhausted_attempts_name_the_file_and_the_last_cause_after_a_doubling_backoff(
    tmp_path: Path, deposit: list[Path]
) -> None:
    data, signature, _ = deposit
    fault = Fault("drop", after_bytes=1 * MiB, times=None)
    sleeps: list[float] = []

    with asyncssh_sftp_server(tmp_path / "server", fault=fault) as server:
        with pytest.raises(TransferError) as failed:
            upload(server, [signature, data], attempts=4, backoff_seconds=0.5, sleep=sleeps.append)
        names = server.names()

    assert sleeps == [0.5, 1.0, 2.0]
    assert fault.fired == 4
    message = str(failed.value)
    assert f"gave up after 4 attempt(s) at {data.name} (1 of 2 file(s) not delivered)" in message
    assert re.search(r"last error: (ConnectionResetError|BrokenPipeError|ConnectionLost|SFTPConnectionLost): ", message)
    assert data.name not in names and signature.name in names  # the incomplete file is only ever a .part


def test_a_refused_connection_is_retried_with_backoff(deposit: list[Path], asyncssh_sftp: SftpServer) -> None:
    target = SftpTarget("registrar", HOST, free_port_nobody_listens_on(), "/incoming")
    sleeps: list[float] = []

    with pytest.raises(TransferError, match=r"gave up after 3 attempt\(s\) at .*last error: ConnectionRefusedError"):
        upload_files(target, deposit, identity_file=asyncssh_sftp.identity_file, known_hosts=asyncssh_sftp.known_hosts,
                     attempts=3, backoff_seconds=1.5, sleep=sleeps.append)  # fmt: skip

    assert sleeps == [1.5, 3.0]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel's backlog) but never says anything: a hung server."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_server_that_never_answers_times_out(
    silent_port: int, asyncssh_sftp: SftpServer, deposit: list[Path]
) -> None:
    target = SftpTarget("registrar", HOST, silent_port, "/incoming")
    started = time.monotonic()

    with pytest.raises(TransferError, match=r"gave up after 2 attempt\(s\).*no answer within 0.3 s \(timeout\)"):
        upload_files(target, deposit, identity_file=asyncssh_sftp.identity_file, known_hosts=asyncssh_sftp.known_hosts,
                     attempts=2, backoff_seconds=0, timeout_seconds=0.3)  # fmt: skip

    assert time.monotonic() - started < 5


def test_a_write_that_is_never_answered_times_out(tmp_path: Path, deposit: list[Path]) -> None:
    fault = Fault("stall", after_bytes=0, times=None)
    started = time.monotonic()

    with asyncssh_sftp_server(tmp_path / "server", fault=fault) as server:
        with pytest.raises(TransferError, match=rf"at {deposit[0].name} .*no answer within 0.5 s \(timeout\)"):
            upload(server, deposit, attempts=2, backoff_seconds=0, timeout_seconds=0.5)
        names = server.names()

    assert fault.fired == 2
    assert deposit[0].name not in names
    assert time.monotonic() - started < 8


def free_port_nobody_listens_on() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
    return port


# --- escrow.sftp_url ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("sftp://registrar@escrow.denic-services.de/upload", SftpTarget("registrar", "escrow.denic-services.de", 22,
                                                                        "/upload")),
        ("sftp://u@127.0.0.1:2222/", SftpTarget("u", "127.0.0.1", 2222, "/")),
        ("sftp://u@[::1]:2222/in/", SftpTarget("u", "::1", 2222, "/in")),
        ("sftp://u@host.example", SftpTarget("u", "host.example", 22, ".")),
        ("sftp://u@host.example/~/deposits", SftpTarget("u", "host.example", 22, "deposits")),
        ("SFTP://u@Host.Example:22/X", SftpTarget("u", "host.example", 22, "/X")),
        ("sftp://reg%40istrar@h/a%20b/%7E", SftpTarget("reg@istrar", "h", 22, "/a b/~")),
        ("  sftp://u@h/p\n", SftpTarget("u", "h", 22, "/p")),
    ],
)  # fmt: skip
def test_sftp_url_parses(url: str, target: SftpTarget) -> None:
    assert SftpTarget.parse(url) == target


def test_the_address_is_what_known_hosts_and_messages_use() -> None:
    assert SftpTarget.parse("sftp://u@[::1]:2222/in").address == "[::1]:2222"
    assert SftpTarget.parse("sftp://u@10.0.0.1/in").address == "10.0.0.1:22"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", r"the scheme must be sftp:// \(found none\)"),
        ("ftp://u@h/p", r"the scheme must be sftp:// \(found ftp://\)"),
        ("sftp://h/p", r"it names no user"),
        ("sftp://u@/p", r"it names no host"),
        ("sftp://u@bad host/p", r"the host is neither a host name nor an IP address"),
        ("sftp://u@h..example/p", r"the host is neither"),
        ("sftp://u:hunter2@h/p", r"it must not carry a password: login is by the key in escrow.sftp_identity_file"),
        ("sftp://u@h:99999/p", r"it is not a valid URL"),
        ("sftp://u@h:twenty-two/p", r"it is not a valid URL"),
        ("sftp://u@h:0/p", r"the port must be between 1 and 65535"),
        ("sftp://u@h/p?mode=fast", r"it must not have a query \(\?\.\.\.\) or a fragment"),
        ("sftp://u@h/p#frag", r"it must not have a query"),
        ("sftp://u@h/p?", r"it must not have a query"),
        ("sftp://u%0a@h/p", r"the user name is invalid"),
        ("sftp://u@h/p%00q", r"the path holds control characters"),
    ],
)
def test_a_bad_sftp_url_is_named_with_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(TransferError, match=rf"^escrow.sftp_url is not usable: {problem}") as bad:
        SftpTarget.parse(url)
    assert "hunter2" not in str(bad.value)


_SEGMENT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/"), min_size=1, max_size=8)
_HOSTNAME = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?){0,3}", fullmatch=True
)
targets = st.builds(
    SftpTarget,
    user=st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=" "), min_size=1, max_size=12),
    host=st.one_of(st.ip_addresses().map(str), _HOSTNAME),
    port=st.integers(1, 65535),
    path=st.one_of(
        st.just("."),
        st.just("/"),
        st.lists(_SEGMENT, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s)),
        st.lists(_SEGMENT, min_size=1, max_size=4).map("/".join).filter(lambda p: p != "."),
    ),
)


@given(targets)
def test_a_target_round_trips_through_its_url(target: SftpTarget) -> None:
    assert SftpTarget.parse(target.url) == target


@given(st.one_of(st.text(), st.text().map(lambda t: "sftp://" + t), st.text().map(lambda t: "sftp://u@" + t)))
def test_parse_answers_any_text_with_a_target_or_a_named_error(url: str) -> None:
    try:
        SftpTarget.parse(url)
    except TransferError as exc:
        assert str(exc).startswith("escrow.sftp_url is not usable: ")
        assert isinstance(exc, DomainprivError)

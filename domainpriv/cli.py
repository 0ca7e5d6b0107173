"""The `domainpriv` command: parse, call a service, print. No business rules live here.

Errors that domainpriv raises on purpose print as one line `error: …` with exit status 1 (2 for usage errors),
and so does a database that cannot be used (unreachable, missing, without schema: store/availability.py names it
and says what to do, never quoting the driver's text); anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from domainpriv.config import Settings, load_settings
from domainpriv.errors import DomainprivError
from domainpriv.vocabulary import AccountKind, StaffRole

if TYPE_CHECKING:
    from domainpriv.audit import Actor
    from domainpriv.rdds import RecordSource
    from domainpriv.store import UnitOfWork

# The services are imported inside the commands that use them: every command would otherwise pay for all of them
# (about half a second of imports: the cases, the portal's accounts, the demo generator), and `--help` with it.

app = typer.Typer(
    help="Registrar registration data, privacy-aware publication and legal workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Sample data.", no_args_is_help=True)
domain_app = typer.Typer(help="Registered domains.", no_args_is_help=True)
privacy_app = typer.Typer(help="Publication mode of a domain.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
escrow_app = typer.Typer(help="Registrar data escrow deposits.", no_args_is_help=True)
account_app = typer.Typer(help="Accounts: passwords, API tokens, the personal-data export.", no_args_is_help=True)
case_app = typer.Typer(help="Cases: complaints, disclosure requests, abuse reports.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (demo_app, "demo"),
    (domain_app, "domain"),
    (privacy_app, "privacy"),
    (audit_app, "audit"),
    (escrow_app, "escrow"),
    (account_app, "account"),
    (case_app, "case"),
):
    app.add_typer(sub, name=name)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Config file (overrides the embedded defaults; or DOMAINPRIV_CONFIG)."),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: recorded in the audit log.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on standard output.")]


class _State:
    config_file: Path | None = None
    database_url: str | None = None  # for main() to name the database when using it fails


_state = _State()


@app.callback()
def _main(config: ConfigOption = None) -> None:
    _state.config_file = config


def _settings(config: Path | None) -> Settings:
    settings = load_settings(config or _state.config_file)
    _state.database_url = settings.database.url
    return settings


def _uow(settings: Settings, *, check_schema: bool = True) -> UnitOfWork:
    """The unit of work on the configured database; first checks its schema is migrated, unless told not to."""
    from domainpriv.store import UnitOfWork, availability, make_engine

    engine = make_engine(
        settings.database.url, sqlite_busy_timeout_seconds=settings.database.sqlite_busy_timeout_seconds
    )
    if check_schema:
        availability.check_schema(engine)
    return UnitOfWork(engine)


def _actor() -> Actor:
    from domainpriv.audit import Actor

    try:
        return Actor("cli", getpass.getuser())
    except (KeyError, OSError):
        return Actor("cli", f"uid{os.getuid()}")


@contextmanager
def _progress(description: str, total: int | None, *, as_bytes: bool = False) -> Iterator[Progress]:
    counter = DownloadColumn() if as_bytes else MofNCompleteColumn()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        counter,
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    ) as bar:
        bar.add_task(description, total=total)
        yield bar


# -- db --------------------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create or migrate the schema (idempotent) and sync the privacy-service identity from the config."""
    from domainpriv.registration import services as registration
    from domainpriv.store.migrate import upgrade as migrate_upgrade

    settings = _settings(config)
    uow = _uow(settings, check_schema=False)
    before, after = migrate_upgrade(uow.engine)
    registration.sync_privacy_service(uow, actor=_actor(), settings=settings.privacy_service)
    if before == after:
        out.print(f"schema already at revision {after}")
    else:
        out.print(f"schema upgraded from {before or 'empty'} to {after}")


# -- demo ------------------------------------------------------------------------------------------------------


@demo_app.command("load")
def demo_load(
    domains: Annotated[int, typer.Option("--domains", min=1, max=2_000_000, help="How many domains.")] = 60,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same data.")] = 1,
    config: ConfigOption = None,
) -> None:
    """Load deterministic sample data (and the demo's escrow keys); does nothing if the database already holds
    domains."""
    from domainpriv import demo, summary
    from domainpriv.accounts import services as credentials
    from domainpriv.transfer import import_registrations

    settings = _settings(config)
    uow = _uow(settings)
    _demo_escrow_keys(settings)
    existing = summary.count_domains(uow)
    if existing:
        out.print(f"the database already holds {existing} domains; demo data not loaded")
        return
    records = demo.demo_records(domains, seed)
    with _progress("demo", domains) as bar:

        def lines() -> Iterator[bytes]:
            for record in records:
                if record["type"] == "domain":
                    bar.advance(bar.task_ids[0])
                yield orjson.dumps(record)

        stats = import_registrations(
            uow,
            actor=_actor(),
            lines=lines(),
            reason="demo data",
            source_name=f"demo --domains {domains} --seed {seed}",
        )
    out.print(f"loaded {stats.domains} domains, {stats.contacts} contacts, {stats.accounts} accounts")
    for _, handle in demo.DEMO_LOGINS:
        credentials.set_password(uow, actor=_actor(), account=handle, password=demo.DEMO_PASSWORD,
                                 reason="demo portal login")  # fmt: skip


def _demo_escrow_keys(settings: Settings) -> None:
    """The registrar's signing key and the DEMO agent key pair, when escrow points at the demo agent key."""
    from domainpriv.escrow import keys

    if settings.escrow.agent_public_key != keys.DEMO_AGENT_PUBLIC_KEY:
        return  # a real agent's key is configured: the demo makes no keys
    public, created = keys.ensure_demo_agent_key(settings)
    if created:
        out.print(f"escrow: created the DEMO agent key pair {public} (+ its secret beside it, for restore-test)")
    signing, created = keys.ensure_signing_key(settings)
    if created:
        out.print(f"escrow: created the registrar signing key {signing.fingerprint} in {settings.escrow.gnupg_home}")


@demo_app.command("summary")
def demo_summary(config: ConfigOption = None) -> None:
    """What the database holds, by privacy mode and account kind, with a few example domains."""
    from domainpriv import demo, summary

    report = summary.summarize(_uow(_settings(config)), demo_logins=demo.DEMO_LOGINS,
                               demo_password=demo.DEMO_PASSWORD)  # fmt: skip
    table = Table(title="domainpriv data")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, count in report.counts:
        table.add_row(label, str(count))
    out.print(table)
    for mode, names in report.examples.items():
        out.print(f"{mode:>8}: {', '.join(names) or '-'}")
    settings = _settings(config)
    if report.demo_logins:
        logins = " or ".join(f"{handle} ({kind})" for kind, handle in report.demo_logins)
        out.print(f"portal: {settings.portal.base_url} - log in as {logins} with the password {demo.DEMO_PASSWORD}")


# -- import / export -------------------------------------------------------------------------------------------


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="JSON-lines file (docs/jsonl-format.md); - for standard input.")],
    reason: ReasonOption = "bulk import",
    config: ConfigOption = None,
) -> None:
    """Import registration data; all or nothing, one audit event."""
    from domainpriv.transfer import import_registrations

    uow = _uow(_settings(config))
    if str(file) == "-":
        stats = import_registrations(uow, actor=_actor(), lines=sys.stdin.buffer, reason=reason, source_name="-")
    else:
        try:
            fh = file.open("rb")
        except OSError as exc:
            _fail(f"cannot read {file}: {exc.strerror}")
        with fh, _progress(file.name, file.stat().st_size, as_bytes=True) as bar:
            stats = import_registrations(
                uow,
                actor=_actor(),
                lines=fh,
                reason=reason,
                source_name=file.name,
                progress=lambda n: bar.advance(bar.task_ids[0], n),
            )
    out.print(
        f"imported {stats.domains} domains, {stats.contacts} contacts, {stats.accounts} accounts, "
        f"{stats.consents} consents from {stats.lines} lines (sha256 {stats.sha256})"
    )


@app.command("export")
def export_cmd(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of standard output.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Dump all registration data as JSON lines (import reads it back unchanged)."""
    from domainpriv.transfer import count_records, export_registrations

    uow = _uow(_settings(config))
    if output is None:
        export_registrations(uow, out=sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    # Write beside the target and rename at the end: an interrupted export never leaves a truncated file.
    try:
        fd, tmp = tempfile.mkstemp(dir=output.resolve().parent, prefix=f".{output.name}.", suffix=".part")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror}")
    try:
        with os.fdopen(fd, "wb") as fh, _progress("export", count_records(uow)) as bar:
            lines = export_registrations(uow, out=fh, progress=lambda n: bar.advance(bar.task_ids[0], n))
        Path(tmp).replace(output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    err.print(f"exported {lines} lines to {output}")


# -- domain / privacy ------------------------------------------------------------------------------------------


@domain_app.command("show")
def domain_show(
    name: Annotated[str, typer.Argument(help="Domain name, U-label or A-label.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOption = None,
) -> None:
    """The stored record, staff view (includes personal data: not for public use)."""
    from domainpriv.registration import services as registration
    from domainpriv.registration.validation import CONTACT_FIELDS

    record = registration.get_domain(_uow(_settings(config)), name=name)
    data = record.to_json()
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        return
    for key in (
        "name",
        "unicode_name",
        "account",
        "reseller",
        "registry_domain_id",
        "created_at",
        "expires_at",
        "updated_at",
        "dnssec",
        "privacy_mode",
        "relay_alias",
    ):
        out.print(f"{key}: {'' if data[key] is None else data[key]}")
    out.print(f"statuses: {' '.join(data['statuses'])}")
    for ns in data["nameservers"]:
        out.print(f"nameserver: {ns['host']} {' '.join(ns['addresses'])}".rstrip())
    for role, contact in data["contacts"].items():
        if contact is None:
            out.print(f"{role}: (none)")
            continue
        out.print(f"{role}: {contact['handle']} (account {contact['account']})")
        for key in (*CONTACT_FIELDS, "verified_at"):
            value = contact[key]
            if value:
                out.print(f"  {key}: {', '.join(value) if isinstance(value, list) else value}")


@domain_app.command("delete")
def domain_delete(
    name: Annotated[str, typer.Argument(help="Domain name, U-label or A-label.")],
    reason: ReasonOption,
    config: ConfigOption = None,
) -> None:
    """Delete a registration (staff); its contacts stay. The next incremental escrow deposit reports it."""
    from domainpriv.registration import services as registration

    record = registration.delete_domain(_uow(_settings(config)), actor=_actor(), domain=name, reason=reason)
    out.print(f"{record.name}: deleted")


@privacy_app.command("set")
def privacy_set(
    name: Annotated[str, typer.Argument(help="Domain name.")],
    mode: Annotated[str, typer.Argument(help="proxy, redacted or public.")],
    reason: ReasonOption = "changed on the command line",
    config: ConfigOption = None,
) -> None:
    """Change what the public sees for a domain; the stored contacts never change."""
    from domainpriv.registration import services as registration

    record = registration.set_privacy_mode(
        _uow(_settings(config)), actor=_actor(), domain=name, mode=mode, reason=reason
    )
    out.print(f"{record.name}: privacy mode is now {record.privacy_mode.value}")


# -- accounts ----------------------------------------------------------------------------------------------------


@account_app.command("create")
def account_create(
    handle: Annotated[str, typer.Argument(help="Account handle (3-64 characters: letters, digits, - and _).")],
    kind: Annotated[AccountKind, typer.Option("--kind", help="customer, reseller or staff.")],
    name: Annotated[str, typer.Option("--name", help="The holder's name.")],
    email: Annotated[str, typer.Option("--email", help="Where notices and reset links go.")],
    parent: Annotated[str | None, typer.Option("--reseller", help="A customer's reseller.")] = None,
    reason: ReasonOption = "account created on the command line",
    config: ConfigOption = None,
) -> None:
    """Open an account (for staff, give it a role with `account role`, and a password with `account passwd`)."""
    from domainpriv.registration import services as registration

    record = registration.create_account(_uow(_settings(config)), actor=_actor(), handle=handle, kind=kind,
                                         name=name, email=email, parent=parent, reason=reason)  # fmt: skip
    out.print(f"{record.handle}: {record.kind} account created")


@account_app.command("role")
def account_role(
    handle: Annotated[str, typer.Argument(help="A staff account's handle.")],
    role: Annotated[StaffRole, typer.Argument(help="support, legal, escrow-ops or admin.")],
    reason: ReasonOption = "staff role set on the command line",
    config: ConfigOption = None,
) -> None:
    """Give a staff account its role (least privilege: accounts/access.py). Staff act only once two-factor is on."""
    from domainpriv.accounts.staff import set_staff_role

    set_staff_role(_uow(_settings(config)), actor=_actor(), account=handle, role=role, reason=reason)
    out.print(f"{handle}: staff role {role.value}")


@account_app.command("passwd")
def account_passwd(
    handle: Annotated[str, typer.Argument(help="Account handle.")],
    reason: ReasonOption = "password set on the command line",
    config: ConfigOption = None,
) -> None:
    """Set an account's password, read from standard input (one line; never an argument, which `ps` would show)."""
    from domainpriv.accounts import services as credentials

    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    credentials.set_password(_uow(_settings(config)), actor=_actor(), account=handle, password=password, reason=reason)
    out.print(f"{handle}: password set")


@account_app.command("token")
def account_token(
    handle: Annotated[str, typer.Argument(help="Account handle.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for (shown in listings).")] = "cli",
    reason: ReasonOption = "token issued on the command line",
    config: ConfigOption = None,
) -> None:
    """Issue an API token and print it once: only its digest is stored."""
    from domainpriv.accounts import services as credentials

    issued = credentials.issue_token(_uow(_settings(config)), actor=_actor(), account=handle, name=name, reason=reason)
    out.print(issued.token)
    err.print(f"token {issued.record.id} ({issued.record.name}) for {handle}: shown once, keep it now")


@account_app.command("export")
def account_export(
    handle: Annotated[str, typer.Argument(help="Account handle.")],
    reason: ReasonOption,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (mode 0600) instead of standard output.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Everything stored about the account as one JSON document (docs/export.md); audited, as it is personal data."""
    from domainpriv.accounts import export as personal_data

    uow = _uow(_settings(config))
    if output is None:
        document = personal_data.export_account(uow, actor=_actor(), account=handle, reason=reason)
        sys.stdout.buffer.write(_account_export_bytes(document))
        sys.stdout.buffer.flush()
        return
    # The file first, so that an unwritable target fails before the export is made and audited; mkstemp creates
    # it 0600 (it holds personal data), and the rename at the end never leaves a truncated export behind.
    try:
        fd, tmp = tempfile.mkstemp(dir=output.resolve().parent, prefix=f".{output.name}.", suffix=".part")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror}")
    try:
        with os.fdopen(fd, "wb") as fh:
            document = personal_data.export_account(uow, actor=_actor(), account=handle, reason=reason)
            fh.write(_account_export_bytes(document))
        Path(tmp).replace(output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    err.print(f"exported account {handle} to {output}")


def _account_export_bytes(document: object) -> bytes:
    """UTF-8 JSON, keys sorted, indented by 2: the same data gives the same bytes, and people can read it."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


# -- public RDDS -----------------------------------------------------------------------------------------------


@app.command("serve")
def serve(config: ConfigOption = None) -> None:
    """Run the daemon: WHOIS, RDAP, the portal and API, the outbox and the scheduler. Stops cleanly on SIGTERM or
    SIGINT (exit status 0)."""
    from domainpriv.daemon import Listening, run, run_daemon
    from domainpriv.logs import log_to_stderr

    settings = _settings(config)

    def ready(listening: Listening) -> None:
        out.print(
            f"WHOIS on {settings.whois.host}:{listening.whois_port}, "
            f"RDAP on {settings.rdap.host}:{listening.rdap_port} ({settings.rdap.base_url}), "
            f"portal on {settings.portal.host}:{listening.portal_port} ({settings.portal.base_url}); "
            "Ctrl-C or SIGTERM stops"
        )

    with log_to_stderr():
        run(run_daemon(settings, ready=ready))


@app.command("whois")
def whois_cmd(name: Annotated[str, typer.Argument(help="Domain name.")], config: ConfigOption = None) -> None:
    """Print exactly what the WHOIS server answers for NAME."""
    from domainpriv.rdds.whois_answer import answer_whois

    settings = _settings(config)
    uow = _uow(settings)
    answer = answer_whois(name, _source(settings, uow), uow.clock(), settings.publication.terms_of_use)
    sys.stdout.buffer.write(answer.encode())
    sys.stdout.buffer.flush()


@app.command("rdap")
def rdap_cmd(name: Annotated[str, typer.Argument(help="Domain name.")], config: ConfigOption = None) -> None:
    """Print exactly the body the RDAP server sends for domain/NAME; exit status 1 unless it is a 200."""
    from domainpriv.rdds.rdap_app import domain_response

    settings = _settings(config)
    uow = _uow(settings)
    status, body = domain_response(name, source=_source(settings, uow), settings=settings.rdap, now=uow.clock())
    sys.stdout.buffer.write(body)
    sys.stdout.buffer.flush()
    if status != 200:
        raise SystemExit(1)


def _source(settings: Settings, uow: UnitOfWork) -> RecordSource:
    from domainpriv.rdds import DatabaseSource, publication_policy

    return DatabaseSource(uow, publication_policy(settings))


# -- audit -----------------------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Check the audit hash chain; names the first broken link and exits 1 if there is one."""
    from domainpriv import audit

    report = audit.verify_audit_log(_uow(_settings(config)))
    out.print(f"audit chain intact: {report.events} events, head {report.head_seq} {report.head_hash}")


# -- escrow and the sweep --------------------------------------------------------------------------------------


@escrow_app.command("keygen")
def escrow_keygen(
    user_id: Annotated[str | None, typer.Option("--user-id", help="Key owner (default: the registrar's name).")] = None,
    config: ConfigOption = None,
) -> None:
    """Create the registrar's OpenPGP signing key in escrow.gnupg_home and print its fingerprint (once: an
    existing key is kept)."""
    from domainpriv.escrow import keys

    settings = _settings(config)
    key, created = keys.ensure_signing_key(settings)
    verb = "created" if created else "already present"
    out.print(f"registrar signing key {verb}: {key.fingerprint} ({key.user_id}) in {settings.escrow.gnupg_home}")


@escrow_app.command("run")
def escrow_run(
    kind: Annotated[str, typer.Option("--kind", help="full or incremental.")] = "full",
    no_upload: Annotated[bool, typer.Option("--no-upload", help="Build only; keep it in escrow.output_dir.")] = False,
    config: ConfigOption = None,
) -> None:
    """Build (and unless --no-upload, upload) one deposit now; prints its id and files. A deposit that a killed
    or failed run left is finished instead."""
    from domainpriv.escrow import services as escrow

    if kind not in escrow.KINDS:
        _fail(f"--kind must be full or incremental, not {kind!r}")
    settings = _settings(config)
    uow = _uow(settings)
    with _phases() as hooks:
        deposit = escrow.run_deposit(
            uow,
            settings,
            kind=kind,
            actor=_actor(),
            upload=False if no_upload else None,
            progress=hooks,  # type: ignore[arg-type]
        )
    out.print(f"deposit {deposit.id} ({deposit.label}): {deposit.state}, {deposit.domains} domains")
    folder = escrow.deposit_folder(settings.escrow, deposit)
    for f in deposit.files:
        out.print(f"  {folder / f.name}  {f.bytes} bytes  sha256 {f.sha256}", markup=False)


@escrow_app.command("list")
def escrow_list(json: JsonOption = False, config: ConfigOption = None) -> None:
    """Deposits, newest first."""
    from domainpriv.escrow import services as escrow

    deposits = escrow.list_deposits(_uow(_settings(config)))
    if json:
        _print_json([d.to_json() for d in deposits])
        return
    table = Table("id", "deposit", "state", "domains", "files", "attempts", "last error")
    for d in deposits:
        table.add_row(str(d.id), d.label, d.state, str(d.domains if d.domains is not None else "-"), str(len(d.files)),
                      str(d.attempts), d.last_error or "")  # fmt: skip
    out.print(table)


@escrow_app.command("show")
def escrow_show(deposit_id: Annotated[int, typer.Argument(help="Deposit id.")], json: JsonOption = False,
                config: ConfigOption = None) -> None:  # fmt: skip
    """One deposit with its files (name, bytes, rows, SHA-256)."""
    from domainpriv.escrow import services as escrow

    deposit = escrow.get_deposit(_uow(_settings(config)), deposit_id)
    doc = deposit.to_json()
    if json:
        _print_json(doc)
        return
    shown = ("id", "label", "state", "profile", "trigger", "scheduled_for", "watermark", "feed_position",
             "base_deposit", "domains", "deletions", "attempts", "last_error", "built_at", "uploaded_at")  # fmt: skip
    for key in shown:
        out.print(f"{key}: {doc[key] if doc[key] is not None else '-'}", markup=False)
    for f in deposit.files:
        rows = f" {f.rows} rows, csv {f.csv_bytes} bytes sha256 {f.csv_sha256}" if f.role == "data" else ""
        out.print(f"  {f.role:9} {f.name}  {f.bytes} bytes  sha256 {f.sha256}{rows}", markup=False)


@escrow_app.command("verify")
def escrow_verify(deposit_id: Annotated[int, typer.Argument(help="Deposit id.")], config: ConfigOption = None) -> None:
    """Re-check a deposit's stored files against their recorded digests, the hash file, the signatures and the
    agent's key; exit 1 and name each problem otherwise."""
    from domainpriv.escrow import verify

    settings = _settings(config)
    report = verify.verify_deposit(_uow(settings), settings, deposit_id)
    for line in report.checked:
        out.print(f"ok: {line}", markup=False)
    for problem in report.problems:
        err.print(f"problem: {problem}", markup=False)
    if report.problems:
        raise SystemExit(1)
    out.print(f"deposit {deposit_id} verified: {len(report.checked)} checks passed")


@escrow_app.command("restore-test")
def escrow_restore_test(
    deposit_id: Annotated[int, typer.Argument(help="Deposit id.")],
    agent_secret_key: Annotated[Path, typer.Option("--agent-secret-key", help="The agent's (test) secret key.")],
    config: ConfigOption = None,
) -> None:
    """Drill: decrypt the deposit with the agent's key, rebuild it in a scratch database and diff it against the
    live data as of its watermark; exit 0 only when identical."""
    from domainpriv.escrow import restore

    settings = _settings(config)
    report = restore.restore_test(_uow(settings), settings, deposit_id, agent_secret_key=agent_secret_key)
    rows = ", ".join(f"{t} {n}" for t, n in sorted(report.rows.items()))
    out.print(f"deposit {report.deposit.label}: {report.files} files decrypted and verified (rows restored: {rows})")
    out.print(f"compared {report.compared} domains with the live data; {report.changed_since} changed since the "
              "watermark (not compared)")  # fmt: skip
    if report.identical:
        out.print("identical")
        return
    for difference in report.differences:
        err.print(f"difference: {difference}", markup=False)
    if report.more_differences:
        err.print(f"... and {report.more_differences} more differences", markup=False)
    raise SystemExit(1)


@escrow_app.command("mapping")
def escrow_mapping(config: ConfigOption = None) -> None:
    """Print the Header Mapping File of the configured profile (CSV)."""
    from domainpriv.escrow.profiles import get_profile

    sys.stdout.write(get_profile(_settings(config).escrow.profile).mapping_csv())
    sys.stdout.flush()


# -- cases -----------------------------------------------------------------------------------------------------

CaseIdArgument = Annotated[str, typer.Argument(help="Case id or reference (e.g. 3 or CMP-2026-000003).")]


@case_app.command("open")
def case_open(
    domain: Annotated[str, typer.Option("--domain", help="The domain the case is about.")],
    kind: Annotated[str, typer.Option("--kind", help="complaint, disclosure or abuse.")],
    requester_name: Annotated[str, typer.Option("--requester-name", help="Who files it.")],
    requester_email: Annotated[str, typer.Option("--requester-email", help="Where the answers go.")],
    requester_org: Annotated[str | None, typer.Option("--requester-org", help="The requester's organisation.")] = None,
    fields: Annotated[str, typer.Option("--fields", help="Public field names asked for, comma-separated.")] = "",
    urgent: Annotated[bool, typer.Option("--urgent", help="Threat to life, critical infrastructure, ...")] = False,
    text: Annotated[str | None, typer.Option("--text", help="The complaint, request or report.")] = None,
    legal_basis: Annotated[str | None, typer.Option("--legal-basis", help="The law or rights relied on.")] = None,
    evidence: Annotated[list[Path] | None, typer.Option("--evidence", help="An evidence file (repeatable).")] = None,
    config: ConfigOption = None,
) -> None:
    """Open a case (what the public form and the API do) and queue its acknowledgement; prints the case id."""
    from domainpriv import cases

    files = []
    for path in evidence or []:
        try:
            files.append(cases.Evidence(path.name, path.read_bytes()))
        except OSError as exc:
            _fail(f"cannot read {path}: {exc.strerror}")
    settings = _settings(config)
    case = cases.open_case(
        _uow(settings), settings, actor=_actor(), kind=kind, domain=domain, text=text or "", fields=fields,
        requester=cases.Requester(name=requester_name, email=requester_email, org=requester_org), urgent=urgent,
        legal_basis=legal_basis, evidence=files,
    )  # fmt: skip
    out.print(str(case.id))
    err.print(f"case {case.id} ({case.reference}) opened: {case.state}; acknowledgement queued", markup=False)


@case_app.command("list")
def case_list(
    state: Annotated[str | None, typer.Option("--state", help="Only cases in this state.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only complaint, disclosure or abuse.")] = None,
    json: JsonOption = False,
    csv: Annotated[bool, typer.Option("--csv", help="The register (clocks, missed ones) as CSV.")] = False,
    config: ConfigOption = None,
) -> None:
    """Cases with state, kind, domain, due_at and their history (--json), or the register as CSV (--csv)."""
    from domainpriv import cases

    uow = _uow(_settings(config))
    if csv:
        rows = [r for r in cases.register_rows(uow, actor=_actor(), kind=kind) if state is None or r["state"] == state]
        sys.stdout.write(cases.register_csv(rows))
        sys.stdout.flush()
        return
    found = cases.list_cases(uow, actor=_actor(), state=state, kind=kind)
    if json:
        _print_json([c.to_json() for c in found])
        return
    table = Table("id", "reference", "kind", "state", "domain", "due_at", "missed")
    for c in found:
        table.add_row(str(c.id), c.reference, c.kind, c.state, c.domain, c.due_at.isoformat() if c.due_at else "-",
                      " ".join(c.missed_clocks))  # fmt: skip
    out.print(table)


@case_app.command("show")
def case_show(case_id: CaseIdArgument, json: JsonOption = False, config: ConfigOption = None) -> None:
    """One case: its state, clocks, deactivations, disclosures and the history of its transitions."""
    from domainpriv import cases

    case = cases.get_case(_uow(_settings(config)), case_id, actor=_actor())
    doc = case.to_json()
    if json:
        _print_json(doc)
        return
    for key in ("id", "reference", "kind", "state", "domain", "decision", "due_at"):
        out.print(f"{key}: {doc[key] if doc[key] is not None else '-'}", markup=False)
    for key, value in doc["clocks"].items():
        if value:
            out.print(f"{key}: {' '.join(value) if isinstance(value, list) else value}", markup=False)
    for d in case.deactivations:
        error = f", last error: {d.dns_last_error}" if d.dns_last_error else ""
        out.print(f"deactivation {d.id}: {d.state}, dns {d.dns}{error}", markup=False)
    for e in case.history:
        out.print(f"  {e.at.isoformat()}  {e.action:18} {e.from_state or '-'} -> {e.to_state}  {e.actor}: {e.reason}",
                  markup=False)  # fmt: skip


@case_app.command("act")
def case_act(
    case_id: CaseIdArgument,
    action: Annotated[str, typer.Argument(help="e.g. accept, reject, notify-customer, disclose, reactivate.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (sent to the requester where it says so).")
    ] = None,
    fields: Annotated[str | None, typer.Option("--fields", help="disclose: the approved fields.")] = None,
    balancing: Annotated[str | None, typer.Option("--balancing", help="refuse: the balancing test.")] = None,
    config: ConfigOption = None,
) -> None:
    """Take a staff action on a case; an action the case's state does not allow is refused naming the state."""
    from domainpriv import cases

    settings = _settings(config)
    case = cases.act(_uow(settings), case_id, action, settings=settings, actor=_actor(), reason=reason, fields=fields,
                     balancing_notes=balancing)  # fmt: skip
    out.print(f"case {case.id} ({case.reference}): {case.state}", markup=False)
    for d in case.deactivations:
        if d.dns_last_error:
            err.print(f"deactivation {d.id}: dns {d.dns}, retried by the sweep: {d.dns_last_error}", markup=False)


@app.command("sweep")
def sweep_cmd(config: ConfigOption = None) -> None:
    """Run every due job once (scheduled escrow deposits, with catch-up): what the daemon's scheduler does. Skipped
    while a daemon's scheduler is the leader (it runs them)."""
    from domainpriv.scheduling import LeaderLock, sweep_once
    from domainpriv.sweep import sweep

    settings = _settings(config)
    uow = _uow(settings)
    lines: list[str] = []
    ran = sweep_once(LeaderLock(settings.database.url), lambda now: lines.extend(sweep(uow, settings, now).lines()),
                     clock=uow.clock)  # fmt: skip
    if not ran:
        out.print("a daemon's scheduler is the leader and runs the sweeps: skipped")
    for line in lines:
        out.print(line, markup=False)


@contextmanager
def _phases() -> Iterator[object]:
    """Progress hooks for long escrow runs: one bar per phase."""
    from domainpriv.escrow.services import RunProgress

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=False, disable=not err.is_terminal) as bar:  # fmt: skip
        task: list[object] = []

        def start(phase: str, total: int | None) -> None:
            if task:
                bar.update(task[0], completed=bar.tasks[-1].total or bar.tasks[-1].completed)  # type: ignore[arg-type]
            task[:] = [bar.add_task(phase, total=total)]

        def advance(n: int) -> None:
            if task:
                bar.advance(task[0], n)  # type: ignore[arg-type]

        yield RunProgress(start, advance)


def _print_json(doc: object) -> None:
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.buffer.flush()


def _fail(message: str) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise SystemExit(1)


def main() -> None:
    try:
        app()
    except DomainprivError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        err.print("interrupted: the current transaction was rolled back")
        raise SystemExit(130) from None
    except Exception as exc:
        from domainpriv.store import availability

        problem = availability.classify(exc, _state.database_url)  # None unless the database is unusable
        if problem is None:
            raise
        _fail(str(problem))

"""A whole site for the browser tests: `domainpriv serve` as a subprocess (WHOIS, RDAP, the portal and the outbox
delivery) on a database holding the demo data, a real SMTP sink it delivers to, and what the tests do with them
(log in with the keyboard, wait for a mail, read WHOIS and RDAP)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from domainpriv import demo
from support.daemons import READY, daemon_env
from support.ports import HOST, free_port
from support.smtp_sink import Sink, smtp_sink

CHROMIUM = Path("/usr/bin/chromium")
# toolchain.md §13: Debian's Chromium, never a browser downloaded by `playwright install`.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
CUSTOMER = demo.DEMO_LOGINS[0][1]  # cust-0000001
RESELLER = demo.DEMO_LOGINS[1][1]  # reseller-0001
MAIL_SECONDS = 10.0  # the outbox polls every 0.2 s here: a mail is at the sink well within this


def site_env(db_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The daemon's and the CLI's environment: no escrow keys (`demo load` would make some with GnuPG, slowly)
    and no scheduler (nothing but the outbox loop sends mail)."""
    return daemon_env(db_url, {"DOMAINPRIV_ESCROW_AGENT_PUBLIC_KEY": "", "DOMAINPRIV_SCHEDULER_ENABLED": "false",
                               **(extra or {})})  # fmt: skip


def run_cli(db_url: str, cwd: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "domainpriv", *args], env=site_env(db_url), cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, f"domainpriv {' '.join(args)}: {proc.stderr[-2000:]}"
    return proc.stdout


@dataclass
class Site:
    db_url: str
    base_url: str  # http://127.0.0.1:PORT/, the portal as links in mails name it
    whois_port: int
    rdap_port: int
    sink: Sink
    log: Path  # the daemon's stderr
    cwd: Path
    # The demo logins' passwords as the tests leave them (the reset test changes the customer's).
    passwords: dict[str, str] = field(default_factory=lambda: {h: demo.DEMO_PASSWORD for _, h in demo.DEMO_LOGINS})

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def wait_for_mail(self, to: str, subject: str | Callable[[str], bool], *, after: int = 0) -> EmailMessage:
        """The first message at the sink (from index `after` on) to `to` whose subject is `subject` (or passes
        it), waiting up to MAIL_SECONDS."""
        wanted = subject if callable(subject) else subject.__eq__
        deadline = time.monotonic() + MAIL_SECONDS
        while True:
            for message in self.sink.messages[after:]:
                if message["To"] == to and wanted(str(message["Subject"])):
                    return message
            seen = [(str(m["To"]), str(m["Subject"])) for m in self.sink.messages[after:]]
            assert time.monotonic() < deadline, f"no mail to {to} ({subject}) within {MAIL_SECONDS} s; got {seen}"
            time.sleep(0.05)

    def mails_to(self, to: str, *, after: int = 0) -> list[EmailMessage]:
        return [m for m in self.sink.messages[after:] if m["To"] == to]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None, "a mail without a text/plain body"
    content: Any = part.get_content()
    return str(content)


def link_in(message: EmailMessage, site: Site, path: str) -> str:
    """The one link to `site`'s portal under `path` in the mail's body."""
    found = re.findall(re.escape(site.url(path)) + r"\S+", body_of(message))
    assert len(found) == 1, f"expected one {path} link in the mail, found {found}"
    return str(found[0])


@contextmanager
def running_site(db_url: str, folder: Path) -> Iterator[Site]:
    """Schema, demo data (`domainpriv demo load`: the demo logins get demo.DEMO_PASSWORD), the sink, and the daemon
    with the portal on a port chosen here so that its base URL (links in mails, the CSRF origin) is known."""
    run_cli(db_url, folder, "db", "upgrade")
    run_cli(db_url, folder, "demo", "load")
    with smtp_sink() as sink:
        portal_port = free_port()
        base_url = f"http://{HOST}:{portal_port}/"
        env = site_env(db_url, {"DOMAINPRIV_PORTAL_PORT": str(portal_port), "DOMAINPRIV_PORTAL_BASE_URL": base_url,
                                "DOMAINPRIV_MAIL_SMTP_HOST": HOST, "DOMAINPRIV_MAIL_SMTP_PORT": str(sink.port),
                                "DOMAINPRIV_MAIL_POLL_SECONDS": "0.2"})  # fmt: skip
        log = folder / "daemon.log"
        with log.open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "domainpriv", "serve"], env=env, cwd=folder,
                                    stdout=subprocess.PIPE, stderr=err, text=True)  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = READY.search(line)
            assert match, f"no ready line: {line!r}; log: {log.read_text()[-2000:]}"
            assert f"portal on {HOST}:{portal_port}" in line, line
            yield Site(db_url, base_url, int(match.group(1)), int(match.group(2)), sink, log, folder)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


def log_in(page: Page, site: Site, account: str, password: str | None = None) -> None:
    """Log in with the keyboard only: type into the labelled fields, Tab from one to the next, Enter submits."""
    page.goto(site.url("/login"))
    page.get_by_label("Account").focus()
    page.keyboard.type(account)
    page.keyboard.press("Tab")
    password_field = page.get_by_label("Password")
    expect(password_field).to_be_focused()  # the tab order follows the form
    page.keyboard.type(site.passwords[account] if password is None else password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def environment_has_chromium() -> str | None:
    """None, or why the browser tests cannot run here."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found (apt-get install chromium; never `playwright install`)"
    return None

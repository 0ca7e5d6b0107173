"""What the portal tests share: the portal in-process (Starlette's TestClient) and a population: reseller R with
customer A, customer B alone, reseller R2 with customer C, and support, legal and admin staff with two-factor
on; each with a password and an API token.

Passwords are hashed with cheap argon2id parameters (FAST): argon2-cffi verifies a hash with the parameters
stored in it, so the portal's own login checks them quickly (and then re-hashes once with the real ones).
Staff log in through the service with one of their recovery codes, so that the frozen clock needs no moving.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyotp
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select

from domainpriv import cases
from domainpriv.accounts import services as credentials
from domainpriv.accounts import sessions, two_factor
from domainpriv.accounts.staff import set_staff_role
from domainpriv.config import Settings, load_settings
from domainpriv.portal.app import build_portal
from domainpriv.store import AccountKind, UnitOfWork
from domainpriv.store.base import Base
from support.builders import ACTOR, make_account, make_contact, make_domain
from support.ports import HOST

with warnings.catch_warnings():
    # Starlette's test client asks for httpx2 and warns once, at import, when it finds httpx 0.28 (toolchain §10).
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from starlette.testclient import TestClient

BASE_URL = "http://127.0.0.1:8081/"
FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
SOURCE = "testclient"  # the client address Starlette's test client reports
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')

# Every contact value of the population is distinctive, so that a leak into a log or an answer can be found.
CONTACTS: dict[str, dict[str, Any]] = {
    "CA-REG": {"name": "Adelheid Quenby", "org": "Quenby Orchards Ltd", "street": ["17 Larkspur Mews"],
               "city": "Wexcombe", "postal_code": "WX1 7QQ", "phone": "+44.2079460111",
               "email": "adelheid.quenby@quenby.example"},
    "CA-TECH": {"name": "Torvald Ixworth", "org": None, "street": ["3 Gantry Lane"], "city": "Brackmoor",
                "postal_code": "BM3 3GG", "phone": "+44.2079460222", "email": "torvald.ixworth@ixworth.example"},
    "CB-REG": {"name": "Beatrix Okonkwo", "org": "Okonkwo Looms", "street": ["88 Weaver Row"], "city": "Lanthorn",
               "postal_code": "LA8 8WR", "phone": "+44.2079460333", "email": "beatrix.okonkwo@looms.example"},
    "CC-REG": {"name": "Cassius Vandermeer", "org": None, "street": ["5 Polder Kade"], "city": "Dijkhaven",
               "postal_code": "DH5 5PK", "phone": "+44.2079460444", "email": "cassius.vandermeer@polder.example"},
}  # fmt: skip

# handle -> (kind, parent, staff role)
ACCOUNTS: dict[str, tuple[AccountKind, str | None, str | None]] = {
    "res-r": (AccountKind.RESELLER, None, None),
    "cust-a": (AccountKind.CUSTOMER, "res-r", None),
    "cust-b": (AccountKind.CUSTOMER, None, None),
    "res-r2": (AccountKind.RESELLER, None, None),
    "cust-c": (AccountKind.CUSTOMER, "res-r2", None),
    "staff-sup": (AccountKind.STAFF, None, "support"),
    "staff-leg": (AccountKind.STAFF, None, "legal"),
    "staff-adm": (AccountKind.STAFF, None, "admin"),
}
DOMAIN_A, DOMAIN_B, DOMAIN_C = "a-domain.example", "b-domain.example", "c-domain.example"
IDN_A = "xn--bcher-kva.example"  # bücher.example, also customer A's


@dataclass
class Person:
    handle: str
    password: str
    token: str
    token_id: int
    totp_secret: str | None = None
    recovery_codes: list[str] = field(default_factory=list)


@dataclass
class Population:
    people: dict[str, Person]

    def __getitem__(self, handle: str) -> Person:
        return self.people[handle]

    def secrets(self) -> list[str]:
        """Every password, token, TOTP secret and recovery code: none may appear in a log or an answer."""
        found: list[str] = []
        for p in self.people.values():
            found += [p.password, p.token, *([p.totp_secret] if p.totp_secret else []), *p.recovery_codes]
        return found


def password_of(handle: str) -> str:
    return f"pw of {handle}: correct horse battery staple"


def populate(uow: UnitOfWork) -> Population:
    people: dict[str, Person] = {}
    for handle, (kind, parent, role) in ACCOUNTS.items():
        make_account(uow, handle, kind=kind, parent=parent)
        if role is not None:
            set_staff_role(uow, actor=ACTOR, account=handle, role=role, reason="test population")
        credentials.set_password(uow, actor=ACTOR, account=handle, password=password_of(handle), reason="test",
                                 hasher=FAST)  # fmt: skip
        issued = credentials.issue_token(uow, actor=ACTOR, account=handle, name="tests", reason="test")
        person = Person(handle, password_of(handle), issued.token, issued.record.id)
        if role is not None:
            enrolment = two_factor.begin(uow, actor=ACTOR, account=handle)
            code = pyotp.TOTP(enrolment.secret).at(int(uow.clock().timestamp()))
            person.totp_secret = enrolment.secret
            person.recovery_codes = two_factor.confirm(uow, actor=ACTOR, account=handle, code=code)
        people[handle] = person
    for handle, fields in CONTACTS.items():
        owner = {"CA": "cust-a", "CB": "cust-b", "CC": "cust-c"}[handle[:2]]
        make_contact(uow, owner, handle, **fields)
    make_domain(uow, DOMAIN_A, account="cust-a", registrant="CA-REG", tech="CA-TECH")
    make_domain(uow, IDN_A, account="cust-a", registrant="CA-REG")
    make_domain(uow, DOMAIN_B, account="cust-b", registrant="CB-REG")
    make_domain(uow, DOMAIN_C, account="cust-c", registrant="CC-REG")
    _notified_complaint(uow)
    return Population(people)


CASE_A = "CMP-2026-000001"  # a complaint about customer A's domain, of which A has been told


def _notified_complaint(uow: UnitOfWork) -> None:
    settings = load_settings(environ={})
    requester = cases.Requester(name="Quill Complainant", email="quill@complaints.example")
    case = cases.open_case(uow, settings, actor=ACTOR, kind="complaint", domain=DOMAIN_A, requester=requester,
                           text="The site copies our catalogue.")  # fmt: skip
    assert case.reference == CASE_A
    for action in ("accept", "notify-customer"):
        cases.act(uow, case.id, action, settings=settings, actor=ACTOR, reason="test population")


def portal_settings(**environ: str) -> Settings:
    return load_settings(environ={"DOMAINPRIV_PORTAL_BASE_URL": BASE_URL, **environ})


def new_client(app: FastAPI, *, base_url: str = "http://testserver") -> TestClient:
    """A client with its event loop started (a client used outside `with` starts one per request: slow). Close
    it with `close`."""
    return TestClient(app, base_url=base_url, follow_redirects=False).__enter__()


def close(client: TestClient) -> None:
    client.__exit__(None, None, None)


def api_headers(population: Population, handle: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {population[handle].token}"}


def open_session(uow: UnitOfWork, population: Population, handle: str) -> str:
    """A session id for the account, from the login service (staff give a recovery code)."""
    person = population[handle]
    code = person.recovery_codes.pop() if person.recovery_codes else None
    done = sessions.login(uow, account=handle, password=person.password, source=SOURCE, code=code, hasher=FAST)
    return done.session_id


def logged_in_client(app: FastAPI, uow: UnitOfWork, population: Population, handle: str) -> TestClient:
    c = new_client(app)
    c.cookies.set("dp_session", open_session(uow, population, handle))
    return c


def csrf_from(client: TestClient, path: str = "/login") -> str:
    """The CSRF token of a page's form (the page also sets the matching cookie when there is none)."""
    answer = client.get(path)
    found = CSRF_FIELD.search(answer.text)
    assert found, f"no CSRF field on {path} ({answer.status_code})"
    return found.group(1)


def snapshot(uow: UnitOfWork) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, as text: equal snapshots mean nothing was written in between."""
    with uow.reading() as r:
        return {
            table.name: sorted(tuple(str(v) for v in row) for row in r.session.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


@contextmanager
def serving(uow: UnitOfWork, prepare: Callable[[FastAPI], None] | None = None) -> Iterator[str]:
    """The portal under uvicorn on 127.0.0.1 as the daemon runs it (no access log; logging left to the caller's
    configuration, so that pytest's caplog sees uvicorn's records), on a socket bound before the server starts.
    Yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    base = f"http://{HOST}:{port}"
    app = build_portal(portal_settings(DOMAINPRIV_PORTAL_BASE_URL=f"{base}/"), uow)
    if prepare is not None:
        prepare(app)
    config = uvicorn.Config(app, host=HOST, port=port, log_level="debug", log_config=None, lifespan="off", ws="none",
                            access_log=False, server_header=False)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="portal-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

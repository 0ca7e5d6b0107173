"""The authorisation matrix: every route of the portal and the API (read from `app.routes`, so that a new route
cannot escape it) × {anonymous, customer A, customer B, reseller of A, another reseller, support, legal, admin}.

ROUTES says, per method and path, how to ask for an object of customer A (and for a missing one), which
permission it needs and whose object it is. The expected outcome follows from MAY, the policy written down here
again (not imported from accounts/access.py, so that a change to the code's table shows up as a failure):
allowed; 401 (API) or a redirect to the login page; 403 without the permission; and, for another tenant, exactly
the answer to a missing object (the same status, the same body once the name is swapped). After every refused
request the database is unchanged (every row of every table), and no answer to a caller outside A's tenancy
holds any of A's contact data. API requests carry Bearer tokens; pages a logged-in session cookie (re-verified,
so that the export and the e-mail change are reachable) and the CSRF token taken from a page.

The whole matrix runs on both backends (the module takes about 20 s on SQLite and 30 s on PostgreSQL on a busy
machine): one population per test (API, pages), the routes in table order; allowed writes are repeatable, and
the routes that log in or out get sessions of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from portal.kit import (
    ACTOR,
    CASE_A,
    CONTACTS,
    DOMAIN_A,
    DOMAIN_B,
    DOMAIN_C,
    FAST,
    IDN_A,
    Population,
    TestClient,
    api_headers,
    close,
    csrf_from,
    new_client,
    open_session,
    password_of,
    snapshot,
)
from starlette.routing import Mount

from domainpriv.accounts import reverify
from domainpriv.accounts import services as credentials
from domainpriv.config import load_settings
from domainpriv.portal.app import build_portal
from domainpriv.store import UnitOfWork, make_engine

# Who may do what, by the issue's least privilege (customers and resellers: their own tenancy; support: read,
# change and find on request; legal: read and find; admin: everything).
TENANT = {"self", "domains:read", "domains:write", "consent:write", "export"}
MAY: dict[str | None, set[str]] = {
    None: set(),
    "cust-a": TENANT,
    "cust-b": TENANT,
    "res-r": TENANT,
    "res-r2": TENANT,
    "staff-sup": TENANT | {"customers:find"},
    "staff-leg": {"self", "domains:read", "customers:find", "cases"},
    "staff-adm": TENANT | {"customers:find", "cases"},
}
# A case about a domain: its customer (and reseller) answer it, staff need the cases permission.
for _who in ("cust-a", "cust-b", "res-r", "res-r2"):
    MAY[_who] = MAY[_who] | {"cases"}
WHO = list(MAY)
A_TENANCY = {"cust-a", "res-r", "staff-sup", "staff-leg", "staff-adm"}  # who may see customer A's objects
OUTSIDERS = {None, "cust-b", "res-r2"}
A_PII = [v for handle in ("CA-REG", "CA-TECH") for key, v in CONTACTS[handle].items()
         if isinstance(v, str) and key != "org"] + [CONTACTS["CA-REG"]["org"], IDN_A, "bücher"]  # fmt: skip

NEW_CONTACT = {"name": "Nadia Fresh", "org": None, "street": ["1 New Street"], "city": "Newtown",
               "postal_code": "NT1 1NT", "country": "GB", "phone": "+44.2079460999",
               "email": "nadia@fresh.example"}  # fmt: skip
CONTACT_FORM = {"choice": "new", "name": "Nadia Fresh", "street1": "1 New Street", "city": "Newtown",
                "postal_code": "NT1 1NT", "country": "GB", "phone": "+44.2079460999",
                "email": "nadia@fresh.example"}  # fmt: skip
STAFF_Q = "?ticket=T-1&reason=matrix"  # customers' requests carry them too: they are ignored for customers
STAFF_FORM = {"ticket": "T-1", "reason": "matrix"}
D, X = DOMAIN_A, "x-domain.example"  # customer A's domain, and a missing one of the same length


@dataclass(frozen=True)
class Probe:
    """How to ask a route for customer A's object. `scope`: "tenant" (A's object: A, its reseller and staff may
    reach it), "self" (the caller's own object: here A's, so only A), "own" (no object of A: the caller's own
    account, or a search). `swap`: A's name in the request and the missing name of the same request."""

    needs: str | None  # the permission; None: a public route
    scope: str
    path: str
    body: dict[str, Any] | None = None
    ok: int = 200
    swap: tuple[str, str] | None = None
    missing_status: int = 404
    own_session: bool = False  # logs in or out: each caller gets a session for this route alone


def tenant(needs: str, path: str, body: dict[str, Any] | None = None, ok: int = 200, **kw: Any) -> Probe:
    return Probe(needs, "tenant", path, body, ok, kw.pop("swap", (D, X)), **kw)


def own(needs: str, path: str, body: dict[str, Any] | None = None, ok: int = 200, **kw: Any) -> Probe:
    return Probe(needs, "own", path, body, ok, **kw)


def public(path: str, body: dict[str, Any] | None = None, ok: int = 200, **kw: Any) -> Probe:
    return Probe(None, "own", path, body, ok, **kw)


A = ("cust-a", "cust-x")
C = (CASE_A, "CMP-2026-999999")
ROUTES: dict[tuple[str, str], Probe] = {
    # -- the API
    ("GET", "/api/v1/openapi.json"): public("/api/v1/openapi.json"),
    ("GET", "/api/v1/domains"): tenant("domains:read", "/api/v1/domains?account=cust-a", swap=A),
    ("GET", "/api/v1/domains/{name}"): tenant("domains:read", f"/api/v1/domains/{D}"),
    ("PUT", "/api/v1/domains/{name}/contacts/{role}"): tenant(
        "domains:write", f"/api/v1/domains/{D}/contacts/tech{STAFF_Q}", NEW_CONTACT),
    ("POST", "/api/v1/domains/{name}/registrant-change"): tenant(
        "domains:write", f"/api/v1/domains/{D}/registrant-change{STAFF_Q}", NEW_CONTACT, 202),
    ("PUT", "/api/v1/domains/{name}/privacy"): tenant(
        "domains:write", f"/api/v1/domains/{D}/privacy{STAFF_Q}", {"mode": "proxy"}),
    ("GET", "/api/v1/domains/{name}/privacy/preview"): tenant(
        "domains:read", f"/api/v1/domains/{D}/privacy/preview?mode=public"),
    ("PUT", "/api/v1/domains/{name}/nameservers"): tenant(
        "domains:write", f"/api/v1/domains/{D}/nameservers{STAFF_Q}", {"nameservers": [{"host": "ns1.host.example"}]}),
    ("GET", "/api/v1/contacts"): tenant("domains:read", "/api/v1/contacts?account=cust-a", swap=A),
    ("PUT", "/api/v1/contacts/{handle}"): tenant(
        "domains:write", f"/api/v1/contacts/CA-TECH{STAFF_Q}", CONTACTS["CA-TECH"] | {"city": "Elsewhere",
                                                                                      "country": "GB"},
        swap=("CA-TECH", "CX-TECH")),
    ("GET", "/api/v1/account"): own("self", "/api/v1/account"),
    ("GET", "/api/v1/account/consents"): tenant("domains:read", "/api/v1/account/consents?account=cust-a", swap=A),
    ("PUT", "/api/v1/account/consents/{purpose}"): tenant(
        "consent:write", f"/api/v1/account/consents/marketing{STAFF_Q}&account=cust-a", {"granted": True}, swap=A),
    ("GET", "/api/v1/account/export"): tenant("export", "/api/v1/account/export?account=cust-a", swap=A),
    ("GET", "/api/v1/customers"): own("customers:find", "/api/v1/customers?q=cust"),
    ("POST", "/api/v1/cases"): public("/api/v1/cases", {"kind": "abuse", "domain": DOMAIN_B, "requester": {
        "name": "Rex Reporter", "email": "rex@abuse.example"}, "text": "phishing"}, 201),
    ("GET", "/api/v1/cases"): own("self", "/api/v1/cases"),
    ("GET", "/api/v1/cases/{reference}"): tenant("cases", f"/api/v1/cases/{CASE_A}", swap=C),
    ("POST", "/api/v1/cases/{reference}/assurances"): tenant(  # refused for want of the indemnity: repeatable
        "cases", f"/api/v1/cases/{CASE_A}/assurances", {"indemnity": False, "contacted_complainant": True,
                                                        "statement": "x"}, 422, swap=C),
    ("POST", "/api/v1/cases/{reference}/answers/{action}"): tenant(
        "cases", f"/api/v1/cases/{CASE_A}/answers/no-such-answer", {}, 422, swap=C),
    ("GET", "/api/v1/account/disclosures"): tenant("domains:read", "/api/v1/account/disclosures?account=cust-a",
                                                   swap=A),
    # -- the pages
    ("GET", "/"): public("/", ok=303),
    ("GET", "/login"): public("/login"),
    ("POST", "/login"): public("/login", {"account": "cust-b", "password": password_of("cust-b")}, 303,
                               own_session=True),
    ("POST", "/logout"): public("/logout", {}, 303, own_session=True),
    ("POST", "/logout-everywhere"): own("self", "/logout-everywhere", {}, 303, own_session=True),
    ("GET", "/password-reset"): public("/password-reset"),
    ("POST", "/password-reset"): public("/password-reset", {"email": "cust-b@mail.example"}),
    ("GET", "/password-reset/{token}"): public("/password-reset/not-a-reset-token"),
    ("POST", "/password-reset/{token}"): public("/password-reset/not-a-reset-token",
                                                {"password": "a brand new password here"}, 410),
    ("GET", "/reverify"): own("self", "/reverify"),
    ("POST", "/reverify"): own("self", "/reverify", {"action": "password", "password": "{password}"}, 303),
    ("GET", "/account/two-factor"): own("self", "/account/two-factor"),
    ("POST", "/account/two-factor"): own("self", "/account/two-factor", {"action": "begin"}),
    ("GET", "/domains"): tenant("domains:read", "/domains?account=cust-a", swap=A),
    ("GET", "/domains/{name}"): tenant("domains:read", f"/domains/{D}"),
    ("GET", "/domains/{name}/contacts/{role}"): tenant("domains:read", f"/domains/{D}/contacts/tech"),
    ("POST", "/domains/{name}/contacts/{role}"): tenant(
        "domains:write", f"/domains/{D}/contacts/tech", CONTACT_FORM | STAFF_FORM, 303),
    ("GET", "/domains/{name}/privacy"): tenant("domains:read", f"/domains/{D}/privacy"),
    ("POST", "/domains/{name}/privacy"): tenant(
        "domains:write", f"/domains/{D}/privacy", {"mode": "proxy", "action": "save"} | STAFF_FORM, 303),
    ("GET", "/domains/{name}/nameservers"): tenant("domains:read", f"/domains/{D}/nameservers"),
    ("POST", "/domains/{name}/nameservers"): tenant(
        "domains:write", f"/domains/{D}/nameservers", {"host1": "ns2.host.example"} | STAFF_FORM, 303),
    ("GET", "/contacts/{handle}"): tenant("domains:read", "/contacts/CA-TECH", swap=("CA-TECH", "CX-TECH")),
    ("POST", "/contacts/{handle}"): tenant(
        "domains:write", "/contacts/CA-TECH", CONTACT_FORM | {"name": "Torvald Ixworth",
                                                              "email": "torvald.ixworth@ixworth.example"} | STAFF_FORM,
        303, swap=("CA-TECH", "CX-TECH")),
    ("GET", "/account"): own("self", "/account"),
    ("POST", "/account/consents"): own("consent:write", "/account/consents", {"purpose": "marketing", "granted": "1"}
                                       | STAFF_FORM, 303),
    ("POST", "/account/tokens"): own("self", "/account/tokens", {"name": "matrix"}),
    ("POST", "/account/tokens/{token_id}/revoke"): Probe(
        "self", "self", "/account/tokens/{token_id}/revoke", {}, 303, ("/{token_id}/", "/999999/"), 422),
    ("GET", "/account/email"): own("self", "/account/email"),
    ("POST", "/account/email"): own("domains:write", "/account/email", {"email": "new-address@mail.example"}
                                     | STAFF_FORM, 303),
    ("GET", "/account/export"): own("export", "/account/export"),
    ("GET", "/customers"): own("customers:find", "/customers?q=cust"),
    ("GET", "/unsubscribe/{token}"): public("/unsubscribe/dp_not-a-real-unsubscribe-token-00"),
    ("POST", "/unsubscribe/{token}"): public("/unsubscribe/dp_not-a-real-unsubscribe-token-00", {}),
    ("GET", "/registrant-change/{token}"): public("/registrant-change/dp_not-a-real-change-token-0000"),
    ("POST", "/registrant-change/{token}"): public("/registrant-change/dp_not-a-real-change-token-0000", {}, 410),
    ("GET", "/static"): public("/static/portal.css"),
    ("GET", "/report"): public("/report"),
    ("POST", "/report"): public("/report", {"kind": "abuse", "domain": DOMAIN_B, "name": "Rex Reporter",
                                            "email": "rex@abuse.example", "text": "phishing"}, 201),
    ("GET", "/cases"): own("self", "/cases"),
    ("GET", "/cases/{reference}"): tenant("cases", f"/cases/{CASE_A}", swap=C),
    ("POST", "/cases/{reference}/assurances"): tenant(
        "cases", f"/cases/{CASE_A}/assurances", {"contacted_complainant": "1", "statement": "x"}, 422, swap=C),
    ("POST", "/cases/{reference}/answer"): tenant("cases", f"/cases/{CASE_A}/answer", {"action": "nope"}, 422,
                                                  swap=C),
}  # fmt: skip


def route_keys(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app answers (HEAD goes with GET), mounts as GET."""
    keys: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            keys.add(("GET", str(route.path)))
            continue
        keys |= {(method, str(route.path)) for method in route.methods or () if method != "HEAD"}
    return keys


def test_every_route_is_in_the_matrix_and_every_row_is_a_route() -> None:
    app = build_portal(load_settings(environ={}), UnitOfWork(make_engine("sqlite://")))
    keys = route_keys(app)
    assert keys, "no routes found: the route walk is broken"
    assert not keys - ROUTES.keys(), f"routes missing from the matrix: {sorted(keys - ROUTES.keys())}"
    assert not ROUTES.keys() - keys, f"matrix rows without a route: {sorted(ROUTES.keys() - keys)}"


# ------------------------------------------------------------------------------------------------ the run


@dataclass
class Caller:
    handle: str | None
    client: TestClient
    csrf: str = ""


@dataclass
class Matrix:
    app: FastAPI
    uow: UnitOfWork
    population: Population
    values: dict[str, str]
    callers: dict[str | None, Caller] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def caller(self, handle: str | None) -> Caller:
        """A client with a fresh, re-verified session of `handle` (none for None) and its CSRF token."""
        client = new_client(self.app)
        if handle is not None:
            sid = open_session(self.uow, self.population, handle)
            client.cookies.set("dp_session", sid)
            assert reverify.with_password(self.uow, session_id=sid, password=self.population[handle].password,
                                          hasher=FAST)  # fmt: skip
        return Caller(handle, client, csrf_from(client))

    def open_all(self) -> None:
        for c in self.callers.values():
            close(c.client)
        self.callers = {who: self.caller(who) for who in WHO}

    def fail(self, key: tuple[str, str], who: str | None, text: str) -> None:
        self.failures.append(f"{key[0]} {key[1]} as {who or 'anonymous'}: {text}")


def send(caller: Caller, method: str, path: str, body: dict[str, Any] | None, tokens: Population) -> Any:
    if path.startswith("/api/"):
        headers = api_headers(tokens, caller.handle) if caller.handle else {}
        return caller.client.request(method, path, headers=headers, json=body)
    if method == "GET":
        return caller.client.get(path)
    return caller.client.post(path, data={**(body or {}), "csrf": caller.csrf})


def expected(probe: Probe, who: str | None) -> str:
    if probe.needs is None:
        return "allowed"
    if who is None:
        return "login"
    if probe.needs not in MAY[who]:
        return "forbidden"
    if (probe.scope == "tenant" and who not in A_TENANCY) or (probe.scope == "self" and who != "cust-a"):
        return "missing"
    return "allowed"


def run_matrix(m: Matrix, keys: list[tuple[str, str]]) -> None:
    m.open_all()
    for key in keys:
        probe = ROUTES[key]
        for who in WHO:
            caller = m.caller(who) if probe.own_session else m.callers[who]
            try:
                check(m, key, probe, who, caller)
            finally:
                if probe.own_session:
                    close(caller.client)
        if probe.own_session:
            m.open_all()  # "logout everywhere" ended the others' sessions too


def check(m: Matrix, key: tuple[str, str], probe: Probe, who: str | None, caller: Caller) -> None:
    method, is_api = key[0], key[1].startswith("/api/")
    values = m.values | {"password": m.population[who].password if who else ""}
    path = probe.path.replace("{token_id}", values["token_id"])
    body = None if probe.body is None else {k: (v.format(**values) if isinstance(v, str) else v)
                                            for k, v in probe.body.items()}  # fmt: skip
    outcome = expected(probe, who)
    before = snapshot(m.uow) if outcome != "allowed" else None
    answer = send(caller, method, path, body, m.population)
    if who in OUTSIDERS:
        leaked = [v for v in A_PII if v in answer.text]
        if leaked:
            m.fail(key, who, f"the answer holds customer A's data {leaked}")
    if outcome == "allowed":
        if answer.status_code != probe.ok:
            m.fail(key, who, f"allowed: expected {probe.ok}, got {answer.status_code} {answer.text[:300]!r}")
        return
    if outcome == "login":
        if is_api and (answer.status_code != 401 or "bearer" not in answer.headers.get("www-authenticate", "").lower()):
            m.fail(key, who, f"expected 401 with WWW-Authenticate, got {answer.status_code}")
        if not is_api and (answer.status_code != 303 or not answer.headers["location"].startswith("/login?next=")):
            m.fail(key, who, f"expected a redirect to the login page, got {answer.status_code}")
    elif outcome == "forbidden" and answer.status_code != 403:
        m.fail(key, who, f"expected 403, got {answer.status_code} {answer.text[:300]!r}")
    elif outcome == "missing" and answer.status_code != probe.missing_status:
        m.fail(key, who, f"expected {probe.missing_status} (like a missing object), got {answer.status_code} "
                         f"{answer.text[:300]!r}")  # fmt: skip
    if probe.swap is not None and (outcome != "forbidden" or who not in A_TENANCY):
        # The same request for a missing object answers the same, but for the name (staff who may read A's
        # object but not change it may well learn that it exists).
        theirs, missing = probe.swap
        theirs = theirs.replace("{token_id}", values["token_id"])
        other = send(caller, method, path.replace(theirs, missing), body, m.population)
        same = (other.status_code == answer.status_code
                and other.text.replace(missing.strip("/"), theirs.strip("/")) == answer.text
                and other.headers.get("location", "").replace(missing.strip("/"), theirs.strip("/"))
                == answer.headers.get("location", ""))  # fmt: skip
        if not same:
            m.fail(key, who, f"differs from a missing object's answer: {answer.status_code} {answer.text[:200]!r} "
                             f"vs {other.status_code} {other.text[:200]!r}")  # fmt: skip
    if snapshot(m.uow) != before:
        m.fail(key, who, "a refused request changed the database")


@pytest.fixture
def matrix(uow: UnitOfWork, app: FastAPI, population: Population) -> Iterator[Matrix]:
    # A token of A's to revoke in the matrix (its own API token keeps working for the API rows).
    spare = credentials.issue_token(uow, actor=ACTOR, account="cust-a", name="spare", reason="test")
    m = Matrix(app, uow, population, {"token_id": str(spare.record.id)})
    yield m
    for c in m.callers.values():
        close(c.client)


def test_every_api_route_answers_each_caller_as_the_matrix_says(matrix: Matrix) -> None:
    run_matrix(matrix, [k for k in ROUTES if k[1].startswith("/api/")])
    assert not matrix.failures, "\n".join(matrix.failures)


def test_every_page_answers_each_caller_as_the_matrix_says(matrix: Matrix) -> None:
    run_matrix(matrix, [k for k in ROUTES if not k[1].startswith("/api/")])
    assert not matrix.failures, "\n".join(matrix.failures)


def test_domain_lists_hold_only_the_callers_tenancy(matrix: Matrix) -> None:
    """Without naming an account, each caller's list (API and page) is its own tenancy's, nothing more."""
    own_domains = {"cust-a": {D, IDN_A}, "cust-b": {DOMAIN_B}, "res-r": {D, IDN_A}, "res-r2": {DOMAIN_C}}
    every = {D, IDN_A, DOMAIN_B, DOMAIN_C}
    matrix.open_all()
    for who in WHO[1:]:
        caller = matrix.callers[who]
        listed = caller.client.get("/api/v1/domains", headers=api_headers(matrix.population, str(who))).json()
        names = {d["name"] for d in listed["domains"]}
        assert names == own_domains.get(str(who), set()), who
        html = caller.client.get("/domains").text
        assert {n for n in every if n in html} == own_domains.get(str(who), set()), who


def test_another_tenants_contact_named_in_a_body_answers_like_a_missing_one(
    uow: UnitOfWork, app: FastAPI, population: Population
) -> None:
    """Customer B points its own domain's roles at customer A's contact: refused exactly like a contact that
    does not exist (API and page), and nothing changes."""
    client = new_client(app)
    client.cookies.set("dp_session", open_session(uow, population, "cust-b"))
    csrf = csrf_from(client)
    before = snapshot(uow)
    for role in ("tech", "registrant"):
        api = f"/api/v1/domains/{DOMAIN_B}/contacts/{role}"
        theirs = client.put(api, json={"handle": "CA-TECH"}, headers=api_headers(population, "cust-b"))
        missing = client.put(api, json={"handle": "CX-TECH"}, headers=api_headers(population, "cust-b"))
        assert theirs.status_code == missing.status_code == 404
        assert theirs.text == missing.text.replace("CX-TECH", "CA-TECH")
        page = f"/domains/{DOMAIN_B}/contacts/{role}"
        theirs = client.post(page, data={"choice": "existing", "contact": "CA-TECH", "csrf": csrf})
        missing = client.post(page, data={"choice": "existing", "contact": "CX-TECH", "csrf": csrf})
        assert theirs.status_code == missing.status_code == 404
        assert theirs.text == missing.text.replace("CX-TECH", "CA-TECH")
    assert snapshot(uow) == before
    close(client)

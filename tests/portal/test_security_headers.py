"""Security headers on every kind of answer (pages, API, redirects, 401/404/422/500, static files) and the
attributes of the portal's cookies, over plain HTTP and behind TLS (`portal.base_url` https: Secure, `__Host-`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from portal.kit import Population, TestClient, api_headers, close, csrf_from, new_client, password_of, portal_settings

from domainpriv.portal.app import build_portal
from domainpriv.store import UnitOfWork


def add_bug_routes(app: FastAPI) -> None:
    """A page and an API route that fail with an unexpected exception (whose message holds contact data)."""

    def boom() -> None:
        raise RuntimeError("Adelheid Quenby adelheid.quenby@quenby.example +44.2079460111 17 Larkspur Mews")

    app.add_api_route("/boom", boom, include_in_schema=False)
    app.add_api_route("/api/v1/boom", boom, include_in_schema=False)


def assert_security_headers(answer: Any, what: str) -> None:
    h = answer.headers
    csp = h.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, what
    assert h.get("x-frame-options") == "DENY", what
    assert h.get("referrer-policy") == "no-referrer", what
    assert h.get("x-content-type-options") == "nosniff", what


def test_every_kind_of_answer_carries_the_security_headers(
    uow: UnitOfWork, app: FastAPI, client: TestClient, population: Population
) -> None:
    add_bug_routes(app)
    token = api_headers(population, "cust-a")
    answers = {
        "login page": client.get("/login"),
        "redirect": client.get("/"),
        "page behind login": client.get("/domains"),
        "page 404": client.get("/no-such-page"),
        "page 500": client.get("/boom"),
        "static file": client.get("/static/portal.css"),
        "openapi": client.get("/api/v1/openapi.json"),
        "api 200": client.get("/api/v1/account", headers=token),
        "api 401": client.get("/api/v1/account"),
        "api 404": client.get("/api/v1/domains/x-domain.example", headers=token),
        "api 405": client.delete("/api/v1/account", headers=token),
        "api 422": client.get("/api/v1/domains?limit=lots", headers=token),
        "api 500": client.get("/api/v1/boom", headers=token),
        "form 403": client.post("/login", data={}),
        "page 422": client.post("/login", data={"account": "a\x00", "password": "x", "csrf": csrf_from(client)}),
    }
    statuses = {k: v.status_code for k, v in answers.items()}
    assert statuses == {"login page": 200, "redirect": 303, "page behind login": 303, "page 404": 404,
                        "page 500": 500, "static file": 200, "openapi": 200, "api 200": 200, "api 401": 401,
                        "api 404": 404, "api 405": 405, "api 422": 422, "api 500": 500, "form 403": 403,
                        "page 422": 422}  # fmt: skip
    for what, answer in answers.items():
        assert_security_headers(answer, what)
        if what != "static file":
            assert answer.headers.get("cache-control") == "no-store", what
    assert "strict-transport-security" not in answers["login page"].headers  # plain HTTP: no HSTS
    assert answers["api 500"].json()["error"].startswith("internal error (request ")
    assert "Quenby" not in answers["api 500"].text and "Quenby" not in answers["page 500"].text


def cookie_headers(answer: Any) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in answer.headers.get_list("set-cookie")}


def test_cookies_are_httponly_and_samesite_over_plain_http(client: TestClient, population: Population) -> None:
    csrf_cookie = cookie_headers(client.get("/login"))["dp_csrf"]
    assert "HttpOnly" in csrf_cookie and "SameSite=strict" in csrf_cookie and "Path=/" in csrf_cookie
    assert "Secure" not in csrf_cookie  # http://: a Secure cookie would never come back
    answer = client.post("/login", data={"account": "cust-a", "password": password_of("cust-a"),
                                         "csrf": csrf_from(client)})  # fmt: skip
    session = cookie_headers(answer)["dp_session"]
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session and "Domain" not in session


def test_cookies_behind_tls_are_secure_with_the_host_prefix(uow: UnitOfWork, population: Population) -> None:
    app = build_portal(portal_settings(DOMAINPRIV_PORTAL_BASE_URL="https://portal.example/"), uow)
    client = new_client(app, base_url="https://testserver")
    page = client.get("/login")
    assert page.headers["strict-transport-security"].startswith("max-age=")
    csrf_cookie = cookie_headers(page)["__Host-dp_csrf"]
    assert all(part in csrf_cookie for part in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"))
    assert "Domain" not in csrf_cookie
    answer = client.post("/login", data={"account": "cust-a", "password": password_of("cust-a"),
                                         "csrf": csrf_from(client)})  # fmt: skip
    assert answer.status_code == 303
    session = cookie_headers(answer)["__Host-dp_session"]
    assert all(part in session for part in ("HttpOnly", "Secure", "SameSite=lax", "Path=/")) and "Domain" not in session
    assert client.get("/account").status_code == 200  # the prefixed cookie is the one the portal reads
    assert_security_headers(page, "https login page")
    close(client)

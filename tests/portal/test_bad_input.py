"""Bad input: 422 naming the field (wrong types, missing and unknown fields, a body that is not JSON, oversized
values), IDN names as U-label and A-label, hostile strings in every path parameter of every route (4xx, never
5xx), and generated contact bodies (hypothesis)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portal.kit import (
    IDN_A,
    Population,
    TestClient,
    api_headers,
    close,
    csrf_from,
    logged_in_client,
    password_of,
    snapshot,
)
from portal.test_authorisation_matrix import ROUTES

from domainpriv.store import UnitOfWork

HOSTILE = ["' OR 1=1 --", "../../etc/passwd", "..%2F..%2F", "a\x00b", "x" * 5000, "<script>alert(1)</script>",
           "%", "\u202e", "name with spaces", "ä" * 300, "0" * 40]  # fmt: skip


@pytest.fixture
def token(population: Population) -> dict[str, str]:
    return api_headers(population, "cust-a")


BAD: list[tuple[str, str, Any, str]] = [
    ("PUT", "/api/v1/domains/a-domain.example/privacy", {"mode": 5}, "mode"),
    ("PUT", "/api/v1/domains/a-domain.example/privacy", {"mode": "proxy", "consent_to_publish": "maybe"},
     "consent_to_publish"),
    ("PUT", "/api/v1/domains/a-domain.example/privacy", {}, "mode"),
    ("PUT", "/api/v1/domains/a-domain.example/privacy", {"mode": "proxy", "colour": "red"}, "colour"),
    ("PUT", "/api/v1/domains/a-domain.example/privacy", {"mode": "invisible"}, "mode"),
    ("PUT", "/api/v1/account/consents/marketing", {}, "granted"),
    ("PUT", "/api/v1/account/consents/marketing", {"granted": [True]}, "granted"),
    ("PUT", "/api/v1/account/consents/newsletter-of-the-moon", {"granted": True}, "purpose"),
    ("PUT", "/api/v1/domains/a-domain.example/nameservers", {"nameservers": [{"host": 7}]}, "nameservers[0].host"),
    ("PUT", "/api/v1/domains/a-domain.example/nameservers", {"nameservers": [{"host": "ns1.x.example"}] * 14},
     "nameservers"),
    ("PUT", "/api/v1/domains/a-domain.example/nameservers", {"nameservers": [{"host": "not a host!"}]},
     "nameservers[0].host"),
    ("PUT", "/api/v1/contacts/CA-TECH", {"name": "n" * 256}, "name"),
    ("PUT", "/api/v1/contacts/CA-TECH", {"street": ["a", "b", "c", "d"]}, "street"),
    ("PUT", "/api/v1/contacts/CA-TECH", {"name": "Ok Name", "street": ["1 Road"], "city": "Town", "country": "GB",
                                         "email": "not-an-address"}, "contact.email"),
    ("PUT", "/api/v1/contacts/CA-TECH", {"name": "Ok Name", "street": ["1 Road"], "city": "Town", "country": "ZZ",
                                         "email": "ok@ok.example"}, "contact.country"),
    ("PUT", "/api/v1/domains/a-domain.example/contacts/overlord", {"handle": "CA-TECH"}, "role"),
    ("GET", "/api/v1/domains?limit=lots", None, "limit"),
    ("GET", "/api/v1/domains?limit=0", None, "limit"),
    ("GET", "/api/v1/customers?q=" + "q" * 255, None, "q"),
    ("GET", "/api/v1/domains/a-domain.example/privacy/preview", None, "mode"),
]  # fmt: skip


def test_bad_input_is_422_naming_the_field(client: TestClient, token: dict[str, str]) -> None:
    for method, path, body, field in BAD:
        answer = client.request(method, path, json=body, headers=token)
        assert answer.status_code == 422, (path, body, answer.text)
        assert answer.json()["field"] == field, (path, body, answer.json())
        assert field in answer.json()["error"], (path, body, answer.json())


def test_a_method_not_served_is_405_allowing_every_method_of_the_path(
    client: TestClient, token: dict[str, str]
) -> None:
    """GET and POST /api/v1/cases are two routes: Allow names both, not only the first that matched the path."""
    answers = {
        "/api/v1/cases": ("OPTIONS", "GET, POST"),
        "/api/v1/account": ("DELETE", "GET"),
        "/api/v1/domains/a-domain.example/privacy": ("PATCH", "PUT"),
    }
    for path, (method, allow) in answers.items():
        answer = client.request(method, path, headers=token)
        assert answer.status_code == 405, (path, answer.text)
        assert answer.headers["allow"] == allow, path
        assert answer.json() == {"error": "method not allowed", "field": None}


def test_a_body_that_is_not_json_is_422_on_body(client: TestClient, token: dict[str, str]) -> None:
    for raw in (b"{not json", b"", b"\xff\xfe", b'{"mode": "proxy"'):
        answer = client.put("/api/v1/domains/a-domain.example/privacy", content=raw,
                            headers=token | {"Content-Type": "application/json"})  # fmt: skip
        assert answer.status_code == 422 and answer.json()["field"] == "body", (raw, answer.text)
    form = client.put("/api/v1/domains/a-domain.example/privacy", data={"mode": "proxy"}, headers=token)
    assert form.status_code == 422, form.text


def test_an_idn_answers_the_same_as_u_label_and_a_label(
    uow: UnitOfWork, app: FastAPI, client: TestClient, token: dict[str, str], population: Population
) -> None:
    by_a = client.get(f"/api/v1/domains/{IDN_A}", headers=token)
    by_u = client.get("/api/v1/domains/bücher.example", headers=token)
    by_upper = client.get("/api/v1/domains/BÜCHER.example", headers=token)
    assert by_a.status_code == by_u.status_code == by_upper.status_code == 200
    assert by_a.json() == by_u.json() == by_upper.json()
    assert by_a.json()["name"] == IDN_A and by_a.json()["unicode_name"] == "bücher.example"
    changed = client.put("/api/v1/domains/bücher.example/privacy", json={"mode": "proxy"}, headers=token)
    assert changed.status_code == 200 and changed.json()["privacy_mode"] == "proxy"
    pages = logged_in_client(app, uow, population, "cust-a")
    for name in (IDN_A, "bücher.example"):
        page = pages.get(f"/domains/{quote(name)}")
        assert page.status_code == 200 and "bücher.example" in page.text
    close(pages)


def filled(template: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", quote(value, safe=""), template)


def test_hostile_strings_in_every_path_parameter_are_4xx_never_5xx(
    uow: UnitOfWork, app: FastAPI, client: TestClient, token: dict[str, str], population: Population
) -> None:
    pages = logged_in_client(app, uow, population, "cust-a")
    csrf = csrf_from(pages, "/account")
    templates = sorted({(m, str(r.path)) for r in iter_route_contexts(app.routes) for m in (r.methods or ())
                        if "{" in str(r.path) and m != "HEAD"})  # fmt: skip
    assert len(templates) > 10
    for method, template in templates:
        probe = ROUTES[(method, template)]
        query = probe.path.partition("?")[2]
        body = {k: (v.format(password=password_of("cust-a")) if isinstance(v, str) else v)
                for k, v in (probe.body or {}).items()}  # fmt: skip
        for value in HOSTILE:
            path = filled(template, value) + (f"?{query}" if query else "")
            if template.startswith("/api/"):
                answer = client.request(method, path, json=probe.body, headers=token)
            elif method == "GET":
                answer = pages.get(path)
            else:
                answer = pages.post(path, data=body | {"csrf": csrf})
            assert answer.status_code < 500, (method, template, value[:40], answer.status_code, answer.text[:300])
            if template.startswith("/api/"):
                assert 400 <= answer.status_code < 500, (method, template, value[:40], answer.status_code)
    close(pages)


CONTACT_KEYS = ["name", "org", "city", "state", "postal_code", "country", "phone", "phone_ext", "fax", "fax_ext",
                "email"]  # fmt: skip
text = st.one_of(st.none(), st.text(max_size=300), st.sampled_from(["GB", "+44.2079460958", "a@b.example", ""]),
                 st.integers(), st.booleans())  # fmt: skip
bodies = st.fixed_dictionaries(
    {}, optional={**{k: text for k in CONTACT_KEYS}, "street": st.one_of(st.none(), st.lists(st.text(max_size=80)))}
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_generated_contact_bodies_are_answered_without_a_server_error(
    client: TestClient, token: dict[str, str], body: dict[str, Any]
) -> None:
    answer = client.put("/api/v1/contacts/CA-TECH", json=body, headers=token)
    assert answer.status_code in (200, 409, 422), (body, answer.status_code, answer.text[:300])
    if answer.status_code == 422:
        assert answer.json()["field"], answer.text


def test_nul_characters_in_queries_bodies_and_forms_are_422_never_500(
    uow: UnitOfWork, app: FastAPI, client: TestClient, token: dict[str, str], population: Population
) -> None:
    """PostgreSQL refuses text holding a NUL: each place a caller's text reaches a query answers 422, naming it."""
    queries = (("/api/v1/domains?account=a%00b", "account"), ("/api/v1/customers?q=a%00b", "q"),
               ("/api/v1/domains?after=a%00b", "after"), ("/api/v1/contacts?account=a%00b", "account"))  # fmt: skip
    for path, field in queries:
        answer = client.get(path, headers=api_headers(population, "staff-adm"))
        assert answer.status_code == 422 and answer.json()["field"] == field, (path, answer.text)
    for body, field in (({"handle": "CA\x00TECH"}, "handle"), ({"name": "Nul\x00Name"}, "name"),
                        ({"street": ["1 Road", "x\x00"]}, "street")):  # fmt: skip
        answer = client.put("/api/v1/domains/a-domain.example/contacts/tech", json=body, headers=token)
        assert answer.status_code == 422 and answer.json()["field"] == field, (body, answer.text)
    csrf = csrf_from(client)
    for path, form in (("/login", {"account": "cust\x00a", "password": "whatever it is"}),
                       ("/password-reset", {"email": "cust-a\x00@mail.example"}),
                       ("/password-reset", {"domain": "a-domain\x00.example"})):  # fmt: skip
        answer = client.post(path, data=form | {"csrf": csrf})
        assert answer.status_code == 422, (path, answer.status_code, answer.text[:300])
    # The public report form is multipart (evidence files): its fields and file names get the same check.
    before = snapshot(uow)
    report = {"kind": "complaint", "domain": "a-domain.example", "name": "Rep Orter", "email": "rep@mail.example",
              "text": "Spam from this domain.", "csrf": csrf}  # fmt: skip
    for form in ({**report, "name": "Rep\x00Orter"}, {**report, "text": "Spam\x00"}, {**report, "kind": "com\x00"}):
        answer = client.post(
            "/report", data=form, files={"evidence": ("mail.eml", b"Received: from x", "message/rfc822")}
        )
        assert answer.status_code == 422, (form, answer.status_code, answer.text[:300])
    assert snapshot(uow) == before  # nothing written: no case, no evidence, no mail

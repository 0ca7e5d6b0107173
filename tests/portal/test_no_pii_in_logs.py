"""No personal data and no credential in any log record: a run of portal and API requests against a real uvicorn
server (configured as `serve` runs it), failing ones included — a bad login, validation errors with contact data
in the input, a search, a reset, a forced 500 whose exception message holds contact data — with every
`domainpriv` and `uvicorn` logger at DEBUG."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from fastapi import FastAPI
from portal.kit import CONTACTS, CSRF_FIELD, Population, api_headers, password_of, serving
from sqlalchemy import select

from domainpriv.store import Notice, UnitOfWork

LOGGERS = ["domainpriv", "domainpriv.portal", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"]
# httpx logs each request's URL at INFO, seen here whenever an earlier test in the same worker left the root logger
# at INFO: the client is the test's, not the product's.
TEST_CLIENT_LOGGERS = frozenset({"httpx", "httpcore"})
LEAKY = {"name": "Adelheid Quenby", "email": "adelheid.quenby@@quenby.example", "phone": "+44.2079460111 ext 99",
         "street": ["17 Larkspur Mews", "x" * 300], "city": "Wexcombe", "country": "GB"}  # fmt: skip


def add_bug_route(app: FastAPI) -> None:
    def boom() -> None:
        contact = CONTACTS["CA-REG"]
        raise RuntimeError(f"failed for {contact['name']} <{contact['email']}> {contact['phone']}")

    app.add_api_route("/api/v1/boom", boom, include_in_schema=False)


def form(client: httpx.Client, path: str, data: dict[str, str], page: str = "/login") -> httpx.Response:
    found = CSRF_FIELD.search(client.get(page).text)
    assert found
    return client.post(path, data=data | {"csrf": found.group(1)})


def test_no_contact_data_password_or_token_appears_in_any_log_record(
    uow: UnitOfWork, population: Population, caplog: pytest.LogCaptureFixture
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    a, staff = api_headers(population, "cust-a"), api_headers(population, "staff-sup")
    seen: list[str] = []
    with serving(uow, add_bug_route) as base, httpx.Client(base_url=base, timeout=10) as client:
        statuses = [
            form(client, "/login", {"account": "adelheid.quenby@quenby.example", "password": "Hunter2-secret!"}),
            form(client, "/login", {"account": "cust-a", "password": password_of("cust-a") + "x"}),
            form(client, "/login", {"account": "cust-a", "password": password_of("cust-a")}),
            client.put("/api/v1/contacts/CA-REG", json=LEAKY, headers=a),
            client.put("/api/v1/domains/a-domain.example/contacts/tech", json=LEAKY, headers=a),
            client.post("/api/v1/domains/a-domain.example/registrant-change", json=LEAKY, headers=a),
            client.put("/api/v1/contacts/CA-REG", content=b'{"name": "Adelheid Quenby", ', headers=a),
            client.get("/api/v1/customers", params={"q": "Quenby"}, headers=staff),
            client.get("/api/v1/domains/a-domain.example", headers=a),
            client.get("/api/v1/account/export", headers=a),
            client.get("/api/v1/account", headers={"Authorization": "Bearer " + population["cust-b"].token + "x"}),
            client.get("/api/v1/boom", headers=a),
            form(client, "/password-reset", {"email": "adelheid.quenby@quenby.example"}, "/password-reset"),
            form(client, "/password-reset", {"email": "cust-a@mail.example"}, "/password-reset"),
        ]
        with uow.reading() as r:
            body = r.session.scalar(select(Notice.body).where(Notice.kind == "password-reset"))
        reset = re.search(r"/password-reset/(dp_[\w-]+)", body or "")
        assert reset is not None
        seen.append(reset.group(1))
        statuses.append(form(client, f"/password-reset/{reset.group(1)}", {"password": "short"}, "/login"))
        statuses.append(form(client, f"/password-reset/{reset.group(1)}", {"password": "the new long password"}))
        seen += [v for v in client.cookies.values()]
    codes = [s.status_code for s in statuses]
    assert codes == [401, 401, 303, 422, 422, 422, 422, 200, 200, 200, 401, 500, 200, 200, 422, 200], codes
    values = [v for c in CONTACTS.values() for v in c.values() if isinstance(v, str) and len(v) > 3]
    values += [line for c in CONTACTS.values() for line in c["street"]]
    secrets = [*population.secrets(), "Hunter2-secret!", "the new long password", *seen]
    assert caplog.records, "nothing was logged: the capture is not working"
    assert any("RuntimeError" in r.getMessage() for r in caplog.records)  # the 500 is logged, by type
    for record in caplog.records:
        if record.name.split(".")[0] in TEST_CLIENT_LOGGERS:
            continue  # the test's own client logging the URLs it asks for (a reset link holds its token)
        text = record.getMessage() + (record.exc_text or "") + str(record.__dict__.get("args", ""))
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        for value in values + secrets:
            assert value not in text, f"{record.name}: {value!r} in {text[:500]!r}"

"""Attacks on the portal and the API, each test named after its attack (STYLE §7), on SQLite and PostgreSQL.

Links are taken from the mails themselves: the reset mail from a real SMTP sink (aiosmtpd) after the outbox is
delivered, the other links from the outbox's Notice rows.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from portal.kit import (
    ACTOR,
    BASE_URL,
    CSRF_FIELD,
    DOMAIN_A,
    FAST,
    IDN_A,
    Population,
    TestClient,
    api_headers,
    close,
    csrf_from,
    logged_in_client,
    new_client,
    password_of,
    snapshot,
)
from sqlalchemy import select

from domainpriv.accounts import reverify
from domainpriv.accounts import services as credentials
from domainpriv.config import MailSettings
from domainpriv.notify.delivery import deliver_due
from domainpriv.notify.mailings import queue_mailing
from domainpriv.notify.outbox import mailing_kind
from domainpriv.store import ConsentPurpose, Notice, UnitOfWork
from support.smtp_sink import Sink, smtp_sink

LINK = re.compile(r"/(password-reset|registrant-change|unsubscribe)/(dp_[A-Za-z0-9_-]+)")
NEW_PASSWORD = "a completely new passphrase"


def login(client: TestClient, account: str, password: str, **extra: str) -> Any:
    return client.post("/login", data={"account": account, "password": password, "csrf": csrf_from(client), **extra})


def links_in_outbox(uow: UnitOfWork, kind: str) -> list[str]:
    with uow.reading() as r:
        bodies = r.session.scalars(select(Notice.body).where(Notice.kind == kind).order_by(Notice.id)).all()
    return [m.group(2) for body in bodies for m in LINK.finditer(body)]


def mail(sink: Sink) -> MailSettings:
    return MailSettings.model_validate({
        "smtp_host": "127.0.0.1", "smtp_port": sink.port, "from_address": "noreply@registrar.example",
        "starttls": False, "username": "", "password": "", "timeout_seconds": 5, "max_attempts": 3,
        "backoff_seconds": 60,
    })  # fmt: skip


def reset_link_by_mail(uow: UnitOfWork, client: TestClient, email: str) -> str:
    """Ask for a reset on the page; the link from the mail as the SMTP sink received it."""
    answer = client.post("/password-reset", data={"email": email, "csrf": csrf_from(client, "/password-reset")})
    assert answer.status_code == 200
    with smtp_sink() as sink:
        deliver_due(uow, mail(sink))
    found = [m.group(2) for msg in sink.messages for m in LINK.finditer(msg.get_content())]
    assert len(found) == 1, [msg["Subject"] for msg in sink.messages]
    return found[0]


# ------------------------------------------------------------------------------------------------ CSRF


CSRF_VARIANTS: list[tuple[str, dict[str, str], str | None]] = [
    ("no token", {}, None),
    ("wrong token", {}, "dp_" + "x" * 43),
    ("cross-site Origin", {"Origin": "https://evil.example"}, "right"),
    ("cross-site Sec-Fetch-Site", {"Sec-Fetch-Site": "cross-site"}, "right"),
    ("same-site (a sibling subdomain)", {"Sec-Fetch-Site": "same-site"}, "right"),
]


def test_cross_site_request_forgery_is_refused_with_403_and_changes_nothing(
    uow: UnitOfWork, app: FastAPI, population: Population
) -> None:
    """A POST without the token, with a wrong one, or (with the right one) from another site: 403, nothing
    written. Then the same forms with the token and from this site go through: the refusals were the check's."""
    client = logged_in_client(app, uow, population, "cust-a")
    right = csrf_from(client, "/account")
    before = snapshot(uow)
    forms: list[tuple[str, dict[str, str]]] = [
        ("/account/consents", {"purpose": "marketing", "granted": "1"}),
        (f"/domains/{DOMAIN_A}/privacy", {"mode": "proxy", "action": "save"}),
        ("/account/tokens", {"name": "stolen"}),
        ("/logout-everywhere", {}),
    ]
    for variant, headers, token in CSRF_VARIANTS:
        for path, form in forms:
            data = form | ({"csrf": right if token == "right" else token} if token else {})
            answer = client.post(path, data=data, headers=headers)
            assert answer.status_code == 403, (variant, path, answer.status_code)
            assert "did not come from this site" in answer.text
        assert snapshot(uow) == before, variant
    same_site = {"Origin": "http://127.0.0.1:8081", "Sec-Fetch-Site": "same-origin"}
    for path, form in forms:
        assert client.post(path, data=form | {"csrf": right}, headers=same_site).status_code in (200, 303), path
    close(client)


def test_login_cross_site_request_forgery_is_refused(client: TestClient, population: Population) -> None:
    """A forged login (logging the victim into the attacker's account) needs the login page's token too."""
    answer = client.post("/login", data={"account": "cust-b", "password": password_of("cust-b")})
    assert answer.status_code == 403 and "dp_session" not in answer.cookies


# ------------------------------------------------------------------------------------------------ sessions


def test_session_fixation_a_cookie_set_before_login_is_replaced_and_worthless(
    app: FastAPI, population: Population
) -> None:
    fixed = "dp_" + "f" * 43  # the attacker plants this in the victim's browser
    victim = new_client(app)
    victim.cookies.set("dp_session", fixed)
    csrf_before = csrf_from(victim)
    answer = login(victim, "cust-a", password_of("cust-a"))
    assert answer.status_code == 303
    issued = answer.cookies.get("dp_session")
    assert issued and issued != fixed
    assert victim.get("/domains").status_code == 200
    assert csrf_from(victim) != csrf_before  # the CSRF token is replaced at login as well
    attacker = new_client(app)
    attacker.cookies.set("dp_session", fixed)
    refused = attacker.get("/domains")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    close(victim)
    close(attacker)


def test_session_replay_after_logout_is_refused(app: FastAPI, population: Population) -> None:
    client = new_client(app)
    assert login(client, "cust-a", password_of("cust-a")).status_code == 303
    stolen = client.cookies["dp_session"]
    assert client.post("/logout", data={"csrf": csrf_from(client, "/account")}).status_code == 303
    replay = new_client(app)
    replay.cookies.set("dp_session", stolen)
    assert replay.get("/account").status_code == 303
    close(client)
    close(replay)


def test_session_replay_after_logout_everywhere_is_refused(
    uow: UnitOfWork, app: FastAPI, population: Population
) -> None:
    laptop, phone = new_client(app), new_client(app)
    for c in (laptop, phone):
        assert login(c, "cust-a", password_of("cust-a")).status_code == 303
    other = logged_in_client(app, uow, population, "cust-b")  # another account's session is not touched
    stolen = {id(c): c.cookies["dp_session"] for c in (laptop, phone)}
    assert laptop.post("/logout-everywhere", data={"csrf": csrf_from(laptop, "/account")}).status_code == 303
    for c in (laptop, phone):
        c.cookies.set("dp_session", stolen[id(c)])  # replayed, even where the answer deleted the cookie
        assert c.get("/account").status_code == 303
    assert other.get("/account").status_code == 200
    for c in (laptop, phone, other):
        close(c)


def test_api_token_reuse_after_revocation_is_401(uow: UnitOfWork, app: FastAPI, population: Population) -> None:
    client = logged_in_client(app, uow, population, "cust-a")
    headers = api_headers(population, "cust-a")
    assert client.get("/api/v1/account", headers=headers).status_code == 200
    revoke = f"/account/tokens/{population['cust-a'].token_id}/revoke"
    assert client.post(revoke, data={"csrf": csrf_from(client, "/account")}).status_code == 303
    for path in ("/api/v1/account", f"/api/v1/domains/{DOMAIN_A}", "/api/v1/account/export"):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 401 and answer.json()["error"].startswith("an API token is needed")
    assert client.get("/api/v1/account", headers=api_headers(population, "cust-b")).status_code == 200
    close(client)


# ------------------------------------------------------------------------------------------------ links


def test_password_reset_token_replay_is_refused(uow: UnitOfWork, app: FastAPI, population: Population) -> None:
    client = new_client(app)
    assert login(client, "cust-a", password_of("cust-a")).status_code == 303  # a session the reset must end
    session = client.cookies["dp_session"]
    token = reset_link_by_mail(uow, client, "cust-a@mail.example")
    assert client.get(f"/password-reset/{token}").status_code == 200
    first = client.post(f"/password-reset/{token}", data={"password": NEW_PASSWORD, "csrf": csrf_from(client)})
    assert first.status_code == 200 and "Password changed" in first.text
    replay = client.post(f"/password-reset/{token}",
                         data={"password": "the attacker's own password", "csrf": csrf_from(client)})  # fmt: skip
    assert replay.status_code == 410
    fresh = new_client(app)
    assert login(fresh, "cust-a", "the attacker's own password").status_code == 401
    assert login(fresh, "cust-a", password_of("cust-a")).status_code == 401
    assert login(fresh, "cust-a", NEW_PASSWORD).status_code == 303
    old = new_client(app)
    old.cookies.set("dp_session", session)
    assert old.get("/account").status_code == 303  # every session ended with the reset
    for c in (client, fresh, old):
        close(c)


def test_a_reset_link_is_refused_after_a_newer_password_change(
    uow: UnitOfWork, app: FastAPI, population: Population
) -> None:
    client = new_client(app)
    data = {"email": "cust-a@mail.example", "csrf": csrf_from(client, "/password-reset")}
    for _ in range(2):
        assert client.post("/password-reset", data=data).status_code == 200
    older, newer = links_in_outbox(uow, "password-reset")
    assert (
        client.post(f"/password-reset/{newer}", data={"password": NEW_PASSWORD, "csrf": data["csrf"]}).status_code
        == 200
    )
    stale = client.post(f"/password-reset/{older}", data={"password": "an older link's password", "csrf": data["csrf"]})
    assert stale.status_code == 410
    assert login(new_client(app), "cust-a", NEW_PASSWORD).status_code == 303
    close(client)


def test_password_reset_answers_the_same_for_unknown_addresses(client: TestClient, uow: UnitOfWork,
                                                               population: Population) -> None:  # fmt: skip
    csrf = csrf_from(client, "/password-reset")
    known = client.post("/password-reset", data={"email": "cust-a@mail.example", "csrf": csrf})
    unknown = client.post("/password-reset", data={"email": "nobody@nowhere.example", "csrf": csrf})
    malformed = client.post("/password-reset", data={"email": "not an address", "csrf": csrf})
    assert known.status_code == unknown.status_code == malformed.status_code == 200
    assert known.text == unknown.text == malformed.text
    assert len(links_in_outbox(uow, "password-reset")) == 1


def test_registrant_change_link_replay_is_refused(uow: UnitOfWork, app: FastAPI, population: Population) -> None:
    client = new_client(app)
    new_registrant = {"name": "Nova Holder", "street": ["9 Elm Road"], "city": "Ashby", "country": "GB",
                      "phone": "+44.2079460555", "email": "nova@holder.example"}  # fmt: skip
    asked = client.post(f"/api/v1/domains/{DOMAIN_A}/registrant-change", json=new_registrant,
                        headers=api_headers(population, "cust-a"))  # fmt: skip
    assert asked.status_code == 202
    (token,) = links_in_outbox(uow, "registrant-change-confirm")
    assert client.get(f"/registrant-change/{token}").status_code == 200
    csrf = csrf_from(client)
    done = client.post(f"/registrant-change/{token}", data={"csrf": csrf})
    assert done.status_code == 200 and "is done" in done.text
    after = snapshot(uow)
    replay = client.post(f"/registrant-change/{token}", data={"csrf": csrf})
    assert replay.status_code == 410 and snapshot(uow) == after
    domain = client.get(f"/api/v1/domains/{DOMAIN_A}", headers=api_headers(population, "cust-a")).json()
    assert domain["contacts"]["registrant"]["name"] == "Nova Holder"
    close(client)


def test_unsubscribe_link_replay_records_nothing_new(uow: UnitOfWork, app: FastAPI, population: Population) -> None:
    customer = logged_in_client(app, uow, population, "cust-a")
    granted = customer.post("/account/consents", data={"purpose": "marketing", "granted": "1",
                                                       "csrf": csrf_from(customer, "/account")})  # fmt: skip
    assert granted.status_code == 303
    assert queue_mailing(uow, actor=ACTOR, purpose=ConsentPurpose.MARKETING, subject="Offers", body="Cheap names.",
                         link_base=BASE_URL) == 1  # fmt: skip
    (token,) = links_in_outbox(uow, mailing_kind(ConsentPurpose.MARKETING))
    visitor = new_client(app)  # no login: the link works on its own
    assert visitor.get(f"/unsubscribe/{token}").status_code == 200
    csrf = csrf_from(visitor)
    before = snapshot(uow)
    first = visitor.post(f"/unsubscribe/{token}", data={"csrf": csrf})
    assert first.status_code == 200 and "no longer receive" in first.text
    assert snapshot(uow) != before
    after = snapshot(uow)
    for _ in range(2):
        assert visitor.post(f"/unsubscribe/{token}", data={"csrf": csrf}).status_code == 200
    assert snapshot(uow) == after  # the replay records no second withdrawal
    consents = customer.get("/api/v1/account/consents", headers=api_headers(population, "cust-a")).json()
    assert consents["in_force"].get("marketing") is False
    assert [e["source"] for e in consents["ledger"] if e["purpose"] == "marketing"] == ["portal", "unsubscribe-link"]
    forged = visitor.post("/unsubscribe/dp_" + "u" * 43, data={"csrf": csrf})
    assert forged.status_code == 200 and "not valid" in forged.text and snapshot(uow) == after
    close(customer)
    close(visitor)


# ------------------------------------------------------------------------------------------------ login


def test_login_throttling_answers_429_with_retry_after(client: TestClient, population: Population) -> None:
    for _ in range(5):
        assert login(client, "cust-a", "not the password at all").status_code == 401
    throttled = login(client, "cust-a", password_of("cust-a"))  # even the right password waits now
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0 and "too many failed logins" in throttled.text
    assert "dp_session" not in throttled.cookies
    assert login(client, "cust-b", password_of("cust-b")).status_code == 303  # per account: B is not throttled


def test_codes_asked_for_again_and_again_stop_at_the_hourly_cap(client: TestClient, population: Population) -> None:
    """A stolen session must not turn "e-mail me a code" into unlimited guessing: the sixth code in an hour is a
    429 with Retry-After, said on the page next to the button."""
    assert login(client, "cust-a", password_of("cust-a")).status_code == 303
    for _ in range(reverify.MAX_CODES_PER_HOUR):
        sent = client.post("/reverify", data={"action": "send-code", "csrf": csrf_from(client, "/reverify")})
        assert sent.status_code == 200 and "six-digit code" in sent.text
    refused = client.post("/reverify", data={"action": "send-code", "csrf": csrf_from(client, "/reverify")})
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 3600
    assert 'id="e-code"' in refused.text and "codes were sent in the last hour" in refused.text


EVIL_NEXT = ["//evil.example", "https://evil.example", "http://evil.example/domains", "/\\evil.example",
             "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "//evil.example/%2e%2e", "javascript:alert(1)",
             " //evil.example"]  # fmt: skip


def test_open_redirect_via_next_stays_on_site(client: TestClient, population: Population) -> None:
    for target in EVIL_NEXT:
        form_page = client.get("/login", params={"next": target})
        assert form_page.status_code == 200 and "evil.example" not in form_page.text, target
        answer = login(client, "cust-a", password_of("cust-a"), next=target)
        assert answer.status_code == 303 and answer.headers["location"] == "/domains", (target, answer.headers)
    for target in EVIL_NEXT[:3] + EVIL_NEXT[5:6]:  # logged in: re-verification's `next` is checked the same way
        reverify = client.post("/reverify", data={"action": "password", "password": password_of("cust-a"),
                                                  "next": target, "csrf": csrf_from(client, "/account")})  # fmt: skip
        assert reverify.status_code == 303 and reverify.headers["location"] == "/account", target
    on_site = login(client, "cust-a", password_of("cust-a"), next=f"/domains/{IDN_A}?x=1")  # still works
    assert on_site.status_code == 303 and on_site.headers["location"] == f"/domains/{IDN_A}?x=1"


def test_a_csrf_token_of_the_form_is_the_cookie_and_unguessable(client: TestClient) -> None:
    page = client.get("/login")
    (token,) = CSRF_FIELD.findall(page.text)
    assert client.cookies["dp_csrf"] == token and len(token) >= 40


def test_a_reset_link_is_refused_after_a_newer_password_set_by_staff_or_the_cli(
    uow: UnitOfWork, client: TestClient, population: Population
) -> None:
    data = {"email": "cust-a@mail.example", "csrf": csrf_from(client, "/password-reset")}
    assert client.post("/password-reset", data=data).status_code == 200
    (token,) = links_in_outbox(uow, "password-reset")
    credentials.set_password(uow, actor=ACTOR, account="cust-a", password=NEW_PASSWORD, reason="customer's request",
                             hasher=FAST)  # fmt: skip
    stale = client.post(f"/password-reset/{token}", data={"password": "an older link's pw", "csrf": data["csrf"]})
    assert stale.status_code == 410

"""End to end in headless Chromium, JavaScript off: a customer logs in with the keyboard and changes a technical
contact, and the next WHOIS and RDAP answers of the same daemon show it as the privacy mode allows; a password is
reset from the e-mailed link; marketing is refused from the e-mail's unsubscribe link; a complaint filed on the
public form is answered by the customer in the portal; and the pages are usable
(every input labelled, errors next to their field). Against a real `domainpriv serve` with the demo data, its
mail caught by a real SMTP sink, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from e2e.site import CUSTOMER, RESELLER, Site, body_of, link_in, log_in, run_cli
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from domainpriv import demo
from domainpriv.accounts import consent
from domainpriv.audit import Actor
from domainpriv.notify.mailings import queue_mailing
from domainpriv.store import Notice, UnitOfWork, make_engine
from domainpriv.vocabulary import ConsentPurpose
from support.daemons import rdap, whois

OLD_TECH_EMAIL = "sren.muller@c0000001-0.example"  # C0000001-0, the demo customer's contact in every role


@dataclass(frozen=True)
class NewTech:
    name: str
    street: str
    city: str
    country: str
    phone: str  # as typed
    phone_whois: str  # as published
    email: str

    def personal(self) -> tuple[str, ...]:
        return self.name, self.street, self.city, self.phone_whois, self.email


def new_tech(tag: str, country: str = "NL") -> NewTech:
    return NewTech(name=f"Wilhelmina {tag.title()}kamp", street=f"7 {tag.title()} Quay", city="Zwolle",
                   country=country, phone="+31 38 421 0123", phone_whois="+31.384210123",
                   email=f"tech.{tag}@new-tech.example")  # fmt: skip


def account_email(handle: str) -> str:
    """The account's address in the demo data that `domainpriv demo load` loaded (its defaults: 60 domains, seed
    1); no test here changes it."""
    for record in demo.demo_records(60, 1):
        if record["type"] == "account" and record["handle"] == handle:
            return str(record["email"])
    raise AssertionError(f"no account {handle} in the demo data")


def change_tech_in_the_portal(page: Page, site: Site, domain: str, tech: NewTech) -> None:
    """From the domain list: open the domain, the technical contact's form, enter a new contact, save."""
    page.goto(site.url("/domains"))
    page.get_by_role("link", name=domain, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(domain)
    page.get_by_role("link", name="Change the technical contact").click()
    page.get_by_label("Enter a new contact").check()
    page.get_by_label("Name").fill(tech.name)
    page.get_by_label("Street", exact=True).fill(tech.street)
    page.get_by_label("City").fill(tech.city)
    page.get_by_label(re.compile(r"^Country")).fill(tech.country)
    page.get_by_label("Phone (+country code)", exact=True).fill(tech.phone)
    page.get_by_label("E-mail").fill(tech.email)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(site.url(f"/domains/{domain}?changed=tech"))
    expect(page.get_by_role("status")).to_contain_text("WHOIS and RDAP show the change now")
    tech_row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Technical contact"))
    expect(tech_row).to_contain_text(f"{tech.name} <{tech.email}>")


def tech_vcard(body: dict[str, object]) -> str:
    """The RDAP tech entity, as text."""
    entities = body.get("entities")
    assert isinstance(entities, list)
    (tech,) = [e for e in entities if "technical" in e.get("roles", [])]
    return json.dumps(tech, ensure_ascii=False)


def expect_contact_changed_mails(site: Site, domain: str, new_email: str, after: int) -> None:
    subject = f"The technical contact of {domain} was replaced"
    old = site.wait_for_mail(OLD_TECH_EMAIL, subject, after=after)
    new = site.wait_for_mail(new_email, subject, after=after)
    assert "is no longer the technical contact" in body_of(old)
    assert "is now the technical contact" in body_of(new)
    engine = make_engine(site.db_url)
    try:
        with UnitOfWork(engine).reading() as r:
            kinds = r.session.execute(select(Notice.to_address, Notice.kind).where(Notice.subject == subject)).all()
    finally:
        engine.dispose()
    assert sorted(kinds) == sorted([(OLD_TECH_EMAIL, "contact-changed"), (new_email, "contact-changed")])


# -- 1. the technical contact, and what WHOIS and RDAP then publish ------------------------------------------------


@pytest.mark.parametrize(("domain", "mode"), [("photo-55.com", "redacted"), ("solar-1.net", "proxy")])
def test_a_new_tech_contact_of_a_private_domain_shows_in_whois_and_rdap_without_its_personal_data(
    site: Site, page: Page, domain: str, mode: str
) -> None:
    before = whois(site.whois_port, domain)  # also fills the daemon's cache: the change must drop it
    assert ("Tech Name: REDACTED FOR PRIVACY" if mode == "redacted" else "Tech Name: Privacy Service") in before
    tech = new_tech(mode)
    mails = len(site.sink.messages)
    log_in(page, site, CUSTOMER)
    change_tech_in_the_portal(page, site, domain, tech)

    answer = whois(site.whois_port, domain)
    status, body = rdap(site.rdap_port, domain)
    assert status == 200
    vcard = tech_vcard(body)
    for text in (answer, json.dumps(body, ensure_ascii=False)):
        for personal in tech.personal():
            assert personal not in text, f"{personal!r} published for a {mode} domain"
    if mode == "redacted":
        assert "Tech Name: REDACTED FOR PRIVACY" in answer and "Tech Phone: REDACTED FOR PRIVACY" in answer
        assert re.search(r"^Tech Email: [0-9a-f]+@privacy\.registrar\.example\r$", answer, re.MULTILINE)
        redacted = body.get("redacted")
        assert isinstance(redacted, list)
        assert {"Tech Name", "Tech Phone", "Tech Email"} <= {r["name"]["type"] for r in redacted}
        assert ["fn", {}, "text", ""] in json.loads(vcard)["vcardArray"][1]
    else:
        assert "Tech Name: Privacy Service of Example Registrar" in answer
        assert "Privacy Service of Example Registrar" in vcard
    expect_contact_changed_mails(site, domain, tech.email, mails)


def switch_to_public(page: Page, site: Site, domain: str) -> None:
    """Privacy -> public in the portal: preview, consent, save, re-verify with the password, save again."""
    page.goto(site.url(f"/domains/{domain}/privacy"))
    public = page.get_by_label("Public: your contact data as it is")
    public.check()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="WHOIS would show (public)")).to_be_visible()
    expect(page.locator("pre.whois")).to_contain_text("Registrant Name: Søren Müller")
    page.get_by_label("Public: your contact data as it is").check()
    page.get_by_label("I agree that my contact data is published").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    page.get_by_label("Your password").fill(site.passwords[CUSTOMER])
    page.get_by_label("Your password").press("Enter")
    expect(page).to_have_url(site.url(f"/domains/{domain}/privacy"))
    page.get_by_label("Public: your contact data as it is").check()
    page.get_by_label("I agree that my contact data is published").check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(site.url(f"/domains/{domain}?changed=privacy"))


def test_a_new_tech_contact_of_a_public_domain_shows_in_whois_and_rdap_with_name_phone_and_email(
    site: Site, page: Page
) -> None:
    domain = "yoga-26.net"  # proxy in the demo; the customer has consented to publishing
    log_in(page, site, CUSTOMER)
    switch_to_public(page, site, domain)
    before = whois(site.whois_port, domain)
    assert "Tech Name: Søren Müller" in before and f"Tech Email: {OLD_TECH_EMAIL}" in before
    tech = new_tech("public")
    mails = len(site.sink.messages)
    change_tech_in_the_portal(page, site, domain, tech)

    answer = whois(site.whois_port, domain)
    assert f"Tech Name: {tech.name}\r\n" in answer
    assert f"Tech Phone: {tech.phone_whois}\r\n" in answer
    assert f"Tech Email: {tech.email}\r\n" in answer
    status, body = rdap(site.rdap_port, domain)
    assert status == 200
    vcard = tech_vcard(body)
    properties = json.loads(vcard)["vcardArray"][1]
    assert ["fn", {}, "text", tech.name] in properties
    assert ["tel", {"type": "voice"}, "uri", f"tel:{tech.phone_whois}"] in properties
    assert ["email", {}, "text", tech.email] in properties
    assert not [p for p in properties if p[0] == "adr"]
    # Registration Data Policy: a technical contact has only Name, Phone and Email, even in public mode.
    for text in (answer, vcard):
        assert tech.street not in text and tech.city not in text
    expect_contact_changed_mails(site, domain, tech.email, mails)


# -- 2. a password reset from the e-mailed link --------------------------------------------------------------------


def submit(page: Page, button: str) -> int:
    """Click the form's button; the status of the POST's answer (before any redirect)."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    return answer.value.status


def test_a_password_is_reset_from_the_mailed_link_which_works_once(
    site: Site, browser: Browser, page: Page, context: BrowserContext
) -> None:
    address = account_email(CUSTOMER)
    elsewhere = browser.new_context(java_script_enabled=False)  # a session open before the reset
    try:
        other = elsewhere.new_page()
        log_in(other, site, CUSTOMER)
        expect(other).to_have_url(site.url("/domains"))
        mails = len(site.sink.messages)
        page.goto(site.url("/login"))
        page.get_by_role("link", name="Lost your password?").click()
        page.get_by_label("E-mail address").fill(address)
        with page.expect_navigation():
            page.get_by_label("E-mail address").press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
        mail = site.wait_for_mail(address, "Reset your password", after=mails)
        assert f"account {CUSTOMER}" in body_of(mail)
        link = link_in(mail, site, "/password-reset/")

        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
        page.get_by_label("New password").fill("short")
        assert submit(page, "Set the password") == 422  # a weak password: refused next to the field, link kept
        field = page.get_by_label("New password")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(page.locator("div.field").filter(has=field).locator(".error")).not_to_be_empty()
        new_password = f"a new password for {CUSTOMER} from the link"
        field.fill(new_password)
        assert submit(page, "Set the password") == 200
        expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")
        old_password, site.passwords[CUSTOMER] = site.passwords[CUSTOMER], new_password

        log_in(page, site, CUSTOMER, old_password)
        expect(page).to_have_url(site.url("/login"))
        expect(page.get_by_role("alert")).to_have_text("wrong account or password")
        log_in(page, site, CUSTOMER)
        expect(page).to_have_url(site.url("/domains"))
        other.goto(site.url("/domains"))  # every session ended with the reset
        expect(other).to_have_url(re.compile(re.escape(site.url("/login")) + r"\?next="))

        context.clear_cookies()
        page.goto(link)  # the link a second time
        page.get_by_label("New password").fill("yet another password, long enough")
        assert submit(page, "Set the password") == 410
        expect(page.get_by_role("alert")).to_contain_text("not valid (unknown, used or expired)")
        expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()
        log_in(page, site, CUSTOMER, "yet another password, long enough")
        expect(page).to_have_url(site.url("/login"))
    finally:
        elsewhere.close()


# -- 3. marketing refused from the e-mail's unsubscribe link -------------------------------------------------------


def give_marketing_consent(page: Page, site: Site, account: str) -> None:
    log_in(page, site, account)
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_role("button", name="Give: Our offers by e-mail").click()
    expect(page).to_have_url(site.url("/account?changed=consent"))
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Our offers by e-mail"))
    expect(row.get_by_role("cell").first).to_have_text("yes")


def test_marketing_is_refused_from_the_mailing_s_link_without_logging_in(
    site: Site, browser: Browser, page: Page
) -> None:
    address, reseller_address = account_email(CUSTOMER), account_email(RESELLER)
    give_marketing_consent(page, site, CUSTOMER)
    reseller = browser.new_context(java_script_enabled=False)
    try:
        give_marketing_consent(reseller.new_page(), site, RESELLER)  # so that the second mailing goes somewhere
    finally:
        reseller.close()
    engine = make_engine(site.db_url)
    uow = UnitOfWork(engine)
    try:
        mails = len(site.sink.messages)
        queued = queue_mailing(uow, actor=Actor("cli", "e2e"), purpose=ConsentPurpose.MARKETING,
                               subject="Winter offers", body="Two domains for the price of one.",
                               link_base=site.base_url)  # fmt: skip
        assert queued == 2
        mail = site.wait_for_mail(address, "Winter offers", after=mails)
        link = link_in(mail, site, "/unsubscribe/")

        anonymous = browser.new_context(java_script_enabled=False)  # no login, no cookies
        try:
            visitor = anonymous.new_page()
            visitor.goto(link)
            expect(visitor.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
            assert submit(visitor, "Unsubscribe") == 200
            expect(visitor.get_by_role("status")).to_have_text("You will no longer receive our offers by e-mail.")
        finally:
            anonymous.close()

        last = consent.ledger(uow, CUSTOMER)[-1]
        assert (last.purpose, last.granted, last.source) == (ConsentPurpose.MARKETING, False, "unsubscribe-link")
        page.goto(site.url("/account"))  # the customer sees the withdrawal in the ledger
        newest = page.locator("h3 + table tbody tr").first
        expect(newest).to_contain_text("marketing")
        expect(newest).to_contain_text("withdrawn")
        expect(newest).to_contain_text("unsubscribe-link")

        mails = len(site.sink.messages)
        assert queue_mailing(uow, actor=Actor("cli", "e2e"), purpose=ConsentPurpose.MARKETING,
                             subject="Spring offers", body="Three for two.", link_base=site.base_url) == 1  # fmt: skip
        site.wait_for_mail(reseller_address, "Spring offers", after=mails)
        assert not site.mails_to(address, after=mails)
        with uow.reading() as r:
            queued_to = r.session.scalars(select(Notice.to_address).where(Notice.subject == "Spring offers")).all()
        assert queued_to == [reseller_address]  # nothing waits in the outbox for the customer either
    finally:
        engine.dispose()


# -- 4. accessibility basics ---------------------------------------------------------------------------------------


def assert_every_input_is_labelled(page: Page) -> int:
    """Each form control has exactly one <label for>, Playwright's get_by_label finds it by that text, and it
    has an accessible name. Also: no script on the page. Returns how many controls there are."""
    assert page.locator("script").count() == 0, f"{page.url} has a script"
    controls = page.locator("input:not([type=hidden]), select, textarea")
    count = controls.count()
    assert count > 0, f"no inputs on {page.url}"
    for i in range(count):
        control = controls.nth(i)
        ident = control.get_attribute("id")
        assert ident, f"an input without id on {page.url}: {control.evaluate('e => e.outerHTML')}"
        label = page.locator(f"label[for='{ident}']")
        expect(label).to_have_count(1)
        found = page.get_by_label(label.inner_text(), exact=True)
        expect(found).to_have_count(1)
        assert found.get_attribute("id") == ident
        expect(control).to_have_accessible_name(re.compile(r"\w"))
    return count


def test_every_input_of_the_login_contact_and_privacy_pages_has_a_label(site: Site, page: Page) -> None:
    page.goto(site.url("/login"))
    assert assert_every_input_is_labelled(page) == 2
    page.goto(site.url("/password-reset"))
    assert_every_input_is_labelled(page)
    log_in(page, site, CUSTOMER)
    for path in ("/contacts/C0000001-0", "/domains/photo-55.com/privacy", "/domains/photo-55.com/contacts/tech",
                 "/domains/photo-55.com/nameservers", "/account"):  # fmt: skip
        page.goto(site.url(path))
        assert_every_input_is_labelled(page)


def without_answer_time(answer: str) -> str:
    return re.sub(r">>> Last update of WHOIS database: .* <<<", "", answer)


@pytest.mark.parametrize("path", ["/contacts/C0000001-0", "/domains/solar-13.shop/contacts/tech"])
def test_an_invalid_email_is_reported_next_to_its_field(site: Site, page: Page, path: str) -> None:
    log_in(page, site, CUSTOMER)
    page.goto(site.url(path))
    if "contacts/tech" in path:
        page.get_by_label("Enter a new contact").check()
        page.get_by_label("Name").fill("Ada Typo")
        page.get_by_label("City").fill("Zwolle")
        page.get_by_label(re.compile(r"^Country")).fill("NL")
    before = whois(site.whois_port, "solar-13.shop")
    email = page.get_by_label("E-mail")
    email.fill("nobody@localhost")  # passes the browser's own type=email check; the portal refuses it
    assert submit(page, "Save") == 422
    email = page.get_by_label("E-mail")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("nobody@localhost")  # what was typed is kept
    error = page.locator("div.field").filter(has=email).locator(".error")
    expect(error).to_have_text("is not a valid e-mail address")
    expect(email).to_have_accessible_description(re.compile("is not a valid e-mail address"))
    for other in ("Name", "City"):
        expect(page.get_by_label(other)).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator(".error")).to_have_count(1)
    assert without_answer_time(whois(site.whois_port, "solar-13.shop")) == without_answer_time(before)  # unsaved


def test_a_street_line_too_long_is_reported_next_to_the_line_it_was_typed_in(site: Site, page: Page) -> None:
    """The service numbers street lines by the ones given (street[0]); the page puts the error on the input."""
    log_in(page, site, CUSTOMER)
    page.goto(site.url("/contacts/C0000001-0"))
    page.get_by_label("Street", exact=True).fill("")
    page.get_by_label("Street (line 2)").fill("9 " + "Very Long " * 30 + "Street")
    assert submit(page, "Save") == 422
    line2 = page.get_by_label("Street (line 2)")
    expect(line2).to_have_attribute("aria-invalid", "true")
    expect(page.locator("div.field").filter(has=line2).locator(".error")).to_have_text("must be at most 255 characters")
    expect(line2).to_have_accessible_description("must be at most 255 characters")
    expect(page.get_by_label("Street", exact=True)).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator(".error")).to_have_count(1)


def test_the_daemon_logs_no_personal_data(site: Site) -> None:
    """Everything the daemon wrote to its log while the browser worked: no address, no name (STYLE: logs carry
    no personal data)."""
    log = site.log.read_text()
    for personal in (OLD_TECH_EMAIL, "Søren", "Wilhelmina", "new-tech.example", "@mail.example", "@hosting.example"):
        assert personal not in log


COMPLAINANT = ("Quentin Plaintiff", "quentin@plaintiff.example")


def test_a_complaint_filed_on_the_public_form_is_answered_by_the_customer_in_the_portal(
    site: Site, page: Page, browser: Browser
) -> None:
    """Issue 10: a complainant files the public form (no login); staff accept it and notify the customer (the
    CLI, as an operator would); the customer sees the complaint in the portal and gives its assurances."""
    name, address = COMPLAINANT
    mails = len(site.sink.messages)
    page.goto(site.url("/login"))
    page.get_by_role("link", name="Report a domain").click()
    page.get_by_label("Complaint about a privacy-protected domain").check()
    page.get_by_label("Domain name").fill("yoga-30.com")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("E-mail").fill(address)
    page.get_by_label("What is wrong").fill("The site copies the photographs of my portfolio.")
    assert submit(page, "Send") == 201
    reference = re.search(r"CMP-\d{4}-\d{6}", page.get_by_role("status").inner_text())
    assert reference is not None
    ack = site.wait_for_mail(address, lambda subject: reference.group(0) in subject, after=mails)
    assert "yoga-30.com" in body_of(ack) and OLD_TECH_EMAIL not in body_of(ack)  # nothing of the customer

    for action in ("accept", "notify-customer"):
        run_cli(site.db_url, site.cwd, "case", "act", reference.group(0), action, "--reason", "specific enough")

    customer = browser.new_context(java_script_enabled=False)
    try:
        mine = customer.new_page()
        log_in(mine, site, CUSTOMER)
        mine.get_by_role("link", name="Complaints").click()
        mine.get_by_role("link", name=reference.group(0)).click()
        expect(mine.get_by_role("heading", level=1)).to_contain_text("yoga-30.com")
        expect(mine.locator("pre")).to_have_text("The site copies the photographs of my portfolio.")
        mine.get_by_label("Your statement").fill("I wrote to the complainant and took the photographs down.")
        mine.get_by_label("I promise to indemnify").check()
        assert submit(mine, "Send the assurances") == 422  # the second confirmation is missing: next to its box
        box = mine.get_by_label("I have contacted the complainant")
        expect(box).to_have_attribute("aria-invalid", "true")
        mine.get_by_label("I promise to indemnify").check()
        box.check()
        mine.get_by_label("Your statement").fill("I wrote to the complainant and took the photographs down.")
        assert submit(mine, "Send the assurances") == 303
        expect(mine.get_by_role("status")).to_have_text("Your answer is recorded.")
        expect(mine.locator("dd").first).to_have_text("assurances received")
    finally:
        customer.close()
    shown = json.loads(run_cli(site.db_url, site.cwd, "case", "show", reference.group(0), "--json"))
    assert [step["action"] for step in shown["history"]] == ["open", "accept", "notify-customer", "give-assurances"]

"""End to end in headless Chromium, JavaScript off: a customer logs in with the keyboard and changes a technical
contact, and the next WHOIS and RDAP answers of the same daemon show it as the privacy mode allows; a password is
reset from the e-mailed link; marketing is refused from the e-mail's unsubscribe link; and the pages are usable
(every input labelled, errors next to their field). Against a real `domainpriv serve` with the demo data, its
mail caught by a real SMTP sink, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from e2e.site import CUSTOMER, Site, body_of, log_in, run_cli
from playwright.sync_api import Page, expect

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


def account_email(site: Site, handle: str) -> str:
    """The account's address as `domainpriv export` gives it."""
    for line in run_cli(site.db_url, site.cwd, "export").splitlines():
        record = json.loads(line)
        if record["type"] == "account" and record["handle"] == handle:
            return str(record["email"])
    raise AssertionError(f"no account {handle} in the export")


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


# -- 1. the technical contact, and what WHOIS and RDAP then publish ------------------------------------------------


@pytest.mark.parametrize(("domain", "mode"), [("photo-55.com", "redacted"), ("solar-1.net", "proxy")])
def test_a_new_tech_contact_of_a_private_domain_shows_in_whois_and_rdap_without_its_personal_data(
    site: Site, page: Page, domain: str, mode: str
) -> None:
    before = whois(site.whois_port, domain)  # also fills the daemon's cache: the change must drop it
    assert "Tech Name: REDACTED FOR PRIVACY" in before if mode == "redacted" else "Privacy Service" in before
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
        assert "redacted" in json.dumps(body).lower()
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
    assert tech.name in vcard and tech.email in vcard and "+31" in vcard
    # Registration Data Policy: a technical contact has only Name, Phone and Email, even in public mode.
    for text in (answer, vcard):
        assert tech.street not in text and tech.city not in text
    expect_contact_changed_mails(site, domain, tech.email, mails)

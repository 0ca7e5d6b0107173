"""Notice templates: every kind renders to a one-line subject and a plain-text body, and a missing context name
is an error, never an empty hole in a mail."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from domainpriv.notify.templates import KINDS, TemplateMissing, render

TEMPLATES = Path(__file__).resolve().parents[2] / "domainpriv" / "notify" / "templates"

CONTEXTS: dict[str, dict[str, object]] = {
    "password-reset": {"account": "acct-1", "link": "https://portal.example/password-reset/dp_x", "valid_minutes": 60},
    "password-changed": {"account": "acct-1"},
    "contact-changed": {"domain": "bakery-0.com", "role": "tech", "account": "acct-1", "acted_by": "account acct-1",
                        "change": "replaced", "recipient": "previous"},
    "contact-edited": {"contact": "C00042", "account": "acct-1", "acted_by": "account acct-1"},
    "registrant-change-confirm": {"domain": "bakery-0.com", "link": "https://portal.example/confirm/dp_y",
                                  "valid_hours": 72, "lock_days": 60, "lock_opt_out": False},
    "registrant-changed": {"domain": "bakery-0.com", "lock_days": 60, "lock_opt_out": True},
    "privacy-changed": {"domain": "bakery-0.com", "old_mode": "proxy", "new_mode": "public"},
    "verification-code": {"code": "482913", "valid_minutes": 10},
    "email-changed": {"account": "acct-1"},
    "mailing": {"subject": "Autumn offers", "body": "Two domains for one.\n", "purpose": "marketing",
                "unsubscribe_link": "https://portal.example/unsubscribe/dp_z"},
    # cases (domainpriv/cases)
    "case-acknowledgement": {"reference": "DIS-2026-000001", "case_kind": "disclosure", "domain": "bakery-0.com",
                             "urgent": True, "decision_due": "2026-12-01 12:00 UTC"},
    "case-customer-notice": {"reference": "CMP-2026-000002", "case_kind": "complaint", "domain": "bakery-0.com",
                             "allegation": "Counterfeits.", "requester_name": "Carl", "requester_org": "",
                             "requester_email": "carl@brand.example", "deadline": "2026-11-17 09:00 UTC",
                             "link": "https://portal.example/cases/CMP-2026-000002"},
    "case-reminder": {"reference": "CMP-2026-000002", "domain": "bakery-0.com", "deadline": "2026-11-17 09:00 UTC",
                      "link": "https://portal.example/cases/CMP-2026-000002"},
    "case-deactivated": {"reference": "CMP-2026-000002", "domain": "bakery-0.com", "actions": ["put on hold"]},
    "case-disclosure": {"reference": "DIS-2026-000001", "domain": "bakery-0.com",
                        "values": [("registrant.name", "Rita")], "basis": "GDPR Art. 6(1)(f)"},
    "case-refused": {"reference": "DIS-2026-000001", "domain": "bakery-0.com", "reasons": "No legal basis.",
                     "balancing": "The registrant's interests prevail."},
    "case-info-requested": {"reference": "DIS-2026-000001", "domain": "bakery-0.com", "needed": "Your mandate."},
    "case-customer-update": {"reference": "CMP-2026-000002", "domain": "bakery-0.com", "what": "closed.",
                             "reason": "Adequate assurances."},
}  # fmt: skip


def test_every_template_file_is_a_known_kind_and_every_kind_has_a_context_here() -> None:
    assert {p.stem for p in TEMPLATES.glob("*.txt")} == KINDS == set(CONTEXTS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_renders_a_one_line_subject_and_a_body_with_its_values(kind: str) -> None:
    subject, body = render(kind, **CONTEXTS[kind])
    assert subject and "\n" not in subject and not subject.startswith("Subject")
    assert body.endswith("\n") and not body.startswith("\n") and "\n\n\n" not in body
    assert "{{" not in body and "{#" not in body and "Context:" not in body
    for value in CONTEXTS[kind].values():
        if isinstance(value, str) and value.startswith(("https://", "dp_", "4")):
            assert value in body  # links and codes appear whole


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_missing_context_name_is_an_error(kind: str) -> None:
    context = dict(CONTEXTS[kind])
    context.pop(next(iter(context)))
    with pytest.raises(jinja2.UndefinedError):
        render(kind, **context)


def test_links_are_not_html_escaped_in_plain_text() -> None:
    link = "https://portal.example/password-reset/dp_a?x=1&y=<2>"
    _, body = render("password-reset", account="acct-1", link=link, valid_minutes=60)
    assert link in body and "&amp;" not in body


def test_the_reset_notice_keeps_its_wording() -> None:
    subject, body = render("password-reset", **CONTEXTS["password-reset"])
    assert subject == "Reset your password"
    assert body.startswith("Someone asked to reset the password of account acct-1.\n\n")
    assert "open this link within 60 minutes:\nhttps://portal.example/password-reset/dp_x\n" in body


def test_a_contact_change_names_the_role_and_which_address_this_copy_goes_to() -> None:
    context = CONTEXTS["contact-changed"]
    old = render("contact-changed", **context)
    new = render("contact-changed", **{**context, "recipient": "new", "change": "set"})
    assert old.subject == "The technical contact of bakery-0.com was replaced"
    assert "no longer the technical contact" in old.body and "now the technical contact" in new.body
    assert "by account acct-1" in old.body


def test_the_transfer_lock_is_stated_or_its_opt_out() -> None:
    context = CONTEXTS["registrant-change-confirm"]
    assert "for 60 days" in render("registrant-change-confirm", **context).body
    opted_out = render("registrant-change-confirm", **{**context, "lock_opt_out": True}).body
    assert "60 days" not in opted_out and "right after the change" in opted_out


def test_a_mailing_ends_with_its_unsubscribe_link() -> None:
    _, body = render("mailing", **CONTEXTS["mailing"])
    assert body.endswith("https://portal.example/unsubscribe/dp_z\n")
    assert body.startswith("Two domains for one.\n\n--\n")


def test_a_subject_value_with_a_newline_stays_one_line() -> None:
    subject, _ = render("mailing", **{**CONTEXTS["mailing"], "subject": "Hello\r\nBcc: all@x.example"})
    assert subject == "Hello Bcc: all@x.example"


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(TemplateMissing):
        render("no-such-notice")

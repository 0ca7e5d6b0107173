"""The RDAP renderer on hand-made public records: goldens per privacy mode, ICANN's schemas and profile rules,
RFC 9537 paths, and no leak of hidden values. No database, no network.

Golden files (golden/rdap_<case>.json) are the reviewed form of each mode's answer. After an intended change,
regenerate them with

    UPDATE_GOLDEN=1 /tmp/probe/bin/pytest -p no:cacheprovider tests/unit/rdds/test_rdap_json.py

and review the diff before committing (the test still checks every rule on the new output).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from domainpriv.privacy import PublicRecord
from domainpriv.rdds import rdap_json, rdap_notices
from domainpriv.rdds.rdap_json import epp_to_rdap_status, render_domain, render_error, render_help
from domainpriv.registration.validation import EPP_DOMAIN_STATUSES, DsRecord, normalize_domain_name
from domainpriv.vocabulary import ConsentPurpose, PrivacyMode
from support.public_records import REGISTRANT, TECH, golden_cases, public_record
from support.rdap_checks import (
    check_rdap_domain,
    check_rdap_error,
    check_rdap_help,
    check_redactions,
    copy_body,
    validate_rdap_schema,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
BASE_URL = "https://rdap.registrar.example/"
TERMS_URL = "https://www.registrar.example/rdap-terms"
HELP_URL = "https://www.registrar.example/rdap-help"
IDN = normalize_domain_name("bücher-beispiel.com")

CASES = golden_cases(IDN)


def url_of(record: PublicRecord) -> str:
    return f"{BASE_URL}domain/{record.name}"


def render(record: PublicRecord, request_url: str | None = None) -> dict[str, Any]:
    return render_domain(record, request_url=request_url or url_of(record), base_url=BASE_URL, terms_url=TERMS_URL)


def redaction_names(body: dict[str, Any]) -> list[str]:
    return [entry["name"]["type"] for entry in body.get("redacted", [])]


def registrant_card(body: dict[str, Any]) -> dict[str, list[Any]]:
    (entity,) = [e for e in body["entities"] if e["roles"] == ["registrant"]]
    return {prop[0] + ("/" + prop[1]["type"] if prop[0] == "tel" else ""): prop for prop in entity["vcardArray"][1]}


# ------------------------------------------------------------------------------------------------------ goldens


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_domain_matches_its_golden_file(case: str) -> None:
    record = CASES[case]()
    body = render(record)
    check_rdap_domain(body, url_of(record))
    text = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n"
    path = GOLDEN / f"rdap_{case}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"{path.name} differs; see this module's docstring"


# --------------------------------------------------------------------------------------------- mode by mode


def test_redacted_mode_lists_every_hidden_element_with_the_profile_names() -> None:
    body = render(public_record(PrivacyMode.REDACTED))
    assert redaction_names(body) == [
        "Registry Registrant ID", "Registrant Name", "Registrant Organization", "Registrant Street",
        "Registrant City", "Registrant Postal Code", "Registrant Phone", "Registrant Phone Ext", "Registrant Fax",
        "Registrant Fax Ext", "Registrant Email", "Registry Tech ID", "Tech Name", "Tech Phone", "Tech Phone Ext",
        "Tech Email",
    ]  # fmt: skip
    assert body["rdapConformance"][-1] == "redacted"
    card = registrant_card(body)
    assert card["fn"][3] == ""
    assert card["adr"] == ["adr", {"cc": "DE"}, "text", ["", "", "", "", "Bayern", "", ""]]
    assert "org" not in card and "tel/voice" not in card and "tel/fax" not in card
    assert card["email"][3].endswith("@privacy.registrar.example") and "contact-uri" not in card


def test_redacted_relay_email_is_a_replacement_value_on_the_email_itself() -> None:
    body = render(public_record(PrivacyMode.REDACTED, "relay"))
    (entry,) = [e for e in body["redacted"] if e["name"]["type"] == "Registrant Email"]
    assert entry["method"] == "replacementValue" and "prePath" not in entry
    assert entry["postPath"] == "$.entities[?(@.roles[0]=='registrant')].vcardArray[1][?(@[0]=='email')][3]"


def test_redacted_web_form_replaces_the_email_by_a_contact_uri() -> None:
    body = render(public_record(PrivacyMode.REDACTED, "web_form"))
    card = registrant_card(body)
    assert "email" not in card
    assert card["contact-uri"] == [
        "contact-uri",
        {},
        "uri",
        "https://www.registrar.example/contact?domain=example-domain.com&role=registrant",
    ]
    (entry,) = [e for e in body["redacted"] if e["name"]["type"] == "Registrant Email"]
    vcard = "$.entities[?(@.roles[0]=='registrant')].vcardArray[1]"
    assert entry["prePath"] == f"{vcard}[?(@[0]=='email')]"
    assert entry["replacementPath"] == f"{vcard}[?(@[0]=='contact-uri')]"


def test_published_organization_gets_no_redaction_entry() -> None:
    record = public_record(PrivacyMode.REDACTED, consents=frozenset({ConsentPurpose.PUBLISH_ORGANIZATION}))
    body = render(record)
    check_rdap_domain(body, url_of(record))
    assert registrant_card(body)["org"][3] == REGISTRANT["org"]
    assert "Registrant Organization" not in redaction_names(body)


def test_redacted_registrant_without_organization_still_declares_it_redacted() -> None:
    """Whether there is an organisation is itself not published: the entry is there either way (-63300)."""
    for org in (None, "Registrant Widgets GmbH"):
        record = public_record(PrivacyMode.REDACTED, registrant={**REGISTRANT, "org": org})
        body = render(record)
        check_rdap_domain(body, url_of(record))
        assert "Registrant Organization" in redaction_names(body)
        assert "org" not in registrant_card(body)


def test_proxy_mode_shows_the_service_and_redacts_only_the_ids() -> None:
    body = render(public_record(PrivacyMode.PROXY))
    assert redaction_names(body) == ["Registry Registrant ID", "Registry Tech ID"]
    card = registrant_card(body)
    assert card["fn"][3] == "Privacy Service of Example Registrar"
    assert card["org"][3] == "Example Privacy Services LLC"
    assert card["adr"][3] == ["", "", ["1 Example Plaza", "Suite 100"], "Anytown", "CA", "90210", ""]
    assert card["adr"][1] == {"cc": "US"}
    assert card["tel/voice"][3] == "tel:+1.5555550199"


def test_public_mode_publishes_the_data_with_phone_extension_and_street_lines() -> None:
    body = render(public_record(PrivacyMode.PUBLIC))
    card = registrant_card(body)
    assert card["fn"][3] == REGISTRANT["name"]
    assert card["adr"][3] == ["", "", ["Geheimstraße 7", "Hinterhaus"], "Verborgenstadt", "Bayern", "80999", ""]
    assert card["tel/voice"][2:] == ["uri", "tel:+49.8912345678;ext=42"]
    assert card["tel/fax"][2:] == ["uri", "tel:+49.8912345679"]
    assert card["email"][3] == REGISTRANT["email"]
    assert redaction_names(body) == ["Registry Registrant ID", "Registry Tech ID"]


def test_without_a_tech_contact_there_is_no_technical_entity_nor_tech_redaction() -> None:
    body = render(public_record(PrivacyMode.REDACTED, with_tech=False))
    assert [e["roles"] for e in body["entities"]] == [["registrar"], ["registrant"]]
    assert not [name for name in redaction_names(body) if "Tech" in name]


def test_idn_answer_has_the_a_label_and_the_u_label() -> None:
    body = render(public_record(name=IDN))
    assert body["ldhName"] == IDN and IDN.startswith("xn--")
    assert body["unicodeName"] == "bücher-beispiel.com"
    assert body["links"][0]["href"] == f"{BASE_URL}domain/{IDN}"


def test_ascii_answer_has_no_unicode_name() -> None:
    assert "unicodeName" not in render(public_record())


def test_request_url_is_the_value_of_every_link_but_the_registrar_about_link() -> None:
    record = public_record()
    request_url = f"{BASE_URL}domain/EXAMPLE-Domain.com"
    body = render(record, request_url)
    check_rdap_domain(body, request_url)
    values = {link["value"] for link in body["links"]} | {
        link["value"] for notice in body["notices"] for link in notice["links"]
    }
    assert values == {request_url}
    assert body["links"][0]["href"] == f"{BASE_URL}domain/example-domain.com"  # canonical


def test_notices_carry_the_exact_profile_texts() -> None:
    notices = render(public_record())["notices"]
    assert [n["title"] for n in notices] == ["Terms of Use", "Status Codes", "RDDS Inaccuracy Complaint Form"]
    assert notices[0]["links"][0]["href"] == TERMS_URL
    assert notices[1]["description"] == [
        "For more information on domain status codes, please visit https://icann.org/epp"
    ]
    assert notices[2]["links"][0] | {"value": ""} == {
        "value": "", "rel": "help", "href": "https://icann.org/wicf", "type": "text/html"
    }  # fmt: skip


def test_registrar_entity_follows_the_profile() -> None:
    (registrar,) = [e for e in render(public_record())["entities"] if e["roles"] == ["registrar"]]
    assert registrar["handle"] == "5555555"
    assert registrar["publicIds"] == [{"type": "IANA Registrar ID", "identifier": "5555555"}]
    assert registrar["links"] == [
        {"value": "https://rdap.registrar.example/", "rel": "about", "href": "https://www.registrar.example/",
         "type": "text/html"}
    ]  # fmt: skip
    (abuse,) = registrar["entities"]
    assert ["tel", {"type": "voice"}, "uri", "tel:+1.5555550100"] in abuse["vcardArray"][1]
    assert ["email", {}, "text", "abuse@registrar.example"] in abuse["vcardArray"][1]


def test_events_and_status_are_mapped() -> None:
    body = render(replace(public_record(), statuses=("clientDeleteProhibited", "clientTransferProhibited")))
    assert body["status"] == ["client delete prohibited", "client transfer prohibited"]
    assert body["events"] == [
        {"eventAction": "registration", "eventDate": "2015-03-04T05:06:07Z"},
        {"eventAction": "expiration", "eventDate": "2027-03-04T05:06:07Z"},
        {"eventAction": "registrar expiration", "eventDate": "2027-03-04T05:06:07Z"},
        {"eventAction": "last changed", "eventDate": "2026-08-14T07:01:34Z"},
        {"eventAction": "last update of RDAP database", "eventDate": "2026-11-01T12:00:00Z"},
    ]


def test_every_epp_status_has_a_registered_rdap_value() -> None:
    assert epp_to_rdap_status("ok") == "active"
    assert epp_to_rdap_status("redemptionPeriod") == "redemption period"
    for status in EPP_DOMAIN_STATUSES:
        assert re.fullmatch(r"[a-z ]+", epp_to_rdap_status(status)), status
    with pytest.raises(KeyError):
        epp_to_rdap_status("clientTransferprohibited")


def test_reseller_is_an_entity_without_a_handle() -> None:
    record = replace(public_record(), reseller="Alpine Hosting 0")
    body = render(record)
    check_rdap_domain(body, url_of(record))
    (reseller,) = [e for e in body["entities"] if e["roles"] == ["reseller"]]
    assert "handle" not in reseller and reseller["vcardArray"][1][1] == ["fn", {}, "text", "Alpine Hosting 0"]


def test_no_entity_and_no_nameserver_has_an_internal_handle() -> None:
    body = render(public_record(PrivacyMode.PUBLIC))
    text = orjson.dumps(body).decode()
    assert "CREG01" not in text and "CTECH01" not in text and "cust-1" not in text
    assert all(set(ns) == {"objectClassName", "ldhName"} for ns in body["nameservers"])


@pytest.mark.parametrize("mode", [PrivacyMode.REDACTED, PrivacyMode.PROXY])
@pytest.mark.parametrize("email_mode", ["relay", "web_form"])
def test_hidden_contact_values_appear_nowhere_in_the_answer(mode: PrivacyMode, email_mode: str) -> None:
    record = public_record(mode, email_mode)
    text = orjson.dumps(render(record)).decode()
    shown = {"Bayern", "DE"} if mode is PrivacyMode.REDACTED else set()
    hidden = [v for contact in (REGISTRANT, TECH) for v in _values(contact) if v not in shown]
    leaked = [value for value in hidden if value in text]
    assert not leaked


def _values(contact: Mapping[str, object]) -> list[str]:
    out: list[str] = []
    for value in contact.values():
        if isinstance(value, list):
            out.extend(value)
        elif isinstance(value, str):
            out.append(value)
            if value.startswith("+"):
                out.append(value.split(".", 1)[1])  # the national number on its own
    return out


def test_signed_delegation_lists_its_ds_records() -> None:
    ds = DsRecord(370, 13, 2, "2BB183AF5F22588179A53B0A98631FAD1A292118AB5F1B2D8E3A8E8C5EB4BA14")
    record = replace(public_record(), ds_records=(ds,))
    body = render(record)
    assert body["secureDNS"] == {
        "delegationSigned": True,
        "dsData": [{"keyTag": 370, "algorithm": 13, "digest": ds.digest, "digestType": 2}],
    }
    check_rdap_domain(body, f"{BASE_URL}domain/{record.name}")


def test_unsigned_delegation_says_so() -> None:
    assert render(public_record())["secureDNS"] == {"delegationSigned": False}


# ------------------------------------------------------------------------------------------------ help, errors


def test_help_has_conformance_and_notices_only() -> None:
    body = render_help(f"{BASE_URL}help", help_url=HELP_URL, terms_url=TERMS_URL)
    check_rdap_help(body, f"{BASE_URL}help")
    assert body["notices"][0]["links"][0] == {
        "value": f"{BASE_URL}help", "rel": "help", "href": HELP_URL, "type": "text/html"
    }  # fmt: skip


@pytest.mark.parametrize("status", sorted(rdap_notices.ERROR_TEXTS))
def test_error_objects_validate_and_carry_conformance(status: int) -> None:
    title, text = rdap_notices.ERROR_TEXTS[status]
    body = render_error(status, title, [text])
    check_rdap_error(body, status)
    assert body["rdapConformance"] == list(rdap_notices.CONFORMANCE) and "redacted" not in body["rdapConformance"]


# ------------------------------------------------------------------------------------ the checks can fail


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return mutate


BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "registrant name shown but declared emptied": _set("entities.1.vcardArray.1.1.3", "Jane"),
    "removed phone still present": lambda b: b["entities"][1]["vcardArray"][1].append(
        ["tel", {"type": "voice"}, "uri", "tel:+1.5"]
    ),
    "adr without cc": _set("entities.1.vcardArray.1.2.1", {}),
    "country name filled in": lambda b: b["entities"][1]["vcardArray"][1][2][3].__setitem__(6, "Germany"),
    "status codes notice reworded": _set("notices.1.description", ["See https://icann.org/epp"]),
    "notice link value not the request URL": _set("notices.2.links.0.value", "https://elsewhere.example/"),
    "self link value not the request URL": _set("links.0.value", "https://elsewhere.example/"),
    "redacted extension missing": lambda b: b["rdapConformance"].remove("redacted"),
    "conformance repeated in an entity": _set("entities.1.rdapConformance", ["rdap_level_0"]),
    "duplicate event": lambda b: b["events"].append(dict(b["events"][0])),
    "registrar expiration missing": lambda b: b["events"].pop(2),
    "nameserver handle": _set("nameservers.0.handle", "NS1-EXAMPLE"),
    "active with another status": _set("status", ["active", "client hold"]),
    "pending transfer with transfer prohibited": _set("status", ["pending transfer", "client transfer prohibited"]),
    "epp status spelling": _set("status", ["clientTransferProhibited"]),
    "tel as text": _set("entities.0.entities.0.vcardArray.1.2.2", "text"),
    "second registrant": lambda b: b["entities"].append(copy_body(b["entities"][1])),
    "registrar without publicIds": lambda b: b["entities"][0].pop("publicIds"),
    "abuse without email": lambda b: b["entities"][0]["entities"][0]["vcardArray"][1].pop(3),
    "registrant handle not a roid": _set("entities.1.handle", "CREG01"),
    "email and contact-uri together": lambda b: b["entities"][1]["vcardArray"][1].append(
        ["contact-uri", {}, "uri", "https://form.example/"]
    ),
    "redaction reason with a stray key": _set("redacted.0.reason", {"description": "x", "why": "y"}),
    "unknown top-level member": _set("secret", "x"),
    "event date not rfc 3339": _set("events.0.eventDate", "2015-03-04"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_check_rdap_domain_rejects_a_broken_answer(breakage: str) -> None:
    record = public_record(PrivacyMode.REDACTED)
    body = copy_body(render(record))
    check_rdap_domain(body, url_of(record))
    BREAKAGES[breakage](body)
    with pytest.raises(AssertionError):
        check_rdap_domain(body, url_of(record))


def test_check_redactions_rejects_an_empty_value_path_that_matches_nothing() -> None:
    body = copy_body(render(public_record(PrivacyMode.REDACTED)))
    body["entities"][1]["vcardArray"][1] = [p for p in body["entities"][1]["vcardArray"][1] if p[0] != "adr"]
    with pytest.raises(AssertionError, match="Registrant Street"):
        check_redactions(body)


def test_check_rdap_error_rejects_a_string_error_code() -> None:
    body = render_error(404, "Not Found", ["x"]) | {"errorCode": "404"}
    with pytest.raises(AssertionError):
        check_rdap_error(body, 404)


def test_the_reference_example_passes_the_checks() -> None:
    """Calibration: the full example of rdds.md §2.14 (ICANN-conformant by construction) passes every check."""
    reference = Path(__file__).resolve().parents[4] / "shared" / "reference" / "rdds.md"
    if not reference.is_file():
        if os.environ.get("DOMAINPRIV_REQUIRE_SERVICES") == "1":
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reference} not found")
        pytest.skip(f"{reference} not found")
    text = reference.read_text(encoding="utf-8")
    start = text.index("```json", text.index("### 2.14")) + len("```json")
    body = orjson.loads(text[start : text.index("```", start)])
    check_rdap_domain(body, "https://rdap.registrar.example/domain/example.com")
    validate_rdap_schema(body, "rdap_domain.json")


def test_renderer_modules_do_no_io_and_never_touch_the_store() -> None:
    """STYLE §1: renderers import nothing from store/ and no database or network library."""
    for module in (rdap_json, rdap_notices):
        assert module.__file__ is not None
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        imported = {
            name
            for node in ast.walk(tree)
            for name in (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
        }  # fmt: skip
        forbidden = ("domainpriv.store", "sqlalchemy", "psycopg", "sqlite3", "socket", "httpx", "urllib.request")
        assert not {n for n in imported if n.startswith(forbidden)}, module.__name__


def test_missing_schemas_skip_or_fail_when_services_are_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import rdap_checks

    monkeypatch.setattr(rdap_checks, "SCHEMA_DIR", tmp_path / "rdap-schemas")
    monkeypatch.delenv("DOMAINPRIV_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="schemas not found"):
        rdap_checks.require_schemas()
    monkeypatch.setenv("DOMAINPRIV_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="DOMAINPRIV_REQUIRE_SERVICES=1"):
        rdap_checks.require_schemas()

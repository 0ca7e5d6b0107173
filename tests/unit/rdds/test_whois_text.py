"""The WHOIS renderer and the answer logic, without sockets or a database.

Golden files: one per privacy mode in tests/unit/rdds/golden/whois_*.txt, byte for byte (CR LF included).
Regenerate them, then review the diff, with:

    UPDATE_GOLDEN=1 pytest tests/unit/rdds/test_whois_text.py -p no:cacheprovider
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from whois.exceptions import WhoisDomainNotFoundError
from whois.parser import WhoisEntry

from domainpriv.config import load_settings
from domainpriv.privacy import PublicRecord
from domainpriv.rdds.whois_answer import MALFORMED_QUERY, answer_whois, answer_whois_query, peek_whois_answer
from domainpriv.rdds.whois_text import REDACTED, render_domain, render_error, render_not_found
from domainpriv.registration.validation import DsRecord
from domainpriv.vocabulary import PrivacyMode
from support.public_records import NOW, REGISTRANT, TECH, golden_cases, public_record

GOLDEN = Path(__file__).parent / "golden"
TERMS = load_settings(environ={}).publication.terms_of_use
IDN_A_LABEL = "xn--bcher-kva.com"
IDN_U_LABEL = "bücher.com"

CASES = golden_cases(IDN_A_LABEL)
HIDING = ["proxy", "redacted_relay", "redacted_web_form", "no_tech", "idn"]

# rdds.md §1.2, in order; repeated keys (Domain Status, Registrant Street, Name Server) collapse to one.
REGISTRAR_KEYS = [
    "Domain Name", "Registry Domain ID", "Registrar WHOIS Server", "Registrar URL", "Updated Date", "Creation Date",
    "Registrar Registration Expiration Date", "Registrar", "Registrar IANA ID", "Registrar Abuse Contact Email",
    "Registrar Abuse Contact Phone", "Reseller", "Domain Status",
]  # fmt: skip
REGISTRANT_KEYS = [
    "Registry Registrant ID", "Registrant Name", "Registrant Organization", "Registrant Street", "Registrant City",
    "Registrant State/Province", "Registrant Postal Code", "Registrant Country", "Registrant Phone",
    "Registrant Phone Ext", "Registrant Fax", "Registrant Fax Ext", "Registrant Email",
]  # fmt: skip
TECH_KEYS = ["Registry Tech ID", "Tech Name", "Tech Phone", "Tech Phone Ext", "Tech Email"]
TAIL_KEYS = ["Name Server", "DNSSEC", "URL of the ICANN Whois Inaccuracy Complaint Form"]

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")  # rdds.md §1.3
PHONE = re.compile(r"\+[0-9]{1,3}\.[0-9]{1,14}")  # rdds.md §1.3, E.164a, at most 17 characters
LAST_UPDATE = re.compile(r">>> Last update of WHOIS database: (\S+) <<<")


def render(case: str) -> str:
    return render_domain(CASES[case](), TERMS)


def body_lines(text: str) -> list[str]:
    """The key/value lines, up to and excluding the `>>> Last update` line."""
    lines = text.split("\r\n")
    return lines[: next(i for i, line in enumerate(lines) if line.startswith(">>>"))]


def fields(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in body_lines(text):
        key, _, value = line.partition(": ")
        out.setdefault(key.rstrip(":"), []).append(value)
    return out


def pii_values(contact: dict[str, object]) -> list[str]:
    values: list[str] = []
    for value in contact.values():
        if isinstance(value, list):
            values += value
        elif isinstance(value, str):
            values.append(value)
    return values


# --------------------------------------------------------------------------------------------- golden files


@pytest.mark.parametrize("case", list(CASES))
def test_render_domain_matches_golden_file(case: str) -> None:
    path = GOLDEN / f"whois_{case}.txt"
    output = render(case).encode("utf-8")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(output)
    assert path.exists(), f"{path.name} missing: run UPDATE_GOLDEN=1 pytest {Path(__file__).name}"
    assert output == path.read_bytes(), f"{path.name} differs: review, then regenerate with UPDATE_GOLDEN=1"


def test_every_golden_file_belongs_to_a_case() -> None:
    assert sorted(p.name for p in GOLDEN.glob("whois_*.txt")) == sorted(f"whois_{c}.txt" for c in CASES)


# ----------------------------------------------------------------------------------------------- structure


@pytest.mark.parametrize("case", list(CASES))
def test_every_line_ends_in_crlf(case: str) -> None:
    text = render(case)
    assert text.endswith("\r\n")
    assert text.count("\n") == text.count("\r\n") == text.count("\r")


@pytest.mark.parametrize("case", list(CASES))
def test_fields_come_in_the_raa_order(case: str) -> None:
    record = CASES[case]()
    keys = [line.split(":", 1)[0] for line in body_lines(render(case))]
    collapsed = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    tech = TECH_KEYS if record.tech is not None else []
    assert collapsed == REGISTRAR_KEYS + REGISTRANT_KEYS + tech + TAIL_KEYS


@pytest.mark.parametrize("case", list(CASES))
def test_footer_follows_the_dnssec_line(case: str) -> None:
    lines = render(case).split("\r\n")
    end = lines.index(next(line for line in lines if line.startswith(">>>")))
    assert lines[end - 1] == "URL of the ICANN Whois Inaccuracy Complaint Form: https://www.icann.org/wicf/"
    assert LAST_UPDATE.fullmatch(lines[end])
    assert lines[end + 1 : end + 4] == [
        "",
        "For more information on Whois status codes, please visit https://icann.org/epp",
        "",
    ]
    terms = lines[end + 4 : -1]
    assert terms and " ".join(terms) == TERMS
    assert all(len(line) <= 80 for line in terms)


@pytest.mark.parametrize("case", list(CASES))
def test_every_line_has_the_key_value_shape(case: str) -> None:
    for line in body_lines(render(case)):
        assert re.fullmatch(r"[A-Za-z][A-Za-z /]*[A-Za-z]:( \S.*)?", line), line
        assert not line.endswith(" ")


@pytest.mark.parametrize("case", list(CASES))
def test_timestamps_are_utc_with_z(case: str) -> None:
    text = render(case)
    f = fields(text)
    for key in ("Updated Date", "Creation Date", "Registrar Registration Expiration Date"):
        assert TIMESTAMP.fullmatch(f[key][0]), key
    match = LAST_UPDATE.search(text)
    assert match and match.group(1) == "2026-11-01T12:00:00Z"


def test_timestamps_are_converted_to_utc_and_naive_ones_taken_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    record = replace(
        public_record(),
        created_at=datetime(2015, 3, 4, 7, 6, 7, 123456, tzinfo=plus_two),
        updated_at=datetime(2026, 8, 14, 7, 1, 34),  # naive on purpose
    )
    f = fields(render_domain(record, TERMS))
    assert f["Creation Date"] == ["2015-03-04T05:06:07Z"]
    assert f["Updated Date"] == ["2026-08-14T07:01:34Z"]


@pytest.mark.parametrize("case", list(CASES))
def test_phones_are_e164a_or_redacted_or_empty(case: str) -> None:
    for key, values in fields(render(case)).items():
        if key.endswith(("Phone", "Fax")):
            for value in values:
                assert value in ("", REDACTED) or (PHONE.fullmatch(value) and len(value) <= 17), (key, value)


@pytest.mark.parametrize("case", list(CASES))
def test_statuses_carry_their_epp_url(case: str) -> None:
    assert fields(render(case))["Domain Status"] == [
        "clientTransferProhibited https://icann.org/epp#clientTransferProhibited"
    ]


def test_each_status_gets_its_own_line_in_order() -> None:
    record = replace(public_record(), statuses=("clientDeleteProhibited", "clientHold", "ok"))
    assert fields(render_domain(record, TERMS))["Domain Status"] == [
        "clientDeleteProhibited https://icann.org/epp#clientDeleteProhibited",
        "clientHold https://icann.org/epp#clientHold",
        "ok https://icann.org/epp#ok",
    ]


def test_reseller_dnssec_and_name_servers() -> None:
    ds = DsRecord(12345, 13, 2, "E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766")
    record = replace(
        public_record(),
        reseller="Harbor Hosting 1",
        ds_records=(ds,),
        nameservers=("ns1.example.net", "ns2.example.org"),
    )
    f = fields(render_domain(record, TERMS))
    assert f["Reseller"] == ["Harbor Hosting 1"]
    assert f["DNSSEC"] == ["signedDelegation"]
    assert f["Name Server"] == ["ns1.example.net", "ns2.example.org"]
    assert fields(render("redacted_relay"))["Reseller"] == [""]
    assert fields(render("redacted_relay"))["DNSSEC"] == ["unsigned"]


def test_no_name_servers_gives_one_empty_line() -> None:
    text = render_domain(replace(public_record(), nameservers=()), TERMS)
    assert text.count("\r\nName Server:\r\n") == 1
    assert "Name Server: " not in text


def test_idn_shows_the_a_label_only() -> None:
    text = render("idn")
    assert fields(text)["Domain Name"] == [IDN_A_LABEL]
    assert IDN_U_LABEL not in text and "bücher" not in text


# -------------------------------------------------------------------------------------------------- privacy


@pytest.mark.parametrize("case", ["redacted_relay", "redacted_web_form", "no_tech", "idn"])
def test_redacted_mode_redacts_all_but_state_country_and_email(case: str) -> None:
    f = fields(render(case))
    for key in REGISTRANT_KEYS:
        if key in ("Registrant State/Province", "Registrant Country", "Registrant Email"):
            continue
        assert f[key] == [REDACTED], key  # Organization too: the customer did not consent to publish it
    assert f["Registrant State/Province"] == [REGISTRANT["state"]]
    assert f["Registrant Country"] == [REGISTRANT["country"]]
    for key in ("Registry Tech ID", "Tech Name", "Tech Phone", "Tech Phone Ext"):
        assert f.get(key) == (None if case == "no_tech" else [REDACTED]), key


@pytest.mark.parametrize("case", ["redacted_relay", "proxy"])
def test_relay_mode_publishes_a_relay_address(case: str) -> None:
    f = fields(render(case))
    for key in ("Registrant Email", "Tech Email"):
        assert re.fullmatch(r"[0-9a-f]{20}@privacy\.registrar\.example", f[key][0]), key
    assert f["Registrant Email"] != f["Tech Email"]


def test_web_form_mode_publishes_the_form_url() -> None:
    f = fields(render("redacted_web_form"))
    assert f["Registrant Email"] == ["https://www.registrar.example/contact?domain=example-domain.com&role=registrant"]
    assert f["Tech Email"] == ["https://www.registrar.example/contact?domain=example-domain.com&role=tech"]


def test_organization_is_redacted_empty_or_shown_as_the_record_says() -> None:
    record = public_record()
    assert fields(render_domain(record, TERMS))["Registrant Organization"] == [REDACTED]
    unredacted = record.registrant.redacted - {"org"}
    none = replace(record, registrant=replace(record.registrant, org=None, redacted=unredacted))
    assert fields(render_domain(none, TERMS))["Registrant Organization"] == [""]
    shown = replace(
        record, registrant=replace(record.registrant, org="Widgets", redacted=record.registrant.redacted - {"org"})
    )
    assert fields(render_domain(shown, TERMS))["Registrant Organization"] == ["Widgets"]


def test_proxy_mode_shows_the_privacy_service() -> None:
    f = fields(render("proxy"))
    service = load_settings(environ={}).privacy_service
    assert f["Registry Registrant ID"] == [REDACTED]
    assert f["Registrant Name"] == [service.name]
    assert f["Registrant Organization"] == [service.org]
    assert f["Registrant Street"] == list(service.street)
    assert f["Registrant City"] == [service.city]
    assert f["Registrant State/Province"] == [service.state]
    assert f["Registrant Postal Code"] == [service.postal_code]
    assert f["Registrant Country"] == [service.country]
    assert f["Registrant Phone"] == [service.phone]
    assert f["Registrant Phone Ext"] == f["Registrant Fax"] == f["Registrant Fax Ext"] == [""]
    assert f["Registry Tech ID"] == [REDACTED]
    assert f["Tech Name"] == [service.name]
    assert f["Tech Phone"] == [service.phone]


def test_public_mode_shows_the_registrant_and_tech_name_phone_email_only() -> None:
    f = fields(render("public"))
    assert f["Registry Registrant ID"] == [REDACTED]
    assert f["Registrant Name"] == [REGISTRANT["name"]]
    assert f["Registrant Organization"] == [REGISTRANT["org"]]
    assert f["Registrant Street"] == REGISTRANT["street"]
    assert f["Registrant Phone"] == [REGISTRANT["phone"]]
    assert f["Registrant Phone Ext"] == [REGISTRANT["phone_ext"]]
    assert f["Registrant Fax Ext"] == [""]
    assert f["Registrant Email"] == [REGISTRANT["email"]]
    assert f["Registry Tech ID"] == [REDACTED]
    assert (f["Tech Name"], f["Tech Phone"], f["Tech Email"]) == ([TECH["name"]], [TECH["phone"]], [TECH["email"]])
    text = render("public")
    for value in (*TECH["street"], TECH["city"]):  # type: ignore[misc]
        assert value not in text
    assert TECH["postal_code"] not in {v for vs in f.values() for v in vs}


@pytest.mark.parametrize("case", HIDING)
def test_no_contact_value_leaks_when_privacy_is_on(case: str) -> None:
    text = render(case)
    published = {"state", "country"} if case != "proxy" else set()
    registrant = [v for k, v in REGISTRANT.items() if k not in published]
    values = pii_values(dict(enumerate(registrant))) + pii_values(TECH)  # type: ignore[arg-type]
    line_values = {v for vs in fields(text).values() for v in vs}
    for value in values:
        assert value not in line_values, value
        if len(value) >= 5:  # short ones ("42", "DE") occur inside unrelated text
            assert value not in text, value
            assert value.lower() not in text.lower(), value


# ------------------------------------------------------------------------------------------ control chars


INJECTIONS = ["\x1b[31mred\x1b[0m", "\r\nInjected: x", "bell\x07", "nul\x00", "rtl\u202eoverride", "line\u2028sep"]


def hostile_record() -> PublicRecord:
    record = public_record(PrivacyMode.PUBLIC)
    registrant = replace(
        record.registrant,
        name="Jane \x1b[31mRed\x1b[0m",
        org="Widgets\r\nInjected: x",
        street=("Main St 1\n>>> Last update of WHOIS database: 1999-01-01T00:00:00Z <<<", "\x07bell\x00"),
        city="Town\u202eevil\u2028",
    )
    tech = replace(record.tech, name="Theo\tTab\x7f", email="t@x.example\r\n") if record.tech else None
    return replace(
        record,
        registrant=registrant,
        tech=tech,
        reseller="Reseller\x85Next",
        nameservers=("ns1.example.net\r\nName Server: evil.example",),
        statuses=("clientHold\x1b",),
    )


def test_control_characters_in_values_are_stripped() -> None:
    text = render_domain(hostile_record(), "Terms\x1b[2J with\tcontrol\x00 characters.")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f\u202e\u2028\u2029]", text)
    assert text.count("\n") == text.count("\r\n") == text.count("\r")
    lines = text.split("\r\n")
    assert not [line for line in lines if line.startswith(("Injected", ">>> Last update of WHOIS database: 1999"))]
    assert sum(line.startswith(">>>") for line in lines) == 1
    f = fields(text)
    assert f["Registrant Name"] == ["Jane [31mRed[0m"]
    assert f["Registrant Organization"] == ["WidgetsInjected: x"]
    assert f["Registrant City"] == ["Townevil"]
    assert f["Name Server"] == ["ns1.example.netname server: evil.example"]
    assert f["Domain Status"] == ["clientHold https://icann.org/epp#clientHold"]
    assert f["Tech Name"] == ["TheoTab"]
    assert f["Tech Email"] == ["t@x.example"]
    assert f["Reseller"] == ["ResellerNext"]
    assert lines[-2] == "Terms[2J withcontrol characters."


def test_values_stay_unicode_and_output_is_utf8() -> None:
    text = render("public")
    assert "Registrant Street: Geheimstraße 7" in text.split("\r\n")
    assert "Geheimstraße".encode() in text.encode("utf-8")


def test_terms_are_wrapped_at_80_columns_and_long_words_broken() -> None:
    terms = "Terms of Use: " + "word " * 40 + "https://www.registrar.example/" + "x" * 120 + "\n\nSecond paragraph."
    lines = render_domain(public_record(), terms).split("\r\n")
    start = lines.index("For more information on Whois status codes, please visit https://icann.org/epp") + 2
    tail = lines[start:-1]
    assert tail[0].startswith("Terms of Use: word word")
    assert all(len(line) <= 80 for line in tail)
    assert tail[-2:] == ["", "Second paragraph."]
    assert "".join(tail).replace(" ", "").endswith("x" * 120 + "Secondparagraph.")


# --------------------------------------------------------------------------------------- python-whois parse


@pytest.mark.parametrize("case", list(CASES))
def test_python_whois_parses_every_mode(case: str) -> None:
    record = CASES[case]()
    entry = WhoisEntry.load(record.name, render(case))
    assert entry.domain_name == record.name
    assert entry.registrar == "Example Registrar LLC"
    assert entry.registrar_url == "https://www.registrar.example/"
    assert entry.creation_date == datetime(2015, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert entry.expiration_date == datetime(2027, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert entry.updated_date == datetime(2026, 8, 14, 7, 1, 34, tzinfo=UTC)
    assert entry.name_servers == ["a.iana-servers.net", "b.iana-servers.net"]
    assert entry.dnssec == "unsigned"
    assert entry.reseller is None  # empty value: python-whois must not swallow the next line
    service = load_settings(environ={}).privacy_service
    expected = {
        "proxy": (service.name, service.org, list(service.street), service.city, service.state, service.country),
        "public": (REGISTRANT["name"], REGISTRANT["org"], REGISTRANT["street"], REGISTRANT["city"],
                   REGISTRANT["state"], REGISTRANT["country"]),
    }.get(case, (REDACTED, REDACTED, REDACTED, REDACTED, REGISTRANT["state"], REGISTRANT["country"]))  # fmt: skip
    assert (entry.name, entry.org, entry.address, entry.city, entry.state, entry.country) == expected
    assert entry.tech_name == (
        None if record.tech is None else {"proxy": service.name, "public": TECH["name"]}.get(case, REDACTED)
    )
    emails = entry.emails if isinstance(entry.emails, list) else [entry.emails]
    assert "abuse@registrar.example" in emails


def test_python_whois_sees_not_found() -> None:
    with pytest.raises(WhoisDomainNotFoundError):
        WhoisEntry.load("no-such-name.com", render_not_found("no-such-name.com", NOW))


# ------------------------------------------------------------------------------------ not found and errors


def test_not_found_reply_is_the_two_line_form() -> None:
    assert render_not_found("no-such-name.com", NOW) == (
        'No match for "no-such-name.com".\r\n>>> Last update of WHOIS database: 2026-11-01T12:00:00Z <<<\r\n'
    )


def test_error_reply_is_one_line_plus_last_update_whatever_the_message() -> None:
    assert render_error("malformed query", NOW) == (
        "Error: malformed query\r\n>>> Last update of WHOIS database: 2026-11-01T12:00:00Z <<<\r\n"
    )
    assert render_error("two\r\nlines\x1b", NOW).split("\r\n")[0] == "Error: twolines"


# ------------------------------------------------------------------------------------- answer_whois (pure)


@dataclass
class DictSource:
    """A RecordSource over a dict; names it does not hold (unknown or hidden) give None."""

    records: dict[str, PublicRecord]

    cached: bool = False

    def lookup(self, a_label: str) -> PublicRecord | None:
        assert a_label == a_label.lower() and not a_label.endswith("."), "answer must pass the normalised name"
        return self.records.get(a_label)

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        return (True, self.lookup(a_label)) if self.cached else (False, None)


SOURCE = DictSource({"example-domain.com": CASES["redacted_relay"](), IDN_A_LABEL: CASES["idn"]()})


@pytest.mark.parametrize(
    "query",
    [
        "example-domain.com",
        "EXAMPLE-DOMAIN.COM",
        "Example-Domain.Com.",
        "  example-domain.com \t",
        "example-domain.com\r",
    ],
)
def test_answer_accepts_any_case_trailing_dot_and_whitespace(query: str) -> None:
    assert answer_whois(query, SOURCE, NOW, TERMS) == render("redacted_relay")


@pytest.mark.parametrize("query", [IDN_U_LABEL, "BÜCHER.COM", IDN_A_LABEL.upper(), "bücher.com."])
def test_answer_accepts_u_labels_and_a_labels(query: str) -> None:
    answer = answer_whois_query(query, SOURCE, NOW, TERMS)
    assert (answer.outcome, answer.name) == ("found", IDN_A_LABEL)
    assert answer.text == render("idn")


def test_answer_for_unknown_and_hidden_names_is_no_match() -> None:
    answer = answer_whois_query("Hidden-Or-Unknown.com", SOURCE, NOW, TERMS)
    assert (answer.outcome, answer.name) == ("not-found", "hidden-or-unknown.com")
    assert answer.text == render_not_found("hidden-or-unknown.com", NOW)


@pytest.mark.parametrize(
    "query",
    ["", "   ", "example", "two words.com", "<script>alert(1)</script>.com", "a" * 300 + ".com", "-bad-.com",
     "exa\x00mple.com", "1.2.3.4", "example.com/path", "\ud800.com", "xn--zz.com"],
)  # fmt: skip
def test_malformed_query_gets_the_fixed_error_and_no_lookup(query: str) -> None:
    class NoLookup:
        def lookup(self, a_label: str) -> PublicRecord | None:
            raise AssertionError("a malformed query must not reach the store")

        def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
            raise AssertionError("a malformed query must not reach the cache")

    for answer in (answer_whois_query(query, NoLookup(), NOW, TERMS), peek_whois_answer(query, NoLookup(), NOW, TERMS)):
        assert answer is not None
        assert (answer.outcome, answer.name) == ("error", None)
        assert answer.text == render_error(MALFORMED_QUERY, NOW)


def test_peek_answers_only_from_a_fresh_cache_hit() -> None:
    cold = DictSource(SOURCE.records)
    assert peek_whois_answer("example-domain.com", cold, NOW, TERMS) is None
    warm = DictSource(SOURCE.records, cached=True)
    hit = peek_whois_answer("EXAMPLE-domain.com.", warm, NOW, TERMS)
    assert hit == answer_whois_query("example-domain.com", SOURCE, NOW, TERMS)
    miss = peek_whois_answer("unknown.com", warm, NOW, TERMS)  # a cached "no such domain"
    assert miss is not None and (miss.outcome, miss.text) == ("not-found", render_not_found("unknown.com", NOW))

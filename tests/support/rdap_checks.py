"""Reusable conformance checks for every RDAP answer the tests see: ICANN's JSON schemas plus the gTLD profile.

ICANN's own checker needs Java 21 and downloads IANA data at run time, so the tests check offline what it would:

* structure: ICANN's JSON schemas (shared/conformance/rdap-schemas), loaded from `../shared/conformance` next to
  the repository, never copied into it, resolved through a local `referencing` registry (no network);
* the 2024 gTLD RDAP profile rules as hand-written assertions (shared/reference/rdds.md §2.2-§2.11), each tagged
  with the conformance tool's test code;
* RFC 9537 redaction paths evaluated with an RFC 9535 JSONPath engine (rdds.md §4).

Use `check_rdap_domain(body, request_url)`, `check_rdap_help(...)`, `check_rdap_error(...)` and
`check_rdap_headers(...)`. When the schema folder is missing the calling test is skipped with the reason, unless
DOMAINPRIV_REQUIRE_SERVICES=1, which turns the skip into a failure.

Not checked, on purpose: the ICANN rules that demand a redaction entry for an element that is merely absent in a
published contact (Postal Code -63601, Phone -63700, Tech Phone -65100), because the policy lists only what it
hid. (An unpublished Registrant Organization is always marked redacted, -63300; signed delegations carry their
DS records, -46801: both are checked.)
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from jsonpath_rfc9535 import find
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from domainpriv.registration.validation import normalize_domain_name

__all__ = [
    "SCHEMA_DIR",
    "check_rdap_domain",
    "check_rdap_error",
    "check_rdap_headers",
    "check_rdap_help",
    "check_redactions",
    "copy_body",
    "require_schemas",
    "validate_rdap_schema",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT.parent / "shared" / "conformance" / "rdap-schemas"

BASE_CONFORMANCE = ("rdap_level_0", "icann_rdap_response_profile_1", "icann_rdap_technical_implementation_guide_1")
OBSOLETE_CONFORMANCE = ("icann_rdap_response_profile_0", "icann_rdap_technical_implementation_guide_0")  # -62006/-61001
ROID = re.compile(r"^(\w|_){1,80}-\w{1,8}$")  # RFC 5730 §2.8 as the profile writes it (-46200, -63100, -47600)

# IANA "RDAP JSON Values" registry entries the schemas' custom formats stand for (rdds.md §2.5, §2.9).
RDAP_STATUSES = frozenset(
    {
        "validated", "renew prohibited", "update prohibited", "transfer prohibited", "delete prohibited",
        "proxy", "private", "removed", "obscured", "associated", "active", "inactive", "locked",
        "pending create", "pending renew", "pending transfer", "pending update", "pending delete",
        "add period", "auto renew period", "client delete prohibited", "client hold",
        "client renew prohibited", "client transfer prohibited", "client update prohibited",
        "pending restore", "redemption period", "renew period", "server delete prohibited",
        "server renew prohibited", "server transfer prohibited", "server update prohibited", "server hold",
        "transfer period", "administrative", "reserved",
    }
)  # fmt: skip
RDAP_ROLES = frozenset(
    {
        "registrant", "technical", "administrative", "abuse", "billing", "registrar", "reseller", "sponsor",
        "proxy", "notifications", "noc",
    }
)  # fmt: skip
RDAP_EVENT_ACTIONS = frozenset(
    {
        "registration", "reregistration", "last changed", "expiration", "deletion", "reinstantiation",
        "transfer", "locked", "unlocked", "last update of RDAP database", "registrar expiration",
        "enum validation expiration",
    }
)  # fmt: skip
RDAP_EXTENSIONS = frozenset({*BASE_CONFORMANCE, "redacted"})
# A subset of IANA's link relations: those an RDAP server plausibly uses. An unknown one fails, so extend it.
LINK_RELATIONS = frozenset(
    {
        "about", "alternate", "copyright", "describedby", "glossary", "help", "icon", "license", "related",
        "self", "terms-of-service", "up", "via", "privacy-policy", "service-desc", "service-doc",
    }
)  # fmt: skip
REDACTION_METHODS = frozenset({"removal", "emptyValue", "partialValue", "replacementValue"})
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_ADDR_SPEC = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

STATUS_CODES_DESCRIPTION = "For more information on domain status codes, please visit https://icann.org/epp"
INACCURACY_DESCRIPTION = "URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf"


# ------------------------------------------------------------------------------------------------------- schemas


def require_schemas() -> Path:
    """The schema folder, or skip (fail under DOMAINPRIV_REQUIRE_SERVICES=1) when it is not there."""
    if not (SCHEMA_DIR / "rdap_domain.json").is_file():
        reason = f"ICANN RDAP JSON schemas not found at {SCHEMA_DIR}"
        if os.environ.get("DOMAINPRIV_REQUIRE_SERVICES") == "1":
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return SCHEMA_DIR


def _drop_nested_ids(node: Any, *, root: bool) -> Any:
    # jcard.json has a nested "$id": "vcardArray" that breaks "#/definitions/..." under draft-07; ICANN's own
    # validator ignores nested ids (schemas README, point 2).
    if isinstance(node, dict):
        return {k: _drop_nested_ids(v, root=False) for k, v in node.items() if root or k != "$id"}
    if isinstance(node, list):
        return [_drop_nested_ids(v, root=False) for v in node]
    return node


@cache
def _registry(folder: Path) -> Registry[Any]:
    resources = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("test_"):  # the upstream tool's unit-test fragments
            continue
        contents = _drop_nested_ids(orjson.loads(path.read_bytes()), root=True)
        resources.append((contents["$id"], Resource.from_contents(contents, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


def _format_checker() -> FormatChecker:
    """The schemas' IANA-backed custom formats (schemas README, point 4), plus date-time and uri, which
    jsonschema checks only with optional packages."""
    checker = FormatChecker()
    registries = {
        "status": RDAP_STATUSES,
        "role": RDAP_ROLES,
        "eventAction": RDAP_EVENT_ACTIONS,
        "rdapExtensions": RDAP_EXTENSIONS,
        "linkRelations": LINK_RELATIONS,
    }
    for name, values in registries.items():
        checker.checks(name)(lambda value, values=values: not isinstance(value, str) or value in values)
    checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(_RFC3339.match(value)))
    checker.checks("uri")(lambda value: not isinstance(value, str) or _is_web_uri(value))
    return checker


@cache
def _validator(folder: Path, schema_file: str) -> Draft7Validator:
    registry = _registry(folder)
    schema = registry.contents(schema_file)
    return Draft7Validator(schema, registry=registry, format_checker=_format_checker())


def validate_rdap_schema(body: dict[str, Any], schema_file: str) -> None:
    """Validate against one of ICANN's top-level schemas (rdap_domain.json, rdap_help.json, rdap_error.json).

    `additionalProperties` errors that are only about RFC 9537's `redacted` member are ignored, as ICANN's
    standard configuration does (schemas README, point 3)."""
    validator = _validator(require_schemas(), schema_file)
    problems = []
    for error in validator.iter_errors(body):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            if set(error.instance) - known <= {"redacted"}:
                continue
        problems.append(f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}")
    assert not problems, f"{schema_file}: " + "; ".join(problems)


# ------------------------------------------------------------------------------------------------------ answers


def check_rdap_headers(headers: Mapping[str, str]) -> None:
    """RFC 7480 §4.2 media type (parameters allowed, -13000) and CORS on every answer (TIG 2024 §1.14, -20500)."""
    content_type = headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/rdap+json", content_type
    assert headers.get("access-control-allow-origin") == "*", "Access-Control-Allow-Origin: * missing (-20500)"


def check_rdap_error(body: dict[str, Any], status: int) -> None:
    """An RFC 9083 §6 error object for HTTP `status`: integer errorCode, rdapConformance (-65300 on a 404)."""
    validate_rdap_schema(body, "rdap_error.json")
    assert type(body["errorCode"]) is int and body["errorCode"] == status, f"errorCode {body['errorCode']!r}"
    assert isinstance(body.get("title"), str) and body["title"], "error title"
    description = body.get("description")
    assert isinstance(description, list) and all(isinstance(d, str) for d in description), "error description"
    _check_conformance(body)


def check_rdap_help(body: dict[str, Any], request_url: str) -> None:
    """GET /help (TIG 2024 §3.4, -20701): rdapConformance and notices only, a terms-of-service notice, and every
    link's value is the request URL."""
    validate_rdap_schema(body, "rdap_help.json")
    assert set(body) == {"rdapConformance", "notices"}
    _check_conformance(body)
    _check_links(body)
    _notice_link(body["notices"], rel="terms-of-service", request_url=request_url)


def check_rdap_domain(body: dict[str, Any], request_url: str) -> None:
    """Every rule of the 2024 gTLD profile for a registrar's domain answer that can be checked offline."""
    validate_rdap_schema(body, "rdap_domain.json")
    _check_conformance(body)
    assert body["objectClassName"] == "domain", "objectClassName"
    _check_names(body)
    _check_handle(body)
    _check_links(body)
    self_links = [link for link in body.get("links", []) if link["rel"] == "self"]
    assert len(self_links) == 1 and self_links[0]["value"] == request_url, self_links
    assert self_links[0]["href"].endswith(f"/domain/{body['ldhName']}"), "self href is the canonical URL"
    assert self_links[0].get("type") == "application/rdap+json", "self link type"
    _check_notices(body, request_url)
    _check_status(body.get("status"))
    _check_events(body)
    secure_dns = body.get("secureDNS")
    assert isinstance(secure_dns, dict) and type(secure_dns.get("delegationSigned")) is bool, "secureDNS (-46800)"
    _check_entities(body)
    for entity in _all_entities(body):
        _check_jcard(entity)
    for nameserver in body.get("nameservers", []):  # -47203, -47201: registrars publish no nameserver handles
        assert nameserver["objectClassName"] == "nameserver" and nameserver["ldhName"], nameserver
        assert "handle" not in nameserver and "status" not in nameserver, f"nameserver handle or status: {nameserver}"
    check_redactions(body)


def check_redactions(body: dict[str, Any]) -> None:
    """RFC 9537 entries as the profile enforces them (rdds.md §2.10, §4): well-formed, and each path evaluated
    against the answer itself; plus the entries the profile requires for emptied or missing values."""
    entries = body.get("redacted", [])
    names = [entry["name"]["type"] for entry in entries]
    assert len(names) == len(set(names)), f"duplicate redactions: {names}"
    for entry in entries:
        name = entry["name"]
        assert set(name) == {"type"} and isinstance(name["type"], str), entry  # registered names (-65800..)
        assert set(entry["reason"]) <= {"lang", "type", "description"}, entry  # -62005
        for key in ("prePath", "postPath", "replacementPath", "pathLang", "method"):
            assert key not in entry or isinstance(entry[key], str), entry  # -62004
        assert entry.get("pathLang", "jsonpath") == "jsonpath"
        method = entry.get("method", "removal")
        assert method in REDACTION_METHODS, entry
        if method == "removal":
            assert "prePath" in entry and not find(entry["prePath"], body), f"{name['type']}: removed value present"
        elif method == "emptyValue":
            nodes = find(entry["postPath"], body).values()
            assert nodes and all(value == "" for value in nodes), f"{name['type']}: not emptied: {nodes}"
        elif method == "replacementValue":
            path = entry.get("replacementPath") or entry["postPath"]
            assert find(path, body), f"{name['type']}: no replacement at {path}"
            if "prePath" in entry:
                assert not find(entry["prePath"], body), f"{name['type']}: replaced value still present"
    _check_required_redactions(body, "registrant", "Registrant", names)
    _check_required_redactions(body, "technical", "Tech", names)
    if "handle" in body:
        assert "Registry Domain ID" not in names, "Registry Domain ID redacted but handle present (-46206)"


# ------------------------------------------------------------------------------------------------- rule groups


def _check_required_redactions(body: dict[str, Any], role: str, prefix: str, names: list[str]) -> None:
    """The entries the profile requires when a contact's value is emptied or replaced (rdds.md §2.10)."""
    entity = _one_role(body, role, required=role == "registrant")
    if entity is None:
        return
    card = _properties(entity)
    if role == "registrant" and "handle" not in entity:
        assert "Registry Registrant ID" in names, "Registry Registrant ID redaction required (-63102)"
    if [prop[3] for prop in card if prop[0] == "fn"] == [""]:
        assert f"{prefix} Name" in names, f"{prefix} Name redaction required (-63201, -65001)"
    for adr in (prop for prop in card if prop[0] == "adr"):
        for index, element in ((2, "Street"), (3, "City")):  # -63401, -63501
            if adr[3][index] in ("", []):
                assert f"{prefix} {element}" in names, f"{prefix} {element} redaction required"
    email = [e for e in body.get("redacted", []) if e["name"]["type"] == f"{prefix} Email"]
    has_email = any(prop[0] == "email" for prop in card)
    has_uri = any(prop[0] == "contact-uri" for prop in card)
    if email:
        assert email[0]["method"] == "replacementValue", f"{prefix} Email must be replacementValue (-64102, -65202)"
        assert has_email != has_uri, "exactly one of email and contact-uri (-64100/-64101, -65200/-65201)"
    elif role == "registrant":
        assert has_email, "without a Registrant Email redaction the email itself is published (rdds.md §2.10)"


def _check_conformance(body: dict[str, Any]) -> None:
    conformance = body.get("rdapConformance")
    assert isinstance(conformance, list), "rdapConformance missing"
    for value in BASE_CONFORMANCE:  # -62000, -61000
        assert value in conformance, value
    assert not set(OBSOLETE_CONFORMANCE) & set(conformance), "obsolete conformance value (-62006, -61001)"
    assert ("redacted" in conformance) == ("redacted" in body), "redacted extension iff redacted member (-62001)"
    assert len(conformance) == len(set(conformance)), "duplicate rdapConformance value"
    for path, node in _walk(body):
        if path:
            assert "rdapConformance" not in node, f"rdapConformance below the top at {path} (-10504)"
            assert "notices" not in node, f"notices below the top at {path} (RFC 9083 §4.3)"


def _check_names(body: dict[str, Any]) -> None:
    ldh = body["ldhName"]
    assert normalize_domain_name(ldh) == ldh, "ldhName must be the lowercase A-label"
    if any(label.startswith("xn--") for label in ldh.split(".")):
        assert "unicodeName" in body, "an IDN answer carries unicodeName (-46100)"
    if "unicodeName" in body:
        assert normalize_domain_name(body["unicodeName"]) == ldh, "unicodeName and ldhName name different domains"


def _check_handle(body: dict[str, Any]) -> None:
    if "handle" in body:
        assert ROID.match(body["handle"]), f"handle {body['handle']!r} is not a ROID (-46200)"
    else:
        entries = [e for e in body.get("redacted", []) if e["name"]["type"] == "Registry Domain ID"]
        assert entries and entries[0].get("prePath", "$.handle") == "$.handle", "-46202/-46203"


def _check_links(body: dict[str, Any]) -> None:
    for path, node in _walk(body):
        for link in node.get("links", []) if isinstance(node.get("links"), list) else []:
            assert isinstance(link.get("value"), str) and link["value"], f"link without value at {path} (-10612)"
            assert link.get("rel") in LINK_RELATIONS, f"link rel {link.get('rel')!r} at {path} (-10613)"
            assert _is_web_uri(link["href"]), f"bad href at {path}"


def _check_notices(body: dict[str, Any], request_url: str) -> None:
    notices = body.get("notices", [])
    for notice in notices:
        for link in notice.get("links", []):
            assert link["value"] == request_url, f"notice link value {link['value']!r} (-46606, -46706, -61202)"
    terms = _notice_link(notices, rel="terms-of-service", request_url=request_url)  # -61200..-61202
    assert urlsplit(terms["href"]).scheme in ("http", "https")
    for title, description, rel, href in (
        ("Status Codes", STATUS_CODES_DESCRIPTION, "glossary", "https://icann.org/epp"),  # -46601..-46606
        ("RDDS Inaccuracy Complaint Form", INACCURACY_DESCRIPTION, "help", "https://icann.org/wicf"),  # -46701..
    ):
        matching = [n for n in notices if n.get("title") == title]
        assert len(matching) == 1, f"notice {title!r} missing or repeated"
        assert [_canon(d) for d in matching[0]["description"]] == [_canon(description)], matching[0]
        links = [link for link in matching[0]["links"] if link["href"] == href]
        assert len(links) == 1 and links[0]["rel"] == rel, matching[0]


def _check_status(status: Any) -> None:
    """RFC 8056 values and the profile's combination rules (rdds.md §2.9)."""
    assert isinstance(status, list) and status, "at least one status (-47100)"
    assert len(status) == len(set(status)), "duplicate status (-11003)"
    assert set(status) <= RDAP_STATUSES, status
    assert "active" not in status or status == ["active"], "active only alone"
    pending = [s for s in status if s.startswith("pending ") and s != "pending restore"]
    assert len(pending) <= 1, "pending statuses are mutually exclusive (-46900)"
    for value in pending:
        action = value.removeprefix("pending ")
        prohibited = {f"client {action} prohibited", f"server {action} prohibited"}
        assert not prohibited & set(status), f"{value} together with {action} prohibited"
    for value in ("redemption period", "pending restore"):
        assert value not in status or "pending delete" in status, f"{value} needs pending delete (-47001/-47002)"


def _check_events(body: dict[str, Any]) -> None:
    events = body.get("events", [])
    actions = [event["eventAction"] for event in events]
    assert len(actions) == len(set(actions)), f"duplicate eventAction (-10912): {actions}"
    for required in ("registration", "registrar expiration", "last update of RDAP database"):  # -46300, -65500,
        assert required in actions, required  # -43100
    for event in events:
        assert datetime.fromisoformat(event["eventDate"].replace("Z", "+00:00")).tzinfo is not None


def _check_entities(body: dict[str, Any]) -> None:
    top = body.get("entities", [])
    registrar = _one_role(body, "registrar", required=True)  # -47300/-47301
    assert registrar is not None, "no registrar entity"
    iana_id = registrar.get("handle")
    assert isinstance(iana_id, str) and iana_id.isdigit(), "registrar handle = IANA ID (-47400)"
    public_ids = registrar.get("publicIds")
    assert public_ids == [{"type": "IANA Registrar ID", "identifier": iana_id}], f"publicIds (-47401..): {public_ids}"
    assert any(p[0] == "fn" and p[3] for p in _properties(registrar)), "registrar fn (-47302)"
    about = [link for link in registrar.get("links", []) if link["rel"] == "about"]
    assert len(about) == 1, "one about link (-47700)"
    assert _is_web_uri(about[0]["value"]) and about[0]["value"].endswith("/"), about  # RDAP base URL (-47701)
    assert urlsplit(about[0]["href"]).scheme == "https", about  # -47702
    abuse = [e for e in registrar.get("entities", []) if "abuse" in e.get("roles", [])]
    assert len(abuse) == 1, "one abuse contact (-47500)"
    abuse_card = _properties(abuse[0])
    assert any(p[0] == "tel" for p in abuse_card) and any(p[0] == "email" for p in abuse_card), (
        "abuse tel and email (-47500)"
    )
    _one_role(body, "registrant", required=True)  # -63000
    for role in ("administrative", "technical", "billing"):
        _one_role(body, role, required=False)
    for entity in top:
        roles = entity.get("roles", [])
        assert roles and set(roles) <= RDAP_ROLES, roles
        if "handle" in entity and not {"registrar", "reseller"} & set(roles):
            assert ROID.match(entity["handle"]), f"entity handle must be a ROID (-63100, -47600): {roles}"


def _check_jcard(entity: dict[str, Any]) -> None:
    """jCard conventions of rdds.md §2.7 for every entity, nested ones included."""
    card = entity["vcardArray"]
    assert card[0] == "vcard" and card[1][0] == ["version", {}, "text", "4.0"], card
    properties = card[1]
    assert [p[0] for p in properties].count("fn") == 1, "exactly one fn (-63200, -65000)"
    for name, params, value_type, value in properties:
        if name == "adr":
            assert isinstance(params.get("cc"), str) and re.fullmatch(r"[A-Z]{2}", params["cc"]), (
                f"adr cc (-62101): {params}"
            )
            assert isinstance(value, list) and len(value) == 7, f"adr structure (-20800): {value}"
            assert value[6] == "", f"adr country name must be empty (-62100): {value}"
        elif name == "tel":
            types = params.get("type")
            types = [types] if isinstance(types, str) else types
            assert {"voice", "fax"} & set(types or []), params  # -20900
            assert value_type == "uri" and value.startswith("tel:"), value
        elif name == "email":
            assert value_type == "text" and _ADDR_SPEC.match(value), value
        elif name == "contact-uri":
            assert value_type == "uri" and _is_web_uri(value), value
    names = [p[0] for p in properties]
    assert not ("email" in names and "contact-uri" in names), "email and contact-uri together (-64100, -65200)"


# ------------------------------------------------------------------------------------------------------ helpers


def _canon(text: str) -> str:
    # The tool ignores extra whitespace and trailing punctuation (-46602, -46702).
    return " ".join(text.split()).rstrip(".!;:, ")


def _is_web_uri(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _notice_link(notices: list[dict[str, Any]], *, rel: str, request_url: str) -> dict[str, Any]:
    links = [link for notice in notices for link in notice.get("links", []) if link["rel"] == rel]
    assert links, f"no notice with a {rel!r} link"
    assert all(link["value"] == request_url for link in links), links
    first: dict[str, Any] = links[0]
    return first


def _one_role(body: dict[str, Any], role: str, *, required: bool) -> dict[str, Any] | None:
    matching = [e for e in body.get("entities", []) if role in e.get("roles", [])]
    assert len(matching) <= 1, f"more than one {role} entity"
    assert matching or not required, f"no {role} entity"
    return matching[0] if matching else None


def _properties(entity: dict[str, Any]) -> list[list[Any]]:
    card: list[list[Any]] = entity["vcardArray"][1]
    return card


def _all_entities(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = list(body.get("entities", []))
    while stack:
        entity = stack.pop()
        yield entity
        stack.extend(entity.get("entities", []))


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in the answer with its path ("" for the top)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def copy_body(body: dict[str, Any]) -> dict[str, Any]:
    """A deep copy, for tests that break one rule and expect a check to fail."""
    duplicate: dict[str, Any] = copy.deepcopy(body)
    return duplicate

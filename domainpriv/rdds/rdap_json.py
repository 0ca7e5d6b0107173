"""The RDAP renderer: a PublicRecord becomes an RFC 9083 domain object under ICANN's 2024 gTLD RDAP profile.

It only formats (STYLE §3). What may be published was decided by `privacy.public_view`; a hidden value is not in
the PublicRecord, so it cannot appear here. The renderer's own job is the RDAP shape of that decision: jCard
contacts with the profile's conventions (an empty `fn`, empty address components, a `cc` parameter, `tel` URIs,
`contact-uri` for web forms) and one RFC 9537 `redacted` entry per element the policy hid, with the exact
JSONPath expressions ICANN's conformance tool evaluates (shared/reference/rdds.md §2.4-§2.11).

Pure: no I/O, no clock, no store. The same functions serve the RDAP daemon and `domainpriv rdap NAME`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from domainpriv.clock import rfc3339_utc
from domainpriv.privacy import PublicContact, PublicRecord, RedactableField, RegistrarIdentity
from domainpriv.rdds.rdap_notices import (
    CONFORMANCE,
    DOMAIN_NOTICES,
    HELP,
    REDACTED_EXTENSION,
    REDACTION_REASON,
    TERMS_OF_USE,
    NoticeText,
)

__all__ = [
    "RDAP_MEDIA_TYPE",
    "epp_to_rdap_status",
    "render_domain",
    "render_error",
    "render_help",
]

JsonObject = dict[str, Any]

RDAP_MEDIA_TYPE: Final = "application/rdap+json"  # RFC 7480 §4.2

# RFC 8056 §2: EPP statuses (RFC 5731, RFC 3915) to the registered RDAP status values (rdds.md §2.9).
_EPP_TO_RDAP: Final[dict[str, str]] = {
    "ok": "active",
    "inactive": "inactive",
    "linked": "associated",
    "pendingCreate": "pending create",
    "pendingDelete": "pending delete",
    "pendingRenew": "pending renew",
    "pendingTransfer": "pending transfer",
    "pendingUpdate": "pending update",
    "pendingRestore": "pending restore",
    "addPeriod": "add period",
    "autoRenewPeriod": "auto renew period",
    "renewPeriod": "renew period",
    "transferPeriod": "transfer period",
    "redemptionPeriod": "redemption period",
    "clientDeleteProhibited": "client delete prohibited",
    "clientHold": "client hold",
    "clientRenewProhibited": "client renew prohibited",
    "clientTransferProhibited": "client transfer prohibited",
    "clientUpdateProhibited": "client update prohibited",
    "serverDeleteProhibited": "server delete prohibited",
    "serverHold": "server hold",
    "serverRenewProhibited": "server renew prohibited",
    "serverTransferProhibited": "server transfer prohibited",
    "serverUpdateProhibited": "server update prohibited",
}

# The abuse contact's vCard needs an `fn` (RFC 6350 §6.2.1); the profile checks only its tel and email (-47500).
ABUSE_CONTACT_NAME: Final = "Abuse Contact"

# PublicContact.role -> the RDAP role (RFC 9083 §10.2.4) and the RFC 9537 name prefix used by the profile.
_RDAP_ROLE: Final[dict[str, str]] = {"registrant": "registrant", "tech": "technical"}
_NAME_PREFIX: Final[dict[str, str]] = {"registrant": "Registrant", "tech": "Tech"}

# One row per redactable field, in the order of the profile (Response Profile 2024 §2.7.4-§2.7.6, rdds.md §2.10):
# RFC 9537 name suffix ("Registry {prefix} ID" for the id), method, and where the path points, relative to the
# contact's vCard property list V = $.entities[?(@.roles[0]=='<role>')].vcardArray[1]. `removal` paths are
# prePaths (they match nothing in the answer); `emptyValue` paths are postPaths (they match the emptied value).
_REDACTIONS: Final[tuple[tuple[RedactableField, str, str, str], ...]] = (
    ("id", "ID", "removal", ".handle"),  # -63102..-63105: no handle, so this entry
    ("name", "Name", "emptyValue", "[?(@[0]=='fn')][3]"),  # -63201..-63204, Tech -65001..-65004
    ("org", "Organization", "removal", "[?(@[0]=='org')]"),  # -63300..-63303
    ("street", "Street", "emptyValue", "[?(@[0]=='adr')][3][:3]"),  # -63401..-63404
    ("city", "City", "emptyValue", "[?(@[0]=='adr')][3][3]"),  # -63501..-63504
    ("postal_code", "Postal Code", "emptyValue", "[?(@[0]=='adr')][3][5]"),  # -63601..-63604
    ("phone", "Phone", "removal", "[?(@[1].type=='voice')]"),  # -63700..-63703, Tech -65100..-65103
    ("phone_ext", "Phone Ext", "removal", "[?(@[1].type=='voice')]"),  # -63800..-63802
    ("fax", "Fax", "removal", "[?(@[1].type=='fax')]"),  # -63900..-63902
    ("fax_ext", "Fax Ext", "removal", "[?(@[1].type=='fax')]"),  # -64000..-64002
)


def render_domain(record: PublicRecord, *, request_url: str, base_url: str, terms_url: str) -> JsonObject:
    """The RDAP domain object for `record`, as answered to `request_url`.

    Rules: handle = the registry ROID (Response Profile 2.2; never an internal ID); `unicodeName` for IDNs; a
    `self` link and every notice link carry `value` = the request URL (-46606, -46706, -61202); exactly one
    registrar entity (IANA ID handle and publicIds, `about` link to registrar.rdap_base_url, abuse tel+email),
    exactly one registrant, a technical entity only when the record has one; nameservers by ldhName only
    (-47203); one `redacted` entry per field the policy hid, and "redacted" in rdapConformance only then.
    `base_url` ends in "/" (RFC 9224) and gives the canonical `self` href.
    """
    entities: list[JsonObject] = [_registrar_entity(record.registrar), _contact_entity(record.registrant)]
    if record.tech is not None:
        entities.append(_contact_entity(record.tech))
    if record.reseller is not None:
        entities.append(_reseller_entity(record.reseller))
    redacted = [entry for contact in _contacts(record) for entry in _redactions(contact)]

    body: JsonObject = {"rdapConformance": _conformance(redacted=bool(redacted)), "objectClassName": "domain"}
    body["handle"] = record.registry_domain_id
    body["ldhName"] = record.name
    if record.is_idn:
        body["unicodeName"] = record.unicode_name
    body["links"] = [_link(request_url, "self", f"{base_url}domain/{record.name}", "application/rdap+json")]
    body["status"] = [epp_to_rdap_status(status) for status in record.statuses]
    body["events"] = [
        _event("registration", record.created_at),  # Response Profile 2.3.1.1 (-46300)
        _event("expiration", record.expires_at),  # registry's expiry; optional for a registrar
        _event("registrar expiration", record.expires_at),  # required of registrars (-65500)
        _event("last changed", record.updated_at),
        _event("last update of RDAP database", record.database_updated_at),  # -43100
    ]
    body["entities"] = entities
    body["nameservers"] = [{"objectClassName": "nameserver", "ldhName": host} for host in record.nameservers]
    # Response Profile 2.6.1 (-46800): always present; a signed delegation lists its DS records (-46801,
    # RFC 9083 §5.3 dsData).
    body["secureDNS"] = _secure_dns(record)
    body["notices"] = [_notice(text, request_url, href=terms_url) for text in DOMAIN_NOTICES]
    if redacted:
        body["redacted"] = redacted
    return body


def render_help(request_url: str, *, help_url: str, terms_url: str) -> JsonObject:
    """The answer to GET <base>help (RFC 9083 §7; TIG 2024 §3.4, -20701): rdapConformance and notices only."""
    return {
        "rdapConformance": _conformance(redacted=False),
        "notices": [
            _notice(HELP, request_url, href=help_url),
            _notice(TERMS_OF_USE, request_url, href=terms_url),  # TIG 2024 §3.3: every answer (-61200)
        ],
    }


def render_error(status: int, title: str, description: list[str]) -> JsonObject:
    """An RFC 9083 §6 error object; rdapConformance is included, as the profile requires on a 404 (-65300)."""
    return {
        "rdapConformance": _conformance(redacted=False),
        "errorCode": status,
        "title": title,
        "description": list(description),
    }


def epp_to_rdap_status(epp_status: str) -> str:
    """The RFC 8056 RDAP value of an EPP status. Raises KeyError for a value outside RFC 5731/3915."""
    return _EPP_TO_RDAP[epp_status]


# ----------------------------------------------------------------------------------------------- building blocks


def _conformance(*, redacted: bool) -> list[str]:
    return [*CONFORMANCE, REDACTED_EXTENSION] if redacted else list(CONFORMANCE)


def _link(value: str, rel: str, href: str, media_type: str) -> JsonObject:
    # The 2024 profile requires `value` and `rel` on every link (-10612/-10613).
    return {"value": value, "rel": rel, "href": href, "type": media_type}


def _notice(text: NoticeText, request_url: str, *, href: str) -> JsonObject:
    return {
        "title": text.title,
        "description": list(text.description),
        "links": [_link(request_url, text.rel, text.href or href, text.media_type)],
    }


def _secure_dns(record: PublicRecord) -> dict[str, Any]:
    if not record.ds_records:
        return {"delegationSigned": False}
    ds_data = [{"keyTag": ds.key_tag, "algorithm": ds.algorithm, "digest": ds.digest, "digestType": ds.digest_type}
               for ds in record.ds_records]  # fmt: skip
    return {"delegationSigned": True, "dsData": ds_data}


def _event(action: str, when: datetime) -> JsonObject:
    return {"eventAction": action, "eventDate": rfc3339_utc(when)}


def _vcard(properties: list[list[Any]]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *properties]]


def _tel_uri(number: str, ext: str | None) -> str:
    """EPP `+CC.NNNN` as an RFC 3966 URI; the dot is a visual separator there (-20900 wants value type uri)."""
    return f"tel:{number};ext={ext}" if ext else f"tel:{number}"


def _registrar_entity(registrar: RegistrarIdentity) -> JsonObject:
    iana_id = str(registrar.iana_id)
    abuse = {
        "objectClassName": "entity",
        "roles": ["abuse"],
        "vcardArray": _vcard(
            [
                ["fn", {}, "text", ABUSE_CONTACT_NAME],
                ["tel", {"type": "voice"}, "uri", _tel_uri(registrar.abuse_phone, None)],
                ["email", {}, "text", registrar.abuse_email],
            ]
        ),
    }
    return {
        "objectClassName": "entity",
        "handle": iana_id,  # Response Profile 2.4.1 (-47400..-47404): the IANA Registrar ID
        "roles": ["registrar"],
        "publicIds": [{"type": "IANA Registrar ID", "identifier": iana_id}],
        "vcardArray": _vcard([["fn", {}, "text", registrar.name]]),  # -47302
        # Response Profile 2024 2.4.6 (-47700..-47703): value = the base URL registered with IANA.
        "links": [_link(registrar.rdap_base_url, "about", registrar.url, "text/html")],
        "entities": [abuse],  # Response Profile 2.4.5 (-47500)
    }


def _reseller_entity(name: str) -> JsonObject:
    # No handle: a reseller handle would have to be a registered ROID (-47600/-47601).
    return {"objectClassName": "entity", "roles": ["reseller"], "vcardArray": _vcard([["fn", {}, "text", name]])}


def _contact_entity(contact: PublicContact) -> JsonObject:
    """A registrant or technical entity. No handle, ever: the registry contact ID is redacted (-63102, and our
    own contact handles are internal). Every hidden value is already None here; the jCard only shows it as the
    profile wants (empty fn and address components, absent org, tel, email)."""
    properties: list[list[Any]] = [["fn", {}, "text", contact.name or ""]]  # fn is required even when empty
    if contact.org is not None:
        properties.append(["org", {}, "text", contact.org])
    if contact.country is not None:
        # Response Profile 2024 2.7.4.5: a `cc` parameter (-62101) and an empty country name (-62100).
        properties.append(["adr", {"cc": contact.country}, "text", _address(contact)])
    if contact.phone is not None:
        properties.append(["tel", {"type": "voice"}, "uri", _tel_uri(contact.phone, contact.phone_ext)])
    if contact.fax is not None:
        properties.append(["tel", {"type": "fax"}, "uri", _tel_uri(contact.fax, contact.fax_ext)])
    if contact.email is not None:
        properties.append(["email", {}, "text", contact.email])
    if contact.contact_uri is not None:  # RFC 8605 §2: the web form that replaces the e-mail address
        properties.append(["contact-uri", {}, "uri", contact.contact_uri])
    return {"objectClassName": "entity", "roles": [_RDAP_ROLE[contact.role]], "vcardArray": _vcard(properties)}


def _address(contact: PublicContact) -> list[str | list[str]]:
    """RFC 6350 §6.3.1 ADR: PO box, extended address, street, locality, region, postal code, country name.

    Several street lines go into the street component as a list (RFC 7095 §3.3.1.3), one line as a string."""
    street: str | list[str] = "" if not contact.street else contact.street[0]
    if len(contact.street) > 1:
        street = list(contact.street)
    return ["", "", street, contact.city or "", contact.state or "", contact.postal_code or "", ""]


def _contacts(record: PublicRecord) -> Iterator[PublicContact]:
    yield record.registrant
    if record.tech is not None:
        yield record.tech


def _redactions(contact: PublicContact) -> Iterator[JsonObject]:
    """RFC 9537 entries for the fields `contact.redacted` names, with the profile's names and paths."""
    role, prefix = _RDAP_ROLE[contact.role], _NAME_PREFIX[contact.role]
    entity = f"$.entities[?(@.roles[0]=='{role}')]"
    vcard = f"{entity}.vcardArray[1]"
    for field, suffix, method, path in _REDACTIONS:
        if field not in contact.redacted:
            continue
        if field == "id":
            yield _redaction(f"Registry {prefix} ID", method, prePath=entity + path)
        elif method == "removal":
            yield _redaction(f"{prefix} {suffix}", method, prePath=vcard + path)
        else:
            yield _redaction(f"{prefix} {suffix}", method, postPath=vcard + path)
    if "email" in contact.redacted:
        yield _email_redaction(contact, prefix, vcard)


def _email_redaction(contact: PublicContact, prefix: str, vcard: str) -> JsonObject:
    """The e-mail is never removed but replaced (-64102, -65202): by a web form (the email property is gone and
    contact-uri stands in, -64105..-64107) or by a pseudonymised relay address (postPath on its value, -64104)."""
    if contact.contact_uri is not None:
        return _redaction(
            f"{prefix} Email",
            "replacementValue",
            prePath=f"{vcard}[?(@[0]=='email')]",
            replacementPath=f"{vcard}[?(@[0]=='contact-uri')]",
        )
    return _redaction(f"{prefix} Email", "replacementValue", postPath=f"{vcard}[?(@[0]=='email')][3]")


def _redaction(name: str, method: str, **paths: str) -> JsonObject:
    # `name.type` (registered names), not `name.description` (-65800..); reason has only description (-62005).
    return {
        "name": {"type": name},
        **paths,
        "pathLang": "jsonpath",
        "method": method,
        "reason": {"description": REDACTION_REASON},
    }

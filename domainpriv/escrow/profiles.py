"""The deposit's column tables: one table per profile makes both the CSV header and the Header Mapping File.

escrow.md §4/§11: the agent checks the CSV header against the Header Mapping File (`ICANN RDE Spec,Field Name,
Abbreviation`), and Namingo's header said `rt-email` where its mapping said `rt-mail`. Here both come from the same
`Column` objects, so they cannot disagree. The restore drill diffs a deposited row against the live data projected
through the same `Layout.row`, so every value is a deterministic function of the stored data (no clock, no
lookup, no transliteration: UTF-8 as stored).

Value rules (both profiles): absent values are ""; a missing contact role makes all its columns ""; timestamps are
UTC `YYYY-MM-DDThh:mm:ssZ` (seconds; a naive timestamp is refused, the store keeps aware UTC); the domain name is
the stored lowercase A-label. **Street lines go into ONE `*-street` column joined by "\\n"**: the §4 table has a
single `rt-street` element, a quoted newline is valid RFC 4180, the join is lossless (a postal line holds no control
characters, registration/validation.py) and it imposes no maximum line count the mapping would have to declare.

Privacy (escrow.md §6, RAA 3.4.1.5, DESIGN invariant 1): the registrant columns ALWAYS hold the stored, underlying
customer, whatever the privacy mode. domainpriv's `proxy` mode publishes the privacy service's identity and a relay
address instead of the customer's; that masking data is configuration, not registration data, and is never
deposited. For `proxy` domains the P/P customer columns (`pp-*`) repeat the customer's name, postal address, e-mail
and voice phone, so an agent reading the RAA 3.4.1.5 columns finds them and a reader can tell which registrations
use the service; for `redacted` and `public` they are empty. The `privacy` column holds the mode itself.

Profile `icann-2024` (default; escrow.md §4, one row per domain). Columns 1-12 are the §4 table as used with DENIC
[secondary]: `domainname expire ianaid rt-name rt-street rt-city rt-state rt-zip rt-country rt-phone rt-mail
bc-name` (refs 8.1.1-8.1.11, RAA 3.4.1.3). Everything after is **domainpriv's choice, to be agreed with the agent
through the mapping file** [unconfirmed: names and refs]:
  privacy                                       RAA 3.4.1.5   the domain's privacy mode (proxy|redacted|public)
  rt-org rt-phone-ext rt-fax rt-fax-ext         RAA 3.4.1.2   held with the registrant (RDDS "where collected")
  bc-org bc-street ... bc-mail                  RAA 3.4.1.3   billing: postal address, e-mail, voice, fax
  ac-name ... ac-mail                           RAA 3.3.1.8   administrative contact (name, address, mail, voice, fax)
  tc-name ... tc-mail                           RAA 3.3.1.7   technical contact
  pp-name pp-street pp-city pp-state pp-zip pp-country pp-phone pp-mail
                                                RAA 3.4.1.5   P/P customer; `proxy` domains only
  ns                                            RAA 3.3.1.2   name servers, space-separated, in stored order
  ns-glue                                       RAA 3.4.1.4   `host=addr,addr` per name server with glue, space-sep.
  rt-handle ac-handle tc-handle bc-handle       domainpriv    contact handles: which domains share a contact
  registry-domain-id                            RAA 3.4.1.4   the registry's ID of the domain
  created                                       RAA 3.3.1.4   creation date
  updated                                       domainpriv    last change of the registration data
  status                                        RAA 3.4.1.4   EPP statuses, space-separated, sorted
Per contact role the set is name, org, street, city, state, zip, country, phone, phone-ext, fax, fax-ext, mail
(`*-mail` abbreviates the field `*-email`, following `rt-mail`). RAA clause numbers as in the 2013 RAA (3.3.1.7
technical, 3.3.1.8 administrative contact: "name, postal address, e-mail address, voice telephone number, and
(where available) fax number"; 3.4.1.3 billing; 3.4.1.5 privacy/proxy customers).

Profile `icann-2007` (escrow.md §5) [secondary: the 2007 spec text was not checked; headers follow Namingo's DENIC
"2007" and Hexonet's]: a domain file (`2007 4.1.2`: domain, expiration_date, nameservers space-separated,
rt-handle tc-handle ac-handle bc-handle; then `prt-handle`, the underlying customer's handle for `proxy` domains,
and `privacy`, both RAA 3.4.1.5) and a handle file (`2007 4.1.9`: handle name organization street city state zip
country email phone phone-ext fax fax-ext), which the pipeline fills with each referenced contact once.

Both profiles: the deletions layout of an incremental deposit (domains deleted since the previous deposit):
`domainname` (8.1.1) and `deleted` (domainpriv: when the change feed recorded the deletion).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final, Generic, Literal, TypeVar

from domainpriv.clock import rfc3339_utc
from domainpriv.errors import DomainprivError
from domainpriv.escrow.naming import DepositKind
from domainpriv.escrow.record import EscrowContact, EscrowDeletion, EscrowDomain
from domainpriv.vocabulary import PrivacyMode

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "Column",
    "DepositContext",
    "Layout",
    "LayoutInvalid",
    "NaiveTimestamp",
    "Profile",
    "UnknownProfile",
    "get_profile",
]

T = TypeVar("T")
Source = Literal["domains", "contacts", "deletions"]

MAPPING_HEADER: Final = ("ICANN RDE Spec", "Field Name", "Abbreviation")


class UnknownProfile(DomainprivError, ValueError):
    """escrow.profile names no profile."""


class LayoutInvalid(DomainprivError, ValueError):
    """A column table contradicts itself (a programming error caught when the table is built)."""


class NaiveTimestamp(DomainprivError, ValueError):
    """A timestamp without a time zone reached a deposit; the store keeps aware UTC."""


@dataclass(frozen=True, slots=True)
class DepositContext:
    """What a row needs beyond the item: values that are the same on every row."""

    iana_id: int


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    spec_ref: str  # "8.1.1", "RAA 3.4.1.3", "2007 4.1.2", "domainpriv" (no ICANN element)
    field_name: str
    abbreviation: str  # the CSV header
    value: Callable[[T, DepositContext], str]
    # The same value computed by PostgreSQL (escrow/snapshot.py's COPY fast path): an SQL expression over the
    # aliases d (domain), rt/ac/tc/bc (the contacts), ns (hosts, glue: the name servers folded), never NULL;
    # "{iana}" stands for the IANA ID. COPY's own CSV writer quotes it (by the same rule as Python's csv module).
    # None: this column has no SQL form (the layout then takes the Python path).
    # tests/integration/escrow/test_sql_records.py holds the two forms byte-identical.
    sql: str | None = None


@dataclass(frozen=True, slots=True)
class Layout(Generic[T]):
    """One kind of file of a deposit: its columns in order."""

    source: Source
    columns: tuple[Column[T], ...]

    def __post_init__(self) -> None:
        if not self.columns:
            raise LayoutInvalid(f"the {self.source} layout has no columns")
        names = self.header()
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise LayoutInvalid(f"the {self.source} layout repeats the abbreviation(s) {', '.join(twice)}")

    def header(self) -> list[str]:
        return [c.abbreviation for c in self.columns]

    def row(self, item: T, ctx: DepositContext) -> list[str]:
        return [c.value(item, ctx) for c in self.columns]

    def sql_fields(self, ctx: DepositContext) -> str | None:
        """The SELECT list of the layout's fields for `COPY ... (FORMAT csv)`, or None when a column has no SQL
        form. An empty value becomes NULL, which COPY writes as an empty unquoted field, like Python's csv (an
        empty string it would write as "")."""
        if any(c.sql is None for c in self.columns):
            return None
        fields = ", ".join(f"NULLIF(({c.sql}), '')" for c in self.columns)
        return fields.replace("{iana}", str(int(ctx.iana_id)))

    def file_type(self, kind: DepositKind) -> str:
        """The file-type token of the 2007 names: full/inc (the deposit's kind), hdl, del."""
        if self.source == "domains":
            return "full" if kind == "full" else "inc"
        return "hdl" if self.source == "contacts" else "del"


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    domains: Layout[EscrowDomain]  # file type full / inc
    contacts: Layout[EscrowContact] | None  # the 2007 handle file, file type hdl
    deletions: Layout[EscrowDeletion]  # incrementals only, file type del

    def __post_init__(self) -> None:
        meaning: dict[str, tuple[str, str]] = {}
        for layout in self.layouts():
            for c in layout.columns:
                seen = meaning.setdefault(c.abbreviation, (c.spec_ref, c.field_name))
                if seen != (c.spec_ref, c.field_name):
                    raise LayoutInvalid(f"profile {self.name}: {c.abbreviation} means two different fields")

    def layouts(self) -> tuple[Layout[EscrowDomain] | Layout[EscrowContact] | Layout[EscrowDeletion], ...]:
        if self.contacts is None:
            return (self.domains, self.deletions)
        return (self.domains, self.contacts, self.deletions)

    def mapping_rows(self) -> list[tuple[str, str, str]]:
        """Each deposited column once, in file order (a column two layouts share, like domainname, once)."""
        rows: dict[str, tuple[str, str, str]] = {}
        for layout in self.layouts():
            for c in layout.columns:
                rows.setdefault(c.abbreviation, (c.spec_ref, c.field_name, c.abbreviation))
        return list(rows.values())

    def mapping_csv(self) -> str:
        """The Header Mapping File (escrow.md §11), RFC 4180 with CRLF record ends."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(MAPPING_HEADER)
        writer.writerows(self.mapping_rows())
        return buf.getvalue()


# --- value helpers ---------------------------------------------------------------------------------------------


def _opt(value: str | None) -> str:
    return "" if value is None else value


def _timestamp(ts: datetime, what: str) -> str:
    if ts.utcoffset() is None:
        raise NaiveTimestamp(f"escrow: the {what} timestamp has no time zone")
    return rfc3339_utc(ts)


_CONTACT_VALUES: Final[dict[str, Callable[[EscrowContact], str]]] = {
    "handle": lambda c: c.handle,
    "name": lambda c: c.name,
    "org": lambda c: _opt(c.org),
    "street": lambda c: "\n".join(c.street),
    "city": lambda c: c.city,
    "state": lambda c: _opt(c.state),
    "zip": lambda c: _opt(c.postal_code),
    "country": lambda c: c.country,
    "phone": lambda c: _opt(c.phone),
    "phone-ext": lambda c: _opt(c.phone_ext),
    "fax": lambda c: _opt(c.fax),
    "fax-ext": lambda c: _opt(c.fax_ext),
    "email": lambda c: c.email,
}
# SQL forms (see Column.sql).
_CONTACT_SQL: Final[dict[str, str]] = {
    "handle": "{c}.handle", "name": "{c}.name", "org": "{c}.org",
    "street": "concat_ws(E'\\n', {c}.street1, {c}.street2, {c}.street3)", "city": "{c}.city", "state": "{c}.state",
    "zip": "{c}.postal_code", "country": "{c}.country", "phone": "{c}.phone", "phone-ext": "{c}.phone_ext",
    "fax": "{c}.fax", "fax-ext": "{c}.fax_ext", "email": "{c}.email",
}  # fmt: skip
_ROLE_ALIAS: Final = {"rt": "rt", "ac": "ac", "tc": "tc", "bc": "bc", "pp": "rt"}
_PROXY: Final = PrivacyMode.PROXY.value


def _contact_sql(prefix: str, part: str) -> str:
    expr = f"coalesce({_CONTACT_SQL[part].format(c=_ROLE_ALIAS[prefix])}, '')"
    if prefix == "pp":  # the privacy/proxy customer: the registrant, for proxy domains only
        expr = f"CASE WHEN d.privacy_mode = '{_PROXY}' THEN {expr} ELSE '' END"
    return expr


def _timestamp_sql(column: str) -> str:
    return f"""to_char({column}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


# The name servers come folded per domain by the fast path's join (escrow/snapshot.py: alias ns).
_HOSTS_SQL: Final = "coalesce(ns.hosts, '')"
_GLUE_SQL: Final = "coalesce(ns.glue, '')"
_STATUS_SQL: Final = "array_to_string(regexp_split_to_array(btrim(d.statuses), '\\s+'), ' ')"

_FULL_CONTACT: Final = ("name", "org", "street", "city", "state", "zip", "country", "phone", "phone-ext", "fax",
                        "fax-ext", "email")  # fmt: skip
_PP_CUSTOMER: Final = ("name", "street", "city", "state", "zip", "country", "phone", "email")  # RAA 3.4.1.5


def _domain_column(
    ref: str, field: str, abbreviation: str, get: Callable[[EscrowDomain], str], sql: str | None = None
) -> Column[EscrowDomain]:
    return Column(ref, field, abbreviation, lambda d, _ctx: get(d), sql)


def _role_column(
    ref: str, prefix: str, part: str, role: Callable[[EscrowDomain], EscrowContact | None]
) -> Column[EscrowDomain]:
    get = _CONTACT_VALUES[part]

    def value(d: EscrowDomain, _ctx: DepositContext) -> str:
        contact = role(d)
        return "" if contact is None else get(contact)

    field = f"{prefix}-{part}"
    return Column(ref, field, f"{prefix}-mail" if part == "email" else field, value, _contact_sql(prefix, part))


def _role_columns(
    ref: str, prefix: str, parts: tuple[str, ...], role: Callable[[EscrowDomain], EscrowContact | None]
) -> list[Column[EscrowDomain]]:
    return [_role_column(ref, prefix, part, role) for part in parts]


def _registrant(d: EscrowDomain) -> EscrowContact:
    return d.registrant


def _admin(d: EscrowDomain) -> EscrowContact | None:
    return d.admin


def _tech(d: EscrowDomain) -> EscrowContact | None:
    return d.tech


def _billing(d: EscrowDomain) -> EscrowContact | None:
    return d.billing


def _pp_customer(d: EscrowDomain) -> EscrowContact | None:
    """The privacy/proxy customer: the stored registrant, for `proxy` domains only."""
    return d.registrant if d.privacy_mode is PrivacyMode.PROXY else None


def _hosts(d: EscrowDomain) -> str:
    return " ".join(ns.host for ns in d.nameservers)


def _glue(d: EscrowDomain) -> str:
    return " ".join(f"{ns.host}={','.join(ns.addresses)}" for ns in d.nameservers if ns.addresses)


def _handle(role: Callable[[EscrowDomain], EscrowContact | None]) -> Callable[[EscrowDomain], str]:
    def get(d: EscrowDomain) -> str:
        contact = role(d)
        return "" if contact is None else contact.handle

    return get


# --- icann-2024 ------------------------------------------------------------------------------------------------

_REGISTRANT_REFS: Final = {"name": "8.1.4", "street": "8.1.5", "city": "8.1.6", "state": "8.1.7", "zip": "8.1.8",
                            "country": "8.1.9", "phone": "8.1.10", "email": "8.1.11"}  # fmt: skip
_HANDLE_ROLES: Final = (("rt", _registrant), ("ac", _admin), ("tc", _tech), ("bc", _billing))


def _icann_2024_domains() -> Layout[EscrowDomain]:
    columns: list[Column[EscrowDomain]] = [
        _domain_column("8.1.1", "domain", "domainname", lambda d: d.name, "d.name"),
        _domain_column(
            "8.1.2",
            "expiration-date",
            "expire",
            lambda d: _timestamp(d.expires_at, "expire"),
            _timestamp_sql("d.expires_at"),
        ),
        Column("8.1.3", "iana", "ianaid", lambda _d, ctx: str(ctx.iana_id), "'{iana}'"),
        *(_role_column(ref, "rt", part, _registrant) for part, ref in _REGISTRANT_REFS.items()),
        _role_column("RAA 3.4.1.3", "bc", "name", _billing),
        _domain_column("RAA 3.4.1.5", "privacy-mode", "privacy", lambda d: d.privacy_mode.value, "d.privacy_mode"),
        *_role_columns("RAA 3.4.1.2", "rt", ("org", "phone-ext", "fax", "fax-ext"), _registrant),
        *_role_columns("RAA 3.4.1.3", "bc", _FULL_CONTACT[1:], _billing),
        *_role_columns("RAA 3.3.1.8", "ac", _FULL_CONTACT, _admin),
        *_role_columns("RAA 3.3.1.7", "tc", _FULL_CONTACT, _tech),
        *_role_columns("RAA 3.4.1.5", "pp", _PP_CUSTOMER, _pp_customer),
        _domain_column("RAA 3.3.1.2", "nameservers", "ns", _hosts, _HOSTS_SQL),
        _domain_column("RAA 3.4.1.4", "nameserver-glue", "ns-glue", _glue, _GLUE_SQL),
        *(_role_column("domainpriv", prefix, "handle", role) for prefix, role in _HANDLE_ROLES),
        _domain_column(
            "RAA 3.4.1.4",
            "registry-domain-id",
            "registry-domain-id",
            lambda d: d.registry_domain_id,
            "d.registry_domain_id",
        ),
        _domain_column(
            "RAA 3.3.1.4",
            "creation-date",
            "created",
            lambda d: _timestamp(d.created_at, "created"),
            _timestamp_sql("d.created_at"),
        ),
        _domain_column(
            "domainpriv",
            "updated-date",
            "updated",
            lambda d: _timestamp(d.updated_at, "updated"),
            _timestamp_sql("d.updated_at"),
        ),
        _domain_column("RAA 3.4.1.4", "status", "status", lambda d: " ".join(d.statuses), _STATUS_SQL),
    ]
    return Layout("domains", tuple(columns))


def _deletions() -> Layout[EscrowDeletion]:
    return Layout(
        "deletions",
        (
            Column("8.1.1", "domain", "domainname", lambda x, _ctx: x.name),
            Column("domainpriv", "deletion-date", "deleted", lambda x, _ctx: _timestamp(x.deleted_at, "deleted")),
        ),
    )


# --- icann-2007 ------------------------------------------------------------------------------------------------


def _icann_2007_domains() -> Layout[EscrowDomain]:
    ref = "2007 4.1.2"
    return Layout(
        "domains",
        (
            _domain_column(ref, "domain", "domain", lambda d: d.name, "d.name"),
            _domain_column(
                ref,
                "expiration-date",
                "expiration_date",
                lambda d: _timestamp(d.expires_at, "expire"),
                _timestamp_sql("d.expires_at"),
            ),
            _domain_column(ref, "nameservers", "nameservers", _hosts, _HOSTS_SQL),
            _domain_column(ref, "registrant-handle", "rt-handle", _handle(_registrant), _contact_sql("rt", "handle")),
            _domain_column(ref, "tech-handle", "tc-handle", _handle(_tech), _contact_sql("tc", "handle")),
            _domain_column(ref, "admin-handle", "ac-handle", _handle(_admin), _contact_sql("ac", "handle")),
            _domain_column(ref, "billing-handle", "bc-handle", _handle(_billing), _contact_sql("bc", "handle")),
            _domain_column(
                "RAA 3.4.1.5", "pp-customer-handle", "prt-handle", _handle(_pp_customer), _contact_sql("pp", "handle")
            ),
            _domain_column("RAA 3.4.1.5", "privacy-mode", "privacy", lambda d: d.privacy_mode.value, "d.privacy_mode"),
        ),
    )


def _icann_2007_handles() -> Layout[EscrowContact]:
    names = (("handle", "handle"), ("name", "name"), ("org", "organization"), ("street", "street"),
             ("city", "city"), ("state", "state"), ("zip", "zip"), ("country", "country"), ("email", "email"),
             ("phone", "phone"), ("phone-ext", "phone-ext"), ("fax", "fax"), ("fax-ext", "fax-ext"))  # fmt: skip
    return Layout("contacts", tuple(_handle_column(part, abbreviation) for part, abbreviation in names))


def _handle_column(part: str, abbreviation: str) -> Column[EscrowContact]:
    get = _CONTACT_VALUES[part]
    return Column("2007 4.1.9", f"contact-{part}", abbreviation, lambda c, _ctx: get(c))


DEFAULT_PROFILE: Final = "icann-2024"
PROFILES: Final[Mapping[str, Profile]] = MappingProxyType(
    {
        "icann-2024": Profile("icann-2024", _icann_2024_domains(), None, _deletions()),
        "icann-2007": Profile("icann-2007", _icann_2007_domains(), _icann_2007_handles(), _deletions()),
    }
)


def get_profile(name: str) -> Profile:
    """The profile escrow.profile names. Raises UnknownProfile (a ValueError)."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UnknownProfile(f"config key escrow.profile: unknown profile {name!r} (known: {known})") from None

"""Generated contacts survive every path unchanged: service -> store -> snapshot, and export -> import."""

from __future__ import annotations

import io
import itertools
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domainpriv.audit import Actor
from domainpriv.registration import services
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import ContactData, validate_contact
from domainpriv.store import UnitOfWork
from domainpriv.transfer import export_registrations, import_registrations
from support.builders import make_account

ACTOR = Actor("staff", "property")
_handles = itertools.count(1)

# Text a customer might type: any script, markup, quotes and SQL, but no control characters.
texts = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), min_size=1, max_size=80).filter(
    lambda s: s.strip() != ""
)
markup = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "'; DROP TABLE contact; --",
        "Robert'); --",
        "${jndi:x}",
        'Zoë "Q" O\'Brien',
        "\u202eevil",
        "名前",
        "مثال",
    ]
).filter(lambda s: s.strip() != "")


@st.composite
def contacts(draw: st.DrawFn) -> ContactData:
    raw: dict[str, Any] = {
        "name": draw(st.one_of(texts, markup)),
        "org": draw(st.none() | texts | markup),
        "street": draw(st.lists(st.one_of(texts, markup), max_size=3)),
        "city": draw(texts),
        "state": draw(st.none() | texts),
        "postal_code": draw(st.none() | st.from_regex(r"[A-Z0-9]{1,4}[ -]?[A-Z0-9]{1,4}", fullmatch=True)),
        "country": draw(st.sampled_from(["US", "DE", "JP", "BR", "GB", "IN"])),
        "phone": draw(st.none() | st.sampled_from(["+1.5555550100", "+49.3012345678", "+81.312345678"])),
        "email": draw(st.sampled_from(["a@b.example", "zoë@mail.example", "x.y+tag@sub.example.org"])),
    }
    try:
        return validate_contact(raw)
    except ValidationError:
        from hypothesis import reject

        reject()


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=contacts())
def test_a_stored_contact_reads_back_unchanged(uow: UnitOfWork, data: ContactData) -> None:
    account = make_account(uow).handle
    handle = f"P{next(_handles):07d}"
    services.create_contact(uow, actor=ACTOR, handle=handle, account=account, data=data, reason="property")
    domain = services.create_domain(
        uow,
        actor=ACTOR,
        name=f"p{next(_handles)}.example",
        account=account,
        registrant=handle,
        reason="property",
    )
    stored = domain.contacts["registrant"]
    assert stored is not None and stored.data == data


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(contacts(), min_size=1, max_size=5))
def test_export_import_round_trips_generated_contacts(
    uow: UnitOfWork, tmp_path_factory: Any, batch: list[ContactData]
) -> None:
    from domainpriv.store import make_engine
    from domainpriv.store.migrate import upgrade

    account = make_account(uow).handle
    for data in batch:
        handle = f"Q{next(_handles):07d}"
        services.create_contact(uow, actor=ACTOR, handle=handle, account=account, data=data, reason="property")
    first = io.BytesIO()
    export_registrations(uow, out=first)
    target = make_engine(f"sqlite:///{tmp_path_factory.mktemp('rt') / 'db.sqlite3'}")
    upgrade(target)
    import_registrations(UnitOfWork(target), actor=ACTOR, lines=io.BytesIO(first.getvalue()), reason="property")
    second = io.BytesIO()
    export_registrations(UnitOfWork(target), out=second)
    target.dispose()
    assert second.getvalue() == first.getvalue()
    exported = {
        orjson.loads(x)["handle"]: orjson.loads(x) for x in first.getvalue().splitlines() if b'"type":"contact"' in x
    }
    assert {
        validate_contact({k: v for k, v in c.items() if k in ContactData.__dataclass_fields__})
        for c in exported.values()
    } >= set(batch)

"""Hostile contact data for no-leak tests: every value carries a marker unique to its field.

The marker ("qz" + role + field number + a drawn number + "x") lets a test check the bytes of any output for a
hidden value without false alarms from common words; the rest of each value is hostile: any script, markup,
SQL, quotes, very long text.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

NUMBERS = st.integers(0, 10**8 - 1)
HOSTILE = st.one_of(
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), max_size=200),
    st.sampled_from(["<script>alert(1)</script>", "'; DROP TABLE domain; --", '"}]},{"x":"', "\\u0000", "${jndi:x}"]),
)
_ROLE_DIGIT = {"rg": 1, "tc": 2}  # keeps the two roles' numbers apart, so one role's published number is not
# mistaken for the other's hidden one


@st.composite
def hostile_contact(draw: st.DrawFn, role: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A raw contact and, per text field, the marker that identifies its value."""
    markers: dict[str, str] = {}

    def marker(field: str) -> str:
        return f"qz{role}{len(markers):02d}{draw(NUMBERS):08d}x"

    def text(field: str, limit: int = 255) -> str:
        markers[field] = marker(field)
        return (markers[field] + " " + draw(HOSTILE)).strip()[:limit]

    raw = {
        "name": text("name"), "org": text("org"), "street": [text("street0"), text("street1")],
        "city": text("city"), "state": text("state"), "postal_code": marker("postal_code")[-16:],
        "country": draw(st.sampled_from(["DE", "FR", "JP", "BR"])),
        "phone": f"+49.30{_ROLE_DIGIT[role]}{draw(st.integers(0, 10**7 - 1)):07d}",
        "phone_ext": str(draw(st.integers(1000, 99999))),
        "fax": f"+49.30{_ROLE_DIGIT[role] + 4}{draw(st.integers(0, 10**7 - 1)):07d}",
        "fax_ext": str(draw(st.integers(1000, 99999))),
        "email": f"{marker('email')}@{marker('email_domain')}.example",
    }  # fmt: skip
    markers["postal_code"] = raw["postal_code"]
    markers["phone"] = raw["phone"].split(".")[1]  # the national number, as any renderer would print it
    markers["fax"] = raw["fax"].split(".")[1]
    markers["email"] = raw["email"]
    markers["email_local"] = raw["email"].split("@")[0]
    return raw, markers


def assert_absent(markers: dict[str, str], blobs: list[bytes], published: set[str]) -> None:
    for field, marker in markers.items():
        if field in published:
            continue
        for blob in blobs:
            assert marker.encode() not in blob, f"{field} leaked"
            assert marker.lower().encode() not in blob.lower(), f"{field} leaked (case-folded)"

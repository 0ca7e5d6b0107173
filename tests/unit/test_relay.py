"""Relay aliases are HMAC-SHA256(secret, A-label NUL role), cut to 20 hex digits: addresses already handed out
must not change when the code computing them does."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from domainpriv.privacy.relay import relay_address, relay_alias

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@given(secret=_text, a_label=_text, role=st.sampled_from(["registrant", "admin", "tech", "billing"]))
def test_the_alias_is_the_documented_hmac(secret: str, a_label: str, role: str) -> None:
    expected = hmac.new(secret.encode(), f"{a_label}\x00{role}".encode(), hashlib.sha256).hexdigest()[:20]
    assert relay_alias(secret, a_label, role) == expected


def test_a_known_alias_stays_what_it_was() -> None:
    assert relay_address("relay-secret", "example.com", "tech", "relay.example") == "90f159d6e00d380275d2@relay.example"
    assert relay_address("s", "example.com", "tech", "relay.example", stored_alias="kept") == "kept-tech@relay.example"

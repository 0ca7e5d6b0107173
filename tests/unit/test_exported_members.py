"""Each package's __all__ names exactly what exists (httpx tests/test_exported_members.py)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "domainpriv",
    "domainpriv.store",
    "domainpriv.store.availability",
    "domainpriv.changes",
    "domainpriv.scheduling",
    "domainpriv.escrow.openpgp",
    "domainpriv.escrow.profiles",
    "domainpriv.escrow.csvfiles",
    "domainpriv.escrow.naming",
    "domainpriv.transfer",
    "domainpriv.registration.services",
    "domainpriv.registration.validation",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    for member in exported:
        assert hasattr(module, member), member
        assert not member.startswith("_") or member == "__version__"

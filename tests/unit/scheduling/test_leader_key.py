"""The advisory lock's key: stable across processes and releases, namespaced away from the audit log's lock."""

from __future__ import annotations

import importlib

from domainpriv.scheduling import DEFAULT_NAME, NAMESPACE, advisory_key

AUDIT_LOCK_KEY = 0x646F6D70  # domainpriv/audit.py


def test_the_key_is_stable_and_fits_a_positive_int4() -> None:
    assert advisory_key() == advisory_key(DEFAULT_NAME, "public") == (NAMESPACE, 438734204)
    classid, objid = advisory_key("another-installation")
    assert classid == NAMESPACE and 0 <= objid < 2**31 and objid != advisory_key()[1]


def test_the_same_name_in_another_schema_is_another_lock() -> None:
    """Advisory locks are database-wide: two installations in two schemas of one database must not share one."""
    assert advisory_key(DEFAULT_NAME, "staging") != advisory_key(DEFAULT_NAME, "public")
    assert advisory_key("ab", "c") != advisory_key("b", "ac")  # the separator keeps (schema, name) pairs apart


def test_the_namespace_is_not_the_audit_logs_key() -> None:
    """Different key spaces already (two int4 vs one bigint: objsubid 2 vs 1); a different number as well."""
    assert NAMESPACE != AUDIT_LOCK_KEY
    assert (NAMESPACE << 32 | advisory_key()[1]) != AUDIT_LOCK_KEY


def test_the_package_exports_what_exists() -> None:
    module = importlib.import_module("domainpriv.scheduling")
    assert len(module.__all__) == len(set(module.__all__))
    assert all(hasattr(module, name) and not name.startswith("_") for name in module.__all__)

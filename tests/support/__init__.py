"""Shared test helpers: database fixtures' plumbing and builders (Warehouse tests/common/db style)."""

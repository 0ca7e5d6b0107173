"""Fixtures of the portal tests: the portal and API on the `uow` fixture (so on SQLite and PostgreSQL), a test
client, and the population of portal/kit.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from portal.kit import Population, TestClient, close, new_client, populate, portal_settings

from domainpriv.config import Settings
from domainpriv.portal.app import build_portal
from domainpriv.store import UnitOfWork


@pytest.fixture
def population(uow: UnitOfWork) -> Population:
    return populate(uow)


@pytest.fixture
def settings() -> Settings:
    return portal_settings()


@pytest.fixture
def app(uow: UnitOfWork, settings: Settings) -> FastAPI:
    return build_portal(settings, uow)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    c = new_client(app)
    yield c
    close(c)

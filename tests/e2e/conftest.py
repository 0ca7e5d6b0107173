"""Fixtures of the browser tests: one headless Chromium per test module (Debian's, driven by Playwright's sync API),
one whole site per backend and test module (`site`: a real `domainpriv serve` on a demo database, mailing to a
real SMTP sink), and a fresh browser context with JavaScript off for each test (the portal has none).

Without /usr/bin/chromium the tests are skipped with the reason, unless DOMAINPRIV_REQUIRE_SERVICES=1 (CI),
which turns the skip into a failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.site import CHROMIUM, CHROMIUM_ARGS, Site, environment_has_chromium, running_site
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from support.databases import postgres_schema_url, services_required, sqlite_url


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """Module-scoped, not session-scoped: while Playwright's sync API is open its event loop counts as running in
    this thread, and every later test calling asyncio.run() would fail. (This package has one module: one browser
    for the whole session all the same.)"""
    reason = environment_has_chromium()
    if reason is not None:
        if services_required():
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The `db_url` of tests/conftest.py, once per module: one daemon per backend serves all its tests."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("e2e-sqlite"))
    else:
        with postgres_schema_url() as url:
            yield url


@pytest.fixture(scope="module")
def site(browser: Browser, site_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # `browser` first: without Chromium, skip before spending seconds on a daemon.
    with running_site(site_db_url, tmp_path_factory.mktemp("e2e-site")) as running:
        yield running


@pytest.fixture
def context(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    """A new browser profile (no cookies) with JavaScript off: every flow must work without it."""
    ctx = browser.new_context(java_script_enabled=False, base_url=site.base_url)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)

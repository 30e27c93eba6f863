"""Browser tests: the app served on a real port and driven through Debian's Chromium with Playwright.

Each test gets its own app and database (tests/conftest.py), served by a werkzeug server on a free port. One
Chromium runs for the whole session; each test opens fresh contexts, so no cookies leak between tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from tests.browser.support import Pages

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item (item.rep_setup, rep_call, rep_teardown) for the fixtures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def playwright_browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = (f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. "
                   "Install it with: apt-get install -y chromium")
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve `app` on a free port in a background thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    # E-mailed links are built from BASE_URL, read when each mail is rendered; the port is known only now
    # that the socket is bound, and the server has not answered anything yet.
    app.config["BASE_URL"] = base_url
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def pages(playwright_browser: Browser, live_server: str, request: pytest.FixtureRequest) -> Iterator[Pages]:
    """Open pages with pages.new(); screenshots of them are saved to test-artifacts/ when the test fails."""
    opened = Pages(playwright_browser, live_server)
    try:
        yield opened
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            for path in opened.screenshot(request.node.name):
                print(f"screenshot: {path}")
    finally:
        opened.close()
    problems = opened.problems()
    if problems:
        pytest.fail("The browser reported problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def page(pages: Pages) -> Page:
    """A desktop-sized page (1280x900) in a fresh context."""
    return pages.new()

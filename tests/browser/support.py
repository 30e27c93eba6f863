"""Helpers for the browser tests: every page a test looks at is checked with axe-core."""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # gitignored
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 10_000

# axe-core is injected with page.evaluate(), which goes through the DevTools protocol rather than a <script>
# element, so the pages' Content-Security-Policy (script-src 'self') does not block it and the contexts need no
# bypass_csp. Were that ever to change, Chromium would log a "Content Security Policy" console message and the
# `pages` fixture would fail the test, so the CSP is never quietly weakened for the pages under test.
_AXE = Axe()
BLOCKING_IMPACTS = ("serious", "critical")


def axe_check(page: Page) -> None:
    """Fail on any axe-core violation of serious or critical impact on the page as it is now."""
    violations = _AXE.run(page).response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        lines = [f"axe-core found {len(blocking)} serious accessibility problem(s) on {page.url}:"]
        for v in blocking:
            lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v.get('helpUrl', '')}>")
            for node in v["nodes"]:
                lines.append(f"    at {node['target']}: {node.get('failureSummary', '').strip()}")
        raise AssertionError("\n".join(lines))


def visit(page: Page, url: str) -> Page:
    """Go to `url` (relative to the live server), expect a page that is not an error, and axe-check it."""
    response = page.goto(url)
    assert response is not None and response.ok, f"GET {url}: {response and response.status}"
    axe_check(page)
    return page


def submit(page: Page, button: Locator) -> Page:
    """Press a button that sends a form, wait for the page the server answers with, and axe-check it."""
    with page.expect_navigation():
        button.click()
    axe_check(page)
    return page


def follow(page: Page, link: Locator) -> Page:
    """Follow a link, wait for the new page and axe-check it."""
    with page.expect_navigation():
        link.click()
    axe_check(page)
    return page


def log_in(page: Page, email: str, password: str) -> Page:
    """Log in through the real form and land on the home page."""
    visit(page, "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    submit(page, page.get_by_role("button", name="Log in"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return page


def log_out(page: Page) -> Page:
    submit(page, page.get_by_role("banner").get_by_role("button", name="Log out"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")
    return page


class Pages:
    """Browser contexts and pages of one test, watched for CSP violations and uncaught script errors."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.pages: list[Page] = []
        self.console: list[str] = []
        self.errors: list[str] = []

    def new(self, *, viewport: dict | None = None, device_scale_factor: float = 1, **options) -> Page:
        """A page in a new context (its own cookies): a second person, or another screen size."""
        context = self.browser.new_context(base_url=self.base_url, viewport=viewport or DESKTOP,
                                           device_scale_factor=device_scale_factor, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", self._watch)  # pages the app opens itself
        self.contexts.append(context)
        page = context.new_page()
        self._watch(page)
        return page

    def _watch(self, page: Page) -> None:
        if page in self.pages:
            return
        self.pages.append(page)

        def on_console(msg: ConsoleMessage) -> None:
            self.console.append(f"[{msg.type}] {msg.text} ({page.url})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"{exc} ({page.url})"))

    def problems(self) -> list[str]:
        csp = [m for m in self.console if "content security policy" in m.lower()]
        return [*csp, *(f"page error: {e}" for e in self.errors)]

    def screenshot(self, name: str) -> list[Path]:
        ARTIFACTS.mkdir(exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        paths = []
        for i, page in enumerate(p for p in self.pages if not p.is_closed()):
            path = ARTIFACTS / f"{safe}-{i}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
            except Exception as exc:  # a broken page must not hide the test's own failure
                print(f"could not save a screenshot of {page.url}: {exc}")
            else:
                paths.append(path)
        return paths

    def close(self) -> None:
        for context in self.contexts:
            context.close()

"""A real server on a free port and Debian's chromium driven by Playwright.

Nothing here is skipped: if the browser cannot start, the tests fail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from app import create_app
from core.cli import upgrade_database
from core.demo import load_demo_data
from surveys.demo import load_demo_surveys

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BLOCKING_IMPACTS = {"serious", "critical"}


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.fspath).parent.name == "e2e":
            item.add_marker(pytest.mark.e2e)
            # One xdist worker runs them all (--dist loadgroup): one live server, one chromium.
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    """The app as it runs for real (CSRF, rate limits, secure cookies) with the demo data,
    surveys and waves included."""
    folder = tmp_path_factory.mktemp("e2e")
    app = create_app(
        {
            "SECRET_KEY": "e2e-secret",
            "PANEL_SECRET": "e2e-panel-secret",
            "DATABASE_URL": f"sqlite:///{folder / 'holdfast-e2e.db'}",
        }
    )
    upgrade_database(app.extensions["db_engine"])
    with app.extensions["db_sessionmaker"]() as session:
        load_demo_data(session)
        load_demo_surveys(session, "e2e-panel-secret")
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Visitor:
    """A browser tab that checks every page it lands on with axe and watches the console."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.console_errors: list[str] = []
        self.checked: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.on("response", self._on_response)

    def _on_console(self, message) -> None:
        # A page served with an error status (a used link is a 404) is logged as a failed
        # load; failed sub-resources are caught by _on_response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text)

    def _on_response(self, response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.console_errors.append(f"{response.status} for {response.url}")

    def goto(self, path: str) -> Page:
        try:
            self.page.goto(self.base_url + path)
        except PlaywrightError as error:
            # A live page (a workshop's console) reloaded itself at that moment, which
            # cancels the navigation: as a person would, go again.
            if "ERR_ABORTED" not in str(error):
                raise
            self.page.goto(self.base_url + path)
        self.check()
        return self.page

    def click(self, selector: str) -> Page:
        """Click something that loads a new page, then check that page."""
        with self.page.expect_navigation():
            self.page.click(selector)
        self.check()
        return self.page

    def check(self) -> None:
        results = Axe().run(self.page)
        blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, f"{self.page.url}:\n{results.generate_report()}"
        self.checked.append(self.page.url)

    def sign_in(self, email: str, password: str) -> Page:
        self.goto("/sign-in")
        self.page.fill("#email", email)
        self.page.fill("#password", password)
        return self.click("button:has-text('Sign in')")

    def sign_out(self) -> Page:
        return self.click("button:has-text('Sign out')")


@pytest.fixture
def visitor(browser: Browser, live_server: str) -> Iterator[Visitor]:
    context = browser.new_context()
    visitor = Visitor(context.new_page(), live_server)
    yield visitor
    context.close()
    assert visitor.console_errors == [], "console errors (CSP, script) or a failed asset"

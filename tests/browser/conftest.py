"""The console in a real browser: the app on a free local port, Debian's Chromium driven by
Playwright. No browser is ever downloaded: without /usr/bin/chromium the tests fail, loudly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from tests.support import PASSWORD, make_settings, seed_network
from web.app import create_app
from workflow.clock import SystemClock
from workflow.runtime import Runtime, bootstrap
from workflow.storage.migrate import upgrade

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# The suite runs on two workers beside the benchmark's quick run: on a loaded machine a
# page can take seconds. Actions and assertions get the same patience (an `expect`
# has its own timeout, 5 s unless set; the console flow failed once in a loaded full
# run, its cause not captured).
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def live_rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    directory = tmp_path_factory.mktemp("browser")
    rt = bootstrap(make_settings(f"sqlite:///{directory / 'b.db'}", directory), clock=SystemClock())
    upgrade(rt.engine)
    seed_network(rt)
    yield rt
    rt.engine.dispose()


@pytest.fixture(scope="module")
def base_url(live_rt: Runtime) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(runtime=live_rt), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-under-test", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium); "
            "never `playwright install`"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    yield tab
    context.close()


def sign_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def sign_out(page: Page) -> None:
    page.locator("form[action='/logout'] button").click()
    page.wait_for_load_state()

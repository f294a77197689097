"""Screenshots of the console's main pages, on the demo network, into docs/screenshots/.

    .venv/bin/python scripts/screenshots.py [--lang zh|en] [--out docs/screenshots]

Builds a throw-away SQLite database with the demo data (the real services under a moved
clock), delivers the pending notifications, serves the app on a free local port and drives
Debian's Chromium (`apt-get install chromium`; never `playwright install`) through the
pages each role uses.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from config.settings import Settings  # noqa: E402
from web.app import create_app  # noqa: E402
from workflow.clock import MovableClock, SystemClock  # noqa: E402
from workflow.runtime import Runtime, bootstrap  # noqa: E402
from workflow.services import outbox  # noqa: E402
from workflow.services.demo import DEFAULT_PASSWORD, load_demo  # noqa: E402
from workflow.storage.migrate import upgrade  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def demo_runtime(directory: Path) -> Runtime:
    settings = Settings(
        database_url=f"sqlite:///{directory / 'demo.db'}",
        secret_key="screenshots",
        encryption_keys=("k1:screenshots-only-key",),
        instance_dir=directory,
    )
    rt = bootstrap(settings, clock=MovableClock(datetime.now(UTC)))
    upgrade(rt.engine)
    load_demo(rt, cases=160, villages=60, towns=6)
    rt.clock = SystemClock()
    while ids := outbox.claim(rt):
        for outbox_id in ids:
            outbox.perform(rt, outbox_id, outbox.Ports())
    return rt


@contextmanager
def serving(rt: Runtime) -> Iterator[str]:
    app = create_app(runtime=rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def sign_in(page: Page, base: str, username: str, lang: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    if lang == "en" and page.locator("button[name=lang][value=en]").count():
        page.click("button[name=lang][value=en]")
    page.fill("#username", username)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("form:not(.lang-switch) button[type=submit]")
    page.wait_for_load_state("networkidle")


def shoot(page: Page, out: Path, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(out / f"{name}.png"), full_page=full_page)
    print(f"wrote {out / name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("zh", "en"), default="zh")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.lang == "zh" else "-en"
    with tempfile.TemporaryDirectory() as tmp:
        rt = demo_runtime(Path(tmp))
        with serving(rt) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            locale = "zh-CN" if args.lang == "zh" else "en-GB"
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale=locale)

            sign_in(page, base, "v001.cw", args.lang)
            page.goto(f"{base}/queue")
            shoot(page, args.out, f"queue{suffix}")
            page.goto(f"{base}/cases/new")
            shoot(page, args.out, f"register{suffix}")
            page.goto(f"{base}/queue")
            page.locator("table.cases tbody a").first.click()
            page.wait_for_load_state("networkidle")
            shoot(page, args.out, f"case{suffix}", full_page=True)

            sign_in(page, base, "district.sup", args.lang)
            page.goto(f"{base}/dashboard")
            shoot(page, args.out, f"dashboard{suffix}")
            page.goto(f"{base}/reports")
            shoot(page, args.out, f"reports{suffix}")

            sign_in(page, base, "court.liaison", args.lang)
            page.goto(f"{base}/referrals")
            shoot(page, args.out, f"liaison-inbox{suffix}")

            phone = browser.new_page(
                viewport={"width": 390, "height": 844}, is_mobile=True, locale=locale
            )
            sign_in(phone, base, "v001.cw", args.lang)
            phone.goto(f"{base}/queue")
            shoot(phone, args.out, f"queue-phone{suffix}")
            browser.close()
        rt.engine.dispose()


if __name__ == "__main__":
    main()

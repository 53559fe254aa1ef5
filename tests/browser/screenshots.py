"""Write the README's screenshots into docs/screenshots/ from a throw-away database.

    .venv/bin/python tests/browser/screenshots.py [output-dir]

Uses Debian's Chromium and a real uvicorn server, like the browser tests.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from browser_harness import LiveServer, launch_chromium
from playwright.sync_api import sync_playwright

from qianbao import migrate
from qianbao.app import create_app
from qianbao.db import Database
from qianbao.logging import configure_logging
from qianbao.pii.keyring import create_keyring, use_keyring
from qianbao.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1366, "height": 820}, "device_scale_factor": 1}

# (file name, path, browser locale, context options, whole page?)
SHOTS = [
    ("portal.png", "/", "zh-CN", DESKTOP, False),
    ("customer-app-zh.png", "/app", "zh-CN", PHONE, True),
    ("customer-app-en.png", "/app", "en-US", PHONE, True),
    ("teller-desk.png", "/teller", "zh-CN", DESKTOP, False),
    ("ops-dashboard.png", "/ops", "zh-CN", DESKTOP, True),
    ("not-found.png", "/app/no-such-page", "zh-CN", DESKTOP, False),
    ("staff-login.png", "/teller/login", "zh-CN", DESKTOP, False),
    ("ops-staff.png", "/ops/staff", "zh-CN", DESKTOP, True),
]
# The consoles are shown signed in as the demo staff member of this employee number.
SIGNED_IN_AS = {"/teller": "S0101", "/ops": "OP001", "/ops/staff": "OP001"}


def staff_token(db: Database, settings: Settings, employee_no: str) -> str:
    from qianbao.staff import signin
    from qianbao.staff.members import staff_by_number

    with db.transaction() as session:
        member = staff_by_number(session, employee_no)
        assert member is not None
        return signin.open_session(session, member, settings=settings).token


def main(out_dir: Path) -> None:
    configure_logging(json=False, level="WARNING")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"sqlite:///{data / 'qianbao.db'}"
        db = Database(url)
        migrate.upgrade(db.engine)
        keyring = create_keyring(data / "keys.json")
        settings = Settings(environment="test", data_dir=data, database_url=url, key_file=keyring.path)
        from qianbao.staff.demo import seed_demo_staff
        from qianbao.web.auth import staff_cookie

        use_keyring(keyring)
        with db.transaction() as session:
            seed_demo_staff(session, settings=settings)
        with LiveServer(create_app(settings, db)) as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for name, path, locale, options, full_page in SHOTS:
                context = browser.new_context(base_url=server.url, locale=locale, **options)
                if path in SIGNED_IN_AS:
                    token = staff_token(db, settings, SIGNED_IN_AS[path])
                    context.add_cookies([{"name": staff_cookie(settings).name, "value": token, "url": server.url}])
                page = context.new_page()
                page.goto(path)
                page.wait_for_load_state("networkidle")
                if full_page:
                    # Grow the viewport to the page instead of stitching, so fixed bars stay at the edges.
                    height = page.evaluate("() => document.documentElement.scrollHeight")
                    page.set_viewport_size({"width": options["viewport"]["width"], "height": height})
                page.screenshot(path=str(out_dir / name))
                context.close()
                print(out_dir / name)
            browser.close()
        db.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")

"""Write the ops console's wallet screenshots into docs/screenshots/ from a throw-away demo database.

    .venv/bin/python tests/browser/ops_screenshots.py [output-dir]

Seeds the demo (`qianbao.demo.seed`: staff of each role, customers at tiers 4, 3 and 1, 周建国 waiting for
review), adds two more submissions that have waited 20 and 30 hours so the queue shows its review-time
marks, and one audited tier change; then shows the pages signed in as the demo operator OP001.
"""

from __future__ import annotations

import io
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from browser_harness import LiveServer, launch_chromium
from PIL import Image, ImageDraw, ImageFont
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from qianbao import demo, migrate, wallets
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.app import create_app
from qianbao.db import Database
from qianbao.logging import configure_logging
from qianbao.pii.keyring import create_keyring, use_keyring
from qianbao.settings import Settings
from qianbao.staff.members import staff_by_number
from qianbao.wallets.models import KycSubmission, Wallet

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = {"viewport": {"width": 1366, "height": 820}, "device_scale_factor": 1}
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

# (phone, name, resident ID number whose sequence 9xx makes the sandbox verifier unsure, hours waited)
WAITING = (
    ("13800000021", "陈晓燕", "110105199203159286", 30),
    ("13800000022", "欧阳娜娜", "31010419880721940X", 20),
)


def card_photo(lines: list[str]) -> bytes:
    """A card-sized stand-in for a photographed ID card side, lettered in a CJK font when one is installed."""
    image = Image.new("RGB", (856, 540), "#e8eef5")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((16, 16, 840, 524), radius=28, outline="#5a7da8", width=5)
    font = ImageFont.truetype(str(CJK_FONT), 34) if CJK_FONT.exists() else ImageFont.load_default()
    for i, line in enumerate(lines):
        draw.text((64, 70 + i * 62), line, fill="#1f3a5f", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def add_waiting(db: Database, settings: Settings) -> None:
    verifier = SandboxIdentityVerifier(latency_ms=0)
    for phone, name, number, hours in WAITING:
        with time_machine.travel(datetime.now(UTC) - timedelta(hours=hours), tick=False), \
                db.transaction() as session:
            issued = wallets.start_registration(session, phone, None, "zh-CN", send=False, settings=settings)
            customer, _ = wallets.complete_registration(session, phone, issued.code, "Demo-Wallet-Wait9", True,
                                                        settings=settings)
            front = card_photo([f"姓名  {name}", "性别  女    民族  汉", f"公民身份号码  {number}"])
            back = card_photo(["中华人民共和国", "居民身份证", "有效期限  2020.01.01-2040.01.01"])
            wallets.submit_real_name(session, customer.id, name, number, None, front, back,
                                     verifier=verifier, settings=settings)


def main(out_dir: Path) -> None:
    configure_logging(json=False, level="WARNING")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"sqlite:///{data / 'qianbao.db'}"
        db = Database(url)
        migrate.upgrade(db.engine)
        keyring = create_keyring(data / "keys.json")
        settings = Settings(environment="test", data_dir=data, database_url=url, key_file=keyring.path,
                            sms_latency_ms=0, identity_latency_ms=0, idcard_latency_ms=0)
        use_keyring(keyring)
        demo.seed(db, settings)
        add_waiting(db, settings)
        from qianbao.staff import signin
        from qianbao.web.auth import staff_cookie

        with db.transaction() as session:
            operator = staff_by_number(session, "OP001")
            assert operator is not None
            wallets.update_tier_policy(session, 4, {"daily_outflow_limit": 4_000_00}, operator.id,
                                       "示例：按季度风控评估下调四类钱包日累计支出限额")
            token = signin.open_session(session, operator, settings=settings).token
            pending = session.scalar(select(KycSubmission.id).where(KycSubmission.status == "pending")
                                     .order_by(KycSubmission.submitted_at.desc()).limit(1))
            li_ming = wallets.customer_by_phone(session, "+8613800000003")
            assert li_ming is not None
            wallet_id = session.scalar(select(Wallet.id).where(Wallet.customer_id == li_ming.id))
        shots = [
            ("ops-overview.png", "/ops"),
            ("ops-kyc-queue.png", "/ops/kyc"),
            ("ops-kyc-detail.png", f"/ops/kyc/{pending}"),
            ("ops-tiers.png", "/ops/config/tiers"),
            ("ops-wallet-detail.png", f"/ops/wallets/{wallet_id}"),
        ]
        with LiveServer(create_app(settings, db)) as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for name, path in shots:
                context = browser.new_context(base_url=server.url, locale="zh-CN", **DESKTOP)
                context.add_cookies([{"name": staff_cookie(settings).name, "value": token, "url": server.url}])
                page = context.new_page()
                page.goto(path)
                page.wait_for_load_state("networkidle")
                height = page.evaluate("() => document.documentElement.scrollHeight")
                page.set_viewport_size({"width": DESKTOP["viewport"]["width"], "height": height})
                page.screenshot(path=str(out_dir / name))
                context.close()
                print(out_dir / name)
            browser.close()
        db.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")

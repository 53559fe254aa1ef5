"""Render the sample opening receipt into docs/screenshots/ (receipt-opening-zh.png, receipt-opening-en.png).

    .venv/bin/python tests/receipts/render_sample_receipt.py [output-dir]

A throw-away SQLite database with the demo branches and staff: the demo teller T0101 takes an application
that the sandbox verifier is unsure about, the demo supervisor S0101 approves it, the customer sets the
password and PIN through the PIN-pad functions, and the receipt is printed with WeasyPrint and turned into
PNG with `pdftoppm -png -r 80`, as a teller's printer would see the page. Look at the PNGs after a change
to the receipt's template or stylesheet.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import time_machine
from teller_receipt_photo import customer_photo

from qianbao import migrate, receipts, wallets
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.audit import Actor
from qianbao.db import Database
from qianbao.logging import configure_logging
from qianbao.pii.keyring import create_keyring, use_keyring
from qianbao.settings import Settings
from qianbao.staff.demo import seed_demo_staff
from qianbao.staff.members import staff_by_number

ROOT = Path(__file__).resolve().parents[2]
# 10:30 in Shanghai.
WHEN = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


def main(out_dir: Path) -> None:
    configure_logging(json=False, level="WARNING")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, time_machine.travel(WHEN, tick=False):
        data = Path(tmp)
        url = f"sqlite:///{data / 'qianbao.db'}"
        use_keyring(create_keyring(data / "keys.json"))
        db = Database(url)
        migrate.upgrade(db.engine)
        settings = Settings(environment="test", data_dir=data, database_url=url, key_file=data / "keys.json",
                            argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1, identity_latency_ms=0)
        with db.transaction() as session:
            staff = {account.employee_no: account for account in seed_demo_staff(session, settings=settings)}
            member = staff_by_number(session, "T0101")
            assert member is not None and member.branch_id is not None
            branch_id = member.branch_id
        teller, supervisor = staff["T0101"].staff_id, staff["S0101"].staff_id
        actor = Actor.staff(teller, branch_id)
        with wallets.audited(db, action="sample.counter", actor=actor, channel="counter") as session:
            application = wallets.counter_application(
                session, teller, branch_id, "周建国", "320102196510019132", "13800138001",
                wallets.ManualIdCard(valid_until=None, physical_card_checked=True), customer_photo(),
                verifier=SandboxIdentityVerifier(), settings=settings,
            )
            wallets.approve_application(session, application.id, supervisor)
            code = wallets.pinpad_pairing_code(session, application.id)
        with wallets.audited(db, action="sample.counter", actor=actor, channel="counter") as session:
            token = wallets.pair_pinpad(session, code.code).token
        with wallets.audited(db, action="sample.counter", actor=actor, channel="counter") as session:
            wallets.complete_counter_opening(session, token, "Lantern-Harbour-42", "258036", settings=settings)
            receipts.issue(session, branch_id, "wallet.open", application.id, teller)
            receipt = receipts.receipt_for(session, "wallet.open", application.id)
            assert receipt is not None
            receipt_id = receipt.id
        for lang, name in (("zh-CN", "receipt-opening-zh"), ("en", "receipt-opening-en")):
            with db.transaction() as session:
                prepared = receipts.print_receipt(session, receipt_id, teller, lang, branch_id=branch_id)
            pdf = data / f"{name}.pdf"
            pdf.write_bytes(prepared.pdf())
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(out_dir / name)], check=True)
            print(out_dir / f"{name}.png")
        db.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")

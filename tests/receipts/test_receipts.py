"""Counter receipts (SPEC §7 "every counter operation prints a receipt with a serial number", §3.2 step 4).

The register: serials per branch and business day (Asia/Shanghai), one receipt per operation, prints counted.
The printing: a PDF in Chinese or English with Noto Sans CJK, the values masked, and a PNG to look at.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pypdf import PdfReader

from qianbao import receipts, wallets
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.audit import Actor
from qianbao.errors import QianbaoError
from qianbao.receipts import service
from qianbao.receipts.document import ReceiptDocument
from qianbao.receipts.models import Receipt
from qianbao.settings import Settings

TEST_KIND = "test.receipt"
# 10:00 on 25 November 2026 in Shanghai; 16:30 UTC the same day is already the 26th there.
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
AFTER_MIDNIGHT_IN_SHANGHAI = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1})


@pytest.fixture(autouse=True)
def test_kind() -> Iterator[None]:
    def build(session: Any, receipt: Receipt, lang: str) -> ReceiptDocument:
        return ReceiptDocument(title="测试回执" if lang == "zh-CN" else "Test receipt",
                               facts=(("业务", receipt.subject_id),))

    receipts.register_kind(TEST_KIND, build)
    yield
    service._builders.pop(TEST_KIND, None)


@pytest.fixture
def tellers(make_staff: Callable[..., Any]) -> dict[str, Any]:
    return {"0101": make_staff("teller"), "0102": make_staff("teller", branch="0102")}


def issue(db: Any, teller: Any, subject: str | int, kind: str = TEST_KIND) -> str:
    with db.transaction() as session:
        return receipts.issue(session, teller.member.branch_id, kind, subject, teller.id)


def test_serials_count_per_branch_and_business_day(db: Any, tellers: dict[str, Any]) -> None:
    with time_machine.travel(MORNING, tick=False):
        first = issue(db, tellers["0101"], "op-1")
        second = issue(db, tellers["0101"], "op-2")
        other_branch = issue(db, tellers["0102"], "op-3")
    with time_machine.travel(AFTER_MIDNIGHT_IN_SHANGHAI, tick=False):
        next_day = issue(db, tellers["0101"], "op-4")
    assert (first, second, other_branch) == ("0101-20261125-00001", "0101-20261125-00002", "0102-20261125-00001")
    assert next_day == "0101-20261126-00001"


def test_one_operation_has_one_receipt_whatever_the_retries(db: Any, tellers: dict[str, Any]) -> None:
    assert issue(db, tellers["0101"], 42) == issue(db, tellers["0101"], "42")
    with db.read() as session:
        assert len(list(session.scalars(service.select(Receipt)))) == 1


def test_an_unregistered_kind_is_a_programming_error(db: Any, tellers: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        issue(db, tellers["0101"], 1, kind="no.such.kind")


def test_a_receipt_for_an_unknown_branch_is_refused(db: Any, tellers: dict[str, Any]) -> None:
    with db.transaction() as session, pytest.raises(QianbaoError) as caught:
        receipts.issue(session, 999_999, TEST_KIND, "op-1", tellers["0101"].id)
    assert caught.value.code == "BRANCH_NOT_FOUND" and caught.value.params == {"branch": "999999"}


def test_tellers_issuing_at_the_same_time_get_distinct_serials(db: Any, tellers: dict[str, Any]) -> None:
    teller = tellers["0101"]
    serials: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def work(n: int) -> None:
        try:
            start.wait()
            serials.append(issue(db, teller, f"concurrent-{n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(int(serial.rsplit("-", 1)[1]) for serial in serials) == [1, 2, 3, 4, 5, 6]


def test_another_branchs_receipt_is_not_found(db: Any, tellers: dict[str, Any]) -> None:
    issue(db, tellers["0101"], "op-1")
    with db.transaction() as session:
        receipt = receipts.receipt_for(session, TEST_KIND, "op-1")
        assert receipt is not None
        with pytest.raises(QianbaoError) as caught:
            receipts.print_receipt(session, receipt.id, tellers["0102"].id, "zh-CN",
                                   branch_id=tellers["0102"].member.branch_id)
    assert caught.value.code == "NOT_FOUND"


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def test_prints_are_counted_and_later_ones_say_reprint(db: Any, tellers: dict[str, Any]) -> None:
    teller = tellers["0101"]
    serial = issue(db, teller, "op-1")
    with db.read() as session:
        receipt_id = receipts.receipt_for(session, TEST_KIND, "op-1").id  # type: ignore[union-attr]
    texts = []
    for _ in range(2):
        with db.transaction() as session:
            prepared = receipts.print_receipt(session, receipt_id, teller.id, "zh-CN",
                                              branch_id=teller.member.branch_id)
        texts.append(_text(prepared.pdf()))
    assert serial in texts[0] and "测试回执" in texts[0] and "补打" not in texts[0]
    assert "第 2 次打印（补打）" in texts[1]
    with db.read() as session:
        assert session.get(Receipt, receipt_id).print_count == 2  # type: ignore[union-attr]


# ---- the opening receipt, printed and looked at -----------------------------------------------------------------

def _opened_at_counter(db: Any, settings: Settings, teller: Any) -> tuple[int, str]:
    """A tier-1 wallet opened at the counter through the domain, and its receipt: (receipt id, wallet number)."""
    from teller_receipt_photo import customer_photo

    actor = Actor.staff(teller.id, teller.member.branch_id)
    with wallets.audited(db, action="test.counter", actor=actor, channel="counter") as session:
        application = wallets.counter_application(
            session, teller.id, teller.member.branch_id, "王秀英", "11010519491231002X", "13800000001",
            wallets.ManualIdCard(valid_until=None, physical_card_checked=True), customer_photo(),
            verifier=SandboxIdentityVerifier(), settings=settings,
        )
        code = wallets.pinpad_pairing_code(session, application.id)
    with wallets.audited(db, action="test.counter", actor=actor, channel="counter") as session:
        token = wallets.pair_pinpad(session, code.code).token
    with wallets.audited(db, action="test.counter", actor=actor, channel="counter") as session:
        _customer, wallet = wallets.complete_counter_opening(session, token, "Lantern-Harbour-42", "258036",
                                                             settings=settings)
        receipts.issue(session, teller.member.branch_id, "wallet.open", application.id, teller.id)
        receipt = receipts.receipt_for(session, "wallet.open", application.id)
        assert receipt is not None
        return receipt.id, wallets.format_wallet_number(wallet.number)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_opening_receipt_prints_the_wallet_number_tier_limits_and_guide(
    db: Any, settings: Settings, tellers: dict[str, Any], lang: str
) -> None:
    teller = tellers["0101"]
    with time_machine.travel(MORNING, tick=False):
        receipt_id, number = _opened_at_counter(db, settings, teller)
        with db.transaction() as session:
            pdf = receipts.print_receipt(session, receipt_id, teller.id, lang,
                                         branch_id=teller.member.branch_id).pdf()
    text = _text(pdf)
    assert number.replace(" ", "") in text.replace(" ", "")
    assert "王*英" in text and "138****0001" in text and "王秀英" not in text and "11010519491231002X" not in text
    assert "2026-11-25 10:00" in text  # Asia/Shanghai
    if lang == "zh-CN":
        assert "钱包开户回执" in text and "一类钱包" in text and "不限" in text and "使用指南" in text
        assert "测试一支行" in text
    else:
        assert "Wallet opening receipt" in text and "No limit" in text and "Getting started" in text
        assert "Test Branch One" in text
    fonts = {str(font) for page in PdfReader(io.BytesIO(pdf)).pages for font in _font_names(page)}
    assert fonts and all("Noto-Sans-CJK-SC" in font for font in fonts), fonts
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def _font_names(page: Any) -> list[str]:
    resources = page.get("/Resources") or {}
    fonts = resources.get("/Font") or {}
    return [fonts[key].get_object().get("/BaseFont") for key in fonts]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_the_opening_receipt_renders_to_a_png_for_a_look(
    db: Any, settings: Settings, tellers: dict[str, Any], tmp_path: Path
) -> None:
    """pdftoppm -png -r 80 makes one A5 page (render_sample_receipt.py writes the docs/screenshots/ sample)."""
    teller = tellers["0101"]
    with time_machine.travel(MORNING, tick=False):
        receipt_id, _number = _opened_at_counter(db, settings, teller)
        with db.transaction() as session:
            pdf = receipts.print_receipt(session, receipt_id, teller.id, "zh-CN",
                                         branch_id=teller.member.branch_id).pdf()
    source = tmp_path / "receipt.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(source), str(tmp_path / "receipt")],
                   check=True)
    png = tmp_path / "receipt.png"
    from PIL import Image

    with Image.open(png) as image:
        width, height = image.size
    assert (width, height) == (467, 662)  # A5 (148 × 210 mm) at 80 dpi, rounded up
    assert not (tmp_path / "receipt-2.png").exists()

"""Counter services for a holder in person: resets on the PIN pad, unfreeze, loss report, mobile number,
closing the wallet, the statement; each a counter operation with a receipt."""

from __future__ import annotations

import pytest
from counter_helpers import LI_MING, PIN, WANG_XIUYING, Counter
from sqlalchemy import select

from qianbao import counter, credentials, receipts, wallets
from qianbao.credentials import Principal
from qianbao.errors import QianbaoError
from qianbao.notices.models import OutboxMessage


def _start(desk: Counter, kind: str, id_number: str = WANG_XIUYING, **kw):  # type: ignore[no-untyped-def]
    with desk.db.transaction() as session:
        op, code = counter.start_service(session, desk.staff["teller"].id, kind, desk.ident(id_number), **kw)
        return op.id, None if code is None else code.code


def _receipt(desk: Counter, op_id: int) -> str:
    with desk.db.read() as session:
        receipt = receipts.receipt_for(session, counter.RECEIPT_KIND, op_id)
        assert receipt is not None
        return receipt.serial


def test_a_forgotten_login_password_is_reset_on_the_pin_pad(desk: Counter) -> None:
    desk.open_day()
    op_id, code = _start(desk, "password_reset")
    assert code is not None
    assert desk.pad(code, pin=None, secret="Brand-New-Lantern-93") == "succeeded"
    customer_id = desk.wallet().customer_id
    with desk.db.transaction() as session:
        credentials.verify_login(session, Principal.customer(customer_id), "Brand-New-Lantern-93",
                                 settings=desk.settings)
    assert _receipt(desk, op_id)


def test_a_forgotten_pin_is_reset_on_the_pin_pad(desk: Counter) -> None:
    desk.open_day()
    _op, code = _start(desk, "pin_reset")
    assert desk.pad(code or "", pin=None, secret="731964") == "succeeded"
    customer_id = desk.wallet().customer_id
    with credentials.transaction(desk.db) as session:
        credentials.verify_pin(session, Principal.customer(customer_id), "731964", settings=desk.settings)


def test_a_weak_new_pin_is_refused_and_nothing_changes(desk: Counter) -> None:
    desk.open_day()
    op_id, code = _start(desk, "pin_reset")
    with pytest.raises(QianbaoError) as refused:
        desk.pad(code or "", pin=None, secret="123456")
    assert refused.value.code == "PIN_TOO_SIMPLE"
    assert desk.op(op_id).status == "awaiting_pinpad"


def test_a_loss_is_reported_and_lifted_at_the_counter(desk: Counter) -> None:
    desk.open_day()
    _start(desk, "report_loss")
    assert desk.wallet().status == wallets.FROZEN_LOST
    op_id, code = _start(desk, "unfreeze", reason="holder checked in person")
    assert code is None
    assert desk.wallet().status == wallets.ACTIVE
    assert _receipt(desk, op_id)


def test_unfreezing_a_wallet_that_is_not_frozen_is_refused(desk: Counter) -> None:
    desk.open_day()
    with pytest.raises(QianbaoError) as refused:
        _start(desk, "unfreeze")
    assert refused.value.code == "WALLET_NOT_FROZEN"


def test_the_mobile_number_changes_after_the_customers_pin(desk: Counter) -> None:
    desk.open_day()
    op_id, code = _start(desk, "change_phone", new_phone="13911112222")
    assert desk.op(op_id).details["new_phone_masked"].startswith("139")
    assert desk.pad(code or "") == "succeeded"
    with desk.db.read() as session:
        assert wallets.customer_by_phone(session, "+8613911112222") is not None
        assert wallets.customer_by_phone(session, "+8613800000001") is None
        texted = session.scalars(select(OutboxMessage)).all()
    assert "new_phone" not in desk.op(op_id).details  # only the masked number is kept
    assert texted


def test_a_number_registered_to_someone_else_is_refused(desk: Counter) -> None:
    desk.open_day()
    with pytest.raises(QianbaoError) as refused:
        _start(desk, "change_phone", new_phone="13800000003")
    assert refused.value.code == "PHONE_ALREADY_REGISTERED"


def test_a_wallet_with_money_cannot_close_until_it_is_paid_out(desk: Counter) -> None:
    desk.open_day(float_fen=10_000_000)
    desk.cash("cash_in", 20_000, id_number=LI_MING)
    with pytest.raises(QianbaoError) as refused:
        _start(desk, "close_wallet", LI_MING)
    assert refused.value.code == "COUNTER_WALLET_NOT_EMPTY"
    desk.cash("cash_out", desk.wallet_balance(LI_MING), id_number=LI_MING)
    _op, code = _start(desk, "close_wallet", LI_MING)
    assert desk.pad(code or "", pin=PIN) == "succeeded"
    assert desk.wallet(LI_MING).status == wallets.CLOSED
    desk.check_ledger()


def test_a_statement_prints_the_postings_of_the_period(desk: Counter) -> None:
    from qianbao.identity import today_in_shanghai

    desk.open_day()
    desk.cash("cash_in", 12_300)
    today = today_in_shanghai()
    op_id, code = _start(desk, "statement", period=(today, today))
    assert code is None
    with desk.db.transaction() as session:
        receipt = receipts.receipt_for(session, counter.RECEIPT_KIND, op_id)
        assert receipt is not None
        printed = receipts.print_receipt(session, receipt.id, desk.staff["teller"].id, "en")
    assert printed.document.table is not None
    assert any("123.00" in cell for row in printed.document.table.rows for cell in row)


def test_a_statement_period_backwards_is_refused(desk: Counter) -> None:
    from datetime import date

    desk.open_day()
    with pytest.raises(QianbaoError) as refused:
        _start(desk, "statement", period=(date(2026, 2, 1), date(2026, 1, 1)))
    assert refused.value.code == "COUNTER_PERIOD_INVALID"


def test_receipts_are_numbered_per_branch_and_day_and_reprint(desk: Counter) -> None:
    desk.open_day()
    desk.open_day("other_teller", approver="other_supervisor")
    first, _ = desk.cash("cash_in", 10_000)
    second, _ = desk.cash("cash_in", 10_000)
    a, b = _receipt(desk, first), _receipt(desk, second)
    assert a.split("-")[:2] == b.split("-")[:2] and int(b.split("-")[2]) == int(a.split("-")[2]) + 1
    with desk.db.transaction() as session:
        receipt = receipts.receipt_for(session, counter.RECEIPT_KIND, first)
        assert receipt is not None
        receipts.print_receipt(session, receipt.id, desk.staff["teller"].id, "zh-CN")
        again = receipts.print_receipt(session, receipt.id, desk.staff["teller"].id, "en")
    assert again.frame.print_number == 2

"""Closing a wallet at the counter with the balance paid out to a bound debit card (issue 7 item 4), against the
real sandbox bank process: the payout is a withdrawal of the cards package (channel "counter", free), pending
until the bank answers; the wallet closes only once it has succeeded; a failure returns the money and the
wallet stays open. Refusals say why and move nothing.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cards"))

import card_helpers
import pytest
from card_helpers import LIU_YANG, PSBC_CREDIT, YUAN, Flow, Holder
from counter_helpers import Counter
from sqlalchemy import func, select

from qianbao import audit, counter, ledger, payments, receipts
from qianbao.cards.models import CardMovement
from qianbao.counter import close_to_card
from qianbao.counter.models import CounterOperation
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.settings import Settings
from qianbao.wallets import customers as wallet_customers
from qianbao.wallets.models import CLOSED

BALANCE = 2_345 * YUAN + 67  # more than the monthly free withdrawal allowance: closing is free all the same


@pytest.fixture(scope="session")
def card_bank_process(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return card_helpers.start_bank(tmp_path_factory)


@pytest.fixture
def bank_client(card_bank_process: Any) -> Iterator[Any]:
    yield from card_helpers.bank_client_of(card_bank_process)


@pytest.fixture
def flow(db: Database, settings: Settings, app: Any, bank_client: Any) -> Iterator[Flow]:
    yield from card_helpers.flow_over(db, settings, app, bank_client)


def _bind(flow: Flow, holder: Holder, prefix: str = card_helpers.PSBC_DEBIT) -> tuple[Any, str]:
    number = flow.bank_card(holder, prefix, balance=10_000 * YUAN)
    started = flow.start(holder, number, phone=holder.phone)
    return flow.confirm(holder, started.id, flow.bank_client.latest_otp(holder.phone)), number


def _funded(flow: Flow) -> tuple[Holder, Any, str]:
    holder = flow.holder(LIU_YANG)
    card, number = _bind(flow, holder)
    flow.fund(holder, card.id, BALANCE)
    return holder, card, number


def _start(desk: Counter, card_id: str) -> tuple[int, str]:
    ident = desk.ident(LIU_YANG[1])
    with desk.db.transaction() as session:
        op, code = counter.start_service(session, desk.staff["teller"].id, "close_wallet", ident,
                                         payout_card=card_id)
        assert code is not None
        return op.id, code.code


def _settle_close(desk: Counter, op_id: int) -> CounterOperation:
    with desk.db.transaction() as session:
        op = close_to_card.settle_close(session, desk.staff["teller"].id, op_id)
        session.flush()
        session.expunge(op)
        return op


def _payout(desk: Counter, close_op_id: int) -> CounterOperation:
    op = desk.op(close_op_id)
    return desk.op(int(op.details["payout_op"]))


def _wallet(desk: Counter, holder: Holder) -> Any:
    with desk.db.read() as session:
        wallet = wallet_customers.get_wallet(session, holder.wallet_id)
        session.expunge(wallet)
        return wallet


def _has_receipt(desk: Counter, op_id: int) -> bool:
    with desk.db.read() as session:
        return receipts.receipt_for(session, counter.RECEIPT_KIND, op_id) is not None


def _counts(flow: Flow) -> tuple[int, int, int]:
    with flow.db.read() as session:
        ops = int(session.scalar(select(func.count()).select_from(CounterOperation)) or 0)
    return ops, flow.count(CardMovement), 0


def _nothing_moved(flow: Flow, desk: Counter, holder: Holder, ops_before: int, movements_before: int) -> None:
    with flow.db.read() as session:
        assert int(session.scalar(select(func.count()).select_from(CounterOperation)) or 0) == ops_before
    assert flow.count(CardMovement) == movements_before
    balance = flow.balance(holder)
    assert (balance.posted, balance.held) == (BALANCE, 0)
    assert _wallet(desk, holder).status != CLOSED


def test_closing_to_a_debit_card_pays_the_balance_out_free_and_closes_once_the_bank_has_paid(
        flow: Flow, desk: Counter) -> None:
    holder, card, number = _funded(flow)
    card_before = flow.card_balance(number)
    desk.open_day()
    op_id, code = _start(desk, card.id)
    assert desk.pad(code) == "awaiting_bank"
    payout = _payout(desk, op_id)
    assert (payout.kind, payout.status, payout.amount, payout.details["fee"]) == (
        "card_payout", "awaiting_bank", BALANCE, 0)
    operation = flow.operation(payout.payment_reference)
    assert (operation.kind, operation.channel, operation.fee, operation.status) == (
        "withdrawal", "counter", 0, "processing")
    assert (flow.balance(holder).posted, flow.balance(holder).available) == (BALANCE, 0)  # held, not yet paid

    close_to_card.send_to_bank(flow.db, flow.bank, op_id)
    with pytest.raises(QianbaoError) as pending:
        _settle_close(desk, op_id)
    assert pending.value.code == "COUNTER_PAYOUT_PENDING"
    assert _wallet(desk, holder).status != CLOSED

    flow.settle(payout.payment_reference)
    assert flow.deliver() == [200]
    closed = _settle_close(desk, op_id)
    assert closed.status == "succeeded"
    assert _payout(desk, op_id).status == "succeeded"
    assert _wallet(desk, holder).status == CLOSED
    balance = flow.balance(holder)
    assert (balance.posted, balance.held, balance.incoming) == (0, 0, 0)
    assert flow.card_balance(number) == card_before + BALANCE
    assert _has_receipt(desk, op_id) and _has_receipt(desk, payout.id)
    flow.ledger_ok()


def test_a_payout_the_bank_refuses_returns_the_money_and_the_wallet_stays_open(flow: Flow, desk: Counter) -> None:
    holder, card, number = _funded(flow)
    card_before = flow.card_balance(number)
    desk.open_day()
    op_id, code = _start(desk, card.id)
    desk.pad(code)
    close_to_card.send_to_bank(flow.db, flow.bank, op_id)
    payout = _payout(desk, op_id)
    flow.settle(payout.payment_reference, status="failed", reason="DECLINED")
    flow.deliver()
    ended = _settle_close(desk, op_id)
    assert (ended.status, ended.outcome_code) == ("failed", "COUNTER_PAYOUT_FAILED")
    assert _payout(desk, op_id).status == "failed"
    assert _wallet(desk, holder).status != CLOSED
    balance = flow.balance(holder)
    assert (balance.posted, balance.held) == (BALANCE, 0)
    assert flow.card_balance(number) == card_before
    assert flow.operation(payout.payment_reference).status == "failed"
    assert not _has_receipt(desk, op_id)
    flow.ledger_ok()


def test_closing_to_a_credit_card_is_refused_and_nothing_moves(flow: Flow, desk: Counter) -> None:
    holder, _debit, _ = _funded(flow)
    credit, _ = _bind(flow, holder, PSBC_CREDIT)
    desk.open_day()
    ops, moves = _counts(flow)[:2]
    with pytest.raises(QianbaoError) as refused:
        _start(desk, credit.id)
    assert refused.value.code == "CARD_CREDIT_NOT_ALLOWED"
    _nothing_moved(flow, desk, holder, ops, moves)


def test_closing_to_a_card_without_a_bound_debit_card_is_refused_and_nothing_moves(
        flow: Flow, desk: Counter) -> None:
    holder = flow.holder(LIU_YANG)
    credit, _ = _bind(flow, holder, PSBC_CREDIT)
    flow.fund(holder, credit.id, BALANCE)  # a credit card may top up, never receive a payout
    desk.open_day()
    ops, moves = _counts(flow)[:2]
    with pytest.raises(QianbaoError) as refused:
        _start(desk, credit.id)
    assert refused.value.code == "COUNTER_NO_DEBIT_CARD"
    _nothing_moved(flow, desk, holder, ops, moves)


def test_closing_to_a_card_while_money_is_in_flight_is_refused_and_nothing_moves(
        flow: Flow, desk: Counter) -> None:
    holder, card, _ = _funded(flow)
    flow.topup(holder, card.id, 10 * YUAN)  # still processing at the bank: incoming on the wallet
    desk.open_day()
    ops, moves = _counts(flow)[:2]
    with pytest.raises(QianbaoError) as refused:
        _start(desk, card.id)
    assert refused.value.code == "COUNTER_WALLET_IN_FLIGHT"
    with flow.db.read() as session:
        assert int(session.scalar(select(func.count()).select_from(CounterOperation)) or 0) == ops
    assert flow.count(CardMovement) == moves
    assert flow.balance(holder).posted == BALANCE
    assert _wallet(desk, holder).status != CLOSED


def test_a_close_waiting_for_the_bank_cannot_be_withdrawn_by_the_teller(flow: Flow, desk: Counter) -> None:
    _holder, card, _ = _funded(flow)
    desk.open_day()
    op_id, code = _start(desk, card.id)
    desk.pad(code)
    with desk.db.transaction() as session, pytest.raises(QianbaoError) as refused:
        counter.cancel_operation(session, op_id, desk.staff["teller"].id)
    assert refused.value.code == "COUNTER_OPERATION_STATE"
    assert desk.op(op_id).status == "awaiting_bank"


def test_the_closing_payout_goes_through_the_payments_core(flow: Flow, desk: Counter) -> None:
    holder, card, _ = _funded(flow)
    desk.open_day()
    op_id, code = _start(desk, card.id)
    desk.pad(code)
    with flow.db.read() as session:
        operation = payments.get_operation(session, _payout(desk, op_id).payment_reference)
        assert operation.amount == BALANCE
        assert ledger.balance(session, holder.account_id).held == BALANCE


# ---- through the pages: the teller's services form, the customer's PIN pad, the operation page -------------

def _csrf(page: Any) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:2000]
    return match.group(1)


def _post(client: Any, url: str, **data: str) -> Any:
    return client.post(url, data={**data, "csrf_token": client.csrf_token}, follow_redirects=False)


def _code(page: Any) -> str | None:
    match = re.search(r'data-code="([A-Z_]+)"', page.text)
    return match.group(1) if match else None


def test_the_pages_offer_the_debit_cards_show_the_payout_pending_and_close_after_the_callback(
        flow: Flow, staff_client: Callable[..., Any], db: Database) -> None:
    teller, supervisor = staff_client("teller", branch="0101"), staff_client("supervisor", branch="0101")
    with db.transaction() as session:
        counter.fund_vault(session, teller.staff.member.branch_id, 10_000_000, key="close-to-card",
                           actor=audit.Actor.system("test"))
    assert _post(teller, "/teller/day/open", amount="20000", key="k-open").status_code == 303
    (approval_id,) = re.findall(r'data-testid="approval-(\d+)"', supervisor.get("/teller/approvals").text)
    assert _post(supervisor, f"/teller/approvals/{approval_id}/decide", decision="approve",
                 reason="").status_code == 303
    holder, card, number = _funded(flow)
    card_before = flow.card_balance(number)

    offered = _post(teller, "/teller/services", service="close_wallet", id_number=LIU_YANG[1], card_checked="1",
                    key="k-close-1")
    assert _code(offered) == "COUNTER_WALLET_NOT_EMPTY"
    assert f'data-testid="payout-card-{card.last4}"' in offered.text and number not in offered.text
    started = _post(teller, "/teller/services", service="close_wallet", id_number=LIU_YANG[1], card_checked="1",
                    payout_card=card.id, key="k-close-2")
    assert started.status_code == 200, started.text[:2000]
    op_id = int(re.findall(r"/teller/ops/(\d+)/", started.text)[0])
    pad_code = "".join(re.search(r'data-testid="pad-code"[^>]*>(\d{3})<span class="gap"></span>(\d{3})<',
                                 started.text).groups())  # type: ignore[union-attr]

    pad = flow.client
    assert pad.post("/pinpad/counter/pair", data={"code": pad_code, "csrf_token": _csrf(pad.get("/pinpad/counter"))},
                    follow_redirects=False).status_code == 303
    done = pad.post("/pinpad/counter/confirm", data={"pin": card_helpers.PIN,
                                                      "csrf_token": _csrf(pad.get("/pinpad/counter"))},
                    follow_redirects=False)
    assert done.headers["location"] == "/pinpad/counter?done=awaiting_bank"

    page = teller.get(f"/teller/ops/{op_id}")
    assert 'data-testid="payout-status" data-status="processing"' in page.text
    early = _post(teller, f"/teller/ops/{op_id}/close-complete")
    assert (early.status_code, _code(early)) == (409, "COUNTER_PAYOUT_PENDING")
    assert _wallet_status(db, holder) != CLOSED

    flow.settle(_payout_of(db, op_id).payment_reference)
    assert flow.deliver() == [200]
    assert teller.get(f"/teller/ops/{op_id}/status?seen=awaiting_bank:processing").headers.get("HX-Redirect")
    assert _post(teller, f"/teller/ops/{op_id}/close-complete").status_code == 303
    page = teller.get(f"/teller/ops/{op_id}")
    assert 'data-status="succeeded"' in page.text and 'data-testid="receipt-serial"' in page.text
    assert _wallet_status(db, holder) == CLOSED
    assert flow.card_balance(number) == card_before + BALANCE
    flow.ledger_ok()


def _wallet_status(db: Database, holder: Holder) -> str:
    with db.read() as session:
        return str(wallet_customers.get_wallet(session, holder.wallet_id).status)


def _payout_of(db: Database, close_op_id: int) -> CounterOperation:
    with db.read() as session:
        close_op = counter.get_operation(session, close_op_id)
        payout = counter.get_operation(session, int(close_op.details["payout_op"]))
        session.expunge(payout)
        return payout

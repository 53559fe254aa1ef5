"""Cash in and out at the counter: the customer in person, their PIN on the PIN pad, the supervisor above
the threshold, and every refusal moving nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from counter_helpers import LI_MING, PIN, WANG_XIUYING, Counter

from qianbao import approvals, counter, credentials, receipts, wallets
from qianbao.credentials import Principal
from qianbao.errors import QianbaoError
from qianbao.wallets.customers import get_customer

THRESHOLD = 5_000_000  # 50,000 yuan


def test_cash_in_posts_to_the_wallet_from_the_drawer_once_the_customer_types_their_pin(desk: Counter) -> None:
    desk.open_day()
    before = desk.wallet_balance()
    op_id, status = desk.cash("cash_in", 50_000)
    assert status == "succeeded"
    assert desk.wallet_balance() == before + 50_000
    assert desk.expected() == 2_000_000 + 50_000
    op = desk.op(op_id)
    assert op.id_check == "reader" and op.details["name"].startswith("王")
    with desk.db.read() as session:
        receipt = receipts.receipt_for(session, counter.RECEIPT_KIND, op_id)
    assert receipt is not None and receipt.serial.startswith("0101-")
    desk.check_ledger()


def test_cash_out_at_or_below_the_threshold_posts_at_once(desk: Counter) -> None:
    desk.open_day(float_fen=10_000_000)
    desk.cash("cash_in", THRESHOLD)
    before = desk.wallet_balance()
    _op, status = desk.cash("cash_out", THRESHOLD)
    assert status == "succeeded"
    assert desk.wallet_balance() == before - THRESHOLD
    assert desk.expected() == 10_000_000


def test_cash_out_above_the_threshold_waits_for_a_supervisor(desk: Counter) -> None:
    desk.open_day(float_fen=20_000_000)
    desk.cash("cash_in", 8_000_000)
    before = desk.wallet_balance()
    op_id, status = desk.cash("cash_out", 6_000_000)
    assert status == "awaiting_approval"
    assert desk.wallet_balance() == before
    request = desk.latest_request()
    assert request.kind == counter.APPROVAL_CASH_OUT
    assert "60,000.00" in approvals.summary_text(request, "en")
    desk.approve_latest("supervisor")
    assert desk.op(op_id).status == "succeeded"
    assert desk.wallet_balance() == before - 6_000_000
    assert desk.expected() == 20_000_000 + 8_000_000 - 6_000_000
    desk.check_ledger()


def test_the_threshold_is_configuration(desk: Counter) -> None:
    desk.settings = desk.settings.model_copy(update={"counter_cash_out_approval_yuan": 100})
    desk.open_day()
    desk.cash("cash_in", 50_000)
    _op, status = desk.cash("cash_out", 10_001)
    assert status == "awaiting_approval"


def test_a_rejected_cash_out_moves_nothing(desk: Counter) -> None:
    desk.open_day(float_fen=20_000_000)
    desk.cash("cash_in", 8_000_000)
    before, drawer = desk.wallet_balance(), desk.expected()
    op_id, _ = desk.cash("cash_out", 6_000_000)
    desk.approve_latest("supervisor", approve=False, reason="customer could not explain")
    assert desk.op(op_id).status == "rejected"
    assert (desk.wallet_balance(), desk.expected()) == (before, drawer)


def test_a_crash_between_approval_and_posting_leaves_it_pending_and_a_retry_completes_it(
    desk: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.open_day(float_fen=20_000_000)
    desk.cash("cash_in", 8_000_000)
    before, drawer = desk.wallet_balance(), desk.expected()
    op_id, _ = desk.cash("cash_out", 6_000_000)
    request = desk.latest_request()
    from qianbao.counter import cash_posting

    real_post = cash_posting.post

    def post_then_crash(session, op, day):  # type: ignore[no-untyped-def]
        real_post(session, op, day)
        raise RuntimeError("power cut after the posting, before the commit")

    monkeypatch.setattr(cash_posting, "post", post_then_crash)
    with pytest.raises(RuntimeError), desk.db.transaction() as session:
        approvals.decide(session, request.id, desk.staff["supervisor"].id, approve=True)
    # Nothing half done: the request is still pending in the queue, the operation visibly waits, no money moved.
    assert desk.latest_request().id == request.id
    assert desk.op(op_id).status == "awaiting_approval"
    assert (desk.wallet_balance(), desk.expected()) == (before, drawer)
    monkeypatch.setattr(cash_posting, "post", real_post)
    desk.approve_latest("supervisor")
    assert desk.op(op_id).status == "succeeded"
    assert desk.wallet_balance() == before - 6_000_000
    desk.check_ledger()


def test_posting_is_idempotent_on_the_operation_reference(desk: Counter) -> None:
    desk.open_day()
    op_id, _ = desk.cash("cash_in", 10_000)
    after = desk.wallet_balance()
    from qianbao.counter import cash_posting

    with desk.db.transaction() as session:
        op = counter.get_operation(session, op_id)
        cash_posting.post(session, op, counter.get_session(session, op.session_id))
    assert desk.wallet_balance() == after


def test_a_wrong_pin_moves_nothing_and_counts(desk: Counter) -> None:
    desk.open_day()
    before = desk.wallet_balance()
    op_id, code = desk.start_cash("cash_in", 10_000)
    with pytest.raises(QianbaoError) as refused:
        desk.pad(code, pin="111111")
    assert refused.value.code == "PIN_WRONG"
    assert desk.wallet_balance() == before
    assert desk.op(op_id).status == "awaiting_pinpad"


def test_a_form_sent_twice_makes_one_operation(desk: Counter) -> None:
    desk.open_day()
    ident = desk.ident()
    with desk.db.transaction() as session:
        first, _ = counter.start_cash(session, desk.staff["teller"].id, "cash_in", ident, 10_000, client_key="k1")
        first_id = first.id
    with desk.db.transaction() as session:
        again, code = counter.start_cash(session, desk.staff["teller"].id, "cash_in", ident, 10_000, client_key="k1")
        assert again.id == first_id and code is None


@pytest.mark.parametrize("amount", [0, -100])
def test_an_amount_that_is_not_positive_is_refused(desk: Counter, amount: int) -> None:
    desk.open_day()
    before = desk.journal_size()
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.start_cash(session, desk.staff["teller"].id, "cash_in", desk.ident(), amount)
    assert refused.value.code == "AMOUNT_NOT_POSITIVE"
    assert desk.journal_size() == before


def test_a_frozen_wallet_is_refused(desk: Counter) -> None:
    desk.open_day()
    with desk.db.transaction() as session:
        wallets.report_loss(session, desk.wallet().id, by_staff_id=desk.staff["teller"].id)
    before = desk.journal_size()
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.start_cash(session, desk.staff["teller"].id, "cash_in", desk.ident(), 10_000)
    assert refused.value.code == "COUNTER_WALLET_FROZEN"
    assert desk.journal_size() == before


def test_a_closed_wallet_is_refused(desk: Counter) -> None:
    desk.open_day()
    _op, code = _start_service(desk, "close_wallet", LI_MING)
    assert desk.pad(code) == "succeeded"
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.start_cash(session, desk.staff["teller"].id, "cash_in", desk.ident(LI_MING), 10_000)
    assert refused.value.code == "WALLET_CLOSED"


def test_a_locked_pin_is_refused(desk: Counter) -> None:
    desk.open_day()
    customer_id = desk.wallet().customer_id
    with desk.db.transaction() as session:
        from sqlalchemy import select

        from qianbao.credentials.models import PaymentPin

        row = session.scalar(select(PaymentPin).where(PaymentPin.principal_type == "customer",
                                                      PaymentPin.principal_id == customer_id))
        assert row is not None
        row.locked_until = datetime(2099, 1, 1, tzinfo=UTC)
    before = desk.journal_size()
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.start_cash(session, desk.staff["teller"].id, "cash_in", desk.ident(), 10_000)
    assert refused.value.code == "PIN_LOCKED"
    assert desk.journal_size() == before


def test_a_wallet_pending_at_another_branch_is_refused(desk: Counter) -> None:
    desk.open_day()
    desk.open_day("other_teller", approver="other_supervisor")
    desk.start_cash("cash_in", 10_000, who="other_teller")
    before = desk.journal_size()
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.start_cash(session, desk.staff["teller"].id, "cash_in", desk.ident(), 10_000)
    assert refused.value.code == "COUNTER_WALLET_PENDING_ELSEWHERE"
    assert desk.journal_size() == before


def test_cash_out_beyond_the_drawer_is_refused(desk: Counter) -> None:
    desk.open_day(float_fen=10_000)
    desk.cash("cash_in", 100_000)
    with pytest.raises(QianbaoError) as refused, desk.db.transaction() as session:
        counter.start_cash(session, desk.staff["teller"].id, "cash_out", desk.ident(), 200_000)
    assert refused.value.code == "COUNTER_DRAWER_SHORT"


def test_cash_out_beyond_the_balance_moves_nothing(desk: Counter) -> None:
    desk.open_day(float_fen=10_000_000)
    balance = desk.wallet_balance()
    op_id, code = desk.start_cash("cash_out", balance + 100)
    with pytest.raises(QianbaoError):
        desk.pad(code)
    assert desk.wallet_balance() == balance
    assert desk.op(op_id).status == "awaiting_pinpad"


def test_tier_limits_bind_a_cash_out(desk: Counter) -> None:
    """李明's wallet is tier 3: a single payment of at most 5,000 yuan."""
    desk.open_day(float_fen=10_000_000)
    desk.cash("cash_in", 1_000_000, id_number=LI_MING)
    balance = desk.wallet_balance(LI_MING)
    _op, code = desk.start_cash("cash_out", 600_000, id_number=LI_MING)
    with pytest.raises(QianbaoError) as refused:
        desk.pad(code)
    assert refused.value.code in {"LIMIT_EXCEEDED"}
    assert desk.wallet_balance(LI_MING) == balance


def test_the_teller_can_withdraw_a_pending_operation(desk: Counter) -> None:
    desk.open_day(float_fen=20_000_000)
    desk.cash("cash_in", 8_000_000)
    op_id, _ = desk.cash("cash_out", 6_000_000)
    with desk.db.transaction() as session:
        counter.cancel_operation(session, op_id, desk.staff["teller"].id)
    assert desk.op(op_id).status == "cancelled"
    with desk.db.read() as session:
        assert approvals.pending_for_branch(session, desk.staff["teller"].member.branch_id) == []


def test_a_typed_id_needs_the_physical_card_checked(desk: Counter) -> None:
    with pytest.raises(QianbaoError) as refused, desk.db.read() as session:
        counter.identify(session, WANG_XIUYING, source="manual", card_checked=False)
    assert refused.value.code == "PHYSICAL_CARD_NOT_CHECKED"


def test_the_pin_pad_code_works_once(desk: Counter) -> None:
    desk.open_day()
    _op, code = desk.start_cash("cash_in", 10_000)
    desk.pad(code)
    with pytest.raises(QianbaoError) as refused:
        desk.pad(code)
    assert refused.value.code == "COUNTER_PAD_CODE_INVALID"


def _start_service(desk: Counter, kind: str, id_number: str = WANG_XIUYING, **kw):  # type: ignore[no-untyped-def]
    with desk.db.transaction() as session:
        op, code = counter.start_service(session, desk.staff["teller"].id, kind, desk.ident(id_number), **kw)
        return op.id, None if code is None else code.code


def test_the_pin_is_the_customers_own(desk: Counter) -> None:
    """The PIN checked on the pad is the wallet holder's (a PIN reset elsewhere changes which one works)."""
    desk.open_day()
    with desk.db.read() as session:
        customer = get_customer(session, desk.wallet().customer_id)
        assert credentials.has_pin(session, Principal.customer(customer.id))
    assert desk.cash("cash_in", 10_000)[1] == "succeeded"
    assert PIN == "258036"


def test_the_operation_and_the_supervisors_decision_are_audited(desk: Counter) -> None:
    from sqlalchemy import select

    from qianbao.audit.models import AuditEntry

    desk.open_day(float_fen=20_000_000)
    desk.cash("cash_in", 8_000_000)
    desk.cash("cash_out", 6_000_000)
    desk.approve_latest("supervisor", reason="checked")
    with desk.db.read() as session:
        actions = [(row.action, row.actor_id) for row in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    teller, supervisor = str(desk.staff["teller"].id), str(desk.staff["supervisor"].id)
    assert ("counter.cash_in.start", teller) in actions
    assert ("counter.cash_out.confirmed", teller) in actions
    assert actions.count(("approval.approved", supervisor)) == 2  # the float and the cash out

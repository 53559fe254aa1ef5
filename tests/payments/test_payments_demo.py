"""The demo seed gives the demo holders some money and history, once."""

from __future__ import annotations

from payments_helpers import Pay

from qianbao import ledger, wallets
from qianbao.payments import history
from qianbao.payments.demo import TOP_UP, TRANSFER, seed_demo_history
from qianbao.wallets.demo import seed_demo_customers


def test_the_demo_holders_get_a_top_up_and_a_transfer_once(pay: Pay) -> None:
    pay.run(seed_demo_customers, pay.settings)
    pay.run(seed_demo_history)
    pay.run(seed_demo_history)
    with pay.db.read() as session:
        three = wallets.wallet_of_customer(session, wallets.customer_by_phone(session, "+8613800000003").id)
        four = wallets.wallet_of_customer(session, wallets.customer_by_phone(session, "+8613800000004").id)
        assert ledger.balance(session, three.ledger_account_id).posted == TOP_UP - TRANSFER
        assert ledger.balance(session, four.ledger_account_id).posted == TOP_UP + TRANSFER
        kinds = [r.kind for r in history.records(session, four.id).items]
    assert sorted(kinds) == ["topup", "transfer"]
    pay.check_ledger()

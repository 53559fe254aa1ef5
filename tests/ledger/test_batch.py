"""The batch API: many requests in one transaction, each with its own result."""

from __future__ import annotations

from ledger_helpers import Chart, assert_ledger_ok, key, posted, seen_codes

from qianbao import ledger
from qianbao.db import Database
from qianbao.ledger import NewTransfer, PostPending, Reverse, VoidPending


def test_each_item_gets_its_own_result_and_refused_items_write_nothing(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            NewTransfer(key(), funded.alice, funded.bob, 100, "p2p"),
            NewTransfer(key(), funded.alice, funded.bob, 0, "p2p"),
            NewTransfer(key(), funded.alice, 999_999, 100, "p2p"),
            NewTransfer(key(), funded.bob, funded.alice, 101, "p2p"),
            NewTransfer(key(), funded.bob, funded.alice, 100, "p2p"),
        ])
    assert [r.code for r in results] == [
        "OK", "AMOUNT_NOT_POSITIVE", "LEDGER_ACCOUNT_NOT_FOUND", "LEDGER_INSUFFICIENT_FUNDS", "OK"]
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert results[0].transfer_id is not None and results[1].transfer_id is None
    assert posted(db, funded.bob) == 0


def test_items_apply_in_order_so_a_later_item_sees_an_earlier_ones_money(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            NewTransfer(key(), chart.alice, chart.bob, 50, "p2p"),
            NewTransfer(key(), chart.bank, chart.alice, 50, "topup"),
            NewTransfer(key(), chart.alice, chart.bob, 50, "p2p"),
        ])
    assert [r.code for r in results] == ["LEDGER_INSUFFICIENT_FUNDS", "OK", "OK"]


def test_holds_posts_voids_and_reversals_mix_in_one_batch(db: Database, funded: Chart) -> None:
    with db.transaction() as s:
        h1 = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.merchant, amount=1_000,
                                    code="pay", pending=True)
        h2 = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.merchant, amount=2_000,
                                    code="pay", pending=True)
        paid = ledger.create_transfer(s, key=key(), debit=funded.alice, credit=funded.bob, amount=300, code="p2p")
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            PostPending(key(), h1.id, 400), VoidPending(key(), h2.id), Reverse(key(), paid.id),
            NewTransfer(key(), funded.alice, funded.merchant, 10, "pay", pending=True, timeout=600),
        ])
    assert all(r.ok for r in results)
    assert posted(db, funded.merchant) == 400 and posted(db, funded.bob) == 0
    with db.read() as s:
        assert ledger.balance(s, funded.alice).held == 10
    assert_ledger_ok(db)


def test_a_batch_of_a_thousand_transfers_over_many_accounts_balances(db: Database, chart: Chart) -> None:
    with db.transaction() as s:
        wallets = [ledger.open_account(s, "customer_wallet").id for _ in range(50)]
        ledger.create_transfers(s, [NewTransfer(key(), chart.bank, w, 10_000, "topup") for w in wallets])
    items = [NewTransfer(key(), wallets[i % 50], wallets[(i * 7 + 1) % 50], 1 + i % 97, "p2p")
             for i in range(1_000) if i % 50 != (i * 7 + 1) % 50]
    with db.transaction() as s:
        results = ledger.create_transfers(s, items)
    assert all(r.ok for r in results)
    with db.read() as s:
        assert sum(ledger.balance(s, w).posted for w in wallets) == 500_000
    assert_ledger_ok(db)


def test_a_large_batch_keeps_every_field_of_every_transfer(db: Database, funded: Chart) -> None:
    # Large enough for the bulk path (binary COPY on PostgreSQL).
    items = [NewTransfer(key(), funded.alice, funded.bob, 1 + i, "p2p", reference=f"r-{i}",
                         user_data={"n": i, "备注": "午饭"}, pending=i % 2 == 0, timeout=60 if i % 2 == 0 else None)
             for i in range(40)]
    with db.transaction() as s:
        results = ledger.create_transfers(s, items)
    with db.read() as s:
        made = [ledger.get_transfer(s, r.transfer_id) for r in results]  # type: ignore[arg-type]
    assert [(t.amount, t.reference, t.user_data) for t in made] == [
        (1 + i, f"r-{i}", {"n": i, "备注": "午饭"}) for i in range(40)]
    assert [t.status for t in made] == ["pending" if i % 2 == 0 else None for i in range(40)]
    assert all((t.timeout_at is not None) == (i % 2 == 0) for i, t in enumerate(made))
    with db.transaction() as s:  # release the holds, so the fixture's closing check has no overdue hold later
        ledger.create_transfers(s, [VoidPending(key(), t.id) for t in made if t.status == "pending"])


def test_a_refusal_after_plain_transfers_judges_the_balance_they_left(db: Database, chart: Chart) -> None:
    # The plain items at the head of a batch take a fast way; the first one it cannot take (here a
    # refusal) hands the balances over to the general way, which must see every earlier item's money.
    seen_codes("topup", "p2p")
    with db.transaction() as s:
        results = ledger.create_transfers(s, [
            NewTransfer(key(), chart.bank, chart.alice, 100, "topup"),
            NewTransfer(key(), chart.alice, chart.bob, 60, "p2p"),
            NewTransfer(key(), chart.alice, chart.bob, 41, "p2p"),
            NewTransfer(key(), chart.bob, chart.alice, 60, "p2p"),
            NewTransfer(key(), chart.alice, chart.bob, 41, "p2p"),
            NewTransfer(key(), chart.alice, chart.bob, 100, "p2p"),
        ])
    assert [r.code for r in results] == ["OK", "OK", "LEDGER_INSUFFICIENT_FUNDS", "OK", "OK",
                                         "LEDGER_INSUFFICIENT_FUNDS"]
    assert posted(db, chart.alice) == 100 - 60 + 60 - 41 and posted(db, chart.bob) == 41
    assert_ledger_ok(db)

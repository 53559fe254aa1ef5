"""Tier changes (SPEC §2): up when verification is added, never down by itself, down only by an operator."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from wallet_helpers import LI_MING, OPERATOR, Harness

from qianbao import ledger, wallets
from qianbao.audit.models import AuditEntry
from qianbao.db import Database
from qianbao.errors import QianbaoError

YUAN = 100


def _state(db: Database, wallet_id: int) -> tuple[int, int | None]:
    with db.read() as session:
        wallet = wallets.get_wallet(session, wallet_id)
        return wallet.tier, ledger.get_account(session, wallet.ledger_account_id).cap


def _top_up(db: Database, wallet_id: int, amount: int) -> None:
    with db.transaction() as session:
        bank = ledger.ensure_account(session, "bank_clearing", "BC-TEST")
        account = wallets.get_wallet(session, wallet_id).ledger_account_id
        ledger.create_transfer(session, key=uuid.uuid4().hex, debit=bank.id, credit=account, amount=amount,
                               code="topup")


def test_a_verified_bank_card_moves_a_real_name_wallet_to_tier2(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    assert h.run(wallets.record_bank_card_verified, opened.wallet_id) is True
    assert _state(db, opened.wallet_id) == (2, 500_000 * YUAN)


def test_a_bank_card_without_a_real_name_does_not_raise_the_tier(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    assert h.refusal(wallets.record_bank_card_verified, opened.wallet_id).code == "REAL_NAME_REQUIRED"
    assert _state(db, opened.wallet_id) == (4, 10_000 * YUAN)


def test_a_wallet_never_moves_down_by_itself(h: Harness, db: Database) -> None:
    _customer, wallet = h.open_at_counter(LI_MING, "13800138000")
    assert h.run(wallets.record_bank_card_verified, wallet.id) is False
    assert _state(db, wallet.id) == (1, None)


def test_an_operator_downgrade_moves_the_wallet_down_audited_with_its_reason(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    change = h.run(wallets.downgrade_by_operator, opened.wallet_id, 4, "涉嫌冒名开户，待核实", OPERATOR)
    assert (change.from_tier, change.to_tier, change.cause) == (3, 4, "operator")
    assert _state(db, opened.wallet_id) == (4, 10_000 * YUAN)
    with db.read() as session:
        history = wallets.tier_history(session, opened.wallet_id)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "wallet.tier.downgrade"))
    assert [c.to_tier for c in history] == [4, 3, 4]
    assert entry is not None and entry.details == {"from_tier": 3, "to_tier": 4, "reason": "涉嫌冒名开户，待核实"}


def test_an_upward_downgrade_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    error = h.refusal(wallets.downgrade_by_operator, opened.wallet_id, 3, "upgrade please", OPERATOR)
    assert error.code == "TIER_NOT_DOWNGRADE"
    assert h.refusal(wallets.downgrade_by_operator, opened.wallet_id, 4, "same", OPERATOR).code == "TIER_NOT_DOWNGRADE"


def test_a_downgrade_without_a_reason_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    assert h.refusal(wallets.downgrade_by_operator, opened.wallet_id, 4, " ", OPERATOR).code == "REASON_REQUIRED"


def test_a_downgrade_below_the_balance_is_allowed_and_only_tightens_future_credits(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING)
    _top_up(db, opened.wallet_id, 15_000 * YUAN)  # above tier 4's cap of 10,000
    h.run(wallets.downgrade_by_operator, opened.wallet_id, 4, "风险核查", OPERATOR)
    with db.read() as session:
        account = wallets.get_wallet(session, opened.wallet_id).ledger_account_id
        assert ledger.balance(session, account).posted == 15_000 * YUAN
    with pytest.raises(QianbaoError) as caught:
        _top_up(db, opened.wallet_id, 1 * YUAN)
    assert caught.value.code == "LEDGER_CAP_EXCEEDED"

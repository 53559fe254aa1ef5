"""Freezes (SPEC §10): loss reports (挂失) and operator freezes; a frozen wallet neither pays nor receives."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from wallet_helpers import OPERATOR, TELLER, Harness

from qianbao import credentials, ledger, wallets
from qianbao.audit.models import AuditEntry
from qianbao.credentials import Principal
from qianbao.db import Database
from qianbao.errors import QianbaoError


def _account(db: Database, wallet_id: int) -> ledger.Account:
    with db.read() as session:
        return ledger.get_account(session, wallets.get_wallet(session, wallet_id).ledger_account_id)


def _credit(db: Database, wallet_id: int, amount: int = 100) -> None:
    with db.transaction() as session:
        bank = ledger.ensure_account(session, "bank_clearing", "BC-TEST")
        account = wallets.get_wallet(session, wallet_id).ledger_account_id
        ledger.create_transfer(session, key=uuid.uuid4().hex, debit=bank.id, credit=account, amount=amount,
                               code="topup")


def test_a_loss_report_freezes_the_wallet_and_its_ledger_account(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    wallet = h.run(wallets.report_loss, opened.wallet_id, customer_id=opened.customer_id)
    assert wallet.status == "frozen_lost" and _account(db, opened.wallet_id).frozen
    with pytest.raises(QianbaoError) as caught:
        _credit(db, opened.wallet_id)
    assert caught.value.code == "LEDGER_ACCOUNT_FROZEN"
    with db.read() as session:
        limits = wallets.wallet_limits(session, wallets.get_wallet(session, opened.wallet_id))
    assert not limits.can_pay and not limits.can_receive


def test_a_loss_report_signs_out_every_other_session(h: Harness, db: Database, settings) -> None:
    opened = h.register("13800138000")
    principal = Principal.customer(opened.customer_id)
    with db.transaction() as session:
        lost = credentials.start_session(session, principal, device_id="lost-phone", settings=settings)
        here = credentials.start_session(session, principal, device_id="tablet", settings=settings)
    h.run(wallets.report_loss, opened.wallet_id, customer_id=opened.customer_id, keep_session_id=here.record.public_id)
    with db.transaction() as session:
        assert credentials.authenticate(session, lost.token, settings=settings) is None
        assert credentials.authenticate(session, here.token, settings=settings) is not None


def test_reporting_a_loss_twice_is_harmless(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    h.run(wallets.report_loss, opened.wallet_id, customer_id=opened.customer_id)
    assert h.run(wallets.report_loss, opened.wallet_id, customer_id=opened.customer_id).status == "frozen_lost"
    with db.read() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action == "wallet.freeze.loss")))
    assert actions == ["wallet.freeze.loss"]


def test_a_customer_cannot_report_someone_elses_wallet_lost(h: Harness) -> None:
    mine, theirs = h.register("13800138000"), h.register("13900139000")
    error = h.refusal(wallets.report_loss, theirs.wallet_id, customer_id=mine.customer_id)
    assert error.code == "NOT_FOUND"


def test_a_loss_freeze_is_lifted_only_in_person_at_a_counter(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    h.run(wallets.report_loss, opened.wallet_id, customer_id=opened.customer_id)
    error = h.refusal(wallets.unfreeze_wallet, opened.wallet_id, "客户来电", OPERATOR, channel="ops")
    assert error.code == "WALLET_UNFREEZE_AT_COUNTER"
    wallet = h.run(wallets.unfreeze_wallet, opened.wallet_id, "本人持证到柜面解除挂失", TELLER, channel="counter")
    assert wallet.status == "active" and not _account(db, opened.wallet_id).frozen
    _credit(db, opened.wallet_id)


def test_an_operator_freezes_and_unfreezes_with_a_reason(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    assert h.refusal(wallets.freeze_wallet, opened.wallet_id, "", OPERATOR).code == "REASON_REQUIRED"
    wallet = h.run(wallets.freeze_wallet, opened.wallet_id, "疑似电信诈骗账户", OPERATOR)
    assert wallet.status == "frozen_ops" and wallet.status_reason == "疑似电信诈骗账户"
    assert h.refusal(wallets.freeze_wallet, opened.wallet_id, "again", OPERATOR).code == "WALLET_ALREADY_FROZEN"
    error = h.refusal(wallets.unfreeze_wallet, opened.wallet_id, "x", TELLER, channel="counter")
    assert error.code == "WALLET_UNFREEZE_BY_OPERATOR"
    h.run(wallets.unfreeze_wallet, opened.wallet_id, "核实为本人正常交易", OPERATOR, channel="ops")
    assert not _account(db, opened.wallet_id).frozen
    with db.read() as session:
        details = session.scalar(select(AuditEntry.details).where(AuditEntry.action == "wallet.freeze.ops"))
    assert details == {"reason": "疑似电信诈骗账户", "previous_status": "active"}


def test_unfreezing_an_active_wallet_is_refused(h: Harness) -> None:
    opened = h.register("13800138000")
    error = h.refusal(wallets.unfreeze_wallet, opened.wallet_id, "x", OPERATOR, channel="ops")
    assert error.code == "WALLET_NOT_FROZEN"


def test_a_freeze_tells_the_customer(h: Harness, db: Database) -> None:
    from qianbao.notices.models import OutboxMessage

    opened = h.register("13800138000")
    h.run(wallets.report_loss, opened.wallet_id, customer_id=opened.customer_id)
    with db.read() as session:
        keys = {payload.get("key") for payload in session.scalars(select(OutboxMessage.payload))}
    assert "sms.wallet.frozen_lost" in keys

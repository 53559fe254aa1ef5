"""When the ID card expires (SPEC §3.3): reminded from 30 days before, outflows restricted 90 days after."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import time_machine
from sqlalchemy import select
from wallet_helpers import LI_MING, SUPERVISOR, TELLER, WANG_XIUYING, Harness

from qianbao import wallets
from qianbao.audit.models import AuditEntry
from qianbao.db import Database
from qianbao.notices.models import OutboxMessage
from qianbao.settings import Settings
from qianbao.wallets.jobs import id_expiry_job

CARD_END = date(2026, 12, 26)  # 31 days after the test clock's first day (2026-11-25)


def _at_shanghai(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _messages(db: Database, key: str) -> int:
    with db.read() as session:
        return sum(1 for payload in session.scalars(select(OutboxMessage.payload)) if payload.get("key") == key)


def _limits(db: Database, wallet_id: int) -> wallets.WalletLimits:
    with db.read() as session:
        return wallets.wallet_limits(session, wallets.get_wallet(session, wallet_id))


def test_the_reminder_starts_30_days_before_the_card_expires(
    h: Harness, db: Database, settings: Settings, clock: time_machine.Traveller
) -> None:
    h.real_name(opened := h.register("13800138000"), LI_MING, valid_until=CARD_END)
    assert id_expiry_job(db, settings) == 0  # 31 days before
    clock.move_to(_at_shanghai(CARD_END - timedelta(days=30)))
    assert id_expiry_job(db, settings) == 1
    assert _messages(db, "sms.wallet.id_expiring") == 1
    with db.read() as session:
        assert wallets.get_customer(session, opened.customer_id).id_expiry_reminded_for == CARD_END


def test_the_reminder_is_sent_once_per_card(
    h: Harness, db: Database, settings: Settings, clock: time_machine.Traveller
) -> None:
    h.real_name(h.register("13800138000"), LI_MING, valid_until=CARD_END)
    clock.move_to(_at_shanghai(CARD_END - timedelta(days=10)))
    id_expiry_job(db, settings)
    clock.move_to(_at_shanghai(CARD_END + timedelta(days=5)))
    assert id_expiry_job(db, settings) == 0
    assert _messages(db, "sms.wallet.id_expiring") == 1 and _messages(db, "sms.wallet.id_expired") == 0


def test_a_long_term_card_is_never_reminded(
    h: Harness, db: Database, settings: Settings, clock: time_machine.Traveller
) -> None:
    h.real_name(h.register("13800138000"), WANG_XIUYING, valid_until=None)
    clock.move_to(_at_shanghai(date(2060, 1, 1)))
    assert id_expiry_job(db, settings) == 0


def test_outflows_are_restricted_90_days_after_expiry_and_receiving_still_works(
    h: Harness, db: Database, settings: Settings, clock: time_machine.Traveller
) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING, valid_until=CARD_END)
    clock.move_to(_at_shanghai(CARD_END + timedelta(days=90)))
    id_expiry_job(db, settings)
    assert not _limits(db, opened.wallet_id).outflow_restricted
    clock.move_to(_at_shanghai(CARD_END + timedelta(days=91)))
    assert id_expiry_job(db, settings) == 1
    limits = _limits(db, opened.wallet_id)
    assert limits.outflow_restricted and limits.outflow_restriction_reason == "id_card_expired"
    assert not limits.can_pay and limits.can_receive
    assert _messages(db, "sms.wallet.outflow_restricted") == 1
    with db.read() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action == "wallet.outflow.restrict"))
        assert list(actions) == ["wallet.outflow.restrict"]
    assert id_expiry_job(db, settings) == 0  # once


def test_a_new_card_verified_in_the_app_lifts_the_restriction(
    h: Harness, db: Database, settings: Settings, clock: time_machine.Traveller
) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING, valid_until=CARD_END)
    clock.move_to(_at_shanghai(CARD_END + timedelta(days=100)))
    id_expiry_job(db, settings)
    assert _limits(db, opened.wallet_id).outflow_restricted
    renewed = h.real_name(opened, LI_MING, valid_until=date(2047, 4, 1))
    assert renewed.status == "approved"
    assert not _limits(db, opened.wallet_id).outflow_restricted
    with db.read() as session:
        assert wallets.get_customer(session, opened.customer_id).id_valid_until == date(2047, 4, 1)


def test_a_new_card_verified_at_the_counter_lifts_the_restriction(
    h: Harness, db: Database, settings: Settings, clock: time_machine.Traveller
) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING, valid_until=CARD_END)
    clock.move_to(_at_shanghai(CARD_END + timedelta(days=100)))
    id_expiry_job(db, settings)
    application = h.counter(LI_MING, "13800138000", valid_until=date(2047, 4, 1))
    h.run(wallets.approve_application, application.id, SUPERVISOR)
    h.run(wallets.counter_upgrade_to_tier1, application.id, TELLER)
    limits = _limits(db, opened.wallet_id)
    assert not limits.outflow_restricted and limits.tier == 1


def test_a_renewed_card_gets_its_own_reminder_when_its_time_comes(
    h: Harness, db: Database, settings: Settings, clock: time_machine.Traveller
) -> None:
    opened = h.register("13800138000")
    h.real_name(opened, LI_MING, valid_until=CARD_END)
    clock.move_to(_at_shanghai(CARD_END - timedelta(days=5)))
    id_expiry_job(db, settings)
    h.real_name(opened, LI_MING, valid_until=date(2036, 12, 20))
    clock.move_to(_at_shanghai(date(2036, 11, 20)))
    assert id_expiry_job(db, settings) == 1
    assert _messages(db, "sms.wallet.id_expiring") == 2

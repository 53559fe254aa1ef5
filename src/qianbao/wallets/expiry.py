"""When the ID card expires (SPEC §3.3): a reminder from 30 days before, outflows restricted 90 days after.

Days are Asia/Shanghai days; `id_valid_until` is the card's last valid day (a long-term card has none).

    reminder      once per card, from `valid_until - 30 days` on: "your ID card expires on …" (or, for a
                  card that had already expired when it was first noticed, "expired on …"); in-app + SMS.
                  `customer.id_expiry_reminded_for` remembers the card it was sent for, and the outbox
                  dedupe key `wallets.id_expiry:<customer>:<valid_until>` keeps two workers from sending
                  it twice. A new card (a new date) gets its own reminder when its time comes.
    restriction   from `valid_until + 91 days` (90 full days after the last valid day) the wallet's
                  outflows are restricted: `wallet.outflow_restricted`, reason `id_card_expired`. Receiving
                  still works. The money package refuses outflows of a restricted wallet
                  (`wallet_limits(...).can_pay`). Audited and notified once.
    lifting       verifying a new, valid card (app real-name approved, or in person at a counter) records
                  the new date and lifts the restriction (`customers.lift_expiry_restriction`).

Example: valid until 2025-05-01 → reminder from 2025-04-01, restricted from 2025-07-31.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.wallets.models import (
    CLOSED,
    OUTFLOW_ID_CARD_EXPIRED,
    REAL_NAME_VERIFIED,
    Customer,
    Wallet,
)
from qianbao.wallets.notify import notify, tail

REMINDER_DAYS = 30
RESTRICT_AFTER_DAYS = 90
BATCH = 200


def _reminders_due(today: date):  # type: ignore[no-untyped-def]
    return select(Customer).where(
        Customer.real_name_status == REAL_NAME_VERIFIED,
        Customer.id_valid_until.is_not(None),
        Customer.id_valid_until <= today + timedelta(days=REMINDER_DAYS),
        (Customer.id_expiry_reminded_for.is_(None)) | (Customer.id_expiry_reminded_for != Customer.id_valid_until),
    )


def _restrictions_due(today: date):  # type: ignore[no-untyped-def]
    return (
        select(Wallet, Customer)
        .join(Customer, Customer.id == Wallet.customer_id)
        .where(
            Customer.real_name_status == REAL_NAME_VERIFIED,
            Customer.id_valid_until.is_not(None),
            Customer.id_valid_until < today - timedelta(days=RESTRICT_AFTER_DAYS),
            Wallet.outflow_restricted.is_(False),
            Wallet.status != CLOSED,
        )
    )


def anything_due(session: Session, today: date) -> bool:
    """A cheap read: is there a reminder to send or a wallet to restrict today?"""
    reminders = session.scalar(select(exists(_reminders_due(today).with_only_columns(Customer.id))))
    restrictions = session.scalar(select(exists(_restrictions_due(today).with_only_columns(Wallet.id))))
    return bool(reminders or restrictions)


def send_expiry_reminders(session: Session, today: date, *, limit: int = BATCH) -> int:
    """Remind holders whose card expires within 30 days (or has expired) and were not reminded for it."""
    customers = list(session.scalars(
        _reminders_due(today).order_by(Customer.id).limit(limit).with_for_update(skip_locked=True)
    ))
    for customer in customers:
        valid_until = customer.id_valid_until
        assert valid_until is not None
        event = "id_expiring" if valid_until >= today else "id_expired"
        notify(session, customer, event, {"valid_until": valid_until.isoformat()},
               dedupe_key=f"wallets.id_expiry:{customer.id}:{valid_until.isoformat()}")
        customer.id_expiry_reminded_for = valid_until
    session.flush()
    return len(customers)


def restrict_expired(session: Session, today: date, *, limit: int = BATCH) -> int:
    """Restrict the outflows of wallets whose holder's card expired more than 90 days ago."""
    rows = [(row[0], row[1]) for row in session.execute(
        _restrictions_due(today).order_by(Wallet.id).limit(limit).with_for_update(of=Wallet, skip_locked=True)
    )]
    for wallet, customer in rows:
        valid_until = customer.id_valid_until
        assert valid_until is not None
        wallet.outflow_restricted = True
        wallet.outflow_restriction_reason = OUTFLOW_ID_CARD_EXPIRED
        notify(session, customer, "outflow_restricted",
               {"wallet_tail": tail(wallet.number), "valid_until": valid_until.isoformat()},
               dedupe_key=f"wallets.outflow_restricted:{wallet.id}:{valid_until.isoformat()}")
        session.flush()
        audit.record(session, action="wallet.outflow.restrict", actor=audit.Actor.system("id_expiry"),
                     object_type="wallet", object_id=wallet.id,
                     details={"reason": OUTFLOW_ID_CARD_EXPIRED, "valid_until": valid_until.isoformat()})
    return len(rows)

"""How a customer confirms a payment: PIN, passkey, or password-free (小额免密) within their own threshold.

`confirm(...)` checks what the customer gave and returns the `Order.confirmation` string:

* a PIN → `credentials.pins.verify_pin` (PIN_WRONG counts a try and must be committed: run it in
  `credentials.transaction(db)`; PIN_LOCKED, PIN_NOT_SET) → "pin";
* a passkey assertion → `credentials.passkeys.verify_passkey_assertion` bound to the operation → "passkey";
* neither, and the customer opted in to password-free payments with a threshold the amount does not pass
  → "password_free" (the 小额免密 daily cap of the wallet policy is then enforced by `execute`);
* otherwise CONFIRMATION_REQUIRED.

The password-free choice is per customer (`payments_customer_settings`), off by default, with a
threshold of at most 1,000 yuan per payment; changing it needs the PIN and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.credentials.base import Principal
from qianbao.errors import QianbaoError
from qianbao.payments.models import CustomerPaymentSettings
from qianbao.settings import Settings

PASSWORD_FREE_MAX_THRESHOLD = 100_000  # fen: 1,000 yuan per payment (SPEC §2)
DEFAULT_THRESHOLD = 20_000  # fen: what the settings page proposes


@dataclass(frozen=True)
class PaymentSettings:
    customer_id: int
    password_free_enabled: bool
    password_free_threshold: int
    updated_at: datetime | None = None


def payment_settings(session: Session, customer_id: int) -> PaymentSettings:
    row = session.get(CustomerPaymentSettings, customer_id)
    if row is None:
        return PaymentSettings(customer_id, False, DEFAULT_THRESHOLD)
    return PaymentSettings(customer_id, row.password_free_enabled, row.password_free_threshold, row.updated_at)


def set_password_free(session: Session, customer_id: int, *, enabled: bool, threshold: int) -> PaymentSettings:
    """Turn password-free payments on (with a per-payment threshold, 0.01 … 1,000 yuan) or off; audited.

    The caller verifies the PIN first (a stolen unlocked phone must not lift the PIN requirement).
    PASSWORD_FREE_THRESHOLD_INVALID{max} when the threshold is out of range.
    """
    if type(threshold) is not int or not 0 < threshold <= PASSWORD_FREE_MAX_THRESHOLD:
        raise QianbaoError("PASSWORD_FREE_THRESHOLD_INVALID", max="1,000.00")
    row = session.get(CustomerPaymentSettings, customer_id, with_for_update=True)
    now = datetime.now(UTC)
    before: dict[str, Any] | None = None
    if row is None:
        row = CustomerPaymentSettings(customer_id=customer_id, password_free_enabled=bool(enabled),
                                      password_free_threshold=threshold, updated_at=now)
        session.add(row)
    else:
        before = {"enabled": row.password_free_enabled, "threshold": row.password_free_threshold}
        row.password_free_enabled = bool(enabled)
        row.password_free_threshold = threshold
        row.updated_at = now
    session.flush()
    audit.record(session, action="payments.password_free.update", actor=audit.Actor.customer(customer_id),
                 object_type="customer", object_id=customer_id,
                 details={"before": before, "after": {"enabled": bool(enabled), "threshold": threshold}})
    return payment_settings(session, customer_id)


def password_free_allowed(session: Session, customer_id: int, amount: int) -> bool:
    """Whether this amount may be paid without PIN or passkey (the daily cap is `execute`'s)."""
    chosen = payment_settings(session, customer_id)
    return chosen.password_free_enabled and 0 < amount <= chosen.password_free_threshold


def confirm(
    session: Session,
    customer_id: int,
    *,
    amount: int,
    pin: str | None = None,
    passkey: dict[str, Any] | str | None = None,
    rp_id: str | None = None,
    origin: str | None = None,
    binding: str | None = None,
    allow_password_free: bool = True,
    ip: str | None = None,
    settings: Settings | None = None,
) -> str:
    """Check the customer's confirmation of a payment of `amount` fen; returns the Order.confirmation."""
    principal = Principal.customer(customer_id)
    if pin:
        from qianbao.credentials.pins import verify_pin

        verify_pin(session, principal, pin, ip=ip, settings=settings)
        return "pin"
    if passkey:
        from qianbao.credentials.passkeys import verify_passkey_assertion

        if not rp_id or not origin:
            raise ValueError("a passkey confirmation needs rp_id and origin")
        verify_passkey_assertion(session, principal, passkey, rp_id=rp_id, origin=origin, binding=binding)
        return "passkey"
    if allow_password_free and password_free_allowed(session, customer_id, amount):
        return "password_free"
    raise QianbaoError("CONFIRMATION_REQUIRED")

"""Customer notices of the wallets package: an in-app notice and (for most events) an SMS, via the outbox.

Each event `X` has the catalogue keys `notice.wallet.X.title`, `notice.wallet.X.body` and, when it is
texted, `sms.wallet.X`. Both are queued in the caller's transaction (`qianbao.notices.outbox`), so a
notice exists exactly when the change it announces commits. Params never carry a full personal value:
wallet numbers appear by their last four digits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from qianbao.notices.outbox import enqueue_inbox, enqueue_sms
from qianbao.wallets.models import Customer

# Events that also go out by SMS; the others are in-app only.
TEXTED = frozenset({
    "opened", "upgraded_tier1", "real_name_approved", "real_name_rejected", "frozen_lost", "frozen_ops",
    "unfrozen", "tier_downgraded", "id_expiring", "id_expired", "outflow_restricted", "pin_set",
})


def notify(
    session: Session,
    customer: Customer,
    event: str,
    params: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
) -> None:
    params = params or {}
    enqueue_inbox(
        session, customer.id, f"notice.wallet.{event}.title", f"notice.wallet.{event}.body", params,
        dedupe_key=None if dedupe_key is None else f"{dedupe_key}:inbox",
    )
    if event in TEXTED:
        enqueue_sms(
            session, customer.phone, key=f"sms.wallet.{event}", params=params, lang=customer.lang,
            dedupe_key=None if dedupe_key is None else f"{dedupe_key}:sms",
        )


def tail(number: str) -> str:
    """The last four digits of a wallet number, the way notices name it."""
    return number[-4:]

"""One-request conveniences over the batch engine: each raises its refusal instead of returning it.

They are what the other packages call for a single operation; a retry with the same key returns the
original transfer with `replayed=True` and moves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError
from qianbao.ledger.engine import Batch
from qianbao.ledger.queries import get_transfer, transfer_from_row
from qianbao.ledger.types import Leg, NewTransfer, PostPending, Request, Reverse, Transfer, VoidPending
from qianbao.ledger.validate import KEY_MAX_LENGTH, check_key


def _one_chain(session: Session, items: list[Request], now: datetime | None) -> list[Transfer]:
    batch = Batch(session, items, now)  # type: ignore[arg-type]
    results = batch.run()
    for result in results:
        if result.error is not None and result.error.code != "LEDGER_LINKED_FAILED":
            raise result.error
    transfers: list[Transfer] = []
    for result in results:
        row = batch.rows.get(result.index)
        if row is not None:
            transfers.append(transfer_from_row(row, status="pending" if row[1] == "pending" else None))
        else:
            assert result.transfer_id is not None and result.replayed
            transfers.append(replace(get_transfer(session, result.transfer_id), replayed=True))
    return transfers


def create_transfer(
    session: Session,
    *,
    key: str,
    debit: int,
    credit: int,
    amount: int,
    code: str,
    reference: str | None = None,
    user_data: dict[str, Any] | None = None,
    pending: bool = False,
    timeout: int | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Move `amount` fen from account `debit` to account `credit`, or only hold it (`pending=True`)."""
    item = NewTransfer(key, debit, credit, amount, code, reference, user_data, pending, timeout)
    return _one_chain(session, [item], now)[0]


def create_group(
    session: Session,
    *,
    key: str,
    legs: Sequence[Leg],
    pending: bool = False,
    timeout: int | None = None,
    now: datetime | None = None,
) -> list[Transfer]:
    """A linked group (payment + fee, payment − coupon): every leg is made, or none.

    The legs' keys are derived from the group's (`key#0`, `key#1`, ...), so a retry of the whole
    group is recognised and a different group under the same key is refused.
    """
    check_key(key)
    if not legs:
        raise QianbaoError("LEDGER_BATCH_EMPTY")
    if len(key) + 1 + len(str(len(legs))) > KEY_MAX_LENGTH:
        raise QianbaoError("LEDGER_IDEMPOTENCY_KEY_INVALID", max=KEY_MAX_LENGTH - 6)
    items: list[Request] = [
        NewTransfer(f"{key}#{i}", leg.debit, leg.credit, leg.amount, leg.code, leg.reference, leg.user_data,
                    pending, timeout, linked=i < len(legs) - 1)
        for i, leg in enumerate(legs)
    ]
    return _one_chain(session, items, now)


def post_pending(
    session: Session, *, key: str, pending_id: int, amount: int | None = None, now: datetime | None = None
) -> Transfer:
    """Post a hold in full, or `amount` of it (the rest is released). The holds of its linked group,
    if any, are posted with it in full."""
    return _one_chain(session, [PostPending(key, pending_id, amount)], now)[0]


def void_pending(session: Session, *, key: str, pending_id: int, now: datetime | None = None) -> Transfer:
    """Release a hold (and the other holds of its linked group)."""
    return _one_chain(session, [VoidPending(key, pending_id)], now)[0]


def reverse(
    session: Session,
    *,
    key: str,
    transfer_id: int,
    code: str | None = None,
    reference: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Correct a posted transfer by posting its opposite, which points back at it (once only)."""
    return _one_chain(session, [Reverse(key, transfer_id, code, reference)], now)[0]

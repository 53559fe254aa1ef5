"""Reads: balances now and as of a past time, an account's postings page by page, a transfer and its group.

Each read is one SQL statement, so on PostgreSQL it sees one snapshot even outside `db.read()`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError
from qianbao.ledger.models import UTCDateTime, as_utc
from qianbao.ledger.store import TRANSFER_COLUMNS
from qianbao.ledger.types import Balance, Posting, PostingsPage, Transfer

_POSTED_KINDS = "('posted', 'post')"
_RESOLUTION_KINDS = "('post', 'void', 'expire')"
MAX_PAGE = 500


def _user_data(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return json.loads(value)


def transfer_from_row(row: Any, status: str | None = None) -> Transfer:
    (tid, kind, debit, credit, amount, code, reference, data, pending_id, reverses_id, group_id,
     timeout_at, created_at) = row[:13]
    return Transfer(
        id=tid, kind=kind, debit_account_id=debit, credit_account_id=credit, amount=amount, code=code,
        reference=reference, user_data=_user_data(data), pending_id=pending_id, reverses_id=reverses_id,
        group_id=group_id, timeout_at=as_utc(timeout_at), created_at=as_utc(created_at),  # type: ignore[arg-type]
        status=status,
    )


_SELECT_TRANSFER = (
    "SELECT " + ", ".join(f"t.{c.strip()}" for c in TRANSFER_COLUMNS.split(",")) + ", p.status "
    "FROM ledger_transfers t LEFT JOIN ledger_pending p ON p.transfer_id = t.id"
)


def get_transfer(session: Session, transfer_id: int) -> Transfer:
    if type(transfer_id) is not int:
        raise QianbaoError("LEDGER_TRANSFER_NOT_FOUND", transfer=str(transfer_id)[:40])
    row = session.execute(text(_SELECT_TRANSFER + " WHERE t.id = :id"), {"id": transfer_id}).first()
    if row is None:
        raise QianbaoError("LEDGER_TRANSFER_NOT_FOUND", transfer=str(transfer_id))
    return transfer_from_row(row, row[13])


def transfer_group(session: Session, transfer_id: int) -> list[Transfer]:
    """The transfer with everything made together with it, in journal order.

    For a linked group: every member and the posts/voids of its holds. For a lone hold: the hold and
    its resolution. For a post or void: the hold it resolved (and that hold's group).
    """
    first = get_transfer(session, transfer_id)
    anchor = first
    if first.pending_id is not None and first.group_id is None:
        anchor = get_transfer(session, first.pending_id)
    if anchor.group_id is not None:
        rows = session.execute(
            text(_SELECT_TRANSFER + " WHERE t.group_id = :g ORDER BY t.id"), {"g": anchor.group_id}
        ).all()
    else:
        rows = session.execute(
            text(_SELECT_TRANSFER + " WHERE t.id = :id OR t.pending_id = :id ORDER BY t.id"), {"id": anchor.id}
        ).all()
    return [transfer_from_row(r, r[13]) for r in rows]


def _balance(account_id: int, side: str, dp: int, cp: int, dpe: int, cpe: int, as_of: datetime | None) -> Balance:
    if side == "credit":
        posted, held, incoming = cp - dp, dpe, cpe
    else:
        posted, held, incoming = dp - cp, cpe, dpe
    return Balance(
        account_id=account_id, posted=posted, held=held, incoming=incoming, available=posted - held,
        debits_posted=dp, credits_posted=cp, debits_pending=dpe, credits_pending=cpe, as_of=as_of,
    )


def balance(session: Session, account_id: int) -> Balance:
    if type(account_id) is not int:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id)[:40])
    row = session.execute(
        text(
            "SELECT normal_side, debits_posted, credits_posted, debits_pending, credits_pending "
            "FROM ledger_accounts WHERE id = :a"
        ),
        {"a": account_id},
    ).first()
    if row is None:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id))
    return _balance(account_id, row[0], row[1], row[2], row[3], row[4], None)


def _after(side: str, what: str) -> str:
    """A scalar subquery over the account's journal rows after the moment, on one side.

    An account's rows are stamped in id order with times that never go back (`last_transfer_at`), so
    "after the moment" is "after the newest row at or before it": a backward index walk that stops
    there, then an index range.
    """
    column = f"{side}_account_id"
    boundary = (
        f"COALESCE((SELECT b.id FROM ledger_transfers b WHERE b.{column} = a.id AND b.created_at <= :t "
        "ORDER BY b.id DESC LIMIT 1), 0)"
    )
    if what == "posted":
        expr, join, cond = "t.amount", "", f"t.kind IN {_POSTED_KINDS}"
    elif what == "new_holds":  # holds made after the moment and still held now
        expr, join, cond = "t.amount", "JOIN ledger_pending p ON p.transfer_id = t.id", \
            "t.kind = 'pending' AND p.status = 'pending'"
    else:  # holds made before the moment and resolved after it
        expr, join, cond = "h.amount", "JOIN ledger_transfers h ON h.id = t.pending_id", \
            f"t.kind IN {_RESOLUTION_KINDS} AND h.created_at <= :t"
    return (
        f"(SELECT COALESCE(SUM({expr}), 0) FROM ledger_transfers t {join} "
        f"WHERE t.{column} = a.id AND t.id > {boundary} AND {cond})"
    )


_AS_OF = text(
    "SELECT a.normal_side, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending, a.created_at, "
    + ", ".join(_after(side, what) for side in ("debit", "credit") for what in ("posted", "new_holds", "old_holds"))
    + " FROM ledger_accounts a WHERE a.id = :a"
).bindparams(bindparam("t", type_=UTCDateTime()))


def balance_as_of(session: Session, account_id: int, moment: datetime) -> Balance:
    """The balance as it stood at `moment`: the totals now, minus what the journal recorded after it.

    Working back from now costs in proportion to the account's activity since `moment`.
    """
    if type(account_id) is not int:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id)[:40])
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise QianbaoError("LEDGER_MOMENT_INVALID")
    row = session.execute(_AS_OF, {"a": account_id, "t": moment}).first()
    if row is None:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id))
    side, dp, cp, dpe, cpe, _created, d_posted, d_new, d_old, c_posted, c_new, c_old = row
    return _balance(
        account_id, side, dp - d_posted, cp - c_posted, dpe - d_new + d_old, cpe - c_new + c_old,
        moment.astimezone(UTC),
    )


_PAGE_COLUMNS = (
    "id, kind, debit_account_id, credit_account_id, amount, code, reference, pending_id, reverses_id, group_id, "
    "created_at"
)


def _page_sql(with_cursor: bool) -> Any:
    parts = []
    for side in ("debit", "credit"):
        cond = f"{side}_account_id = :a" + (" AND id < :before" if with_cursor else "")
        parts.append(
            f"SELECT * FROM (SELECT {_PAGE_COLUMNS} FROM ledger_transfers WHERE {cond} "
            "ORDER BY id DESC LIMIT :n) AS x"
        )
    return text(" UNION ALL ".join(parts) + " ORDER BY id DESC LIMIT :n")


_PAGE_FIRST = _page_sql(False)
_PAGE_NEXT = _page_sql(True)


def _decode_cursor(cursor: Any) -> int:
    if type(cursor) is str and cursor.isdigit() and len(cursor) < 20:
        return int(cursor)
    raise QianbaoError("LEDGER_CURSOR_INVALID")


def postings(session: Session, account_id: int, *, limit: int = 50, cursor: str | None = None) -> PostingsPage:
    """The account's journal rows, newest first; pass `next_cursor` back to get the following page.

    The order is the account's journal order (the order its locks were taken), so a page never skips
    or repeats a row that was written while the pages were being read.
    """
    if type(limit) is not int or not 0 < limit <= MAX_PAGE:
        raise QianbaoError("LEDGER_PAGE_SIZE_INVALID", max=MAX_PAGE)
    side_row = session.execute(
        text("SELECT normal_side FROM ledger_accounts WHERE id = :a"), {"a": account_id}
    ).first()
    if side_row is None:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id)[:40])
    credit_normal = side_row[0] == "credit"
    # One row more than asked tells whether another page follows.
    if cursor is None:
        rows = session.execute(_PAGE_FIRST, {"a": account_id, "n": limit + 1}).all()
    else:
        rows = session.execute(_PAGE_NEXT, {"a": account_id, "n": limit + 1, "before": _decode_cursor(cursor)}).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items: list[Posting] = []
    for tid, kind, debit, credit, amount, code, reference, pending_id, reverses_id, group_id, created in rows:
        is_debit = debit == account_id
        moved = amount if kind in ("posted", "post") else 0
        grows = is_debit != credit_normal
        items.append(Posting(
            transfer_id=tid, kind=kind, direction="debit" if is_debit else "credit", amount=amount,
            posted_delta=moved if grows else -moved, counterparty_account_id=credit if is_debit else debit,
            code=code, reference=reference, pending_id=pending_id, reverses_id=reverses_id, group_id=group_id,
            created_at=as_utc(created),  # type: ignore[arg-type]
        ))
    next_cursor = str(items[-1].transfer_id) if more else None
    return PostingsPage(items=items, next_cursor=next_cursor)

"""Transaction history (交易记录, SPEC §8): a wallet's movements, filtered, paged, one in detail, as CSV.

Reads only `payments_entry` (one row per wallet an operation touched) and, for the detail, its operation.

    RecordFilter.parse(start=, end=, kind=, min_amount=, max_amount=, counterparty=) -> RecordFilter
        text from a form or query string: dates yyyy-mm-dd (Asia/Shanghai days, both included), a kind
        (or "in" / "out" for the direction), amounts in yuan, a part of the masked counterparty;
        RECORDS_FILTER_INVALID{field} for anything else
    records(session, wallet_id, flt, *, limit=20, cursor=None) -> RecordsPage(items, next_cursor)
        newest first; the cursor is opaque and stable while new rows arrive (RECORDS_CURSOR_INVALID)
    record_detail(session, wallet_id, reference) -> RecordDetail     NOT_FOUND for another wallet's
    export_csv(session, wallet_id, flt, lang) -> bytes               UTF-8 with BOM, CRLF, yuan with 2 decimals
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from qianbao.credentials.base import SHANGHAI
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import parse_yuan, to_yuan
from qianbao.payments.models import IN, KINDS, OUT, PaymentEntry, PaymentOperation

PAGE_MAX = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EXPORT_MAX_ROWS = 20_000
DIRECTIONS = (IN, OUT)


@dataclass(frozen=True)
class RecordFilter:
    start: date | None = None
    end: date | None = None
    kinds: tuple[str, ...] = ()
    direction: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    counterparty: str | None = None

    @classmethod
    def parse(cls, *, start: str | None = None, end: str | None = None, kind: str | None = None,
              min_amount: str | None = None, max_amount: str | None = None,
              counterparty: str | None = None) -> RecordFilter:
        def day(value: str | None, name: str) -> date | None:
            if not value or not value.strip():
                return None
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise QianbaoError("RECORDS_FILTER_INVALID", field=name) from None

        def yuan(value: str | None, name: str) -> int | None:
            if not value or not value.strip():
                return None
            try:
                return parse_yuan(value)
            except QianbaoError:
                raise QianbaoError("RECORDS_FILTER_INVALID", field=name) from None

        kinds: tuple[str, ...] = ()
        direction = None
        if kind and kind.strip():
            if kind in DIRECTIONS:
                direction = kind
            elif kind in KINDS:
                kinds = (kind,)
            else:
                raise QianbaoError("RECORDS_FILTER_INVALID", field="type")
        flt = cls(start=day(start, "from"), end=day(end, "to"), kinds=kinds, direction=direction,
                  min_amount=yuan(min_amount, "min"), max_amount=yuan(max_amount, "max"),
                  counterparty=(counterparty or "").strip()[:40] or None)
        if flt.start and flt.end and flt.start > flt.end:
            raise QianbaoError("RECORDS_FILTER_INVALID", field="to")
        if flt.min_amount is not None and flt.max_amount is not None and flt.min_amount > flt.max_amount:
            raise QianbaoError("RECORDS_FILTER_INVALID", field="max")
        return flt

    def as_query(self) -> dict[str, str]:
        """The filter as query-string values (the pages' links keep it)."""
        values = {
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "type": self.direction or (self.kinds[0] if self.kinds else ""),
            "min": str(to_yuan(self.min_amount)) if self.min_amount is not None else "",
            "max": str(to_yuan(self.max_amount)) if self.max_amount is not None else "",
            "q": self.counterparty or "",
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Record:
    entry_id: int
    operation_id: int
    reference: str
    kind: str
    direction: str
    amount: int
    fee: int
    status: str
    counterparty: str | None
    note: str | None
    created_at: datetime

    @property
    def signed_total(self) -> int:
        """What it did to the balance: −(amount + fee) for money out, +amount for money in."""
        return -(self.amount + self.fee) if self.direction == OUT else self.amount


@dataclass(frozen=True)
class RecordsPage:
    items: list[Record]
    next_cursor: str | None


@dataclass(frozen=True)
class RecordDetail:
    record: Record
    channel: str
    confirmation: str
    order_reference: str | None
    failure_reason: str | None
    completed_at: datetime | None
    details: dict[str, Any] = field(default_factory=dict)


def _bounds(flt: RecordFilter) -> list[Any]:
    where: list[Any] = []
    if flt.start:
        where.append(PaymentEntry.created_at >= datetime.combine(flt.start, time.min, SHANGHAI))
    if flt.end:
        where.append(PaymentEntry.created_at < datetime.combine(flt.end + timedelta(days=1), time.min, SHANGHAI))
    if flt.kinds:
        where.append(PaymentEntry.kind.in_(flt.kinds))
    if flt.direction:
        where.append(PaymentEntry.direction == flt.direction)
    if flt.min_amount is not None:
        where.append(PaymentEntry.amount >= flt.min_amount)
    if flt.max_amount is not None:
        where.append(PaymentEntry.amount <= flt.max_amount)
    if flt.counterparty:
        escaped = flt.counterparty.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(PaymentEntry.counterparty.like(f"%{escaped}%", escape="\\"))
    return where


def _query(wallet_id: int, flt: RecordFilter) -> Any:
    return (
        select(PaymentEntry, PaymentOperation.reference, PaymentOperation.note)
        .join(PaymentOperation, PaymentOperation.id == PaymentEntry.operation_id)
        .where(PaymentEntry.wallet_id == wallet_id, *_bounds(flt))
        .order_by(PaymentEntry.created_at.desc(), PaymentEntry.id.desc())
    )


def _record(entry: PaymentEntry, reference: str, note: str | None) -> Record:
    return Record(entry_id=entry.id, operation_id=entry.operation_id, reference=reference, kind=entry.kind,
                  direction=entry.direction, amount=entry.amount, fee=entry.fee, status=entry.status,
                  counterparty=entry.counterparty, note=note, created_at=entry.created_at)


def _encode(record: Record) -> str:
    micros = (record.created_at - EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{record.entry_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros, entry_id = raw.split(".")
        moment = EPOCH + timedelta(microseconds=int(micros))
        return moment, int(entry_id)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise QianbaoError("RECORDS_CURSOR_INVALID") from None


def records(session: Session, wallet_id: int, flt: RecordFilter | None = None, *, limit: int = 20,
            cursor: str | None = None) -> RecordsPage:
    if type(limit) is not int or not 1 <= limit <= PAGE_MAX:
        raise QianbaoError("RECORDS_FILTER_INVALID", field="limit")
    stmt = _query(wallet_id, flt or RecordFilter())
    if cursor:
        if len(cursor) > 64:
            raise QianbaoError("RECORDS_CURSOR_INVALID")
        moment, entry_id = _decode(cursor)
        stmt = stmt.where(or_(PaymentEntry.created_at < moment,
                              and_(PaymentEntry.created_at == moment, PaymentEntry.id < entry_id)))
    rows = session.execute(stmt.limit(limit + 1)).all()
    items = [_record(entry, reference, note) for entry, reference, note in rows[:limit]]
    return RecordsPage(items=items, next_cursor=_encode(items[-1]) if len(rows) > limit else None)


def record_detail(session: Session, wallet_id: int, reference: str) -> RecordDetail:
    """One movement of this wallet by its operation's reference; NOT_FOUND for any other."""
    if not isinstance(reference, str) or not 0 < len(reference) <= 24:
        raise QianbaoError("NOT_FOUND")
    row = session.execute(
        select(PaymentEntry, PaymentOperation)
        .join(PaymentOperation, PaymentOperation.id == PaymentEntry.operation_id)
        .where(PaymentEntry.wallet_id == wallet_id, PaymentOperation.reference == reference.upper())
    ).first()
    if row is None:
        raise QianbaoError("NOT_FOUND")
    entry, op = row
    details = dict(op.details or {})
    return RecordDetail(record=_record(entry, op.reference, op.note), channel=op.channel,
                        confirmation=op.confirmation, order_reference=op.order_reference,
                        failure_reason=op.failure_reason, completed_at=op.completed_at, details=details)


def _cell(value: str) -> str:
    """Text a spreadsheet will not run as a formula (a note typed as "=HYPERLINK(...)")."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _yuan(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def export_csv(session: Session, wallet_id: int, flt: RecordFilter | None, lang: str) -> bytes:
    """The filtered history as CSV for Excel and WPS: UTF-8 with a BOM, CRLF rows, Shanghai times,
    amounts in yuan with two decimals (no thousands separator), at most EXPORT_MAX_ROWS rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([translate(f"records.csv.{column}", lang) for column in
                     ("time", "type", "direction", "counterparty", "amount", "fee", "status", "reference", "note")])
    rows = session.execute(_query(wallet_id, flt or RecordFilter()).limit(EXPORT_MAX_ROWS)).all()
    for entry, reference, note in rows:
        record = _record(entry, reference, note)
        writer.writerow([
            record.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            translate(f"records.kind.{record.kind}", lang),
            translate(f"records.direction.{record.direction}", lang),
            _cell(record.counterparty or ""),
            _yuan(record.amount),
            _yuan(record.fee),
            translate(f"records.status.{record.status}", lang),
            record.reference,
            _cell(record.note or ""),
        ])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")

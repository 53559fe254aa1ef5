"""Re-encrypting every encrypted column under the active key, and counting values per key id.

The encrypted columns are found by type in the metadata (`qianbao.models.metadata` by default), so a
new package's encrypted column is rotated without being registered anywhere.

Each batch is its own transaction and each row is rewritten with a compare-and-set (`WHERE pk = :pk
AND col = :old`), so the pass can stop at any point and be run again: rows already under the active
key are skipped, and a row the application changed meanwhile is left to its new value. The pass
holds one batch's rows at a time, in primary-key order (keyset pagination, no OFFSET).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, literal, select, type_coerce, update

from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.pii.crypto import EncryptedBytes, EncryptedType, key_id_of, reencrypt
from qianbao.pii.keyring import Keyring

DEFAULT_BATCH = 500
BYTES_BATCH = 20
_PREFIX_CHARS = 64

Progress = Callable[[int], None]


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    column: Column[Any]

    @property
    def context(self) -> str:
        return f"{self.table.name}.{self.column.name}"

    @property
    def pk(self) -> Column[Any]:
        keys = list(self.table.primary_key.columns)
        if len(keys) != 1:
            raise ValueError(f"{self.table.name}: rotation needs a single-column primary key")
        return keys[0]

    @property
    def raw(self) -> Any:
        """The column read and written as stored, bypassing encryption."""
        return type_coerce(self.column, self.column.type.impl_instance)


@dataclass
class RotationReport:
    active: str
    scanned: int = 0
    reencrypted: int = 0
    per_key: Counter[str] = field(default_factory=Counter)
    per_column: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[tuple[str, Any, str]] = field(default_factory=list)


def encrypted_columns(metadata: MetaData | None = None) -> list[EncryptedColumn]:
    if metadata is None:
        from qianbao.models import metadata as default_metadata

        metadata = default_metadata
    return [
        EncryptedColumn(table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedType)
    ]


def count_values(db: Database, columns: list[EncryptedColumn]) -> int:
    """How many non-null encrypted values there are in all these columns (the progress bar's total)."""
    with db.read() as session:
        return sum(
            session.scalar(select(func.count()).select_from(c.table).where(c.column.is_not(None))) or 0
            for c in columns
        )


def values_per_key(db: Database, columns: list[EncryptedColumn], *, batch_size: int = 5000) -> RotationReport:
    """Count the stored values per key id, reading only the first characters of each (photos stay put)."""
    report = RotationReport(active="")
    with db.read() as session:
        for c in columns:
            counts: Counter[str] = Counter()
            last: Any = None
            while True:
                prefix = func.substr(c.raw, 1, _PREFIX_CHARS)
                query = select(c.pk, type_coerce(prefix, c.column.type.impl_instance)).where(c.column.is_not(None))
                if last is not None:
                    query = query.where(c.pk > last)
                rows = session.execute(query.order_by(c.pk).limit(batch_size)).all()
                if not rows:
                    break
                for pk, stored in rows:
                    try:
                        counts[key_id_of(stored)] += 1
                    except QianbaoError as exc:
                        report.failures.append((c.context, pk, exc.code))
                last = rows[-1][0]
            report.per_column[c.context] = counts
            report.per_key.update(counts)
            report.scanned += counts.total()
    return report


def reencrypt_all(
    db: Database,
    ring: Keyring,
    columns: list[EncryptedColumn],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Progress | None = None,
) -> RotationReport:
    """Rewrite every value not under `ring.active`; returns how many values each key now holds."""
    report = RotationReport(active=ring.active)
    for c in columns:
        counts: Counter[str] = Counter()
        size = BYTES_BATCH if isinstance(c.column.type, EncryptedBytes) else batch_size
        last: Any = None
        while True:
            with db.transaction() as session:
                query = select(c.pk, c.raw).where(c.column.is_not(None))
                if last is not None:
                    query = query.where(c.pk > last)
                rows = session.execute(query.order_by(c.pk).limit(size)).all()
                for pk, stored in rows:
                    _rotate_row(session, c, ring, pk, stored, counts, report)
            if not rows:
                break
            last = rows[-1][0]
            report.scanned += len(rows)
            if on_progress is not None:
                on_progress(len(rows))
        report.per_column[c.context] = counts
        report.per_key.update(counts)
    return report


def _rotate_row(
    session: Any, c: EncryptedColumn, ring: Keyring, pk: Any, stored: Any, counts: Counter[str], report: RotationReport
) -> None:
    impl = c.column.type.impl_instance
    for _attempt in range(3):
        if stored is None:
            return
        try:
            key_id = key_id_of(stored)
            if key_id == ring.active:
                counts[key_id] += 1
                return
            fresh = reencrypt(stored, c.context, ring)
        except QianbaoError as exc:
            report.failures.append((c.context, pk, exc.code))
            return
        result = session.execute(
            update(c.table)
            .where(c.pk == pk, c.raw == literal(stored, impl))
            .values({c.column: literal(fresh, impl)})
        )
        if result.rowcount == 1:
            counts[ring.active] += 1
            report.reencrypted += 1
            return
        # The application rewrote the row after we read it (PostgreSQL): look again.
        stored = session.execute(select(c.raw).where(c.pk == pk)).scalar_one_or_none()
    report.failures.append((c.context, pk, "CONCURRENT_UPDATES"))


def retire_unused(ring: Keyring, per_key: Counter[str]) -> list[str]:
    """Drop from the keyring every key that is neither active nor holds any value; save the file."""
    retired = [kid for kid in ring.keys if kid != ring.active and per_key.get(kid, 0) == 0]
    for kid in retired:
        ring.remove_key(kid)
    if retired:
        ring.save()
    return retired

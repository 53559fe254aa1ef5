"""The ledger's set-based SQL, one implementation per database.

Every statement here works on whole sets (all touched accounts, all new rows of a batch), so a batch
of a thousand transfers costs a handful of round trips. Statements go straight to the driver: the
ORM would add per-row work that the batch path cannot afford, and the balance columns must never
sit stale in an identity map.

PostgreSQL: the touched account rows are locked with `SELECT ... ORDER BY id FOR NO KEY UPDATE`
(rows are locked in the order they are returned, so two transactions never wait on each other in a
cycle); everything read after that sees what the previous holder of those locks committed. Arrays
(`= ANY(%s)`, `unnest`) keep the statement text constant so psycopg can prepare it once.

SQLite: the write transaction already began IMMEDIATE (qianbao.db), so it is alone; lists are
passed as one JSON parameter (`json_each`) to stay clear of the bound-variable limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError

# (id, kind, debit, credit, amount, code, reference, user_data json, pending_id, reverses_id,
#  group_id, timeout_at, created_at)
TransferRow = tuple[int, str, int, int, int, str, str | None, str | None, int | None, int | None,
                    int | None, datetime | None, datetime]
# (id, dp, cp, dpe, cpe)
TotalsRow = tuple[int, int, int, int, int]

ACCOUNT_COLUMNS = (
    "id, code, currency, normal_side, no_negative, cap, frozen, closed, "
    "debits_posted, credits_posted, debits_pending, credits_pending"
)
REF_COLUMNS = (
    "id, kind, debit_account_id, credit_account_id, amount, code, reference, group_id, timeout_at, reverses_id"
)
TRANSFER_COLUMNS = (
    "id, kind, debit_account_id, credit_account_id, amount, code, reference, user_data, "
    "pending_id, reverses_id, group_id, timeout_at, created_at"
)


def sqlite_ts(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime stores, so raw and ORM writes compare alike."""
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


class Store:
    def __init__(self, session: Session) -> None:
        self.conn: Connection = session.connection()

    def run(self, sql: str, params: Any = ()) -> list[Any]:
        return list(self.conn.exec_driver_sql(sql, params))

    # Implemented per database.
    def referenced(self, ids: Sequence[int]) -> list[Any]: ...
    def lock_accounts(self, ids: Sequence[int]) -> list[Any]: ...
    def pending_status(self, ids: Sequence[int]) -> dict[int, str]: ...
    def keys(self, keys: Sequence[str]) -> dict[str, tuple[bytes, int]]: ...
    def reversed_targets(self, ids: Sequence[int]) -> set[int]: ...
    def allocate_ids(self, count: int) -> list[int]: ...
    def write(
        self,
        transfers: list[TransferRow],
        keys: list[tuple[str, bytes, int]],
        pending_new: list[tuple[int, datetime | None]],
        pending_done: list[tuple[int, str, int]],
        totals: list[TotalsRow],
        now: datetime,
    ) -> None: ...


class SqliteStore(Store):
    def _each(self, values: Iterable[Any]) -> str:
        return json.dumps(list(values))

    def referenced(self, ids: Sequence[int]) -> list[Any]:
        # The named transfers, plus every hold of the groups they belong to (a group resolves as one).
        return self.run(
            f"SELECT {REF_COLUMNS} FROM ledger_transfers WHERE id IN (SELECT value FROM json_each(?)) "
            f"UNION SELECT {REF_COLUMNS} FROM ledger_transfers WHERE kind = 'pending' AND group_id IN "
            "(SELECT group_id FROM ledger_transfers WHERE id IN (SELECT value FROM json_each(?)) "
            "AND kind = 'pending' AND group_id IS NOT NULL)",
            (self._each(ids), self._each(ids)),
        )

    def lock_accounts(self, ids: Sequence[int]) -> list[Any]:
        return self.run(
            f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (self._each(ids),),
        )

    def pending_status(self, ids: Sequence[int]) -> dict[int, str]:
        rows = self.run(
            "SELECT transfer_id, status FROM ledger_pending WHERE transfer_id IN (SELECT value FROM json_each(?))",
            (self._each(ids),),
        )
        return {r[0]: r[1] for r in rows}

    def keys(self, keys: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        rows = self.run(
            "SELECT key, request_hash, transfer_id FROM ledger_idempotency "
            "WHERE key IN (SELECT value FROM json_each(?))",
            (self._each(keys),),
        )
        return {r[0]: (bytes(r[1]), r[2]) for r in rows}

    def reversed_targets(self, ids: Sequence[int]) -> set[int]:
        rows = self.run(
            "SELECT reverses_id FROM ledger_transfers WHERE reverses_id IN (SELECT value FROM json_each(?))",
            (self._each(ids),),
        )
        return {r[0] for r in rows}

    def allocate_ids(self, count: int) -> list[int]:
        # Alone in the database (BEGIN IMMEDIATE), so the next ids are simply the ones after the largest.
        top = self.run("SELECT COALESCE(MAX(id), 0) FROM ledger_transfers")[0][0]
        return list(range(top + 1, top + 1 + count))

    def write(self, transfers, keys, pending_new, pending_done, totals, now) -> None:  # type: ignore[no-untyped-def]
        run = self.conn.exec_driver_sql
        if transfers:
            run(
                f"INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(*r[:11], sqlite_ts(r[11]), sqlite_ts(r[12])) for r in transfers],
            )
        if keys:
            stamp = sqlite_ts(now)
            run(
                "INSERT INTO ledger_idempotency (key, request_hash, transfer_id, created_at) VALUES (?,?,?,?)",
                [(k, h, t, stamp) for k, h, t in keys],
            )
        if pending_new:
            run(
                "INSERT INTO ledger_pending (transfer_id, status, timeout_at, resolved_by) "
                "VALUES (?, 'pending', ?, NULL)",
                [(t, sqlite_ts(at)) for t, at in pending_new],
            )
        if pending_done:
            run(
                "UPDATE ledger_pending SET status = ?, resolved_by = ? WHERE transfer_id = ? AND status = 'pending'",
                [(status, by, tid) for tid, status, by in pending_done],
            )
        if totals:
            run(
                "UPDATE ledger_accounts SET debits_posted = ?, credits_posted = ?, debits_pending = ?, "
                "credits_pending = ? WHERE id = ?",
                [(dp, cp, dpe, cpe, aid) for aid, dp, cp, dpe, cpe in totals],
            )


class PostgresStore(Store):
    def referenced(self, ids: Sequence[int]) -> list[Any]:
        return self.run(
            f"SELECT {REF_COLUMNS} FROM ledger_transfers WHERE id = ANY(%s) "
            f"UNION SELECT {REF_COLUMNS} FROM ledger_transfers WHERE kind = 'pending' AND group_id IN "
            "(SELECT group_id FROM ledger_transfers WHERE id = ANY(%s) AND kind = 'pending' AND group_id IS NOT NULL)",
            (list(ids), list(ids)),
        )

    def lock_accounts(self, ids: Sequence[int]) -> list[Any]:
        return self.run(
            f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
            (list(ids),),
        )

    def pending_status(self, ids: Sequence[int]) -> dict[int, str]:
        rows = self.run("SELECT transfer_id, status FROM ledger_pending WHERE transfer_id = ANY(%s)", (list(ids),))
        return {r[0]: r[1] for r in rows}

    def keys(self, keys: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        rows = self.run(
            "SELECT key, request_hash, transfer_id FROM ledger_idempotency WHERE key = ANY(%s)", (list(keys),)
        )
        return {r[0]: (bytes(r[1]), r[2]) for r in rows}

    def reversed_targets(self, ids: Sequence[int]) -> set[int]:
        rows = self.run("SELECT reverses_id FROM ledger_transfers WHERE reverses_id = ANY(%s)", (list(ids),))
        return {r[0] for r in rows}

    def allocate_ids(self, count: int) -> list[int]:
        rows = self.run("SELECT nextval('ledger_transfers_id_seq') FROM generate_series(1, %s)", (count,))
        return sorted(r[0] for r in rows)

    def write(self, transfers, keys, pending_new, pending_done, totals, now) -> None:  # type: ignore[no-untyped-def]
        run = self.conn.exec_driver_sql
        if transfers:
            cols = list(zip(*transfers, strict=True))
            run(
                f"INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) "
                "SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::bigint[], %s::bigint[], "
                "%s::varchar[], %s::varchar[], %s::json[], %s::bigint[], %s::bigint[], %s::bigint[], "
                "%s::timestamptz[], %s::timestamptz[])",
                tuple(list(c) for c in cols),
            )
        if keys:
            k, h, t = zip(*keys, strict=True)
            try:
                run(
                    "INSERT INTO ledger_idempotency (key, request_hash, transfer_id, created_at) "
                    "SELECT k, h, t, %s FROM unnest(%s::varchar[], %s::bytea[], %s::bigint[]) AS u(k, h, t)",
                    (now, list(k), list(h), list(t)),
                )
            except IntegrityError as exc:
                # Two transactions used one key for requests on disjoint accounts at the same moment:
                # the later one loses here, and its whole transaction must roll back.
                if "pk_ledger_idempotency" in str(exc.orig):
                    raise QianbaoError("IDEMPOTENCY_KEY_REUSED") from exc
                raise
        if pending_new:
            t, at = zip(*pending_new, strict=True)
            run(
                "INSERT INTO ledger_pending (transfer_id, status, timeout_at, resolved_by) "
                "SELECT t, 'pending', at, NULL FROM unnest(%s::bigint[], %s::timestamptz[]) AS u(t, at)",
                (list(t), list(at)),
            )
        if pending_done:
            t, s, b = zip(*pending_done, strict=True)
            run(
                "UPDATE ledger_pending AS p SET status = u.s, resolved_by = u.b "
                "FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[]) AS u(t, s, b) "
                "WHERE p.transfer_id = u.t AND p.status = 'pending'",
                (list(t), list(s), list(b)),
            )
        if totals:
            a, dp, cp, dpe, cpe = zip(*totals, strict=True)
            run(
                "UPDATE ledger_accounts AS a SET debits_posted = u.dp, credits_posted = u.cp, "
                "debits_pending = u.dpe, credits_pending = u.cpe "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS u(id, dp, cp, dpe, cpe) WHERE a.id = u.id",
                (list(a), list(dp), list(cp), list(dpe), list(cpe)),
            )


def store_for(session: Session) -> Store:
    bind = session.get_bind()
    return SqliteStore(session) if bind.dialect.name == "sqlite" else PostgresStore(session)

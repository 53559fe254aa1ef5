"""The ledger's set-based SQL, one implementation per database.

Every statement here works on whole sets (all touched accounts, all new rows of a batch), so a batch
of a thousand transfers costs a handful of round trips. Statements go straight to the driver
connection underneath the caller's SQLAlchemy session (same connection, same transaction): the ORM
and even Core's result rows would cost more per row than the rest of the batch path, and the balance
columns must never sit stale in an identity map.

PostgreSQL: the touched account rows are locked with `SELECT ... ORDER BY id FOR NO KEY UPDATE`
(rows are locked in the order they are returned, so two transactions never wait on each other in a
cycle); everything read after that sees what the previous holder of those locks committed. Arrays
(`= ANY(%s)`, `unnest`) keep the statement text constant, so psycopg prepares each statement once
per connection.

SQLite: the write transaction already began IMMEDIATE (qianbao.db), so it is alone; lists are passed
as one JSON parameter (`json_each`) to stay clear of the bound-variable limit; times are written in
the text form SQLAlchemy uses, so raw and ORM writes compare alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError

# (id, kind, debit, credit, amount, code, reference, user_data json, pending_id, reverses_id,
#  group_id, timeout_at, created_at); the two times are in the database's own form (see db_time).
TransferRow = tuple[int, str, int, int, int, str, str | None, str | None, int | None, int | None,
                    int | None, Any, Any]
# (id, dp, cp, dpe, cpe)
TotalsRow = tuple[int, int, int, int, int]

ACCOUNT_COLUMNS = (
    "id, code, currency, normal_side, no_negative, cap, frozen, closed, "
    "debits_posted, credits_posted, debits_pending, credits_pending, last_transfer_at"
)
REF_COLUMNS = (
    "id, kind, debit_account_id, credit_account_id, amount, code, reference, group_id, timeout_at, reverses_id"
)
TRANSFER_COLUMNS = (
    "id, kind, debit_account_id, credit_account_id, amount, code, reference, user_data, "
    "pending_id, reverses_id, group_id, timeout_at, created_at"
)
_SHORT_COLUMNS = "id, kind, debit_account_id, credit_account_id, amount, code, reference, created_at"


def sqlite_ts(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime stores (UTC, no offset)."""
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


class Store:
    def __init__(self, session: Session) -> None:
        self.raw: Any = session.connection().connection.driver_connection

    def db_time(self, value: datetime | None) -> Any:
        return value

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
        pending_new: list[tuple[int, Any]],
        pending_done: list[tuple[int, str, int]],
        totals: list[TotalsRow],
        stamp: Any,
    ) -> None: ...


class SqliteStore(Store):
    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.raw.execute(sql, params).fetchall()

    def db_time(self, value: datetime | None) -> Any:
        return sqlite_ts(value)

    def referenced(self, ids: Sequence[int]) -> list[Any]:
        # The named transfers, plus every hold of the groups they belong to (a group resolves as one).
        each = json.dumps(list(ids))
        return self._q(
            f"SELECT {REF_COLUMNS} FROM ledger_transfers WHERE id IN (SELECT value FROM json_each(?)) "
            f"UNION SELECT {REF_COLUMNS} FROM ledger_transfers WHERE kind = 'pending' AND group_id IN "
            "(SELECT group_id FROM ledger_transfers WHERE id IN (SELECT value FROM json_each(?)) "
            "AND kind = 'pending' AND group_id IS NOT NULL)",
            (each, each),
        )

    def lock_accounts(self, ids: Sequence[int]) -> list[Any]:
        return self._q(
            f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )

    def pending_status(self, ids: Sequence[int]) -> dict[int, str]:
        rows = self._q(
            "SELECT transfer_id, status FROM ledger_pending WHERE transfer_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        return dict(rows)

    def keys(self, keys: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        rows = self._q(
            "SELECT key, request_hash, transfer_id FROM ledger_idempotency "
            "WHERE key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(keys)),),
        )
        return {r[0]: (bytes(r[1]), r[2]) for r in rows}

    def reversed_targets(self, ids: Sequence[int]) -> set[int]:
        rows = self._q(
            "SELECT reverses_id FROM ledger_transfers WHERE reverses_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        return {r[0] for r in rows}

    def allocate_ids(self, count: int) -> list[int]:
        # Alone in the database (BEGIN IMMEDIATE), so the next ids are simply the ones after the largest.
        top = self._q("SELECT COALESCE(MAX(id), 0) FROM ledger_transfers")[0][0]
        return list(range(top + count, top, -1))

    def write(self, transfers, keys, pending_new, pending_done, totals, stamp) -> None:  # type: ignore[no-untyped-def]
        run = self.raw.executemany
        if transfers:
            # Most rows are plain transfers: leaving their empty columns out of the statement is cheaper.
            short = [(*r[:7], r[12]) for r in transfers if r[7] is None and r[8] is None and r[9] is None
                     and r[10] is None and r[11] is None]
            if short:
                run(f"INSERT INTO ledger_transfers ({_SHORT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", short)
            if len(short) < len(transfers):
                run(
                    f"INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [r for r in transfers if not (r[7] is None and r[8] is None and r[9] is None
                                                  and r[10] is None and r[11] is None)],
                )
        if keys:
            run(
                "INSERT INTO ledger_idempotency (key, request_hash, transfer_id, created_at) VALUES (?,?,?,?)",
                [(k, h, t, stamp) for k, h, t in keys],
            )
        if pending_new:
            run(
                "INSERT INTO ledger_pending (transfer_id, status, timeout_at, resolved_by) "
                "VALUES (?, 'pending', ?, NULL)",
                pending_new,
            )
        if pending_done:
            run(
                "UPDATE ledger_pending SET status = ?, resolved_by = ? WHERE transfer_id = ? AND status = 'pending'",
                [(status, by, tid) for tid, status, by in pending_done],
            )
        if totals:
            run(
                "UPDATE ledger_accounts SET debits_posted = ?, credits_posted = ?, debits_pending = ?, "
                "credits_pending = ?, last_transfer_at = ? WHERE id = ?",
                [(dp, cp, dpe, cpe, stamp, aid) for aid, dp, cp, dpe, cpe in totals],
            )


# From this many rows on, PostgreSQL gets them by binary COPY (one stream, no per-row statement);
# below it, one INSERT ... SELECT FROM unnest(...) is quicker than setting up a COPY.
COPY_FROM = 32
_TRANSFER_TYPES = ["int8", "varchar", "int8", "int8", "int8", "varchar", "varchar", "text", "int8", "int8", "int8",
                   "timestamptz", "timestamptz"]


class PostgresStore(Store):
    # Parameters go in binary (%b): arrays of thousands of ids cost far less to send and to parse.
    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.raw.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _x(self, sql: str, params: Sequence[Any]) -> None:
        with self.raw.cursor() as cur:
            cur.execute(sql, params)

    def _copy(self, table_columns: str, types: list[str], rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur, cur.copy(f"COPY {table_columns} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def referenced(self, ids: Sequence[int]) -> list[Any]:
        return self._q(
            f"SELECT {REF_COLUMNS} FROM ledger_transfers WHERE id = ANY(%b::int8[]) "
            f"UNION SELECT {REF_COLUMNS} FROM ledger_transfers WHERE kind = 'pending' AND group_id IN "
            "(SELECT group_id FROM ledger_transfers WHERE id = ANY(%b::int8[]) AND kind = 'pending' "
            "AND group_id IS NOT NULL)",
            (list(ids), list(ids)),
        )

    def lock_accounts(self, ids: Sequence[int]) -> list[Any]:
        return self._q(
            f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY(%b::int8[]) ORDER BY id FOR NO KEY UPDATE",
            (list(ids),),
        )

    def pending_status(self, ids: Sequence[int]) -> dict[int, str]:
        return dict(self._q("SELECT transfer_id, status FROM ledger_pending WHERE transfer_id = ANY(%b::int8[])",
                            (list(ids),)))

    def keys(self, keys: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        rows = self._q(
            "SELECT key, request_hash, transfer_id FROM ledger_idempotency WHERE key = ANY(%b::varchar[])",
            (list(keys),),
        )
        return {r[0]: (bytes(r[1]), r[2]) for r in rows}

    def reversed_targets(self, ids: Sequence[int]) -> set[int]:
        rows = self._q("SELECT reverses_id FROM ledger_transfers WHERE reverses_id = ANY(%b::int8[])", (list(ids),))
        return {r[0] for r in rows}

    def allocate_ids(self, count: int) -> list[int]:
        rows = self._q("SELECT nextval('ledger_transfers_id_seq') FROM generate_series(1, %b::int4)", (count,))
        return sorted((r[0] for r in rows), reverse=True)

    def write(self, transfers, keys, pending_new, pending_done, totals, stamp) -> None:  # type: ignore[no-untyped-def]
        import psycopg

        if len(transfers) >= COPY_FROM:
            self._copy(f"ledger_transfers ({TRANSFER_COLUMNS})", _TRANSFER_TYPES, transfers)
        elif transfers:
            cols = list(zip(*transfers, strict=True))
            self._x(
                f"INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) "
                "SELECT * FROM unnest(%b::int8[], %b::varchar[], %b::int8[], %b::int8[], %b::int8[], "
                "%b::varchar[], %b::varchar[], %b::text[]::json[], %b::int8[], %b::int8[], %b::int8[], "
                "%b::timestamptz[], %b::timestamptz[])",
                [list(c) for c in cols],
            )
        if keys:
            try:
                if len(keys) >= COPY_FROM:
                    self._copy("ledger_idempotency (key, request_hash, transfer_id, created_at)",
                               ["varchar", "bytea", "int8", "timestamptz"], [(k, h, t, stamp) for k, h, t in keys])
                else:
                    k, h, t = zip(*keys, strict=True)
                    self._x(
                        "INSERT INTO ledger_idempotency (key, request_hash, transfer_id, created_at) "
                        "SELECT k, h, t, %b FROM unnest(%b::varchar[], %b::bytea[], %b::int8[]) AS u(k, h, t)",
                        (stamp, list(k), list(h), list(t)),
                    )
            except psycopg.errors.UniqueViolation as exc:
                # Two transactions used one key for requests on disjoint accounts at the same moment:
                # the later one loses here, and its whole transaction must roll back.
                raise QianbaoError("IDEMPOTENCY_KEY_REUSED") from exc
        if pending_new:
            t, at = zip(*pending_new, strict=True)
            self._x(
                "INSERT INTO ledger_pending (transfer_id, status, timeout_at, resolved_by) "
                "SELECT t, 'pending', at, NULL FROM unnest(%b::int8[], %b::timestamptz[]) AS u(t, at)",
                (list(t), list(at)),
            )
        if pending_done:
            t, s, b = zip(*pending_done, strict=True)
            self._x(
                "UPDATE ledger_pending AS p SET status = u.s, resolved_by = u.b "
                "FROM unnest(%b::int8[], %b::varchar[], %b::int8[]) AS u(t, s, b) "
                "WHERE p.transfer_id = u.t AND p.status = 'pending'",
                (list(t), list(s), list(b)),
            )
        if totals:
            a, dp, cp, dpe, cpe = zip(*totals, strict=True)
            self._x(
                "UPDATE ledger_accounts AS a SET debits_posted = u.dp, credits_posted = u.cp, "
                "debits_pending = u.dpe, credits_pending = u.cpe, last_transfer_at = %b "
                "FROM unnest(%b::int8[], %b::int8[], %b::int8[], %b::int8[], %b::int8[]) "
                "AS u(id, dp, cp, dpe, cpe) WHERE a.id = u.id",
                (stamp, list(a), list(dp), list(cp), list(dpe), list(cpe)),
            )


def store_for(session: Session) -> Store:
    bind = session.get_bind()
    return SqliteStore(session) if bind.dialect.name == "sqlite" else PostgresStore(session)

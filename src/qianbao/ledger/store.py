"""The ledger's set-based SQL, one implementation per database.

Every statement here works on whole sets (all touched accounts, all new rows of a batch), so a batch
of a thousand transfers costs a handful of round trips. Statements go straight to the driver
connection underneath the caller's SQLAlchemy session (same connection, same transaction): the ORM
and even Core's result rows would cost more per row than the rest of the batch path, and the balance
columns must never sit stale in an identity map.

PostgreSQL: the touched account rows are locked with `SELECT ... ORDER BY id FOR NO KEY UPDATE`
(rows are locked in the order they are returned, so two transactions never wait on each other in a
cycle); the reads that need the lock follow it, each as its own statement so that it sees what the
previous holder of those locks committed. Everything a call
writes then goes in one statement of data-modifying CTEs: spelled out as VALUES for a few rows,
as arrays for more, and by binary COPY for the journal and key rows of a big batch.

SQLite: the write transaction already began IMMEDIATE (qianbao.db), so it is alone; lists are passed
as one JSON parameter (`json_each`) to stay clear of the bound-variable limit; times are written in
the text form SQLAlchemy uses, so raw and ORM writes compare alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError

# (id, kind, debit, credit, amount, code, reference, user_data json, pending_id, reverses_id,
#  group_id, timeout_at, created_at); the two times are in the database's own form (see db_time).
TransferRow = tuple[int, str, int, int, int, str, str | None, str | None, int | None, int | None,
                    int | None, Any, Any]
# (id, dp, cp, dpe, cpe)
TotalsRow = tuple[int, int, int, int, int]
# (key, request hash, transfer id)
KeyRow = tuple[str, bytes, int]
UnderLock = tuple[list[Any], dict[int, str], set[int], dict[str, tuple[bytes, int]], list[int]]

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
    # Whether write_claiming_key exists (see Batch._run_optimistic).
    claims_keys = False

    def __init__(self, session: Session) -> None:
        self.raw: Any = session.connection().connection.driver_connection

    def db_time(self, value: datetime | None) -> Any:
        return value

    def under_lock(
        self, account_ids: Sequence[int], holds: Sequence[int], reversal_targets: Sequence[int],
        keys: Sequence[str], id_count: int,
    ) -> UnderLock:
        """Lock the accounts, then read hold states, earlier reversals, known keys, and take new ids."""
        rows = self.lock_accounts(account_ids)
        return (
            rows,
            self.pending_status(holds) if holds else {},
            self.reversed_targets(reversal_targets) if reversal_targets else set(),
            self.keys(keys) if keys else {},
            self.allocate_ids(id_count),
        )

    def referenced(self, ids: Sequence[int]) -> list[Any]:
        raise NotImplementedError

    def lock_accounts(self, ids: Sequence[int]) -> list[Any]:
        raise NotImplementedError

    def pending_status(self, ids: Sequence[int]) -> dict[int, str]:
        raise NotImplementedError

    def keys(self, keys: Sequence[str]) -> dict[str, tuple[bytes, int]]:
        raise NotImplementedError

    def reversed_targets(self, ids: Sequence[int]) -> set[int]:
        raise NotImplementedError

    def allocate_ids(self, count: int) -> list[int]:
        raise NotImplementedError

    def write(
        self,
        transfers: list[TransferRow],
        keys: list[KeyRow],
        pending_new: list[tuple[int, Any]],
        pending_done: list[tuple[int, str, int]],
        totals: list[TotalsRow],
        stamp: Any,
    ) -> None:
        raise NotImplementedError

    def write_claiming_key(self, row: TransferRow, key_row: KeyRow, totals: list[TotalsRow], stamp: Any) -> int | None:
        raise NotImplementedError


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

    def write(
        self,
        transfers: list[TransferRow],
        keys: list[KeyRow],
        pending_new: list[tuple[int, Any]],
        pending_done: list[tuple[int, str, int]],
        totals: list[TotalsRow],
        stamp: Any,
    ) -> None:
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
    claims_keys = True

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

    def under_lock(
        self, account_ids: Sequence[int], holds: Sequence[int], reversal_targets: Sequence[int],
        keys: Sequence[str], id_count: int,
    ) -> UnderLock:
        # Separate statements after the lock, so each takes its snapshot once the lock is held and sees
        # the last holder's commit (one statement would not: its snapshot predates the wait). Plain
        # round trips rather than a psycopg pipeline: on a busy two-core machine the pipeline's extra
        # client CPU cost more than the round trips it saved.
        with self.raw.cursor() as cur:
            rows: list[Any] = []
            if account_ids:
                cur.execute(
                    f"SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id {_any(len(account_ids), 'int8')} "
                    "ORDER BY id FOR NO KEY UPDATE",
                    _flat(account_ids),
                )
                rows = cur.fetchall()
            status: dict[int, str] = {}
            if holds:
                cur.execute("SELECT transfer_id, status FROM ledger_pending WHERE transfer_id = ANY(%b::int8[])",
                            (list(holds),))
                status = dict(cur.fetchall())
            reversed_: set[int] = set()
            if reversal_targets:
                cur.execute("SELECT reverses_id FROM ledger_transfers WHERE reverses_id = ANY(%b::int8[])",
                            (list(reversal_targets),))
                reversed_ = {r[0] for r in cur.fetchall()}
            found: dict[str, tuple[bytes, int]] = {}
            ids: list[int] = []
            if not keys and not id_count:
                return rows, status, reversed_, found, ids
            # The known keys and the new ids in one statement (rows without a key carry an id).
            key_filter = f"key {_any(len(keys), 'varchar')}" if keys else "false"
            cur.execute(
                f"SELECT key, request_hash, transfer_id FROM ledger_idempotency WHERE {key_filter} UNION ALL "
                "SELECT NULL, NULL, nextval('ledger_transfers_id_seq') FROM generate_series(1, %b::int4)",
                (*_flat(keys), id_count),
            )
            for key, digest, number in cur.fetchall():
                if key is None:
                    ids.append(number)
                else:
                    found[key] = (bytes(digest), number)
        ids.sort(reverse=True)
        return rows, status, reversed_, found, ids

    def write(
        self,
        transfers: list[TransferRow],
        keys: list[KeyRow],
        pending_new: list[tuple[int, Any]],
        pending_done: list[tuple[int, str, int]],
        totals: list[TotalsRow],
        stamp: Any,
    ) -> None:
        try:
            if len(transfers) >= COPY_FROM:
                self._copy(f"ledger_transfers ({TRANSFER_COLUMNS})", _TRANSFER_TYPES, transfers)
                self._copy("ledger_idempotency (key, request_hash, transfer_id, created_at)",
                           ["varchar", "bytea", "int8", "timestamptz"], [(k, h, t, stamp) for k, h, t in keys])
                transfers, keys = [], []
            if len(transfers) + len(keys) + len(pending_new) + len(pending_done) + len(totals) <= SMALL_WRITE:
                sql, params = _small_write(transfers, keys, pending_new, pending_done, totals, stamp)
                if sql:
                    self._x(sql, params)
            else:
                self._x(_WRITE, _write_params(transfers, keys, pending_new, pending_done, totals, stamp))
        except psycopg.errors.UniqueViolation as exc:
            if "pk_ledger_idempotency" not in str(exc):
                raise
            # Two transactions used one key for requests on disjoint accounts at the same moment:
            # the later one loses here, and its whole transaction must roll back.
            raise QianbaoError("IDEMPOTENCY_KEY_REUSED") from exc


    def write_claiming_key(self, row: TransferRow, key_row: KeyRow, totals: list[TotalsRow], stamp: Any) -> int | None:
        """Write one plain transfer if its key is new; return its id, or None (nothing written) if not."""
        _tid, _kind, debit, credit, amount, code, reference = row[:7]
        key, digest, _ = key_row
        params: list[Any] = [key, digest, stamp, debit, credit, amount, code, reference, stamp]
        for totals_row in totals:
            params += (*totals_row, stamp)
        with self.raw.cursor() as cur:
            cur.execute(_claiming_sql(len(totals)), params)
            found = cur.fetchone()
        return None if found is None else int(found[0])


@lru_cache(maxsize=4)
def _claiming_sql(na: int) -> str:
    row = "(%b::int8, %b::int8, %b::int8, %b::int8, %b::int8, %b::timestamptz)"
    return (
        "WITH i AS (SELECT nextval('ledger_transfers_id_seq') AS id), "
        "k AS (INSERT INTO ledger_idempotency (key, request_hash, transfer_id, created_at) "
        "SELECT %b::varchar, %b::bytea, i.id, %b::timestamptz FROM i "
        "ON CONFLICT (key) DO NOTHING RETURNING transfer_id), "
        f"t AS (INSERT INTO ledger_transfers ({_SHORT_COLUMNS}) SELECT k.transfer_id, 'posted', %b::int8, %b::int8, "
        "%b::int8, %b::varchar, %b::varchar, %b::timestamptz FROM k), "
        "a AS (UPDATE ledger_accounts AS a SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dpe, "
        f"credits_pending = u.cpe, last_transfer_at = u.at FROM (VALUES {', '.join([row] * na)}) "
        "AS u(id, dp, cp, dpe, cpe, at) WHERE a.id = u.id AND EXISTS (SELECT 1 FROM k)) "
        "SELECT transfer_id FROM k"
    )


# Everything a call writes, in one statement (data-modifying CTEs): one parse, one round trip, and
# the same text every time so it is prepared once per connection. Empty arrays write nothing.
_WRITE = (
    f"WITH t AS (INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) "
    "SELECT * FROM unnest(%b::int8[], %b::varchar[], %b::int8[], %b::int8[], %b::int8[], %b::varchar[], "
    "%b::varchar[], %b::text[]::json[], %b::int8[], %b::int8[], %b::int8[], %b::timestamptz[], %b::timestamptz[])), "
    "k AS (INSERT INTO ledger_idempotency (key, request_hash, transfer_id, created_at) "
    "SELECT u.k, u.h, u.t, %b FROM unnest(%b::varchar[], %b::bytea[], %b::int8[]) AS u(k, h, t)), "
    "n AS (INSERT INTO ledger_pending (transfer_id, status, timeout_at, resolved_by) "
    "SELECT u.t, 'pending', u.at, NULL FROM unnest(%b::int8[], %b::timestamptz[]) AS u(t, at)), "
    "d AS (UPDATE ledger_pending AS p SET status = u.s, resolved_by = u.b "
    "FROM unnest(%b::int8[], %b::varchar[], %b::int8[]) AS u(t, s, b) "
    "WHERE p.transfer_id = u.t AND p.status = 'pending'), "
    "a AS (UPDATE ledger_accounts AS a SET debits_posted = u.dp, credits_posted = u.cp, "
    "debits_pending = u.dpe, credits_pending = u.cpe, last_transfer_at = %b "
    "FROM unnest(%b::int8[], %b::int8[], %b::int8[], %b::int8[], %b::int8[]) AS u(id, dp, cp, dpe, cpe) "
    "WHERE a.id = u.id) "
    "SELECT 1"
)


# Up to this many rows in all, a call's writes are spelled out as VALUES lists with one parameter per
# value: psycopg adapts a Python list to an array in Python, which costs a single transfer more than
# the whole statement does on the server. The statement's text depends only on the counts, so the few
# shapes a single transfer produces are each prepared once.
SMALL_WRITE = 24
_SMALL_LIST = 16


def _any(count: int, sql_type: str) -> str:
    if count <= _SMALL_LIST:
        return "IN (" + ", ".join([f"%b::{sql_type}"] * count) + ")"
    return f"= ANY(%b::{sql_type}[])"


def _flat(values: Sequence[Any]) -> list[Any]:
    return list(values) if len(values) <= _SMALL_LIST else [list(values)]


_T_TYPES = ("int8", "varchar", "int8", "int8", "int8", "varchar", "varchar", "text", "int8", "int8", "int8",
            "timestamptz", "timestamptz")


@lru_cache(maxsize=64)
def _small_write_sql(nt: int, nk: int, nn: int, nd: int, na: int) -> str:
    def values(count: int, types: Sequence[str]) -> str:
        row = "(" + ", ".join(f"%b::{t}" for t in types) + ")"
        return ", ".join([row] * count)

    parts = []
    if nt:
        parts.append(f"t AS (INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) "
                     f"SELECT c1, c2, c3, c4, c5, c6, c7, c8::json, c9, c10, c11, c12, c13 FROM (VALUES "
                     f"{values(nt, _T_TYPES)}) AS v(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13))")
    if nk:
        parts.append("k AS (INSERT INTO ledger_idempotency (key, request_hash, transfer_id, created_at) VALUES "
                     f"{values(nk, ('varchar', 'bytea', 'int8', 'timestamptz'))})")
    if nn:
        parts.append("n AS (INSERT INTO ledger_pending (transfer_id, status, timeout_at, resolved_by) "
                     f"SELECT t, 'pending', at, NULL FROM (VALUES {values(nn, ('int8', 'timestamptz'))}) AS v(t, at))")
    if nd:
        parts.append("d AS (UPDATE ledger_pending AS p SET status = u.s, resolved_by = u.b FROM (VALUES "
                     f"{values(nd, ('int8', 'varchar', 'int8'))}) AS u(t, s, b) "
                     "WHERE p.transfer_id = u.t AND p.status = 'pending')")
    if na:
        parts.append("a AS (UPDATE ledger_accounts AS a SET debits_posted = u.dp, credits_posted = u.cp, "
                     "debits_pending = u.dpe, credits_pending = u.cpe, last_transfer_at = u.at FROM (VALUES "
                     f"{values(na, ('int8', 'int8', 'int8', 'int8', 'int8', 'timestamptz'))}) "
                     "AS u(id, dp, cp, dpe, cpe, at) WHERE a.id = u.id)")
    return "WITH " + ", ".join(parts) + " SELECT 1" if parts else ""


def _small_write(*args: Any) -> tuple[str, list[Any]]:
    transfers, keys, pending_new, pending_done, totals, stamp = args
    params: list[Any] = []
    for row in transfers:
        params += row
    for k, h, t in keys:
        params += (k, h, t, stamp)
    for row in pending_new:
        params += row
    for row in pending_done:
        params += row
    for row in totals:
        params += (*row, stamp)
    sql = _small_write_sql(len(transfers), len(keys), len(pending_new), len(pending_done), len(totals))
    return sql, params


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _write_params(*args: Any) -> list[Any]:
    transfers, keys, pending_new, pending_done, totals, stamp = args
    return [
        *_columns(transfers, 13),
        stamp, *_columns(keys, 3),
        *_columns(pending_new, 2),
        *(_columns([(t, s, b) for t, s, b in pending_done], 3)),
        stamp, *_columns(totals, 5),
    ]


def store_for(session: Session) -> Store:
    bind = session.get_bind()
    return SqliteStore(session) if bind.dialect.name == "sqlite" else PostgresStore(session)

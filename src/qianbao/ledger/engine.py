"""create_transfers: the one path by which money moves in the ledger.

A call goes through five steps, whatever its size:

1. check every request on its own (amounts, keys, codes...) and cut the list into linked chains;
2. read the transfers the requests name (holds to post or void, transfers to reverse);
3. lock every touched account row (in id order), then read what only the lock makes stable: hold
   states, idempotency keys, earlier reversals;
4. apply chain after chain to in-memory copies of the account totals, enforcing the balance bounds,
   and roll a chain back in memory when any of its items fails;
5. write everything the successful chains produced in a few set-based statements.

Nothing is written for a refused item, and a chain is all-or-nothing. The caller's transaction makes
the whole call atomic with whatever else the caller writes.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from operator import itemgetter
from typing import Any

from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError
from qianbao.ledger.config import MAX_BATCH
from qianbao.ledger.models import as_utc
from qianbao.ledger.store import Store, TransferRow, store_for
from qianbao.ledger.types import ItemResult, NewTransfer, Request, Reverse
from qianbao.ledger.validate import (
    KEY_MAX_LENGTH,
    KNOWN_CODES,
    MAX_FEN,
    REFERENCE_MAX_LENGTH,
    canonical,
    request_hash,
)


@dataclass(frozen=True, slots=True)
class Expire:
    """Internal: void a hold whose timeout has passed (the sweep's request; it carries no client key)."""

    pending_id: int
    key: str = ""
    linked: bool = False


class _Account:
    __slots__ = (
        "cap",
        "closed",
        "code",
        "cp",
        "cpe",
        "credit_normal",
        "currency",
        "dp",
        "dpe",
        "frozen",
        "id",
        "last",
        "no_negative",
        "start",
    )

    def __init__(self, row: Any) -> None:
        (self.id, self.code, self.currency, side, no_negative, self.cap, frozen, closed,
         self.dp, self.cp, self.dpe, self.cpe, self.last) = row
        self.credit_normal = side == "credit"
        self.no_negative = bool(no_negative)
        self.frozen = bool(frozen)
        self.closed = bool(closed)
        self.start = (self.dp, self.cp, self.dpe, self.cpe)

    def totals(self) -> tuple[int, int, int, int]:
        return (self.dp, self.cp, self.dpe, self.cpe)


class _Ref:
    """A transfer named by a request (read before the locks; journal rows never change)."""

    __slots__ = ("amount", "code", "credit", "debit", "group_id", "id", "kind", "reference", "reverses_id",
                 "timeout_at")

    def __init__(self, row: Any) -> None:
        (self.id, self.kind, self.debit, self.credit, self.amount, self.code, self.reference, self.group_id,
         timeout_at, self.reverses_id) = row
        self.timeout_at = as_utc(timeout_at)


class _ChainFailed(Exception):
    def __init__(self, position: int, error: QianbaoError) -> None:
        self.position = position
        self.error = error


class Batch:
    """One create_transfers call. Also remembers the rows it wrote so callers can return them."""

    def __init__(self, session: Session, items: list[Request | Expire], now: datetime | None,
                 *, optimistic: bool = True) -> None:
        self.session = session
        self.optimistic = optimistic
        self.items = items
        self.given_now = now
        self.results = [ItemResult(i, getattr(it, "key", "")) for i, it in enumerate(items)]
        self.rows: dict[int, TransferRow] = {}  # item index -> the transfer row it created
        self.store: Store
        self.accounts: dict[int, _Account] = {}
        self.lean: dict[int, list[Any]] | None = None  # the accounts while `_lean` runs
        self.refs: dict[int, _Ref] = {}
        self.status: dict[int, str] = {}
        self.reversed: set[int] = set()
        self.known_keys: dict[str, tuple[bytes, int]] = {}
        self.ids: list[int] = []
        self.now = datetime.now(UTC)
        self.stamp: Any = None
        # Write buffers.
        self.transfers: list[TransferRow] = []
        self.key_rows: list[tuple[str, bytes, int]] = []
        self.pending_new: list[tuple[int, Any]] = []
        self.pending_done: list[tuple[int, str, int]] = []

    # ------------------------------------------------------------------------------------------ driver

    def run(self) -> list[ItemResult]:
        items = self.items
        if not items:
            raise QianbaoError("LEDGER_BATCH_EMPTY")
        if len(items) > MAX_BATCH:
            raise QianbaoError("LEDGER_BATCH_TOO_LARGE", max=MAX_BATCH, count=len(items))
        # Cut into chains and validate. A lone one-phase transfer of the usual shape is checked inline
        # here (it is most of any bulk load); everything else goes through `_static`.
        live: list[tuple[list[int], list[tuple[Any, ...]]]] = []
        seen: set[str] = set()
        plain: list[tuple[int, tuple[Any, ...]]] = []  # (item index, form), kept in batch order by `order`
        order: list[int] = []  # for each live entry: >= 0 index into `plain`, < 0 -> -1 - index into `live`
        known_codes = KNOWN_CODES
        current: list[int] = []
        # Gathered for the plain items on the way: the accounts to lock and the keys to look up.
        account_ids: set[int] = set()
        add_account = account_ids.add
        keys: list[str] = []
        add_key = keys.append
        add_seen = seen.add
        add_plain = plain.append
        add_order = order.append
        for i, item in enumerate(items):
            if not current and type(item) is NewTransfer and not item.linked:
                key, debit, credit, amount, code, reference = (
                    item.key, item.debit, item.credit, item.amount, item.code, item.reference)
                if (type(key) is str and 0 < len(key) <= KEY_MAX_LENGTH and key not in seen and type(debit) is int
                        and type(credit) is int and 0 < debit != credit > 0 and type(amount) is int
                        and 0 < amount <= MAX_FEN and code in known_codes and item.user_data is None
                        and item.pending is False and item.timeout is None
                        and (reference is None or (type(reference) is str and len(reference) <= REFERENCE_MAX_LENGTH))
                        and not key.isspace()):
                    add_seen(key)
                    add_order(len(plain))
                    add_plain((i, ("T", debit, credit, amount, code, reference, None, False, None)))
                    add_account(debit)
                    add_account(credit)
                    add_key(key)
                    continue
            current.append(i)
            if not item.linked:
                forms = self._static(current, seen)
                if forms is not None:
                    order.append(-1 - len(live))
                    live.append((current, forms))
                current = []
        if current:
            self._fail(current, len(current) - 1, QianbaoError("LEDGER_LINKED_CHAIN_OPEN"))
        if not live and not plain:
            return self.results

        self.session.flush()
        self.store = store_for(self.session)
        ref_ids = {f[1] for _, forms in live for f in forms if f[0] in "PVRE"}
        if ref_ids:
            for row in self.store.referenced(sorted(ref_ids)):
                ref = _Ref(row)
                self.refs[ref.id] = ref
        for _, forms in live:
            for f in forms:
                if f[0] == "T":
                    account_ids.add(f[1])
                    account_ids.add(f[2])
        for ref in self.refs.values():
            account_ids.add(ref.debit)
            account_ids.add(ref.credit)

        holds = [r.id for r in self.refs.values() if r.kind == "pending"]
        reversal_targets = [f[1] for _, forms in live for f in forms if f[0] == "R"]
        keys += [items[i].key for chain, _ in live for i in chain if not isinstance(items[i], Expire)]
        id_count = len(plain) + sum(len(c) for c, _ in live) + len(holds)
        # One plain transfer on PostgreSQL: instead of looking its key up first, the write claims the key
        # (INSERT ... ON CONFLICT DO NOTHING) and writes the rest only if the claim succeeded. A known key
        # (a retry, or a misuse) then takes the general path, which answers it. One statement fewer for
        # the most common call there is.
        optimistic = self.optimistic and self.store.claims_keys and len(plain) == 1 and not live
        if optimistic:
            keys, id_count = [], 0

        # Lock the accounts, then read what only the locks make stable.
        rows, self.status, self.reversed, self.known_keys, self.ids = self.store.under_lock(
            sorted(account_ids), holds, reversal_targets, keys, id_count)
        latest = max(filter(None, map(_LAST_TRANSFER_AT, rows)), default=None)
        # An account's journal never goes back in time, even if this clock is behind the last writer's.
        now = self.given_now or datetime.now(UTC)
        latest_at = as_utc(latest)
        self.now = latest_at if latest_at is not None and latest_at > now else now
        self.stamp = self.store.db_time(self.now)

        if optimistic:
            self.accounts = {row[0]: _Account(row) for row in rows}
            return self._run_optimistic(*plain[0])

        # The plain items at the head of the batch (usually all of it) go through `_lean`; from the
        # first item it cannot take, the general way below carries on with the same account totals.
        done = self._lean(plain, order, rows) if plain and order[0] >= 0 else 0
        if done < len(order):
            self._materialise(rows)
        else:
            self.store.write(self.transfers, self.key_rows, self.pending_new, self.pending_done,
                             self._lean_totals(rows), self.stamp)
            return self.results

        apply_plain = self._apply_plain
        for entry in order[done:]:
            if entry >= 0:
                i, f = plain[entry]
            else:
                chain, forms = live[-1 - entry]
                if len(chain) > 1 or forms[0][0] != "T" or forms[0][7]:
                    self._apply_chain(chain, forms)
                    continue
                i, f = chain[0], forms[0]
            if not apply_plain(i, f):
                self._apply_chain([i], [f])

        self.store.write(self.transfers, self.key_rows, self.pending_new, self.pending_done, self._totals(),
                         self.stamp)
        return self.results

    # ------------------------------------------------------------------------------ the plain fast path
    #
    # Account state as plain lists, indexed as the rows of `ACCOUNT_COLUMNS` are: building a list from
    # a row costs a tenth of building an object, and a bulk load touches two accounts per item.

    def _lean(self, plain: list[tuple[int, tuple[Any, ...]]], order: list[int], rows: list[Any]) -> int:
        """Apply the leading run of plain items; return how many entries of `order` it took.

        Exactly `_apply_plain`'s rules, inlined: it stops, having changed nothing for that item, at the
        first one it cannot take (a known key, a refusal, an unknown, closed or frozen account).
        """
        lean = self.lean = {row[0]: list(row) for row in rows}
        get = lean.get
        known = self.known_keys
        items, results, rows_by_item = self.items, self.results, self.rows
        ids_pop = self.ids.pop
        transfers_add = self.transfers.append
        keys_add = self.key_rows.append
        stamp = self.stamp
        done = 0
        for entry in order:
            if entry < 0:
                break
            i, f = plain[entry]
            key = items[i].key
            if known and key in known:
                break
            _, debit_id, credit_id, amount, code, reference, _, _, _ = f
            d = get(debit_id)
            c = get(credit_id)
            # d/c: [id, code, currency, normal_side, no_negative, cap, frozen, closed, dp, cp, dpe, cpe, last]
            if d is None or c is None or d[7] or c[7] or d[6] or c[6] or d[2] != c[2]:
                break
            dp = d[8] + amount
            cp = c[9] + amount
            exposure = dp + d[10]
            inflow = cp + c[11]
            if exposure > MAX_FEN or inflow > MAX_FEN:
                break
            if d[3] == "credit":
                if d[4] and exposure > d[9]:
                    break
            elif d[5] is not None and exposure - d[9] > d[5]:
                break
            if c[3] == "credit":
                if c[5] is not None and inflow - c[8] > c[5]:
                    break
            elif c[4] and inflow > c[8]:
                break
            d[8] = dp
            c[9] = cp
            tid = ids_pop()
            row = (tid, "posted", debit_id, credit_id, amount, code, reference, None, None, None, None, None, stamp)
            transfers_add(row)
            rows_by_item[i] = row
            # The same bytes as request_hash(f): repr of the canonical tuple, spelled out.
            keys_add((key, blake2b(f"('T', {debit_id}, {credit_id}, {amount}, {code!r}, {reference!r}, None, False, "
                                   "None)".encode(), digest_size=16).digest(), tid))
            results[i].transfer_id = tid
            done += 1
        return done

    def _lean_totals(self, rows: list[Any]) -> list[tuple[int, int, int, int, int]]:
        lean = self.lean
        assert lean is not None
        out = []
        for row in rows:
            a = lean[row[0]]
            if a[8] != row[8] or a[9] != row[9]:
                out.append((a[0], a[8], a[9], a[10], a[11]))
        return out

    def _materialise(self, rows: list[Any]) -> None:
        """Hand the accounts over to the general way, with whatever `_lean` already applied."""
        lean = self.lean
        accounts = self.accounts
        for row in rows:
            account = _Account(row)
            if lean is not None:
                a = lean[row[0]]
                account.dp, account.cp = a[8], a[9]
            accounts[account.id] = account

    def _totals(self) -> list[tuple[int, int, int, int, int]]:
        return [(a.id, a.dp, a.cp, a.dpe, a.cpe) for a in self.accounts.values()
                if (a.dp, a.cp, a.dpe, a.cpe) != a.start]

    def _run_optimistic(self, i: int, f: tuple[Any, ...]) -> list[ItemResult]:
        self.ids = [0]  # a stand-in: the write statement draws the real id
        if self._apply_plain(i, f):
            row = self.transfers[0]
            tid = self.store.write_claiming_key(row, self.key_rows[0], self._totals(), self.stamp)
            if tid is not None:
                row = (tid, *row[1:])
                self.transfers[0] = self.rows[i] = row
                self.results[i].transfer_id = tid
                return self.results
        # A refusal, or a key seen before: the general path looks the key up and answers either.
        general = Batch(self.session, self.items, self.given_now, optimistic=False)
        self.results = general.run()
        self.rows, self.transfers = general.rows, general.transfers
        return self.results

    def _apply_plain(self, i: int, f: tuple[Any, ...]) -> bool:
        """The common case, kept lean: one unlinked one-phase transfer that breaks no rule.

        Returns False, having changed nothing, for anything unusual (a retry, a refusal, an unknown or
        frozen account): the general way then finds the same answer and names the error.
        """
        key = self.items[i].key
        if self.known_keys and key in self.known_keys:
            return False
        _, debit_id, credit_id, amount, code, reference, data, _, _ = f
        d = self.accounts.get(debit_id)
        c = self.accounts.get(credit_id)
        if d is None or c is None or d.closed or c.closed or d.frozen or c.frozen or d.currency != c.currency \
                or data is not None:
            return False
        dp = d.dp + amount
        cp = c.cp + amount
        exposure = dp + d.dpe
        inflow = cp + c.cpe
        if exposure > MAX_FEN or inflow > MAX_FEN \
                or (d.credit_normal and d.no_negative and exposure > d.cp) \
                or (not d.credit_normal and d.cap is not None and exposure - d.cp > d.cap) \
                or (c.credit_normal and c.cap is not None and inflow - c.dp > c.cap) \
                or (not c.credit_normal and c.no_negative and inflow > c.dp):
            return False
        d.dp = dp
        c.cp = cp
        tid = self.ids.pop()
        row = (tid, "posted", debit_id, credit_id, amount, code, reference, None, None, None, None, None,
               self.stamp)
        self.transfers.append(row)
        self.rows[i] = row
        self.key_rows.append((key, blake2b(repr(f).encode(), digest_size=16).digest(), tid))
        self.results[i].transfer_id = tid
        return True

    def _fail(self, chain: list[int], position: int, error: QianbaoError) -> None:
        for p, i in enumerate(chain):
            self.results[i].error = error if p == position else QianbaoError("LEDGER_LINKED_FAILED")

    def _static(self, chain: list[int], seen_keys: set[str]) -> list[tuple[Any, ...]] | None:
        """Validate a chain's items on their own; None when the chain is refused already."""
        forms: list[tuple[Any, ...]] = []
        phase: bool | None = None
        timeout: int | None = None
        for p, i in enumerate(chain):
            item = self.items[i]
            try:
                if isinstance(item, Expire):
                    forms.append(("E", item.pending_id))
                    continue
                form = canonical(item)
                if item.key in seen_keys:
                    raise QianbaoError("LEDGER_BATCH_DUPLICATE_KEY")
                seen_keys.add(item.key)
                if form[0] == "T":
                    # A linked group is all holds (resolved together, so one timeout) or all plain transfers.
                    if phase is None:
                        phase, timeout = form[7], form[8]
                    elif phase != form[7]:
                        raise QianbaoError("LEDGER_GROUP_MIXED")
                    elif form[8] != timeout:
                        raise QianbaoError("LEDGER_GROUP_TIMEOUT_MISMATCH")
                forms.append(form)
            except QianbaoError as error:
                self._fail(chain, p, error)
                return None
        return forms

    # --------------------------------------------------------------------------------------- one chain

    def _apply_chain(self, chain: list[int], forms: list[tuple[Any, ...]]) -> None:
        items = self.items
        # Idempotency: a chain is new (no key known), an exact retry (every key known with this very
        # request), or a misuse of a key (anything else).
        if forms[0][0] != "E":
            single = len(chain) == 1
            hashes = [request_hash(f) if single else request_hash(f, forms, p) for p, f in enumerate(forms)]
            known = [self.known_keys.get(items[i].key) for i in chain]
            if any(k is not None for k in known):
                for p, k in enumerate(known):
                    if k is None or k[0] != hashes[p]:
                        self._fail(chain, p, QianbaoError("IDEMPOTENCY_KEY_REUSED"))
                        return
                for p, i in enumerate(chain):
                    result = self.results[i]
                    result.transfer_id = known[p][1]  # type: ignore[index]
                    result.replayed = True
                return
        else:
            hashes = []

        saved: dict[int, tuple[int, int, int, int]] = {}
        marks = (len(self.transfers), len(self.pending_new), len(self.pending_done), len(self.ids))
        status_before: dict[int, str] = {}
        reversed_here: list[int] = []
        try:
            self._apply_items(chain, forms, saved, status_before, reversed_here)
        except _ChainFailed as failed:
            for aid, totals in saved.items():
                a = self.accounts[aid]
                a.dp, a.cp, a.dpe, a.cpe = totals
            for tid, status in status_before.items():
                self.status[tid] = status
            self.reversed.difference_update(reversed_here)
            del self.transfers[marks[0]:]
            del self.pending_new[marks[1]:]
            del self.pending_done[marks[2]:]
            for i in chain:
                self.rows.pop(i, None)
            self._fail(chain, failed.position, failed.error)
            return
        for p, i in enumerate(chain):
            result = self.results[i]
            row = self.rows.get(i)
            if row is not None:
                result.transfer_id = row[0]
                if hashes:
                    self.key_rows.append((items[i].key, hashes[p], row[0]))

    def _apply_items(
        self,
        chain: list[int],
        forms: list[tuple[Any, ...]],
        saved: dict[int, tuple[int, int, int, int]],
        status_before: dict[int, str],
        reversed_here: list[int],
    ) -> None:
        def touch(account: _Account) -> None:
            if account.id not in saved:
                saved[account.id] = account.totals()

        # Holds of a linked group are resolved together: collect which groups this chain resolves
        # and how, so the members it does not name can follow the named ones.
        group_verb: dict[int, str] = {}
        named: set[int] = set()
        for p, f in enumerate(forms):
            if f[0] in "PVE":
                ref = self.refs.get(f[1])
                if ref is not None and ref.kind == "pending" and ref.group_id is not None:
                    verb = "void" if f[0] == "E" else f[0]
                    if group_verb.setdefault(ref.group_id, verb) != verb:
                        raise _ChainFailed(p, QianbaoError("LEDGER_GROUP_SPLIT", transfer=ref.id))
                    named.add(ref.id)

        new_count = sum(1 for f in forms if f[0] in "TR")
        group_id: int | None = None
        for p, (i, f) in enumerate(zip(chain, forms, strict=True)):
            try:
                kind = f[0]
                if kind == "T":
                    row = self._new(f, touch)
                elif kind == "R":
                    row = self._reverse(self.items[i], f, touch)  # type: ignore[arg-type]
                    reversed_here.append(f[1])
                else:
                    row = self._resolve(kind, f[1], f[2] if kind == "P" else None, touch, status_before)
            except QianbaoError as error:
                raise _ChainFailed(p, error) from None
            if kind in "TR" and new_count > 1:
                if group_id is None:
                    group_id = row[0]
                row = (*row[:10], group_id, *row[11:])  # type: ignore[assignment]
            self.transfers.append(row)
            self.rows[i] = row

        for gid, verb in group_verb.items():
            for ref in self.refs.values():
                if ref.group_id == gid and ref.kind == "pending" and ref.id not in named \
                        and self.status.get(ref.id) == "pending":
                    implicit = "E" if verb == "void" and any(f[0] == "E" for f in forms) else verb[0].upper()
                    try:
                        row = self._resolve(implicit, ref.id, None, touch, status_before)
                    except QianbaoError as error:
                        raise _ChainFailed(len(chain) - 1, error) from None
                    self.transfers.append(row)

    # ------------------------------------------------------------------------------------- the moves

    def _account(self, account_id: int) -> _Account:
        account = self.accounts.get(account_id)
        if account is None:
            raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id))
        if account.closed:
            raise QianbaoError("LEDGER_ACCOUNT_CLOSED", account=account.code)
        return account

    def _open_pair(self, debit_id: int, credit_id: int) -> tuple[_Account, _Account]:
        debit, credit = self._account(debit_id), self._account(credit_id)
        if debit.currency != credit.currency:
            raise QianbaoError("LEDGER_CURRENCY_MISMATCH", debit=debit.currency, credit=credit.currency)
        for account in (debit, credit):
            if account.frozen:
                raise QianbaoError("LEDGER_ACCOUNT_FROZEN", account=account.code)
        return debit, credit

    def _move(self, debit: _Account, credit: _Account, amount: int, pending: bool, touch: Any) -> None:
        """Add a new posting or hold to both sides, refusing what breaks a bound of either account."""
        dp, dpe = (debit.dp, debit.dpe + amount) if pending else (debit.dp + amount, debit.dpe)
        cp, cpe = (credit.cp, credit.cpe + amount) if pending else (credit.cp + amount, credit.cpe)
        if dp + dpe > MAX_FEN or cp + cpe > MAX_FEN:
            raise QianbaoError("LEDGER_BALANCE_OVERFLOW")
        # The debit side: money leaves a credit-normal account, or enters a debit-normal one.
        if debit.credit_normal:
            if debit.no_negative and dp + dpe > debit.cp:
                raise QianbaoError("LEDGER_INSUFFICIENT_FUNDS", account=debit.code)
        elif debit.cap is not None and dp + dpe - debit.cp > debit.cap:
            raise QianbaoError("LEDGER_CAP_EXCEEDED", account=debit.code)
        if credit.credit_normal:
            if credit.cap is not None and cp + cpe - credit.dp > credit.cap:
                raise QianbaoError("LEDGER_CAP_EXCEEDED", account=credit.code)
        elif credit.no_negative and cp + cpe > credit.dp:
            raise QianbaoError("LEDGER_INSUFFICIENT_FUNDS", account=credit.code)
        touch(debit)
        touch(credit)
        debit.dp, debit.dpe = dp, dpe
        credit.cp, credit.cpe = cp, cpe

    def _new(self, f: tuple[Any, ...], touch: Any) -> TransferRow:
        _, debit_id, credit_id, amount, code, reference, data, pending, timeout = f
        debit, credit = self._open_pair(debit_id, credit_id)
        self._move(debit, credit, amount, pending, touch)
        tid = self.ids.pop()
        timeout_at = None
        if pending:
            timeout_at = self.store.db_time(self.now + timedelta(seconds=timeout)) if timeout else None
            self.pending_new.append((tid, timeout_at))
        return (tid, "pending" if pending else "posted", debit_id, credit_id, amount, code, reference, data,
                None, None, None, timeout_at, self.stamp)

    def _reverse(self, item: Reverse, f: tuple[Any, ...], touch: Any) -> TransferRow:
        original = self.refs.get(f[1])
        if original is None:
            raise QianbaoError("LEDGER_TRANSFER_NOT_FOUND", transfer=str(f[1]))
        if original.kind not in ("posted", "post") or original.reverses_id is not None:
            raise QianbaoError("LEDGER_NOT_REVERSIBLE", transfer=original.id)
        if original.id in self.reversed:
            raise QianbaoError("LEDGER_ALREADY_REVERSED", transfer=original.id)
        debit, credit = self._open_pair(original.credit, original.debit)
        self._move(debit, credit, original.amount, False, touch)
        self.reversed.add(original.id)
        tid = self.ids.pop()
        return (tid, "posted", debit.id, credit.id, original.amount, item.code or "reversal",
                item.reference if item.reference is not None else original.reference, None,
                None, original.id, None, None, self.stamp)

    def _resolve(
        self, verb: str, pending_id: int, amount: int | None, touch: Any, status_before: dict[int, str]
    ) -> TransferRow:
        hold = self.refs.get(pending_id)
        if hold is None:
            raise QianbaoError("LEDGER_TRANSFER_NOT_FOUND", transfer=str(pending_id))
        if hold.kind != "pending":
            raise QianbaoError("LEDGER_TRANSFER_NOT_PENDING", transfer=hold.id)
        state = self.status.get(hold.id, "pending")
        if state != "pending":
            raise QianbaoError(_RESOLVED_ERRORS[state], transfer=hold.id)
        expired = hold.timeout_at is not None and self.now >= hold.timeout_at
        if verb == "E":
            if not expired:
                raise QianbaoError("LEDGER_TRANSFER_NOT_PENDING", transfer=hold.id)
        elif expired:
            raise QianbaoError("LEDGER_PENDING_EXPIRED", transfer=hold.id)
        debit, credit = self._account(hold.debit), self._account(hold.credit)
        posted = 0
        if verb == "P":
            posted = hold.amount if amount is None else amount
            if posted > hold.amount:
                raise QianbaoError("LEDGER_POST_EXCEEDS_PENDING", amount=posted, pending=hold.amount)
            for account in (debit, credit):
                if account.frozen:
                    raise QianbaoError("LEDGER_ACCOUNT_FROZEN", account=account.code)
            # A cap lowered while the hold waited still binds the posted balance it would create.
            if credit.credit_normal and credit.cap is not None and credit.cp + posted - credit.dp > credit.cap:
                raise QianbaoError("LEDGER_CAP_EXCEEDED", account=credit.code)
            if not debit.credit_normal and debit.cap is not None and debit.dp + posted - debit.cp > debit.cap:
                raise QianbaoError("LEDGER_CAP_EXCEEDED", account=debit.code)
            if debit.dp + posted > MAX_FEN or credit.cp + posted > MAX_FEN:
                raise QianbaoError("LEDGER_BALANCE_OVERFLOW")
        touch(debit)
        touch(credit)
        debit.dpe -= hold.amount
        credit.cpe -= hold.amount
        debit.dp += posted
        credit.cp += posted
        tid = self.ids.pop()
        if hold.id not in status_before:
            status_before[hold.id] = state
        new_state, kind = _RESOLUTIONS[verb]
        self.status[hold.id] = new_state
        self.pending_done.append((hold.id, new_state, tid))
        return (tid, kind, hold.debit, hold.credit, posted if verb == "P" else hold.amount, hold.code,
                hold.reference, None, hold.id, None, hold.group_id, None, self.stamp)


_RESOLVED_ERRORS = {
    "posted": "LEDGER_PENDING_ALREADY_POSTED",
    "voided": "LEDGER_PENDING_ALREADY_VOIDED",
    "expired": "LEDGER_PENDING_EXPIRED",
}
_RESOLUTIONS = {"P": ("posted", "post"), "V": ("voided", "void"), "E": ("expired", "expire")}


def create_transfers(session: Session, items: list[Request], *, now: datetime | None = None) -> list[ItemResult]:
    """Apply many requests in the caller's transaction, each with its own result (TigerBeetle-style).

    Refused items write nothing; a linked chain is all-or-nothing; an empty or oversized batch is
    refused as a whole (LEDGER_BATCH_EMPTY / LEDGER_BATCH_TOO_LARGE).
    """
    items = list(items)
    if len(items) < _QUIET_GC_FROM or not gc.isenabled():
        return Batch(session, items, now).run()
    # A big batch allocates tens of thousands of tuples and lists, none in a reference cycle; left on,
    # the cyclic collector would walk the whole process several times per batch for nothing (a
    # few ms of every 1,000-item batch). Reference counting still frees everything as usual.
    gc.disable()
    try:
        return Batch(session, items, now).run()
    finally:
        gc.enable()


_QUIET_GC_FROM = 64
_LAST_TRANSFER_AT = itemgetter(12)  # in a row of ACCOUNT_COLUMNS

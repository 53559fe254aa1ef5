"""Opening accounts and changing their flags: cap, frozen, closed.

Flag changes lock the account row like a transfer does, so a freeze and a payment never interleave:
whichever comes second sees the other's result.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from babel.numbers import list_currencies
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.errors import QianbaoError
from qianbao.ledger.models import LedgerAccount
from qianbao.ledger.types import KIND_DEFAULTS, Account, AccountKind
from qianbao.ledger.validate import MAX_FEN

_ACCOUNT_CODE = re.compile(r"[A-Za-z0-9_.:\-]{1,40}")
_PREFIX = {
    AccountKind.CUSTOMER_WALLET: "W",
    AccountKind.MERCHANT: "M",
    AccountKind.BILLER: "B",
    AccountKind.BANK_CLEARING: "BC",
    AccountKind.TELLER_DRAWER: "TD",
    AccountKind.BRANCH_VAULT: "BV",
    AccountKind.FEE_INCOME: "FI",
    AccountKind.PROMOTION_EXPENSE: "PE",
    AccountKind.SUSPENSE: "SU",
}
_COLUMNS = (
    LedgerAccount.id, LedgerAccount.code, LedgerAccount.name, LedgerAccount.kind, LedgerAccount.currency,
    LedgerAccount.normal_side, LedgerAccount.no_negative, LedgerAccount.cap, LedgerAccount.frozen,
    LedgerAccount.closed, LedgerAccount.created_at,
)


def _account(row: Any) -> Account:
    return Account(
        id=row.id, code=row.code, name=row.name, kind=row.kind, currency=row.currency,
        normal_side=row.normal_side, no_negative=bool(row.no_negative), cap=row.cap, frozen=bool(row.frozen),
        closed=bool(row.closed), created_at=row.created_at,
    )


def _kind(kind: Any) -> AccountKind:
    try:
        return AccountKind(kind)
    except ValueError:
        raise QianbaoError("LEDGER_ACCOUNT_KIND_INVALID", kind=str(kind)[:40]) from None


def _currency(currency: Any) -> str:
    if type(currency) is str and len(currency) == 3 and currency.isupper() and currency in list_currencies():
        return currency
    raise QianbaoError("LEDGER_CURRENCY_INVALID", currency=str(currency)[:10])


def _cap(cap: Any) -> int | None:
    if cap is None or (type(cap) is int and 0 <= cap <= MAX_FEN):
        return cap
    raise QianbaoError("LEDGER_CAP_INVALID")


def _values(
    kind: Any, code: str | None, name: str | None, currency: str, no_negative: bool | None, cap: int | None
) -> dict[str, Any]:
    kind = _kind(kind)
    if code is None:
        code = _PREFIX[kind] + secrets.token_hex(8).upper()
    elif type(code) is not str or not _ACCOUNT_CODE.fullmatch(code):
        raise QianbaoError("LEDGER_ACCOUNT_CODE_INVALID")
    if name is not None and (type(name) is not str or len(name) > 100):
        raise QianbaoError("LEDGER_ACCOUNT_NAME_INVALID")
    side, default_no_negative = KIND_DEFAULTS[kind]
    now = datetime.now(UTC)
    cap = _cap(cap)
    return {
        "code": code, "name": name, "kind": kind.value, "currency": _currency(currency), "normal_side": side,
        "no_negative": default_no_negative if no_negative is None else bool(no_negative), "cap": cap,
        "cap_changed_at": now if cap is not None else None, "frozen": False, "closed": False,
        "debits_posted": 0, "credits_posted": 0, "debits_pending": 0, "credits_pending": 0,
        "created_at": now, "closed_at": None, "last_transfer_at": None,
    }


def open_account(
    session: Session,
    kind: AccountKind | str,
    *,
    code: str | None = None,
    name: str | None = None,
    currency: str = "CNY",
    no_negative: bool | None = None,
    cap: int | None = None,
) -> Account:
    """Open an account. `code` is its public number (generated when omitted) and must be unused.

    `no_negative` defaults by kind: wallets, merchants, billers, drawers and vaults may not go below
    zero; clearing, income, expense and suspense accounts may.
    """
    values = _values(kind, code, name, currency, no_negative, cap)
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LedgerAccount)
    row = session.execute(
        insert.values(**values).on_conflict_do_nothing(index_elements=["code"]).returning(*_COLUMNS)
    ).first()
    if row is None:
        raise QianbaoError("LEDGER_ACCOUNT_CODE_TAKEN", account=values["code"])
    return _account(row)


def ensure_account(
    session: Session,
    kind: AccountKind | str,
    code: str,
    *,
    name: str | None = None,
    currency: str = "CNY",
    no_negative: bool | None = None,
) -> Account:
    """The account with this code, opened on first use (for system accounts: fee income, a bank's clearing)."""
    existing = account_by_code(session, code)
    if existing is not None:
        if existing.kind != _kind(kind).value or existing.currency != currency:
            raise QianbaoError("LEDGER_ACCOUNT_CODE_TAKEN", account=code)
        return existing
    values = _values(kind, code, name, currency, no_negative, None)
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LedgerAccount)
    session.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["code"]))
    found = account_by_code(session, code)
    assert found is not None
    return found


def get_account(session: Session, account_id: int) -> Account:
    row = session.execute(select(*_COLUMNS).where(LedgerAccount.id == account_id)).first()
    if row is None:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id))
    return _account(row)


def account_by_code(session: Session, code: str) -> Account | None:
    row = session.execute(select(*_COLUMNS).where(LedgerAccount.code == code)).first()
    return None if row is None else _account(row)


def _change(session: Session, account_id: int, **values: Any) -> Account:
    if type(account_id) is not int:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id)[:40])
    row = session.execute(
        update(LedgerAccount).where(LedgerAccount.id == account_id).values(**values).returning(*_COLUMNS)
    ).first()
    if row is None:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id))
    return _account(row)


def set_cap(session: Session, account_id: int, cap: int | None) -> Account:
    """Set (or with None remove) the ceiling of the account's balance; it binds every later credit.

    Lowering a cap below the current balance is allowed (a tier downgrade only tightens what comes
    next): the account then accepts no credit until its balance is back under the cap.
    """
    return _change(session, account_id, cap=_cap(cap), cap_changed_at=datetime.now(UTC))


def freeze(session: Session, account_id: int) -> Account:
    """A frozen account takes part in no new transfer, post or reversal; its holds can still be voided."""
    return _change(session, account_id, frozen=True)


def unfreeze(session: Session, account_id: int) -> Account:
    return _change(session, account_id, frozen=False)


def close_account(session: Session, account_id: int) -> Account:
    """Close an account for good; only an account with a zero balance and no hold can be closed."""
    if type(account_id) is not int:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id)[:40])
    locked = select(LedgerAccount.code, LedgerAccount.closed, LedgerAccount.debits_posted,
                    LedgerAccount.credits_posted, LedgerAccount.debits_pending, LedgerAccount.credits_pending)
    row = session.execute(locked.where(LedgerAccount.id == account_id).with_for_update()).first()
    if row is None:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_FOUND", account=str(account_id))
    if row.closed:
        raise QianbaoError("LEDGER_ACCOUNT_CLOSED", account=row.code)
    if row.debits_posted != row.credits_posted or row.debits_pending or row.credits_pending:
        raise QianbaoError("LEDGER_ACCOUNT_NOT_EMPTY", account=row.code)
    return _change(session, account_id, closed=True, closed_at=datetime.now(UTC))

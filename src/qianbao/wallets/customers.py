"""Holders and their wallets: look-ups, the per-customer access check, and the steps every opening shares.

Access (SPEC §10): `wallet_for_customer` answers NOT_FOUND for a wallet that exists but belongs to
someone else, exactly as for one that does not exist, so a customer can never learn whether another
person's number is in use. Typed numbers go through `parse_wallet_number` first (WALLET_NUMBER_INVALID).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qianbao import ledger
from qianbao.errors import QianbaoError
from qianbao.identity import ResidentId, resident_id_lookup_hash
from qianbao.ledger import AccountKind
from qianbao.pii.hashing import lookup_hash
from qianbao.wallets import policy
from qianbao.wallets.models import (
    ACTIVE,
    CAUSE_OPENED,
    CLOSED,
    OUTFLOW_ID_CARD_EXPIRED,
    REAL_NAME_NONE,
    REAL_NAME_VERIFIED,
    Customer,
    Wallet,
    WalletTierChange,
)
from qianbao.wallets.numbers import new_wallet_number, parse_wallet_number


def phone_hash(phone_e164: str) -> str:
    return lookup_hash("phone", phone_e164)


def name_hash(name: str) -> str:
    return lookup_hash("name", name)


def get_customer(session: Session, customer_id: int, *, lock: bool = False) -> Customer:
    stmt = select(Customer).where(Customer.id == customer_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    customer = session.scalar(stmt) if type(customer_id) is int else None
    if customer is None:
        raise QianbaoError("NOT_FOUND")
    return customer


def customer_by_phone(session: Session, phone_e164: str) -> Customer | None:
    """The holder registered with this phone number (E.164 from `identity.parse_mobile`), if any."""
    return session.scalar(select(Customer).where(Customer.phone_hash == phone_hash(phone_e164)))


def customer_by_id_number(session: Session, resident_id: ResidentId) -> Customer | None:
    """The holder whose verified real name has this ID number, if any."""
    return session.scalar(select(Customer).where(Customer.id_hash == resident_id_lookup_hash(resident_id)))


def get_wallet(session: Session, wallet_id: int, *, lock: bool = False) -> Wallet:
    stmt = select(Wallet).where(Wallet.id == wallet_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    wallet = session.scalar(stmt) if type(wallet_id) is int else None
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    return wallet


def wallet_of_customer(session: Session, customer_id: int) -> Wallet | None:
    """The customer's wallet (the newest that is not closed), or None."""
    return session.scalar(
        select(Wallet)
        .where(Wallet.customer_id == customer_id, Wallet.status != CLOSED)
        .order_by(Wallet.id.desc())
        .limit(1)
    )


def wallet_by_number(session: Session, text: str) -> Wallet:
    """A wallet by its typed number, for staff: WALLET_NUMBER_INVALID before any look-up, then NOT_FOUND."""
    number = parse_wallet_number(text)
    wallet = session.scalar(select(Wallet).where(Wallet.number == number))
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    return wallet


def wallet_for_customer(session: Session, customer_id: int, wallet_number: str) -> Wallet:
    """The wallet with this number if it is the customer's own; NOT_FOUND otherwise, whether it exists or not."""
    number = parse_wallet_number(wallet_number)
    wallet = session.scalar(select(Wallet).where(Wallet.number == number, Wallet.customer_id == customer_id))
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    return wallet


def new_customer(
    session: Session, phone_e164: str, *, lang: str, channel: str, terms_version: str | None
) -> Customer:
    """Insert a holder; PHONE_ALREADY_REGISTERED when the phone has one (the UNIQUE hash decides races)."""
    now = datetime.now(UTC)
    customer = Customer(
        phone=phone_e164, phone_hash=phone_hash(phone_e164), real_name_status=REAL_NAME_NONE, lang=lang,
        terms_version=terms_version, terms_accepted_at=now if terms_version else None,
        registered_channel=channel, created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(customer)
            session.flush()
    except IntegrityError:
        raise QianbaoError("PHONE_ALREADY_REGISTERED") from None
    return customer


def set_real_name(
    session: Session,
    customer: Customer,
    *,
    name: str,
    resident_id: ResidentId,
    valid_until: date | None,
    channel: str,
) -> None:
    """Record a verified real name; DUPLICATE_REAL_NAME_WALLET when another holder has this ID number.

    The UNIQUE constraint on `customer.id_hash` decides between two concurrent verifications of one
    number. A holder renewing their card keeps their number and gets the new validity; a verified
    holder cannot switch to another number here (REAL_NAME_ID_DIFFERS).
    """
    id_hash = resident_id_lookup_hash(resident_id)
    if customer.id_hash is not None and customer.id_hash != id_hash:
        raise QianbaoError("REAL_NAME_ID_DIFFERS")
    try:
        with session.begin_nested():
            customer.legal_name = name
            customer.name_hash = name_hash(name)
            customer.id_number = resident_id.number
            customer.id_hash = id_hash
            customer.birth_date = resident_id.birth_date
            customer.id_valid_until = valid_until
            customer.real_name_status = REAL_NAME_VERIFIED
            customer.real_name_verified_at = datetime.now(UTC)
            customer.real_name_channel = channel
            session.flush()
    except IntegrityError:
        raise QianbaoError("DUPLICATE_REAL_NAME_WALLET") from None
    lift_expiry_restriction(session, customer.id)


def lift_expiry_restriction(session: Session, customer_id: int) -> int:
    """A new valid ID card was verified: lift the ID-expiry outflow restriction of the customer's wallets."""
    result = session.execute(
        update(Wallet)
        .where(Wallet.customer_id == customer_id, Wallet.outflow_restricted.is_(True),
               Wallet.outflow_restriction_reason == OUTFLOW_ID_CARD_EXPIRED)
        .values(outflow_restricted=False, outflow_restriction_reason=None)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_wallet(
    session: Session,
    customer: Customer,
    *,
    tier: int,
    channel: str,
    branch_id: int | None = None,
    staff_id: int | None = None,
) -> Wallet:
    """A new wallet: a fresh number, a customer_wallet ledger account capped by the tier, the history row."""
    number = new_wallet_number(session)
    account = ledger.open_account(
        session, AccountKind.CUSTOMER_WALLET, code=f"W{number}", no_negative=True,
        cap=policy.balance_cap_for(session, tier),
    )
    now = datetime.now(UTC)
    wallet = Wallet(
        number=number, customer_id=customer.id, tier=tier, status=ACTIVE, outflow_restricted=False,
        ledger_account_id=account.id, opened_channel=channel, opened_branch_id=branch_id,
        opened_by_staff_id=staff_id, opened_at=now,
    )
    session.add(wallet)
    session.flush()
    session.add(WalletTierChange(
        wallet_id=wallet.id, from_tier=None, to_tier=tier, cause=CAUSE_OPENED, by_staff_id=staff_id,
        branch_id=branch_id, channel=channel, changed_at=now,
    ))
    session.flush()
    return wallet

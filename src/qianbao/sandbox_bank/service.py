"""The sandbox bank's rules: cards, binding with the bank's own OTP, vault tokens, debits and credits under
idempotency keys, settlement with failures, signed callbacks and the daily settlement file.

Functions take the SQLAlchemy session first and never commit. Refusals raise `BankError(code, status, params)`;
one whose writes must stay (a wrong OTP counts a try) has `commit=True`, and the app's unit of work commits
before answering with it.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from qianbao.adapters.bank import bins, signing
from qianbao.pii.masking import mask_phone
from qianbao.sandbox_bank.config import Behaviour
from qianbao.sandbox_bank.models import Binding, Callback, Card, Nonce, Operation, SmsMessage, VaultToken

SHANGHAI = ZoneInfo("Asia/Shanghai")
OTP_TRIES = 5
MAX_AMOUNT = 100_000_000_000  # fen: a billion yuan, far above any card's balance
SETTLEMENT_COLUMNS = ("bank_ref", "merchant_key", "reference", "type", "amount_fen", "status", "reason",
                      "completed_at")


class BankError(Exception):
    def __init__(self, code: str, status: int = 422, *, commit: bool = False, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.commit = commit
        self.params = params

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": MESSAGES.get(self.code, self.code), **self.params}


MESSAGES = {
    "CARD_INVALID": "card number fails the Luhn check or has a wrong length",
    "CARD_UNKNOWN": "no such card at this bank",
    "HOLDER_MISMATCH": "holder name or ID number does not match the card",
    "PHONE_MISMATCH": "phone number is not the one on file for the card",
    "CARD_FROZEN": "card is frozen",
    "OTP_WRONG": "wrong verification code",
    "OTP_EXPIRED": "verification code expired",
    "OTP_TOO_MANY_TRIES": "too many wrong codes; start the binding again",
    "BINDING_NOT_FOUND": "no such binding",
    "TOKEN_INVALID": "token unknown or revoked",
    "AMOUNT_INVALID": "amount must be a whole number of fen, 1 or more",
    "IDEMPOTENCY_CONFLICT": "this key was used with a different request",
    "NOT_FOUND": "not found",
    "DATE_INVALID": "date must be YYYY-MM-DD",
    "BAD_REQUEST": "malformed request",
}


def now_utc() -> datetime:
    return datetime.now(UTC)


def _digits(text: str) -> str:
    return "".join(text.split())


def _phone(text: str) -> str:
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def _otp_hash(ref: str, code: str) -> str:
    return hashlib.sha256(f"{ref}:{code}".encode()).hexdigest()


def _ref(prefix: str) -> str:
    stamp = datetime.now(SHANGHAI).strftime("%Y%m%d")
    return f"{prefix}{stamp}{secrets.token_hex(8).upper()}"


# ---- cards ----------------------------------------------------------------------------------------------

def create_card(session: Session, *, holder_name: str, id_number: str, phone: str, bank_code: str = "PSBC",
                card_type: str = "debit", balance: int = 0, number: str | None = None, frozen: bool = False) -> Card:
    """A card at this bank (admin, demo, tests): a number in one of the bank's BIN ranges unless given."""
    if bank_code not in bins.BANKS or card_type not in ("debit", "credit"):
        raise BankError("CARD_UNKNOWN", 422)
    if number is None:
        prefix = bins.prefixes(bank_code, card_type)[0]
        serial = secrets.randbelow(10**9)
        number = bins.card_number(prefix, 19 if card_type == "debit" else 16, serial)
    number = _digits(number)
    if not bins.valid_card_number(number):
        raise BankError("CARD_INVALID", 422)
    if session.scalar(select(Card.id).where(Card.number == number)) is not None:
        raise BankError("CARD_EXISTS", 409)
    card = Card(number=number, bank_code=bank_code, card_type=card_type, holder_name=holder_name.strip(),
                id_number=id_number.strip().upper(), phone=_phone(phone), balance=balance, frozen=frozen,
                created_at=now_utc())
    session.add(card)
    session.flush()
    return card


def card_by_number(session: Session, number: str) -> Card:
    card = session.scalar(select(Card).where(Card.number == _digits(number)))
    if card is None:
        raise BankError("NOT_FOUND", 404)
    return card


def card_view(card: Card) -> dict[str, Any]:
    return {"number": card.number, "bank_code": card.bank_code, "card_type": card.card_type,
            "holder_name": card.holder_name, "id_number": card.id_number, "phone": card.phone,
            "balance": card.balance, "frozen": card.frozen}


def send_sms(session: Session, phone: str, text: str) -> None:
    session.add(SmsMessage(phone=phone, text=text, created_at=now_utc()))


def outbox(session: Session, phone: str | None = None, limit: int = 50) -> list[SmsMessage]:
    stmt = select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)
    if phone:
        stmt = stmt.where(SmsMessage.phone == _phone(phone))
    return list(session.scalars(stmt))


# ---- request signatures ---------------------------------------------------------------------------------

def remember_nonce(session: Session, merchant: str, nonce: str) -> bool:
    """Record a request nonce; False when the merchant used it before (a replay)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Nonce).values(merchant=merchant, nonce=nonce, seen_at=now_utc()).on_conflict_do_nothing(
        index_elements=["merchant", "nonce"]).returning(Nonce.id)
    return session.execute(stmt).scalar() is not None


def prune_nonces(session: Session) -> None:
    cutoff = now_utc() - timedelta(seconds=2 * signing.TOLERANCE_SECONDS)
    session.execute(delete(Nonce).where(Nonce.seen_at < cutoff))


# ---- binding --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Challenge:
    ref: str
    masked_phone: str
    expires_at: datetime


def start_binding(session: Session, behaviour: Behaviour, merchant: str, request_id: str, card_number: str,
                  holder_name: str, id_number: str, phone: str) -> Challenge:
    existing = session.scalar(select(Binding).where(Binding.merchant == merchant, Binding.request_id == request_id))
    if existing is not None:  # the connector's retry of the same call: no second text
        card = session.get(Card, existing.card_id)
        assert card is not None
        return Challenge(existing.ref, mask_phone(card.phone), existing.expires_at)
    number = _digits(card_number)
    if not bins.valid_card_number(number) or bins.lookup(number) is None:
        raise BankError("CARD_INVALID")
    card = session.scalar(select(Card).where(Card.number == number))
    if card is None:
        raise BankError("CARD_UNKNOWN")
    if card.holder_name != holder_name.strip() or card.id_number != id_number.strip().upper():
        raise BankError("HOLDER_MISMATCH")
    if card.phone != _phone(phone):
        raise BankError("PHONE_MISMATCH")
    if card.frozen:
        raise BankError("CARD_FROZEN")
    ref = _ref("BND")
    code = f"{secrets.randbelow(10**6):06d}"
    now = now_utc()
    binding = Binding(ref=ref, merchant=merchant, request_id=request_id, card_id=card.id,
                      otp_hash=_otp_hash(ref, code), expires_at=now + timedelta(seconds=behaviour.otp_ttl_seconds),
                      tries=0, status="pending", created_at=now)
    session.add(binding)
    bank = bins.BANKS[card.bank_code]
    minutes = max(1, behaviour.otp_ttl_seconds // 60)
    send_sms(session, card.phone,
             f"【{bank.short_zh}】验证码{code}，您正在将尾号{card.number[-4:]}的银行卡绑定至{merchant}，"
             f"{minutes}分钟内有效，切勿告知他人。")
    session.flush()
    return Challenge(ref, mask_phone(card.phone), binding.expires_at)


@dataclass(frozen=True)
class TokenInfo:
    token: str
    bank_code: str
    card_type: str
    last4: str


def _token_for(session: Session, merchant: str, card: Card) -> str:
    existing = session.scalar(select(VaultToken.token).where(VaultToken.merchant == merchant,
                                                             VaultToken.card_id == card.id, VaultToken.active))
    if existing is not None:
        return existing
    token = "tok_" + secrets.token_urlsafe(24)
    session.add(VaultToken(token=token, merchant=merchant, card_id=card.id, active=True, created_at=now_utc()))
    return token


def confirm_binding(session: Session, merchant: str, ref: str, code: str) -> TokenInfo:
    binding = session.scalar(select(Binding).where(Binding.ref == ref, Binding.merchant == merchant)
                             .with_for_update())
    if binding is None:
        raise BankError("BINDING_NOT_FOUND", 404)
    card = session.get(Card, binding.card_id)
    assert card is not None
    right = hmac.compare_digest(binding.otp_hash, _otp_hash(ref, code.strip()))
    if binding.status == "confirmed":
        if right and binding.token:  # the connector's retry after a lost answer: the same token
            return TokenInfo(binding.token, card.bank_code, card.card_type, card.number[-4:])
        raise BankError("OTP_EXPIRED", 410)
    if binding.status == "failed":
        raise BankError("OTP_TOO_MANY_TRIES", 410)
    if binding.expires_at <= now_utc():
        raise BankError("OTP_EXPIRED", 410)
    if not right:
        binding.tries += 1
        if binding.tries >= OTP_TRIES:
            binding.status = "failed"
            raise BankError("OTP_TOO_MANY_TRIES", 410, commit=True)
        raise BankError("OTP_WRONG", 422, commit=True, tries_left=OTP_TRIES - binding.tries)
    if card.frozen:
        raise BankError("CARD_FROZEN")
    binding.status = "confirmed"
    binding.token = _token_for(session, merchant, card)
    session.flush()
    return TokenInfo(binding.token, card.bank_code, card.card_type, card.number[-4:])


def revoke_token(session: Session, merchant: str, token: str) -> None:
    row = session.scalar(select(VaultToken).where(VaultToken.token == token, VaultToken.merchant == merchant))
    if row is None:
        raise BankError("TOKEN_INVALID")
    row.active = False


# ---- debits and credits ---------------------------------------------------------------------------------

def _request_hash(kind: str, token: str, amount: int, reference: str | None) -> str:
    return hashlib.sha256(json.dumps([kind, token, amount, reference]).encode()).hexdigest()


def submit(session: Session, behaviour: Behaviour, merchant: str, kind: str, token: str, amount: Any, key: str,
           reference: str | None, notify_url: str | None) -> tuple[Operation, bool]:
    """Accept a debit or credit: (the operation, whether this key was seen before)."""
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        raise BankError("AMOUNT_INVALID")
    if not key or len(key) > 200:
        raise BankError("BAD_REQUEST", 400)
    digest = _request_hash(kind, token, amount, reference)
    existing = session.scalar(select(Operation).where(Operation.merchant == merchant, Operation.key == key))
    if existing is not None:
        if existing.request_hash != digest:
            raise BankError("IDEMPOTENCY_CONFLICT", 409)
        return existing, True
    vault = session.scalar(select(VaultToken).where(VaultToken.token == token, VaultToken.merchant == merchant))
    if vault is None or not vault.active:
        raise BankError("TOKEN_INVALID")
    now = now_utc()
    operation = Operation(
        bank_ref=_ref("BR"), merchant=merchant, key=key, request_hash=digest, kind=kind, token=token,
        card_id=vault.card_id, amount=amount, reference=reference, notify_url=notify_url or behaviour.callback_url,
        status="processing", created_at=now, due_at=now + timedelta(milliseconds=behaviour.processing_ms),
    )
    session.add(operation)
    session.flush()
    return operation, False


def operation_view(operation: Operation) -> dict[str, Any]:
    return {
        "bank_ref": operation.bank_ref, "key": operation.key, "kind": operation.kind, "amount": operation.amount,
        "reference": operation.reference, "status": operation.status, "reason": operation.reason,
        "created_at": operation.created_at.isoformat(),
        "completed_at": operation.completed_at.isoformat() if operation.completed_at else None,
    }


def operation_by_key(session: Session, merchant: str, key: str) -> Operation:
    operation = session.scalar(select(Operation).where(Operation.merchant == merchant, Operation.key == key))
    if operation is None:
        raise BankError("NOT_FOUND", 404)
    return operation


def due_operations(session: Session, limit: int = 100) -> list[int]:
    stmt = (select(Operation.id).where(Operation.status == "processing", Operation.due_at <= now_utc())
            .order_by(Operation.id).limit(limit))
    return list(session.scalars(stmt))


def settle(session: Session, behaviour: Behaviour, operation_id: int, *, status: str | None = None,
           reason: str | None = None, rng: random.Random | None = None) -> Operation | None:
    """Carry out a processing operation on its card and queue the signed callback; None if already settled.
    `status`/`reason` force the outcome (the admin endpoint); otherwise the card decides, and the configured
    failure rate declines a share of what would succeed."""
    operation = session.scalar(select(Operation).where(Operation.id == operation_id).with_for_update())
    if operation is None or operation.status != "processing":
        return None
    card = session.scalar(select(Card).where(Card.id == operation.card_id).with_for_update())
    assert card is not None
    active = session.scalar(select(VaultToken.active).where(VaultToken.token == operation.token))
    if status is None:
        if not active:
            status, reason = "failed", "TOKEN_INVALID"
        elif card.frozen:
            status, reason = "failed", "CARD_FROZEN"
        elif operation.kind == "debit" and card.balance < operation.amount:
            status, reason = "failed", "INSUFFICIENT_FUNDS"
        elif (rng or random).random() < behaviour.failure_rate:
            status, reason = "failed", "DECLINED"
        else:
            status, reason = "succeeded", None
    elif status == "failed":
        reason = reason or "DECLINED"
    else:
        reason = None
    if status == "succeeded":
        card.balance += operation.amount if operation.kind == "credit" else -operation.amount
    now = now_utc()
    operation.status, operation.reason = status, reason
    operation.completed_at = now
    operation.business_date = now.astimezone(SHANGHAI).date()
    event = {
        "event_id": "evt_" + secrets.token_hex(12), "kind": operation.kind, "key": operation.key,
        "bank_ref": operation.bank_ref, "reference": operation.reference, "amount": operation.amount,
        "status": status, "reason": reason, "occurred_at": now.isoformat(), "merchant": operation.merchant,
    }
    session.add(Callback(event_id=event["event_id"], operation_id=operation.id, merchant=operation.merchant,
                         url=operation.notify_url, body=json.dumps(event, ensure_ascii=False, separators=(",", ":")),
                         status="pending", attempts=0, next_attempt_at=now, created_at=now))
    session.flush()
    return operation


# ---- callbacks ------------------------------------------------------------------------------------------

def due_callbacks(session: Session, limit: int = 20) -> list[Callback]:
    stmt = (select(Callback).where(Callback.status == "pending", Callback.next_attempt_at <= now_utc())
            .order_by(Callback.id).limit(limit))
    return list(session.scalars(stmt))


def pending_callbacks(session: Session, limit: int = 100) -> list[Callback]:
    stmt = select(Callback).where(Callback.status == "pending").order_by(Callback.id).limit(limit)
    return list(session.scalars(stmt))


def signed_request(callback: Callback, secret: str) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body) of one delivery attempt: signed now, with a fresh nonce."""
    from urllib.parse import urlsplit

    body = callback.body.encode()
    parts = urlsplit(callback.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = signing.sign(secret, callback.merchant, "POST", path, body)
    headers["content-type"] = "application/json"
    return callback.url, headers, body


def record_attempt(session: Session, behaviour: Behaviour, callback_id: int, status_code: int | None,
                   error: str | None = None) -> Callback:
    """The merchant's answer to a delivery: 2xx delivers it; anything else schedules the next try, backing off
    exponentially (base × 2^(attempts−1), capped)."""
    callback = session.get(Callback, callback_id)
    if callback is None:
        raise BankError("NOT_FOUND", 404)
    now = now_utc()
    callback.attempts += 1
    callback.last_status = status_code
    callback.last_error = (error or None) and error[:200]
    if status_code is not None and 200 <= status_code < 300:
        callback.status, callback.delivered_at = "delivered", now
    elif callback.status != "delivered":
        delay = min(behaviour.callback_backoff_seconds * 2 ** (callback.attempts - 1),
                    behaviour.callback_backoff_max_seconds)
        callback.next_attempt_at = now + timedelta(seconds=delay)
    session.flush()
    return callback


def callback_view(callback: Callback) -> dict[str, Any]:
    return {"id": callback.id, "event_id": callback.event_id, "url": callback.url, "body": json.loads(callback.body),
            "status": callback.status, "attempts": callback.attempts, "last_status": callback.last_status,
            "last_error": callback.last_error,
            "next_attempt_at": callback.next_attempt_at.isoformat(),
            "delivered_at": callback.delivered_at.isoformat() if callback.delivered_at else None}


# ---- settlement file ------------------------------------------------------------------------------------

def parse_business_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BankError("DATE_INVALID", 422) from None


def settlement_csv(session: Session, merchant: str, day: date) -> str:
    """Every operation completed on this Asia/Shanghai business day, one CSV row each, oldest first."""
    stmt = (select(Operation).where(Operation.merchant == merchant, Operation.business_date == day,
                                    Operation.status != "processing")
            .order_by(Operation.completed_at, Operation.id))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SETTLEMENT_COLUMNS)
    for op in session.scalars(stmt):
        assert op.completed_at is not None
        writer.writerow([op.bank_ref, op.key, op.reference or "", op.kind, op.amount, op.status, op.reason or "",
                         op.completed_at.astimezone(SHANGHAI).isoformat(timespec="seconds")])
    return out.getvalue()

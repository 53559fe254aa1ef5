"""Self-service opening in the app (SPEC §3.1 step 1 and step 4), as the steps the web layer calls.

    start_registration      mobile number → the REGISTER SMS code (PHONE_ALREADY_REGISTERED if it has a wallet)
    complete_registration   code + login password + terms → holder, tier-4 wallet, ledger account, password,
                            opening notice (in-app + SMS), audit entry
    set_payment_pin         the 6-digit payment PIN (credentials' rules, with the birth date once known)

Checks run in the order the form asks: phone, terms, password rules, phone not taken, then the SMS code
(which is spent only when everything else passed: a weak password does not burn the code). Everything
happens in the caller's one transaction, so a refused or interrupted registration leaves no holder, no
wallet and no ledger account. Run these in `wallets.audited(db, ...)` to keep the refusal's audit entry
(and a wrong code's try count) although the work rolls back.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.credentials import IssuedOtp, Principal, check_password_rules, issue_otp, otp, set_password, set_pin
from qianbao.credentials import verify_otp as credentials_verify_otp
from qianbao.errors import QianbaoError
from qianbao.i18n import DEFAULT_LANGUAGE, normalize
from qianbao.identity import parse_mobile
from qianbao.pii.masking import mask_phone
from qianbao.settings import Settings
from qianbao.wallets.customers import customer_by_phone, get_customer, new_customer, open_wallet
from qianbao.wallets.models import Customer, Wallet
from qianbao.wallets.notify import notify, tail

# The version of the service agreement and privacy policy a holder accepts; recorded on the holder.
TERMS_VERSION = "2026-11"
SELF_SERVICE_TIER = 4


def language(lang: str | None) -> str:
    return normalize(lang) or DEFAULT_LANGUAGE


def start_registration(
    session: Session,
    phone: str,
    ip: str | None = None,
    lang: str | None = DEFAULT_LANGUAGE,
    *,
    send: bool = True,
    settings: Settings | None = None,
) -> IssuedOtp:
    """Step 1: check the number and text it a REGISTER code (6 digits, 5 minutes; credentials' rate limits).

    Refusals: PHONE_INVALID, PHONE_ALREADY_REGISTERED, OTP_RESEND_TOO_SOON, RATE_LIMITED.
    """
    e164 = parse_mobile(phone)
    if customer_by_phone(session, e164) is not None:
        raise QianbaoError("PHONE_ALREADY_REGISTERED")
    return issue_otp(session, otp.REGISTER, e164, ip=ip, lang=language(lang), send=send, settings=settings)


def complete_registration(
    session: Session,
    phone: str,
    otp_code: str,
    password: str,
    terms_accepted: bool,
    *,
    terms_version: str = TERMS_VERSION,
    lang: str | None = DEFAULT_LANGUAGE,
    settings: Settings | None = None,
) -> tuple[Customer, Wallet]:
    """Step 2: the code, the login password and the terms → a new holder with a tier-4 wallet.

    Refusals, in this order: PHONE_INVALID, TERMS_NOT_ACCEPTED, PASSWORD_* (SPEC §3.1: 8+ characters, not
    common, not the phone number), PHONE_ALREADY_REGISTERED, OTP_* (OTP_WRONG counts a try: run this in
    `wallets.audited` or `credentials.transaction` so the count is kept).
    """
    e164 = parse_mobile(phone)
    if terms_accepted is not True:
        raise QianbaoError("TERMS_NOT_ACCEPTED")
    check_password_rules(password, phone=e164)
    if customer_by_phone(session, e164) is not None:
        raise QianbaoError("PHONE_ALREADY_REGISTERED")
    credentials_verify_otp(session, otp.REGISTER, e164, otp_code)

    customer = new_customer(session, e164, lang=language(lang), channel="app", terms_version=terms_version)
    wallet = open_wallet(session, customer, tier=SELF_SERVICE_TIER, channel="app")
    set_password(session, Principal.customer(customer.id), password, phone=e164, settings=settings)
    notify(session, customer, "opened", {"wallet_tail": tail(wallet.number), "tier": wallet.tier})
    audit.record(
        session, action="wallet.open", actor=audit.Actor.customer(customer.id), channel="app",
        object_type="wallet", object_id=wallet.id,
        details={"tier": wallet.tier, "phone": mask_phone(e164), "terms_version": terms_version},
    )
    return customer, wallet


def set_payment_pin(session: Session, customer_id: int, pin: str, *, settings: Settings | None = None) -> None:
    """Step 4: the first payment PIN. PIN_FORMAT / PIN_TOO_SIMPLE / PIN_IS_BIRTH_DATE (once the real name
    gives a birth date) / PIN_IS_ID_NUMBER_TAIL / PIN_ALREADY_SET (changing goes through credentials)."""
    customer = get_customer(session, customer_id)
    set_pin(session, Principal.customer(customer.id), pin, birth_date=customer.birth_date,
            id_number=customer.id_number, settings=settings)
    notify(session, customer, "pin_set")
    audit.record(session, action="credential.pin.set", actor=audit.Actor.customer(customer.id), channel="app",
                 object_type="customer", object_id=customer.id)

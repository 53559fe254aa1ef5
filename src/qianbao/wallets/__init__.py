"""Wallets: holders, opening (app and counter), real-name/KYC, tiers and limits policy, ID expiry, freezes.

SPEC §2, §3 and §13 are the rules; docs/wallets.md explains them and the choices made. No web imports:
the customer app, the teller console and the ops console call these functions.

Calling convention
    Every function takes the SQLAlchemy Session first and never commits. Refusals raise QianbaoError with
    a catalogue code (and params naming what failed). A refused step must keep nothing but an audit
    record, so run opening steps in

        with wallets.audited(db, action="wallet.register", actor=audit.Actor("customer"),
                             details={"phone": mask_phone(phone)}) as session:
            customer, wallet = wallets.complete_registration(session, ...)

    `audited` is a unit of work (commit on success) that, on a QianbaoError, writes one refused audit entry
    in a separate transaction and re-raises; like `credentials.transaction`, it keeps the try counts of a
    CredentialFailure (wrong SMS code, wrong pairing code). Successes are audited by the functions.
    Functions that need settings (argon2 cost, OTP limits, the identity verifier) take `settings=`
    (default `get_settings()`); those that call the identity verifier also take `verifier=` (tests).
    Returned ORM rows (Customer, Wallet, KycSubmission, CounterApplication) are for reading: change
    them only through these functions. Amounts are int fen; None means "no limit".

Wallet numbers (numbers.py)
    format_wallet_number(number) -> "6217 0000 1234 5678"
    parse_wallet_number(text) -> 16 digits          WALLET_NUMBER_INVALID (bad length/characters/Luhn),
                                                    before any look-up

Look-ups and access (customers.py)
    get_customer(s, customer_id) / get_wallet(s, wallet_id)          NOT_FOUND
    customer_by_phone(s, phone_e164) -> Customer | None               sign-in by phone number
    wallet_of_customer(s, customer_id) -> Wallet | None               the holder's (open) wallet
    wallet_for_customer(s, customer_id, wallet_number) -> Wallet      NOT_FOUND for someone else's wallet
    wallet_by_number(s, text) -> Wallet                               staff look-up

Tier policy (policy.py) — database tables, defaults from the migration
    tier_policy(s, tier) -> TierLimits     all_tiers(s) -> [TierLimits] (tier 4 first)
    wallet_policy(s) -> WalletWidePolicy   (password_free_daily_limit, static_qr_daily_limit, minimum_age)
    update_tier_policy(s, tier, {field: fen | None}, by_staff_id, reason) -> TierLimits
        fields: balance_cap, single_payment_limit, daily_outflow_limit, annual_outflow_limit;
        TIER_INVALID, POLICY_VALUE_INVALID{field}, POLICY_LIMITS_ORDER, POLICY_UNCHANGED, REASON_REQUIRED;
        a new balance cap is applied to every wallet of the tier's ledger account (one UPDATE)
    update_wallet_policy(s, {field: value}, by_staff_id, reason) -> WalletWidePolicy
    wallet_limits(s, wallet) -> WalletLimits   what binds a wallet now (+ can_pay / can_receive)

Tiers (tiers.py)
    record_bank_card_verified(s, wallet_id) -> bool     → tier 2 (cards package); REAL_NAME_REQUIRED
    downgrade_by_operator(s, wallet_id, to_tier, reason, by_staff_id) -> TierChange
        TIER_INVALID, TIER_NOT_DOWNGRADE, REASON_REQUIRED, WALLET_CLOSED
    tier_history(s, wallet_id) -> [TierChange]
    (real-name approval moves 4 → 3, the counter → 1; never down by itself)

Self-service opening (opening.py, SPEC §3.1)
    start_registration(s, phone, ip, lang, *, send=True) -> credentials.IssuedOtp
        PHONE_INVALID, PHONE_ALREADY_REGISTERED, OTP_RESEND_TOO_SOON, RATE_LIMITED
    complete_registration(s, phone, otp_code, password, terms_accepted, *, lang) -> (Customer, Wallet)
        TERMS_NOT_ACCEPTED, PASSWORD_*, PHONE_ALREADY_REGISTERED, OTP_*; tier-4 wallet, password set,
        opening notice (in-app + SMS), audited
    set_payment_pin(s, customer_id, pin)                PIN_* rules incl. birth date; PIN_ALREADY_SET

Real-name and KYC review (kyc.py)
    submit_real_name(s, customer_id, name, id_number, valid_until | None, front_photo, back_photo)
        -> KycSubmission with status approved (verifier match, tier 3) / rejected (mismatch,
        rejection_code NAME_ID_MISMATCH) / pending (unsure or verifier unavailable: review queue)
        NAME_INVALID, ID_NUMBER_*, ID_CARD_EXPIRED, PHOTO_TOO_LARGE / PHOTO_NOT_IMAGE / PHOTO_FORMAT
        (params.side = front | back), UNDER_AGE, KYC_ALREADY_PENDING, REAL_NAME_ID_DIFFERS,
        DUPLICATE_REAL_NAME_WALLET
    kyc_queue(s, limit=50) -> [KycSubmission]           pending, oldest first
    get_submission(s, id) / photo_of(s, side, submission_id=...) -> KycPhoto (decrypted .data)
    approve_kyc(s, submission_id, by_staff_id)          KYC_ALREADY_DECIDED, DUPLICATE_REAL_NAME_WALLET
    reject_kyc(s, submission_id, reason, by_staff_id)   the reason is shown to the customer
    kyc_status(s, customer_id) -> KycStatus             the customer's status page

Counter opening (counter_opening.py, SPEC §3.2)
    counter_application(s, teller_staff_id, branch_id, name, id_number, phone,
                        IdCardData | ManualIdCard(valid_until, physical_card_checked), customer_photo_jpeg,
                        *, reader_device_id=None, lang=None) -> CounterApplication
        .status "ready" or "awaiting_supervisor" (.approval_reasons); ID_CARD_DATA_MISMATCH,
        PHYSICAL_CARD_NOT_CHECKED, PHONE_MISMATCH_EXISTING_WALLET, and the identity/photo refusals
    approve_application(s, app_id, supervisor_id, *, branch_id=None)   SELF_APPROVAL_FORBIDDEN,
    reject_application(s, app_id, supervisor_id, reason, ...), cancel_application(s, app_id, staff_id, ...)
        COUNTER_APPLICATION_STATE{state}
    applications_awaiting_supervisor(s, branch_id), get_application(s, app_id, branch_id=None)
    pinpad_pairing_code(s, app_id, *, branch_id=None) -> PairingCode(code, expires_at)   3 minutes
    pair_pinpad(s, code, *, ip) -> PinpadPairing(token, masked_name, masked_phone)       PAIRING_CODE_INVALID
    complete_counter_opening(s, pairing_token, password, pin) -> (Customer, Wallet)      tier 1
        PAIRING_TOKEN_INVALID, PASSWORD_*, PIN_*
    counter_upgrade_to_tier1(s, app_id, teller_staff_id, *, branch_id=None) -> Wallet    existing holder
    opening_receipt_data(s, wallet_id, *, branch_id=None) -> OpeningReceipt
        (serial, wallet_number grouped, tier, limits, masked name/phone, branch, teller, time)

Freezes (freeze.py)
    report_loss(s, wallet_id, *, customer_id=None, by_staff_id=None, keep_session_id=None) -> Wallet
    freeze_wallet(s, wallet_id, reason, by_staff_id) -> Wallet                    operator
    unfreeze_wallet(s, wallet_id, reason, by_staff_id, *, channel, branch_id=None) -> Wallet
        loss: channel "counter" only; operator freeze: "ops" only; WALLET_NOT_FROZEN, WALLET_CLOSED

ID-card expiry (expiry.py, jobs.py)
    worker jobs `wallets_id_expiry` (reminders from 30 days before, outflow restriction 90 days after)
    and `wallets_expire_applications`; the restriction shows in wallet_limits(...).outflow_restricted.

Demo (demo.py)
    seed_demo_customers(s, settings) -> [sign-in lines]   idempotent: tiers 4, 3 (+ a pending KYC), 1
"""

from qianbao.adapters.idcard import IdCardData
from qianbao.wallets.counter_opening import (
    ManualIdCard,
    OpeningReceipt,
    PairingCode,
    PinpadPairing,
    applications_awaiting_supervisor,
    approve_application,
    cancel_application,
    complete_counter_opening,
    counter_application,
    counter_upgrade_to_tier1,
    get_application,
    opening_receipt_data,
    pair_pinpad,
    pinpad_application,
    pinpad_pairing_code,
    reject_application,
)
from qianbao.wallets.customers import (
    customer_by_phone,
    get_customer,
    get_wallet,
    wallet_by_number,
    wallet_for_customer,
    wallet_of_customer,
)
from qianbao.wallets.freeze import freeze_wallet, report_loss, unfreeze_wallet
from qianbao.wallets.kyc import (
    KycStatus,
    approve_kyc,
    get_submission,
    kyc_queue,
    kyc_status,
    reject_kyc,
    submit_real_name,
)
from qianbao.wallets.models import (
    ACTIVE,
    CLOSED,
    FROZEN_LOST,
    FROZEN_OPS,
    CounterApplication,
    Customer,
    KycPhoto,
    KycSubmission,
    Wallet,
)
from qianbao.wallets.numbers import format_wallet_number, parse_wallet_number
from qianbao.wallets.opening import TERMS_VERSION, complete_registration, set_payment_pin, start_registration
from qianbao.wallets.photos import photo_of
from qianbao.wallets.policy import (
    TierLimits,
    WalletLimits,
    WalletWidePolicy,
    all_tiers,
    tier_policy,
    update_tier_policy,
    update_wallet_policy,
    wallet_limits,
    wallet_policy,
)
from qianbao.wallets.tiers import TierChange, downgrade_by_operator, record_bank_card_verified, tier_history
from qianbao.wallets.units import audited, record_refusal

__all__ = [
    "ACTIVE",
    "CLOSED",
    "FROZEN_LOST",
    "FROZEN_OPS",
    "TERMS_VERSION",
    "CounterApplication",
    "Customer",
    "IdCardData",
    "KycPhoto",
    "KycStatus",
    "KycSubmission",
    "ManualIdCard",
    "OpeningReceipt",
    "PairingCode",
    "PinpadPairing",
    "TierChange",
    "TierLimits",
    "Wallet",
    "WalletLimits",
    "WalletWidePolicy",
    "all_tiers",
    "applications_awaiting_supervisor",
    "approve_application",
    "approve_kyc",
    "audited",
    "cancel_application",
    "complete_counter_opening",
    "complete_registration",
    "counter_application",
    "counter_upgrade_to_tier1",
    "customer_by_phone",
    "downgrade_by_operator",
    "format_wallet_number",
    "freeze_wallet",
    "get_application",
    "get_customer",
    "get_submission",
    "get_wallet",
    "kyc_queue",
    "kyc_status",
    "opening_receipt_data",
    "pair_pinpad",
    "parse_wallet_number",
    "photo_of",
    "pinpad_application",
    "pinpad_pairing_code",
    "record_bank_card_verified",
    "record_refusal",
    "reject_application",
    "reject_kyc",
    "report_loss",
    "set_payment_pin",
    "start_registration",
    "submit_real_name",
    "tier_history",
    "tier_policy",
    "unfreeze_wallet",
    "update_tier_policy",
    "update_wallet_policy",
    "wallet_by_number",
    "wallet_for_customer",
    "wallet_limits",
    "wallet_of_customer",
    "wallet_policy",
]

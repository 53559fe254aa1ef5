"""One error type for every refusal, and the catalogue of its stable codes.

Domain code raises `QianbaoError("LIMIT_EXCEEDED", limit="daily", remaining=12000)`; the HTTP status
comes from the catalogue below, the message text from the i18n catalogues (`error.<CODE>`), so a code
has exactly one status and one wording per language wherever it is raised.
"""

from __future__ import annotations

from typing import Any

# code -> HTTP status. Adding a code means adding its zh-CN and English messages too
# (tests/test_i18n.py fails otherwise).
CATALOGUE: dict[str, int] = {
    # generic HTTP and request shape
    "BAD_REQUEST": 400,
    "VALIDATION_FAILED": 422,
    "MALFORMED_JSON": 400,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "NOT_ACCEPTABLE": 406,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RATE_LIMITED": 429,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "CSRF_FAILED": 403,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
    # configuration (raised at start-up, shown as one line by the CLI)
    "CONFIG_DATABASE_URL_INVALID": 500,
    "CONFIG_DATABASE_UNREACHABLE": 503,
    "CONFIG_DATABASE_NOT_MIGRATED": 503,
    "CONFIG_KEYS_MISSING": 500,
    "CONFIG_KEYS_INVALID": 500,
    # personal-data protection
    "DECRYPTION_FAILED": 500,
    "UNKNOWN_KEY_ID": 500,
    "CIPHERTEXT_MALFORMED": 500,
    "CONFIG_KEYS_EXIST": 409,
    # audit log
    "AUDIT_CHAIN_BROKEN": 500,
    # money at the edges
    "AMOUNT_INVALID": 422,
    "AMOUNT_NOT_POSITIVE": 422,
    "AMOUNT_TOO_MANY_DECIMALS": 422,
    "AMOUNT_TOO_LARGE": 422,
    # idempotency
    "IDEMPOTENCY_KEY_REUSED": 409,
    "IDEMPOTENCY_KEY_MISSING": 400,
    # ledger (SPEC §6.1): every refusal of a money movement
    "LEDGER_BATCH_EMPTY": 422,
    "LEDGER_BATCH_TOO_LARGE": 422,
    "LEDGER_BATCH_DUPLICATE_KEY": 422,
    "LEDGER_REQUEST_INVALID": 422,
    "LEDGER_LINKED_CHAIN_OPEN": 422,
    "LEDGER_LINKED_FAILED": 422,
    "LEDGER_GROUP_MIXED": 422,
    "LEDGER_GROUP_TIMEOUT_MISMATCH": 422,
    "LEDGER_GROUP_SPLIT": 409,
    "LEDGER_ACCOUNT_NOT_FOUND": 404,
    "LEDGER_ACCOUNT_CLOSED": 409,
    "LEDGER_ACCOUNT_FROZEN": 409,
    "LEDGER_ACCOUNT_NOT_EMPTY": 409,
    "LEDGER_ACCOUNT_KIND_INVALID": 422,
    "LEDGER_ACCOUNT_CODE_INVALID": 422,
    "LEDGER_ACCOUNT_CODE_TAKEN": 409,
    "LEDGER_ACCOUNT_NAME_INVALID": 422,
    "LEDGER_CURRENCY_INVALID": 422,
    "LEDGER_CURRENCY_MISMATCH": 422,
    "LEDGER_CAP_INVALID": 422,
    "LEDGER_SAME_ACCOUNT": 422,
    "LEDGER_INSUFFICIENT_FUNDS": 422,
    "LEDGER_CAP_EXCEEDED": 422,
    "LEDGER_BALANCE_OVERFLOW": 422,
    "LEDGER_IDEMPOTENCY_KEY_INVALID": 422,
    "LEDGER_TRANSFER_CODE_INVALID": 422,
    "LEDGER_REFERENCE_INVALID": 422,
    "LEDGER_USER_DATA_INVALID": 422,
    "LEDGER_TIMEOUT_INVALID": 422,
    "LEDGER_TRANSFER_NOT_FOUND": 404,
    "LEDGER_TRANSFER_NOT_PENDING": 409,
    "LEDGER_PENDING_ALREADY_POSTED": 409,
    "LEDGER_PENDING_ALREADY_VOIDED": 409,
    "LEDGER_PENDING_EXPIRED": 409,
    "LEDGER_POST_EXCEEDS_PENDING": 422,
    "LEDGER_NOT_REVERSIBLE": 409,
    "LEDGER_ALREADY_REVERSED": 409,
    "LEDGER_MOMENT_INVALID": 422,
    "LEDGER_CURSOR_INVALID": 422,
    "LEDGER_PAGE_SIZE_INVALID": 422,
    # identity (SPEC §3): each condition of an opening refuses with its own code
    "ID_NUMBER_FORMAT": 422,
    "ID_NUMBER_CHECKSUM": 422,
    "ID_NUMBER_BIRTH_DATE": 422,
    "ID_NUMBER_REGION": 422,
    "UNDER_AGE": 422,
    "PHONE_INVALID": 422,
    "NAME_INVALID": 422,
    "ID_CARD_EXPIRED": 422,
    # identity adapters: the verifier and the ID-card reader
    "IDENTITY_VERIFIER_UNAVAILABLE": 503,
    "IDCARD_NO_CARD": 409,
    "IDCARD_READ_FAILED": 503,
    # credentials and sessions (SPEC §4): passwords, PIN, SMS codes, TOTP, sessions
    "PASSWORD_TOO_SHORT": 422,
    "PASSWORD_TOO_LONG": 422,
    "PASSWORD_TOO_COMMON": 422,
    "PASSWORD_CONTAINS_PHONE": 422,
    "PASSWORD_CONTAINS_BIRTH_DATE": 422,
    "PASSWORD_UNCHANGED": 422,
    "PASSWORD_ALREADY_SET": 409,
    "PASSWORD_NOT_SET": 409,
    "PASSWORD_OLD_WRONG": 403,
    "LOGIN_FAILED": 401,
    "LOGIN_LOCKED": 423,
    "PIN_FORMAT": 422,
    "PIN_TOO_SIMPLE": 422,
    "PIN_IS_BIRTH_DATE": 422,
    "PIN_IS_ID_NUMBER_TAIL": 422,
    "PIN_UNCHANGED": 422,
    "PIN_ALREADY_SET": 409,
    "PIN_NOT_SET": 409,
    "PIN_WRONG": 403,
    "PIN_LOCKED": 423,
    "OTP_WRONG": 422,
    "OTP_EXPIRED": 410,
    "OTP_USED": 410,
    "OTP_TOO_MANY_TRIES": 410,
    "OTP_NOT_REQUESTED": 409,
    "OTP_RESEND_TOO_SOON": 429,
    "TOTP_WRONG": 401,
    "TOTP_CODE_USED": 401,
    "TOTP_LOCKED": 423,
    "TOTP_NOT_ENROLLED": 409,
    "TOTP_ALREADY_ENROLLED": 409,
    "SESSION_EXPIRED": 401,
    # access control (qianbao.access)
    "ACCESS_OTHER_BRANCH": 403,
    # branches and staff (qianbao.staff)
    "BRANCH_CODE_INVALID": 422,
    "BRANCH_CODE_TAKEN": 409,
    "BRANCH_FIELD_INVALID": 422,
    "BRANCH_NOT_FOUND": 404,
    "STAFF_NUMBER_INVALID": 422,
    "STAFF_NUMBER_TAKEN": 409,
    "STAFF_NAME_INVALID": 422,
    "STAFF_ROLE_INVALID": 422,
    "STAFF_BRANCH_REQUIRED": 422,
    "STAFF_NOT_FOUND": 404,
    "STAFF_DISABLED": 403,
    "STAFF_ALREADY_DISABLED": 409,
    "STAFF_CANNOT_DISABLE_SELF": 409,
    "STAFF_REASON_REQUIRED": 422,
    "STAFF_LOGIN_FAILED": 401,
    "STAFF_PASSWORD_MISMATCH": 422,
    "STAFF_TOTP_DEMO_ONLY": 403,
    "STAFF_TOTP_NOT_ENROLLED": 409,
    # supervisor approvals (qianbao.approvals)
    "APPROVAL_NOT_FOUND": 404,
    "APPROVAL_KIND_UNKNOWN": 500,
    "APPROVAL_NOT_SUPERVISOR": 403,
    "APPROVAL_OTHER_BRANCH": 403,
    "SELF_APPROVAL_FORBIDDEN": 403,
    "APPROVAL_ALREADY_DECIDED": 409,
    "APPROVAL_REASON_REQUIRED": 422,
    "APPROVAL_REASON_TOO_LONG": 422,
    "APPROVAL_NOT_REQUESTER": 403,
    # wallets (SPEC §2, §3): opening in the app and at the counter, real-name/KYC, tiers, policy, freezes
    "PHONE_ALREADY_REGISTERED": 409,
    "TERMS_NOT_ACCEPTED": 422,
    "DUPLICATE_REAL_NAME_WALLET": 409,
    "WALLET_NUMBER_INVALID": 422,
    "PHOTO_TOO_LARGE": 413,
    "PHOTO_NOT_IMAGE": 422,
    "PHOTO_FORMAT": 415,
    "NAME_ID_MISMATCH": 422,
    "KYC_ALREADY_PENDING": 409,
    "KYC_ALREADY_DECIDED": 409,
    "REAL_NAME_ID_DIFFERS": 409,
    "REAL_NAME_REQUIRED": 409,
    "COUNTER_APPLICATION_STATE": 409,
    "COUNTER_APPLICATION_IS_UPGRADE": 409,
    "PHYSICAL_CARD_NOT_CHECKED": 422,
    "ID_CARD_DATA_MISMATCH": 422,
    "PHONE_MISMATCH_EXISTING_WALLET": 409,
    "PAIRING_CODE_INVALID": 422,
    "PAIRING_TOKEN_INVALID": 401,
    "TIER_INVALID": 422,
    "TIER_NOT_DOWNGRADE": 422,
    "REASON_REQUIRED": 422,
    "REASON_TOO_LONG": 422,
    "POLICY_VALUE_INVALID": 422,
    "POLICY_LIMITS_ORDER": 422,
    "POLICY_UNCHANGED": 422,
    "WALLET_CLOSED": 409,
    "WALLET_ALREADY_FROZEN": 409,
    "WALLET_NOT_FROZEN": 409,
    "WALLET_UNFREEZE_AT_COUNTER": 409,
    "WALLET_UNFREEZE_BY_OPERATOR": 409,
    # the ops console's wallet pages (qianbao.web.ops_*): look-up and policy forms
    "OPS_LOOKUP_UNRECOGNISED": 422,
    "POLICY_AMOUNT_INVALID": 422,
    "POLICY_AGE_INVALID": 422,
    # the customer app (qianbao.web.customer_*): form confirmations and the sign-in steps
    "PASSWORD_MISMATCH": 422,
    "PIN_MISMATCH": 422,
    "SIGNIN_TICKET_INVALID": 400,
    "ID_CARD_VALIDITY_INVALID": 422,
    # passkeys (qianbao.credentials.passkeys)
    "PASSKEY_CHALLENGE_INVALID": 400,
    "PASSKEY_INVALID": 422,
    "PASSKEY_USER_NOT_VERIFIED": 422,
    "PASSKEY_ALREADY_REGISTERED": 409,
    "PASSKEY_LIMIT": 409,
    "PASSKEY_NOT_RECOGNISED": 401,
    "PASSKEY_SIGN_COUNT": 401,
    "PASSKEY_NONE": 409,
    # the teller console's counter opening (qianbao.web.teller_pages)
    "CUSTOMER_PHOTO_REQUIRED": 422,
    "ID_CARD_VALIDITY_REQUIRED": 422,
    "COUNTER_HOLDER_NOT_FOUND": 404,
    # the customer JSON API's sign-in and conventions (qianbao.api.customer_auth)
    "DEVICE_ID_INVALID": 422,
    "IDEMPOTENCY_KEY_INVALID": 422,
    # bank cards, top-up and withdrawal (qianbao.cards, qianbao.payments.topup / .withdrawal)
    "CARD_NUMBER_INVALID": 422,
    "CARD_UNKNOWN_BANK": 422,
    "CARD_HOLDER_MISMATCH": 422,
    "CARD_ALREADY_BOUND": 409,
    "CARD_LIMIT_REACHED": 409,
    "CARD_IN_FLIGHT": 409,
    "CARD_NOT_BOUND": 409,
    "CARD_CREDIT_NOT_ALLOWED": 422,
    "CARD_BINDING_EXPIRED": 410,
    "CARD_BINDING_CLOSED": 409,
    "CARD_BINDING_TOO_MANY_TRIES": 429,
    "CARD_OTP_WRONG": 422,
    "CARD_OTP_INVALID": 422,
    "CARD_BANK_REFUSED": 422,
    "CARD_BANK_UNAVAILABLE": 503,
    "PAYMENT_CONFIRMATION_REQUIRED": 422,
}


class QianbaoError(Exception):
    """A refusal with a stable code, its HTTP status and the parameters its message names."""

    def __init__(self, code: str, status: int | None = None, **params: Any) -> None:
        if code not in CATALOGUE and status is None:
            raise KeyError(f"error code {code!r} is not in the catalogue")
        self.code = code
        self.status = status if status is not None else CATALOGUE[code]
        self.params = params
        super().__init__(code)

    def message(self, lang: str) -> str:
        from qianbao.i18n import translate

        return translate(f"error.{self.code}", lang, **self.params)

    def __str__(self) -> str:
        return self.message("en")

    def __repr__(self) -> str:
        return f"QianbaoError({self.code!r}, {self.params!r})"


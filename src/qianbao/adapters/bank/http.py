"""The bank connector over HTTP (httpx): signed requests, timeouts, retries with the same idempotency key.

    connector = HttpBankConnector.from_settings(settings)
    challenge = connector.start_binding("6217 9900 0000 0000 014", "李明", "440305199210110058", "13800000003")
    token = connector.confirm_binding(challenge.ref, "123456")
    accepted = connector.debit(token.token, 10_000, key="topup:42", reference="T20261125…")

Every attempt is signed afresh (a new timestamp and nonce: a retry is not a replay). A retry happens after a
connection failure, a timeout, a 5xx or a 429 answer, up to `retries` more times with exponential backoff
(`backoff` × 2ⁿ seconds). Retrying is safe because every call is idempotent at the bank: debits and credits
by the caller's key, the start of a binding by a request id made once per call, a binding's confirmation by
its reference (the right code sent again returns the same token). After the last attempt the call raises
BANK_UNAVAILABLE. Nothing here logs a card number, an ID number or a code: only paths, statuses and codes.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import structlog

from qianbao.adapters.bank import signing
from qianbao.adapters.bank.connector import (
    Accepted,
    BankOperation,
    BindingChallenge,
    CardToken,
    bank_error,
    failure_reason,
)
from qianbao.errors import QianbaoError
from qianbao.settings import Settings

log = structlog.get_logger(__name__)

DEV_SECRETS = frozenset({"sandbox-bank-api-secret-dev-only", "sandbox-bank-callback-secret-dev-only"})
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 5.0


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class HttpBankConnector:
    """`BankConnector` over the bank's signed JSON API (the sandbox bank's, docs/sandbox-bank.md)."""

    def __init__(self, base_url: str, merchant_id: str, api_secret: str, *, notify_url: str | None = None,
                 timeout: float = 5.0, retries: int = 3, backoff: float = 0.3,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.merchant_id = merchant_id
        self._secret = api_secret
        self.notify_url = notify_url
        self.retries = retries
        self.backoff = backoff
        self._prefix = urlsplit(self.base_url).path.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout), transport=transport,
                                    headers={"accept": "application/json", "user-agent": "qianbao-bank-connector"})

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> HttpBankConnector:
        if settings.environment == "production" and (
            settings.bank_api_secret in DEV_SECRETS or settings.bank_callback_secret in DEV_SECRETS
        ):
            raise QianbaoError("CONFIG_BANK_SECRET_DEFAULT")
        options: dict[str, Any] = {
            "notify_url": settings.resolved_bank_callback_url, "timeout": settings.bank_timeout_seconds,
            "retries": settings.bank_retries, "backoff": settings.bank_retry_backoff_seconds,
        }
        options.update(overrides)
        return cls(settings.bank_url, settings.bank_merchant_id, settings.bank_api_secret, **options)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpBankConnector:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- the protocol ---------------------------------------------------------------------------------

    def start_binding(self, card_number: str, holder_name: str, id_number: str, phone: str) -> BindingChallenge:
        body = self._call("POST", "/v1/bindings", {
            "request_id": secrets.token_urlsafe(18), "card_number": "".join(card_number.split()),
            "holder_name": holder_name, "id_number": id_number, "phone": phone,
        })
        return BindingChallenge(ref=body["binding_ref"], masked_phone=body["masked_phone"],
                                expires_at=datetime.fromisoformat(body["expires_at"]))

    def confirm_binding(self, ref: str, otp: str) -> CardToken:
        body = self._call("POST", f"/v1/bindings/{quote(ref, safe='')}/confirm", {"otp": otp})
        return CardToken(token=body["token"], bank_code=body["bank_code"], card_type=body["card_type"],
                         last4=body["last4"])

    def debit(self, token: str, amount: int, key: str, reference: str | None = None) -> Accepted:
        return self._move("debits", token, amount, key, reference)

    def credit(self, token: str, amount: int, key: str, reference: str | None = None) -> Accepted:
        return self._move("credits", token, amount, key, reference)

    def query(self, key: str) -> BankOperation | None:
        try:
            body = self._call("GET", f"/v1/operations/{quote(key, safe='')}")
        except QianbaoError as exc:
            if exc.code == "BANK_OPERATION_NOT_FOUND":
                return None
            raise
        return BankOperation(
            bank_ref=body["bank_ref"], key=body["key"], kind=body["kind"], amount=int(body["amount"]),
            reference=body.get("reference"), status=body["status"], reason=failure_reason(body.get("reason")),
            created_at=datetime.fromisoformat(body["created_at"]), completed_at=_time(body.get("completed_at")),
        )

    def unbind(self, token: str) -> None:
        self._call("POST", f"/v1/tokens/{quote(token, safe='')}/revoke", {})

    def settlement_file(self, business_date: str) -> str:
        """The CSV settlement file of one Asia/Shanghai business day (YYYY-MM-DD), for reconciliation."""
        return self._call("GET", f"/v1/settlements/{quote(business_date, safe='')}", raw=True)  # type: ignore[no-any-return]

    # ---- plumbing -------------------------------------------------------------------------------------

    def _move(self, kind: str, token: str, amount: int, key: str, reference: str | None) -> Accepted:
        if type(amount) is not int or amount <= 0:
            raise QianbaoError("AMOUNT_NOT_POSITIVE")
        body: dict[str, Any] = {"token": token, "amount": amount, "key": key, "reference": reference}
        if self.notify_url:
            body["notify_url"] = self.notify_url
        answer = self._call("POST", f"/v1/{kind}", body)
        return Accepted(bank_ref=answer["bank_ref"], key=answer["key"], status=answer["status"],
                        replayed=bool(answer.get("replayed")))

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None, *, raw: bool = False) -> Any:
        content = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        attempts = self.retries + 1
        last_problem = "no attempt"
        for attempt in range(attempts):
            if attempt:
                time.sleep(self._delay(attempt, last_problem))
            headers = signing.sign(self._secret, self.merchant_id, method, self._prefix + path, content)
            if payload is not None:
                headers["content-type"] = "application/json"
            try:
                response = self._client.request(method, path, content=content or None, headers=headers)
            except httpx.TransportError as exc:  # connection refused or reset, timeout
                last_problem = type(exc).__name__
                log.warning("bank_call_failed", method=method, path=_loggable(path), attempt=attempt + 1,
                            problem=last_problem)
                continue
            if response.status_code in _RETRY_STATUSES:
                last_problem = f"http {response.status_code}"
                self._retry_after = response.headers.get("retry-after")
                log.warning("bank_call_failed", method=method, path=_loggable(path), attempt=attempt + 1,
                            problem=last_problem)
                continue
            if response.is_success:
                return response.text if raw else response.json()
            code, params = _bank_code(response)
            log.info("bank_refused", method=method, path=_loggable(path), status=response.status_code, code=code)
            if code == "NOT_FOUND" and path.startswith("/v1/operations/"):
                raise QianbaoError("BANK_OPERATION_NOT_FOUND")
            raise bank_error(code, params)
        log.error("bank_unavailable", method=method, path=_loggable(path), attempts=attempts, problem=last_problem)
        raise QianbaoError("BANK_UNAVAILABLE")

    _retry_after: str | None = None

    def _delay(self, attempt: int, problem: str) -> float:
        delay = self.backoff * (2 ** (attempt - 1))
        hint, self._retry_after = self._retry_after, None
        if problem == "http 429" and hint and hint.isdigit():
            delay = max(delay, min(float(hint), _MAX_RETRY_AFTER))
        return delay


def _bank_code(response: httpx.Response) -> tuple[str | None, dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return None, {}
    if not isinstance(body, dict):
        return None, {}
    code = body.get("code")
    return (code if isinstance(code, str) else None), body


def _loggable(path: str) -> str:
    """A path for the log: the binding reference and token segments are kept, nothing personal is in paths."""
    return path[:120]


__all__ = ["HttpBankConnector"]

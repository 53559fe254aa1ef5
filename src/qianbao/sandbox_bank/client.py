"""A client of the sandbox bank's admin and development endpoints, for tests, the demo and scripts.

    bank = SandboxBankClient("http://127.0.0.1:8100")
    card = bank.create_card("李明", "440305199210110058", "13800000003", bank_code="PSBC", balance=100_000)
    bank.latest_otp("13800000003")            # the code the bank texted (its dev outbox)
    bank.configure(failure_rate=0.5)          # latency_ms, processing_ms, failure_rate, error_rate, ...
    bank.settle(status="failed", reason="INSUFFICIENT_FUNDS")   # settle what is processing, now
    bank.deliver_to(test_client)              # pull mode: hand pending callbacks to a wallet TestClient
    connector = bank.connector()              # an HttpBankConnector signed as the dev merchant
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from qianbao.sandbox_bank.config import DEV_ADMIN_TOKEN, DEV_API_SECRET, DEV_CALLBACK_SECRET


class SandboxBankClient:
    def __init__(self, url: str, *, admin_token: str = DEV_ADMIN_TOKEN, merchant_id: str = "QIANBAO-DEV",
                 api_secret: str = DEV_API_SECRET, callback_secret: str = DEV_CALLBACK_SECRET,
                 timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.merchant_id = merchant_id
        self.api_secret = api_secret
        self.callback_secret = callback_secret
        self._http = httpx.Client(base_url=self.url, timeout=timeout,
                                  headers={"authorization": f"Bearer {admin_token}"})

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    # ---- cards and behaviour ----------------------------------------------------------------------------

    def create_card(self, holder_name: str, id_number: str, phone: str, *, bank_code: str = "PSBC",
                    card_type: str = "debit", balance: int = 0, number: str | None = None,
                    frozen: bool = False) -> dict[str, Any]:
        return self._call("POST", "/admin/cards", json={
            "holder_name": holder_name, "id_number": id_number, "phone": phone, "bank_code": bank_code,
            "card_type": card_type, "balance": balance, "number": number, "frozen": frozen})  # type: ignore[no-any-return]

    def card(self, number: str) -> dict[str, Any]:
        return self._call("GET", f"/admin/cards/{number}")  # type: ignore[no-any-return]

    def update_card(self, number: str, *, balance: int | None = None, frozen: bool | None = None) -> dict[str, Any]:
        changes = {k: v for k, v in (("balance", balance), ("frozen", frozen)) if v is not None}
        return self._call("PATCH", f"/admin/cards/{number}", json=changes)  # type: ignore[no-any-return]

    def reset(self) -> dict[str, Any]:
        """A fresh bank: everything forgotten, demo cards seeded again, the configured behaviour back."""
        return self._call("POST", "/admin/reset")  # type: ignore[no-any-return]

    def configure_wallet(self, settings: Any) -> Any:
        """A copy of the wallet's Settings pointed at this bank, as its merchant."""
        return settings.model_copy(update={"bank_url": self.url, "bank_merchant_id": self.merchant_id,
                                           "bank_api_secret": self.api_secret,
                                           "bank_callback_secret": self.callback_secret,
                                           "bank_retry_backoff_seconds": 0.0})

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/admin/config")  # type: ignore[no-any-return]

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self._call("PUT", "/admin/config", json=changes)  # type: ignore[no-any-return]

    # ---- texts, operations, callbacks --------------------------------------------------------------------

    def outbox(self, phone: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/dev/outbox", params={"phone": phone} if phone else None)  # type: ignore[no-any-return]

    def latest_otp(self, phone: str) -> str:
        for message in self.outbox(phone):
            found = re.search(r"验证码(\d{6})", message["text"])
            if found:
                return found.group(1)
        raise LookupError(f"the bank texted no code to {phone}")

    def operations(self, key: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/admin/operations", params={"key": key} if key else None)  # type: ignore[no-any-return]

    def settle(self, bank_ref: str | None = None, *, status: str | None = None,
               reason: str | None = None) -> list[dict[str, Any]]:
        body = self._call("POST", "/admin/operations/settle",
                          json={"bank_ref": bank_ref, "status": status, "reason": reason})
        return body["settled"]  # type: ignore[no-any-return]

    def callbacks(self, key: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/admin/callbacks", params={"key": key} if key else None)  # type: ignore[no-any-return]

    def pending_callbacks(self) -> list[dict[str, Any]]:
        return self._call("GET", "/admin/callbacks/pending")  # type: ignore[no-any-return]

    def report(self, callback_id: int, status_code: int | None, error: str | None = None) -> dict[str, Any]:
        return self._call("POST", f"/admin/callbacks/{callback_id}/result",  # type: ignore[no-any-return]
                          json={"status_code": status_code, "error": error})

    def deliver_callbacks(self, send: Callable[[str, dict[str, str], bytes], int]) -> list[int]:
        """Pull mode: each pending callback, signed now, goes through `send(path, headers, body)`, whose status
        code is reported back (2xx delivers it; anything else leaves it pending). Returns the status codes."""
        codes = []
        for item in self.pending_callbacks():
            # the signature covers the URL's path: send it to the same path on the wallet under test
            parts = urlsplit(item["url"])
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            code = send(path, item["headers"], item["body"].encode())
            self.report(item["id"], code)
            codes.append(code)
        return codes

    def deliver_to(self, client: Any) -> list[int]:
        """Pull mode into a wallet app's TestClient (or any httpx-like client with .post)."""
        return self.deliver_callbacks(
            lambda path, headers, body: int(client.post(path, content=body, headers=headers).status_code))

    def connector(self, **overrides: Any) -> Any:
        """An HttpBankConnector to this bank, signed as its merchant (retries without waiting unless told)."""
        from qianbao.adapters.bank.http import HttpBankConnector

        options: dict[str, Any] = {"retries": 2, "backoff": 0.0, "timeout": 10.0}
        options.update(overrides)
        return HttpBankConnector(self.url, self.merchant_id, self.api_secret, **options)


__all__ = ["SandboxBankClient"]

"""The customer app's merchant payments: scan a merchant's QR code, and show the payment code (SPEC §6.2).

    GET  /app/pay              scan: the phone's camera in the browser (zxing-wasm, vendored), a picture
                               upload as the fallback (decoded in the browser, or on the server without
                               script), or the code's text typed/pasted
    GET  /app/scan             the home page's "scan" entry: → /app/pay
    POST /app/pay/scan         the payload (or the picture) → the confirmation page: the merchant's name and
                               city as registered (never the name printed in the code), the amount of a
                               dynamic code's order, or an amount field for a static code
    POST /app/pay/confirm      PIN, passkey or 小额免密 → merchants.pay_order / pay_static → /app/pay/done
    GET  /app/pay/done?ref=    the result (the payer's own operation only)
    GET  /app/paycode          the payment code (付款码): a QR code and the digits, a new one every 60 s
    POST /app/paycode/code     the htmx fragment that issues the code (on load and every 60 s)
    GET  /app/paycode/pending  polled every 2 s: a charge waiting for the customer's confirmation, if any
    POST /app/paycode/confirm  confirm that charge with the PIN or a passkey
    POST /app/paycode/decline  decline it
    POST /app/paycode/close    leave the page: the code on screen stops working

Every refusal is shown on the page it concerns, in the customer's language; nothing moves.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from qianbao import credentials, merchants, payments
from qianbao.credentials import Principal, passkeys
from qianbao.errors import QianbaoError
from qianbao.merchants.registry import require_active
from qianbao.money import parse_yuan
from qianbao.payments import emvqr, paycode
from qianbao.wallets import customers as wallet_customers
from qianbao.web import auth
from qianbao.web.auth import CustomerContext, current_customer
from qianbao.web.customer_common import db_of, error_text, lang_of, see_other
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

PAY = "/app/pay"
PAYCODE = "/app/paycode"
MAX_IMAGE_BYTES = 6 * 1024 * 1024
# The picture upload may be a phone photo: more than the application's 1 MB body limit (see app.py).
BODY_LIMITS = {PAY + "/scan": MAX_IMAGE_BYTES + 64 * 1024}
_CLIENT_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
PAYCODE_REFRESH_SECONDS = 60
PENDING_POLL_SECONDS = 2
# The scan page runs the vendored zxing-wasm decoder: WebAssembly needs 'wasm-unsafe-eval' (which allows
# compiling WebAssembly, not eval of script). Only this page gets it.
SCAN_CSP = auth.CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")


def new_client_key() -> str:
    return secrets.token_urlsafe(18)


def order_key(customer_id: int, client_key: str) -> str:
    if _CLIENT_KEY.fullmatch(client_key or "") is None:
        raise QianbaoError("BAD_REQUEST")
    return f"app:{customer_id}:{client_key}"


def wallet_id_of(session: Session, customer_id: int) -> int:
    wallet = wallet_customers.wallet_of_customer(session, customer_id)
    if wallet is None:
        raise QianbaoError("NOT_FOUND")
    return int(wallet.id)


# ---- what a scanned code asks for (shared with the JSON API) -------------------------------------------

@dataclass(frozen=True)
class Scanned:
    """A parsed Qianbao code with the merchant (and order) it names, as registered with us."""

    payload: str
    target: emvqr.QianbaoTarget
    merchant_no: str
    name_zh: str
    name_en: str
    city: str
    amount: int | None          # fen: the order's (dynamic), the code's fixed amount (static), or None
    order_no: str | None
    description: str | None
    expires_at: Any

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh-CN" or not self.name_en else self.name_en


def read_code(session: Session, payload: str, *, check: bool = True) -> Scanned:
    """Parse and look up a scanned payload: QR_* refusals, QR_MERCHANT_UNKNOWN, the order's refusals
    (ORDER_NOT_FOUND, ORDER_ALREADY_PAID, ORDER_CLOSED, ORDER_EXPIRED, MERCHANT_SUSPENDED), QR_ORDER_MISMATCH
    when the code's amount is not its order's. `check=False` leaves the order's state to `pay_order`, which
    checks it under the order's lock and answers a retry of a payment already made with that payment."""
    target = emvqr.qianbao_target(emvqr.parse(payload))
    merchant = merchants.merchant_by_no(session, target.merchant_no)
    if merchant is None:
        raise QianbaoError("QR_MERCHANT_UNKNOWN")
    if target.dynamic:
        assert target.order_ref is not None
        order = merchants.order_for_payment(session, target.merchant_no, target.order_ref)
        if order.amount != target.amount:
            raise QianbaoError("QR_ORDER_MISMATCH")
        if check:
            merchants.check_payable(order, merchant)
        return Scanned(payload.strip(), target, merchant.merchant_no, merchant.name_zh, merchant.name_en,
                       merchant.city, order.amount, order.merchant_order_no, order.description, order.expires_at)
    require_active(merchant)
    return Scanned(payload.strip(), target, merchant.merchant_no, merchant.name_zh, merchant.name_en,
                   merchant.city, target.amount, None, None, None)


def pay_scanned(session: Session, customer_id: int, wallet_id: int, payload: str, *, amount_text: str | None,
                pin: str | None, passkey: Any, client_key: str, note: str | None, rp_id: str | None,
                origin: str | None, ip: str | None, channel: str, key: str) -> Any:
    """Confirm and pay a scanned code in one unit of work (run it in `credentials.transaction`, so that a
    wrong PIN's count is kept). Returns merchants.Payment."""
    scanned = read_code(session, payload, check=False)
    amount = scanned.amount if scanned.amount is not None else parse_yuan((amount_text or "").strip())
    confirmation = payments.confirm(session, customer_id, amount=amount, pin=pin or None, passkey=passkey or None,
                                    rp_id=rp_id, origin=origin, binding=f"payment:{client_key}", ip=ip)
    if scanned.target.dynamic:
        assert scanned.target.order_ref is not None
        return merchants.pay_order(session, scanned.target.order_ref, wallet_id, confirmation, key, channel=channel)
    return merchants.pay_static(session, scanned.merchant_no, wallet_id, amount, confirmation, key, note=note,
                                channel=channel)


def decode_image(data: bytes) -> str:
    """The text of the first QR code in an uploaded picture (zxing-cpp), or QR_IMAGE_UNREADABLE."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    if not data or len(data) > MAX_IMAGE_BYTES:
        raise QianbaoError("QR_IMAGE_UNREADABLE")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > 40_000_000:
                raise QianbaoError("QR_IMAGE_UNREADABLE")
            image.load()
            picture = image.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise QianbaoError("QR_IMAGE_UNREADABLE") from None
    picture.thumbnail((1600, 1600))
    found = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    if not found:
        raise QianbaoError("QR_IMAGE_UNREADABLE")
    return str(found[0].text)


# ---- scanning ----------------------------------------------------------------------------------------

def _scan_page(request: Request, *, error: str | None = None, payload: str = "", status_code: int = 200) -> Response:
    response = render(request, "customer/pay_scan.html", status_code=status_code, section="pay", error=error,
                      payload=payload)
    response.headers["content-security-policy"] = SCAN_CSP
    return response


@router.get(PAY, response_class=HTMLResponse)
def scan_page(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    return _scan_page(request)


@router.get("/app/scan")
def scan_alias(customer: CustomerContext = Depends(current_customer)) -> Response:
    return see_other(PAY)


def _confirm_page(request: Request, customer: CustomerContext, scanned: Scanned, *, client_key: str | None = None,
                  amount_text: str = "", note: str = "", error: str | None = None, error_field: str = "",
                  status_code: int = 200) -> Response:
    with db_of(request).read() as session:
        chosen = payments.payment_settings(session, customer.customer_id)
        has_passkey = bool(passkeys.list_passkeys(session, Principal.customer(customer.customer_id)))
        has_pin = credentials.has_pin(session, Principal.customer(customer.customer_id))
    password_free = chosen.password_free_enabled and (
        scanned.amount is None or 0 < scanned.amount <= chosen.password_free_threshold)
    return render(request, "customer/pay_confirm.html", status_code=status_code, section="pay", scanned=scanned,
                  merchant_name=scanned.name(lang_of(request)), client_key=client_key or new_client_key(),
                  amount_text=amount_text, note=note, error=error, error_field=error_field,
                  password_free=password_free, threshold=chosen.password_free_threshold,
                  has_passkey=has_passkey, has_pin=has_pin)


@router.post(PAY + "/scan", response_class=HTMLResponse)
async def scan_submit(request: Request, payload: str = Form("", max_length=1024),
                      image: UploadFile | None = File(None),
                      customer: CustomerContext = Depends(current_customer)) -> Response:
    text = payload.strip()
    try:
        if not text and image is not None and image.filename:
            text = decode_image(await image.read(MAX_IMAGE_BYTES + 1))
        if not text:
            raise QianbaoError("QR_INVALID")
        with db_of(request).read() as session:
            scanned = read_code(session, text)
    except QianbaoError as exc:
        return _scan_page(request, error=error_text(request, exc), payload=text[:600], status_code=exc.status)
    return _confirm_page(request, customer, scanned)


def _passkey_answer(raw: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise QianbaoError("PASSKEY_INVALID") from None


@router.post(PAY + "/confirm", response_class=HTMLResponse)
def confirm_submit(request: Request, payload: str = Form("", max_length=1024), amount: str = Form("", max_length=32),
                   pin: str = Form("", max_length=12), passkey: str = Form("", max_length=8192),
                   note: str = Form("", max_length=60), client_key: str = Form("", max_length=64),
                   customer: CustomerContext = Depends(current_customer)) -> Response:
    from qianbao.web.customer_passkeys import relying_party

    try:
        with db_of(request).read() as session:
            scanned = read_code(session, payload, check=False)
    except QianbaoError as exc:
        return _scan_page(request, error=error_text(request, exc), status_code=exc.status)
    rp_id, origin = relying_party(request)
    try:
        key = order_key(customer.customer_id, client_key)
        with credentials.transaction(db_of(request)) as session:
            wallet_id = wallet_id_of(session, customer.customer_id)
            payment = pay_scanned(session, customer.customer_id, wallet_id, payload, amount_text=amount, pin=pin,
                                  passkey=_passkey_answer(passkey), client_key=client_key, note=note or None,
                                  rp_id=rp_id, origin=origin, ip=auth.client_ip(request), channel="app", key=key)
            reference = payment.operation.reference
    except QianbaoError as exc:
        field = "amount" if exc.code.startswith("AMOUNT_") else "pin" if exc.code.startswith(("PIN_", "CONFIRM")) \
            else ""
        return _confirm_page(request, customer, scanned, client_key=client_key, amount_text=amount, note=note,
                             error=error_text(request, exc), error_field=field, status_code=exc.status)
    return see_other(f"{PAY}/done?ref={reference}")


@router.get(PAY + "/done", response_class=HTMLResponse)
def done_page(request: Request, ref: str = Query("", max_length=40),
              customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).read() as session:
        wallet_id = wallet_id_of(session, customer.customer_id)
        try:
            operation = payments.get_operation(session, ref)
        except QianbaoError:
            raise QianbaoError("NOT_FOUND") from None
        if operation.payer_wallet_id != wallet_id or operation.kind != "merchant_payment":
            raise QianbaoError("NOT_FOUND")
    return render(request, "customer/pay_done.html", section="pay", operation=operation)


# ---- the payment code ----------------------------------------------------------------------------------

@router.get(PAYCODE, response_class=HTMLResponse)
def paycode_page(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    return render(request, "customer/paycode.html", section="pay", refresh=PAYCODE_REFRESH_SECONDS,
                  poll=PENDING_POLL_SECONDS)


@router.post(PAYCODE + "/code", response_class=HTMLResponse)
def paycode_code(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    try:
        with db_of(request).transaction() as session:
            wallet_id = wallet_id_of(session, customer.customer_id)
            issued = paycode.issue(session, customer.customer_id, wallet_id)
    except QianbaoError as exc:
        return render(request, "customer/_paycode_code.html", status_code=200, error=error_text(request, exc),
                      issued=None)
    svg = emvqr.svg(issued.code, scale=5, border=2, omitsize=True)
    return render(request, "customer/_paycode_code.html", issued=issued, grouped=paycode.group(issued.code),
                  svg=svg, error=None)


@router.post(PAYCODE + "/close")
def paycode_close(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    with db_of(request).transaction() as session:
        paycode.revoke(session, wallet_id_of(session, customer.customer_id))
    return see_other("/app")


def _pending_fragment(request: Request, customer: CustomerContext, *, error: str | None = None,
                      status_code: int = 200) -> Response:
    with db_of(request).transaction() as session:
        waiting = paycode.awaiting_charge(session, customer.customer_id)
        merchant = merchants.get_merchant(session, waiting.merchant_id) if waiting else None
        has_passkey = bool(passkeys.list_passkeys(session, Principal.customer(customer.customer_id)))
    name = (merchant.name_zh if lang_of(request) == "zh-CN" else merchant.name_en) if merchant else None
    return render(request, "customer/_paycode_pending.html", status_code=status_code, waiting=waiting,
                  merchant_name=name, error=error, has_passkey=has_passkey)


@router.get(PAYCODE + "/pending", response_class=HTMLResponse)
def paycode_pending(request: Request, customer: CustomerContext = Depends(current_customer)) -> Response:
    return _pending_fragment(request, customer)


@router.post(PAYCODE + "/confirm", response_class=HTMLResponse)
def paycode_confirm(request: Request, reference: str = Form("", max_length=24), pin: str = Form("", max_length=12),
                    passkey: str = Form("", max_length=8192),
                    customer: CustomerContext = Depends(current_customer)) -> Response:
    from qianbao.web.customer_passkeys import relying_party

    rp_id, origin = relying_party(request)
    try:
        with credentials.transaction(db_of(request)) as session:
            amount = paycode.amount_of_awaiting(session, customer.customer_id, reference)
            confirmation = payments.confirm(session, customer.customer_id, amount=amount, pin=pin or None,
                                            passkey=_passkey_answer(passkey), rp_id=rp_id, origin=origin,
                                            binding=f"payment:{reference}", allow_password_free=False,
                                            ip=auth.client_ip(request))
            charge = paycode.confirm_charge(session, customer.customer_id, reference, confirmation)
    except QianbaoError as exc:
        if exc.code == "PAYMENT_CODE_CONFIRMATION_EXPIRED":
            # Settle it for the merchant (the refusal rolled the settling back).
            with db_of(request).transaction() as session:
                paycode.awaiting_charge(session, customer.customer_id)
        return _pending_fragment(request, customer, error=error_text(request, exc), status_code=200)
    assert charge.operation_reference is not None
    response = Response(status_code=204)
    response.headers["HX-Redirect"] = f"{PAY}/done?ref={charge.operation_reference}"
    if not request.headers.get("hx-request"):
        return see_other(f"{PAY}/done?ref={charge.operation_reference}")
    return response


@router.post(PAYCODE + "/decline", response_class=HTMLResponse)
def paycode_decline(request: Request, reference: str = Form("", max_length=24),
                    customer: CustomerContext = Depends(current_customer)) -> Response:
    try:
        with db_of(request).transaction() as session:
            paycode.decline_charge(session, customer.customer_id, reference)
    except QianbaoError as exc:
        return _pending_fragment(request, customer, error=error_text(request, exc))
    return _pending_fragment(request, customer)


__all__ = ["BODY_LIMITS", "Scanned", "decode_image", "pay_scanned", "read_code", "router"]

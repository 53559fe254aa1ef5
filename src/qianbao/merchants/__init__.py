"""Merchants (SPEC §1, §6.2, §6.3): merchants and their API credentials, orders, refunds and signed
notifications. Rules: docs/merchants.md. Functions take the Session first and never commit.

Merchants (ops console, audited)
    create_merchant(s, name_zh=, name_en=, category=, mdr_bp=, by=, ...) -> Created(merchant, credentials)
    rotate_secret(s, merchant_id, by=) -> Credentials      suspend / reactivate(s, id, reason, by=)
    reset_portal_password(s, id, by=) -> Credentials       get_merchant, merchant_by_no, list_merchants
    postal_express(s) -> Merchant                          the built-in 中国邮政速递, get-or-create
    authenticate_request(s, SignedRequest, method, path, body) -> Merchant    the API's HMAC check

Orders
    create_order(s, merchant, merchant_order_no=, amount=, description=, expires_in=, notify_url=,
                 source="api"|"portal"|"system", extra=) -> CreatedOrder(order, replayed)
    get_order(s, merchant_id, merchant_order_no) / order_by_token(s, token) / list_orders(s, merchant_id)
    close_order / confirm_order(s, merchant_id, merchant_order_no, actor=)
    order_json(s, order) -> dict                           what the API and the notifications send
    order_qr_payload(merchant, order) / static_qr_payload(merchant)   EMVCo payloads

Paying (the customer side calls these)
    order_for_payment(s, merchant_no, token) -> MerchantOrder   the order a scanned dynamic code names
    pay_order(s, order_or_token, wallet_id, confirmation, key) -> Payment
    pay_static(s, merchant_no, wallet_id, amount, confirmation, key) -> Payment
    refund(s, merchant_id, merchant_order_no, refund_no=, amount=, actor=) -> Refund
"""

from qianbao.merchants.models import Merchant, MerchantNotification, MerchantOrder, MerchantRefund
from qianbao.merchants.orders import (
    CreatedOrder,
    close_order,
    confirm_order,
    create_order,
    fee_for,
    get_order,
    list_orders,
    order_by_token,
    order_json,
    order_state,
)
from qianbao.merchants.paying import (
    Payment,
    Refund,
    check_payable,
    order_for_merchant_token,
    order_for_payment,
    pay_order,
    pay_static,
    refund,
)
from qianbao.merchants.qr import order_qr_payload, qr_svg, static_qr_payload
from qianbao.merchants.registry import (
    Created,
    Credentials,
    SignedRequest,
    authenticate_request,
    create_merchant,
    get_merchant,
    list_merchants,
    merchant_by_no,
    postal_express,
    reactivate,
    reset_portal_password,
    rotate_secret,
    suspend,
)

__all__ = [
    "Created",
    "CreatedOrder",
    "Credentials",
    "Merchant",
    "MerchantNotification",
    "MerchantOrder",
    "MerchantRefund",
    "Payment",
    "Refund",
    "SignedRequest",
    "authenticate_request",
    "check_payable",
    "close_order",
    "confirm_order",
    "create_merchant",
    "create_order",
    "fee_for",
    "get_merchant",
    "get_order",
    "list_merchants",
    "list_orders",
    "merchant_by_no",
    "order_by_token",
    "order_for_merchant_token",
    "order_for_payment",
    "order_json",
    "order_qr_payload",
    "order_state",
    "pay_order",
    "pay_static",
    "postal_express",
    "qr_svg",
    "reactivate",
    "refund",
    "reset_portal_password",
    "rotate_secret",
    "static_qr_payload",
    "suspend",
]

"""The merchant's QR codes: the dynamic code of an open order (amount + the order's public token as the EMVCo
reference label 62-05, the merchant's order number as the bill number 62-01) and the merchant's static code
(the payer types the amount). Encoded by `qianbao.payments.emvqr`; drawn by segno.
"""

from __future__ import annotations

from qianbao.merchants.models import CATEGORIES, Merchant, MerchantOrder

CITY_EN = {"北京": "Beijing", "上海": "Shanghai", "广州": "Guangzhou", "深圳": "Shenzhen", "天津": "Tianjin"}


def _city_en(city: str) -> str:
    return CITY_EN.get(city, city)


def order_qr_payload(merchant: Merchant, order: MerchantOrder, base_url: str = "") -> str:
    """The EMVCo dynamic code of an open order."""
    from qianbao.payments import emvqr

    bill = order.merchant_order_no if len(order.merchant_order_no) <= 25 else None
    return emvqr.qianbao_code(
        merchant_no=merchant.merchant_no, name=merchant.name_en, city=_city_en(merchant.city),
        mcc=CATEGORIES.get(merchant.category, "5999"), name_zh=merchant.name_zh, city_zh=merchant.city,
        amount=order.amount, order_ref=order.token, bill_number=bill,
    )


def static_qr_payload(merchant: Merchant, terminal: str | None = None) -> str:
    """The merchant's static code, printed at the till: the payer types the amount."""
    from qianbao.payments import emvqr

    return emvqr.qianbao_code(
        merchant_no=merchant.merchant_no, name=merchant.name_en, city=_city_en(merchant.city),
        mcc=CATEGORIES.get(merchant.category, "5999"), name_zh=merchant.name_zh, city_zh=merchant.city,
        terminal=terminal,
    )


def qr_svg(payload: str, title: str | None = None) -> str:
    from qianbao.payments import emvqr

    return emvqr.svg(payload, scale=6, title=title)

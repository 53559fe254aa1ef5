"""Demo data of bills and parcels for `qianbao serve --demo` (called from qianbao.demo.seed). Idempotent.

    13800000003 李明     my billers: 上海市自来水 3100123458 and 国网上海市电力公司 1203456783, each with a bill
                         due in his name
    13800000001 王秀英   my billers: 上海燃气 200345676 and 中国电信 18912345678, bills due
    13800000004          a postal express shipping order to 北京 waiting for payment (set a PIN first)

The sandbox billers decide other accounts by one digit (docs/bills-and-parcels.md): try an account number
starting with 6 (the biller's answer is lost: the payment stays processing until the worker asks again),
7 (the biller refuses), 8 (nothing due) or 9 (no such account).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from qianbao.adapters.billers.references import with_check_digit
from qianbao.adapters.billers.sandbox import SandboxBillers, billing_period
from qianbao.db import Database
from qianbao.payments import bills, parcels
from qianbao.payments.bills_models import AWAITING_PAYMENT, ParcelOrder
from qianbao.settings import Settings
from qianbao.wallets.customers import customer_by_phone, wallet_of_customer

# (phone, biller, account body without its check digit / a telecom number, label, amount in fen)
DEMO_BILLS: tuple[tuple[str, str, str, str, int], ...] = (
    ("13800000003", "SH-WATER", "310012345", "家里", 8_640),
    ("13800000003", "SH-POWER", "120345678", "家里", 21_385),
    ("13800000001", "SH-GAS", "20034567", "老房子", 6_210),
    ("13800000001", "CT-MOBILE", "18912345678", "手机", 12_800),
)
PARCEL_PHONE = "13800000004"


def _reference(biller: str, body: str) -> str:
    return body if biller == "CT-MOBILE" else with_check_digit(body)


def seed_demo_bills(db: Database, settings: Settings) -> list[str]:
    """Saved billers with bills due for the demo holders, and a parcel order waiting for 13800000004."""
    billers = SandboxBillers(db)
    period, due_date = billing_period(datetime.now(UTC))
    lines: list[str] = []
    for phone, code, body, label, amount in DEMO_BILLS:
        reference = _reference(code, body)
        with db.transaction() as session:
            customer = customer_by_phone(session, "+86" + phone)
            if customer is None:
                continue
            known = {(saved.biller.code, saved.reference) for saved in bills.saved_billers(session, customer.id)}
            name = customer.legal_name
            if (code, reference) not in known:
                bills.save_biller(session, customer.id, code, reference, label=label)
        if (code, reference) not in known:
            billers.issue_bill(code, reference, amount=amount, period=period, due_date=due_date, holder_name=name)
        lines.append(f"  {phone}  {code:<10} {reference}")
    with db.transaction() as session:
        customer = customer_by_phone(session, "+86" + PARCEL_PHONE)
        if customer is not None and wallet_of_customer(session, customer.id) is not None:
            waiting = session.scalar(select(ParcelOrder.id).where(ParcelOrder.customer_id == customer.id,
                                                                  ParcelOrder.status == AWAITING_PAYMENT))
            if waiting is None:
                parcels.create_shipping_order(session, customer_id=customer.id, receiver_city="北京",
                                              weight_grams=1_500, charge_under_agreement=False)
            lines.append(f"  {PARCEL_PHONE}  寄件待支付 parcel awaiting payment /app/parcels")
    if not lines:
        return []
    return ["生活缴费 Bills due (/app/bills, 我的缴费 my billers):", *lines,
            "  沙箱户号 sandbox accounts: 首位 first digit 6 应答丢失 lost answer · 7 拒绝 refused · "
            "8 无欠费 nothing due · 9 查无此户 unknown"]

"""Demo merchants for `qianbao serve --demo` (idempotent, built through the domain; never in production).

    邮政便利店   a shop (retail, 0.60 %), with an open checkout order to pay from the customer app
    铁路票务     a ticket seller (tickets, 0.30 %): create order → customer pays → merchant confirms
    中国邮政速递  the built-in postal express merchant (0 %), used by parcels

Their portal passwords and API credentials are fixed demo values, printed with the other sign-in lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.merchants import signing
from qianbao.merchants.models import Merchant
from qianbao.merchants.orders import create_order
from qianbao.merchants.registry import POSTAL_EXPRESS, create_merchant
from qianbao.settings import Settings


@dataclass(frozen=True)
class DemoMerchant:
    name_zh: str
    name_en: str
    category: str
    mdr_bp: int
    password: str
    api_key: str
    secret: str
    system_code: str | None = None


DEMO_MERCHANTS = (
    DemoMerchant("邮政便利店", "Post Convenience Store", "retail", 60, "Merchant-Demo-001",
                 "qbk_demo_post_convenience_store_01", "qbs_demo_post_convenience_store_secret_01"),
    DemoMerchant("铁路票务", "Railway Tickets (demo)", "tickets", 30, "Merchant-Demo-002",
                 "qbk_demo_railway_tickets_000000002", "qbs_demo_railway_tickets_secret_00000002"),
    DemoMerchant("中国邮政速递", "China Post Express", "postal_express", 0, "Merchant-Demo-003",
                 "qbk_demo_china_post_express_000003", "qbs_demo_china_post_express_secret_0003",
                 system_code=POSTAL_EXPRESS),
)
CHECKOUT_ORDER_NO = "DEMO-CHECKOUT-1"


def seed_demo_merchants(session: Session, settings: Settings) -> list[str]:
    """Create the demo merchants that are missing; return the lines telling how to use them."""
    if settings.environment == "production":
        return []
    actor = audit.Actor.system("demo")
    rows: list[tuple[DemoMerchant, Merchant]] = []
    for demo in DEMO_MERCHANTS:
        found = session.scalar(select(Merchant).where(Merchant.api_key_hash == signing.api_key_hash(demo.api_key)))
        if found is None and demo.system_code:
            found = session.scalar(select(Merchant).where(Merchant.system_code == demo.system_code))
        if found is None:
            found = create_merchant(
                session, name_zh=demo.name_zh, name_en=demo.name_en, category=demo.category, mdr_bp=demo.mdr_bp,
                city="北京", by=actor, channel="system", system_code=demo.system_code, api_key=demo.api_key,
                secret=demo.secret, password=demo.password, settings=settings,
            ).merchant
        rows.append((demo, found))
    shop = rows[0][1]
    checkout = create_order(session, shop, merchant_order_no=CHECKOUT_ORDER_NO, amount=1280,
                            description="邮政明信片一套 Postcards", expires_in=7 * 24 * 3600).order
    base = settings.base_url
    lines = [f"商户中心 Merchant centre: {base}/m/login (商户号 merchant no. / 密码 password)"]
    for demo, merchant in rows:
        lines.append(f"  {demo.name_zh:<8} {merchant.merchant_no}  {demo.password:<18} "
                     f"API key {demo.api_key}  secret {demo.secret}")
    lines.append(f"收银台示例 Demo checkout: {base}/m/checkout/{checkout.token}")
    return lines

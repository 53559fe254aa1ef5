"""The demo seed's merchants: a shop, a ticket seller and the postal express merchant, made once."""

from __future__ import annotations

from sqlalchemy import func, select

from qianbao import credentials, merchants
from qianbao.merchants.demo import DEMO_MERCHANTS, seed_demo_merchants
from qianbao.merchants.models import Merchant, MerchantOrder


def test_the_demo_seed_makes_three_merchants_once_and_prints_how_to_use_them(db, settings) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        lines = seed_demo_merchants(session, settings)
    with db.transaction() as session:
        seed_demo_merchants(session, settings)
        postal = merchants.postal_express(session)
        names = sorted(session.scalars(select(Merchant.name_zh)))
        orders = session.scalar(select(func.count()).select_from(MerchantOrder))
        shop = session.scalar(select(Merchant).where(Merchant.name_zh == "邮政便利店"))
        assert shop is not None
        credentials.verify_login(session, merchants.registry.principal(shop.id), DEMO_MERCHANTS[0].password,
                                 settings=settings)
    assert names == sorted(["邮政便利店", "铁路票务", "中国邮政速递"])
    assert postal.name_zh == "中国邮政速递" and orders == 1
    assert any("/m/checkout/" in line for line in lines) and any(shop.merchant_no in line for line in lines)


def test_no_demo_merchants_in_production(db, settings) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        assert seed_demo_merchants(session, settings.model_copy(update={"environment": "production"})) == []
        assert session.scalar(select(func.count()).select_from(Merchant)) == 0

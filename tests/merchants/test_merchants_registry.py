"""Merchants as the ops console makes them: ledger account, credentials shown once and stored protected,
rotation, suspension, the portal password, the built-in postal express merchant, audit records."""

from __future__ import annotations

import pytest
from merchant_helpers import OPERATOR
from sqlalchemy import select, text

from qianbao import credentials, ledger, merchants
from qianbao.audit.models import AuditEntry
from qianbao.merchants.models import Merchant


def test_a_new_merchant_has_a_merchant_ledger_account_and_is_audited(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant(mdr_bp=38)
    with shop.db.read() as session:
        account = ledger.get_account(session, m.account_id)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "merchant.create"))
    assert account.kind == "merchant" and account.code == f"MC{m.merchant_no}"
    assert len(m.merchant_no) == 15 and m.merchant_no.startswith("8")
    assert entry is not None and entry.object_id == str(m.id) and entry.details["mdr_bp"] == 38


def test_the_api_key_is_stored_hashed_and_the_secret_encrypted(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    with shop.db.read() as session:
        raw = session.execute(text("SELECT api_key_hash, api_key_prefix, secret FROM merchant")).one()
    assert m.api_key not in " ".join(map(str, raw)) and m.secret not in str(raw.secret)
    assert raw.api_key_prefix == m.api_key[:10]
    with shop.db.read() as session:
        assert session.get(Merchant, m.id).secret == m.secret  # type: ignore[union-attr]


@pytest.mark.parametrize(("changes", "code"), [
    ({"name_zh": ""}, "MERCHANT_NAME_INVALID"),
    ({"name_en": "x" * 101}, "MERCHANT_NAME_INVALID"),
    ({"category": "casino"}, "MERCHANT_CATEGORY_INVALID"),
    ({"mdr_bp": -1}, "MERCHANT_RATE_INVALID"),
    ({"mdr_bp": 1001}, "MERCHANT_RATE_INVALID"),
    ({"notify_url": "ftp://shop.example/n"}, "MERCHANT_NOTIFY_URL_INVALID"),
    ({"notify_url": "https://user:pw@shop.example/n"}, "MERCHANT_NOTIFY_URL_INVALID"),
])
def test_bad_merchant_details_are_refused_and_nothing_is_created(shop, changes, code) -> None:  # type: ignore[no-untyped-def]
    values = {"name_zh": "好邻居", "name_en": "Good Neighbour", "category": "retail", "mdr_bp": 60, **changes}
    refused = shop.refusal(merchants.create_merchant, by=OPERATOR, settings=shop.settings, **values)
    assert refused.code == code
    assert shop.count(Merchant) == 0


def test_rotating_the_secret_is_audited_and_returns_the_new_one_once(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    creds = shop.run(merchants.rotate_secret, m.id, by=OPERATOR)
    assert creds.secret and creds.secret != m.secret and creds.api_key is None and creds.password is None
    with shop.db.read() as session:
        row = session.get(Merchant, m.id)
        assert row is not None and row.secret == creds.secret and row.secret_version == 2
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "merchant.secret.rotate")) is not None


def test_suspending_needs_a_reason_and_ends_portal_sessions(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    who = merchants.registry.principal(m.id)
    with shop.db.transaction() as session:
        started = credentials.start_session(session, who, settings=shop.settings)
    assert shop.refusal(merchants.suspend, m.id, " ", by=OPERATOR).code == "MERCHANT_REASON_REQUIRED"
    shop.run(merchants.suspend, m.id, "涉嫌套现", by=OPERATOR)
    with shop.db.transaction() as session:
        assert credentials.authenticate(session, started.token, settings=shop.settings) is None
    assert shop.refusal(merchants.suspend, m.id, "again", by=OPERATOR).code == "MERCHANT_SUSPENDED"
    shop.run(merchants.reactivate, m.id, "整改完成", by=OPERATOR)
    assert shop.refusal(merchants.reactivate, m.id, "again", by=OPERATOR).code == "MERCHANT_NOT_SUSPENDED"


def test_the_portal_password_set_at_creation_signs_in_and_a_reset_replaces_it(shop) -> None:  # type: ignore[no-untyped-def]
    m = shop.merchant()
    who = merchants.registry.principal(m.id)
    shop.run(credentials.verify_login, who, m.password, settings=shop.settings)
    creds = shop.run(merchants.reset_portal_password, m.id, by=OPERATOR, settings=shop.settings)
    assert creds.password and creds.password != m.password
    shop.run(credentials.verify_login, who, creds.password, settings=shop.settings)
    with credentials.transaction(shop.db) as session, pytest.raises(credentials.CredentialFailure):
        credentials.verify_login(session, who, m.password, settings=shop.settings)


def test_the_postal_express_merchant_is_made_once(shop) -> None:  # type: ignore[no-untyped-def]
    first = shop.run(lambda s: merchants.postal_express(s).id)
    again = shop.run(lambda s: merchants.postal_express(s).id)
    assert first == again and shop.count(Merchant) == 1
    with shop.db.read() as session:
        row = session.get(Merchant, first)
        assert row is not None and row.name_zh == "中国邮政速递" and row.category == "postal_express"
        assert row.system_code == "postal_express"


def test_a_nonce_is_forgotten_only_after_twice_the_window(shop) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from qianbao.merchants import registry, signing
    from qianbao.merchants.models import MerchantNonce

    m = shop.merchant()
    now = datetime.now(UTC)
    with shop.db.transaction() as session:
        session.add(MerchantNonce(merchant_id=m.id, nonce="a" * 16, seen_at=now - timedelta(seconds=601)))
        session.add(MerchantNonce(merchant_id=m.id, nonce="b" * 16, seen_at=now - timedelta(seconds=500)))
    assert shop.run(registry.purge_nonces) == 1
    assert signing.WINDOW_SECONDS * 2 == 600
    assert shop.count(MerchantNonce) == 1

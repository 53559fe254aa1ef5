"""The receipts of a counter opening (SPEC §3.2 step 4) and of a counter upgrade to tier 1.

Kinds "wallet.open" and "wallet.upgrade"; the subject is the counter application, which names the wallet,
the holder, the teller and the supervisor who approved. The limits printed are the tier's limits from the
policy table at printing time (they are what binds the wallet), in yuan.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from qianbao import wallets
from qianbao.i18n import translate
from qianbao.money import format_fen
from qianbao.pii.masking import mask_name, mask_phone
from qianbao.receipts.document import ReceiptDocument, ReceiptTable
from qianbao.receipts.models import Receipt
from qianbao.receipts.service import register_kind
from qianbao.staff.models import StaffMember

OPEN = "wallet.open"
UPGRADE = "wallet.upgrade"
GUIDE_LINES = 5


def _limit(fen: int | None, lang: str) -> str:
    return translate("receipt.opening.no_limit", lang) if fen is None else format_fen(fen, lang)


def _staff_label(session: Session, staff_id: int | None) -> str | None:
    member = session.get(StaffMember, staff_id) if staff_id is not None else None
    return None if member is None else f"{member.name} ({member.employee_no})"


def opening_document(session: Session, receipt: Receipt, lang: str) -> ReceiptDocument:
    def t(key: str, **params: object) -> str:
        return translate(key, lang, **params)

    application = wallets.get_application(session, int(receipt.subject_id), branch_id=receipt.branch_id)
    if application.wallet_id is None:
        raise ValueError(f"counter application {application.id} has no wallet: the receipt came too early")
    wallet = wallets.get_wallet(session, application.wallet_id)
    customer = wallets.get_customer(session, wallet.customer_id)
    limits = wallets.tier_policy(session, wallet.tier)
    upgrade = receipt.kind == UPGRADE

    facts: list[tuple[str, str]] = [
        (t("receipt.opening.holder"), mask_name(customer.legal_name)),
        (t("receipt.opening.phone"), mask_phone(customer.phone)),
        (t("receipt.opening.tier"), t("receipt.opening.tier_value", tier=t(f"customer.tier.{wallet.tier}"))),
        (t("receipt.opening.business"), t(f"receipt.opening.business.{'upgrade' if upgrade else 'open'}")),
    ]
    supervisor = _staff_label(session, application.supervisor_staff_id)
    if supervisor is not None:
        facts.append((t("receipt.opening.supervisor"), supervisor))

    table = ReceiptTable(
        caption=t("receipt.opening.limits"),
        columns=(t("customer.tiers.col.balance"), t("customer.tiers.col.single"), t("customer.tiers.col.daily"),
                 t("customer.tiers.col.annual")),
        rows=((_limit(limits.balance_cap, lang), _limit(limits.single_payment_limit, lang),
               _limit(limits.daily_outflow_limit, lang), _limit(limits.annual_outflow_limit, lang)),),
    )
    guide_prefix = "receipt.upgrade.guide" if upgrade else "receipt.opening.guide"
    return ReceiptDocument(
        title=t("receipt.upgrade.title" if upgrade else "receipt.opening.title"),
        headline_label=t("receipt.opening.wallet_number"),
        headline_value=wallets.format_wallet_number(wallet.number),
        facts=tuple(facts),
        table=table,
        guide_title=t("receipt.opening.guide"),
        guide=tuple(t(f"{guide_prefix}.{n}") for n in range(1, GUIDE_LINES + 1)),
        signatures=(t("receipt.sign.customer"), t("receipt.sign.teller")),
    )


register_kind(OPEN, opening_document)
register_kind(UPGRADE, opening_document)

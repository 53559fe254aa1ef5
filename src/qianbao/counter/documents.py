"""What the counter prints: the receipt of each counter operation, the statement, and the day report.

Receipt kinds registered with qianbao.receipts:
    counter.operation    subject: the counter operation's id (float, cash in/out, over/short, vault return,
                         services); a statement operation prints the statement's postings as its table
    counter.day_report   subject: the counter session's id — every operation of the teller's day, the
                         counted cash by denomination, expected, counted and the difference
Values are masked; amounts in the receipt's language.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from qianbao import ledger, receipts
from qianbao.counter import core, services
from qianbao.counter.models import CASH_IN, CASH_OUT, FLOAT, OVER_SHORT, STATEMENT, VAULT_RETURN, CounterSession
from qianbao.i18n import translate
from qianbao.money import format_fen
from qianbao.receipts.document import ReceiptDocument, ReceiptTable, local_text
from qianbao.receipts.models import Receipt
from qianbao.staff.models import StaffMember


def _staff(session: Session, staff_id: int | None) -> str:
    member = session.get(StaffMember, staff_id) if staff_id is not None else None
    return "" if member is None else f"{member.name} ({member.employee_no})"


def kind_label(kind: str, lang: str, details: dict[str, object] | None = None) -> str:
    if kind == OVER_SHORT and details is not None:
        return translate(f"counter.kind.over_short.{details.get('direction', 'short')}", lang)
    return translate(f"counter.kind.{kind}", lang)


def operation_document(session: Session, receipt: Receipt, lang: str) -> ReceiptDocument:
    def t(key: str, **params: object) -> str:
        return translate(key, lang, **params)

    op = core.get_operation(session, int(receipt.subject_id))
    facts: list[tuple[str, str]] = [(t("counter.receipt.reference"), op.reference),
                                    (t("counter.receipt.business"), kind_label(op.kind, lang, op.details))]
    details = op.details or {}
    if details.get("name"):
        facts.append((t("counter.receipt.holder"), str(details["name"])))
    if details.get("id_number"):
        facts.append((t("counter.receipt.id_number"), str(details["id_number"])))
    if details.get("wallet"):
        facts.append((t("counter.receipt.wallet"), str(details["wallet"])))
    if op.id_check:
        facts.append((t("counter.receipt.id_check"), t(f"counter.id_check.{op.id_check}")))
    if details.get("new_phone_masked"):
        facts.append((t("counter.receipt.new_phone"), str(details["new_phone_masked"])))
    if op.approval_id is not None:
        from qianbao import approvals

        request = approvals.get_approval(session, op.approval_id)
        if request.decided_by is not None and request.status == "approved":
            facts.append((t("counter.receipt.supervisor"), _staff(session, request.decided_by)))
    table = None
    if op.kind == STATEMENT:
        facts.append((t("counter.receipt.period"), f"{details.get('period_from')} – {details.get('period_to')}"))
        rows = tuple(
            (local_text(p.created_at, lang), t(f"counter.statement.code.{p.code}") if p.code in STATEMENT_CODES
             else p.code, format_fen(p.posted_delta, lang) if p.posted_delta else format_fen(p.amount, lang),
             p.reference or "")
            for p in services.statement_postings(session, op)
        )
        table = ReceiptTable(
            caption=t("counter.statement.caption", count=len(rows)),
            columns=(t("counter.statement.col.time"), t("counter.statement.col.type"),
                     t("counter.statement.col.amount"), t("counter.statement.col.reference")),
            rows=rows or ((t("counter.statement.none"), "", "", ""),),
        )
        assert op.wallet_id is not None
        from qianbao.wallets.customers import get_wallet

        wallet = get_wallet(session, op.wallet_id)
        facts.append((t("counter.receipt.balance_now"),
                      format_fen(ledger.balance(session, wallet.ledger_account_id).posted, lang)))
    signatures = (t("receipt.sign.customer"), t("receipt.sign.teller"))
    if op.kind in (FLOAT, VAULT_RETURN, OVER_SHORT):
        signatures = (t("receipt.sign.teller"), t("counter.receipt.sign.supervisor"))
    return ReceiptDocument(
        title=t("counter.receipt.title." + ("statement" if op.kind == STATEMENT else "operation"),
                business=kind_label(op.kind, lang, op.details)),
        headline_label=t("counter.receipt.amount") if op.amount is not None else None,
        headline_value=format_fen(op.amount, lang) if op.amount is not None else None,
        facts=tuple(facts), table=table, signatures=signatures,
    )


STATEMENT_CODES = frozenset({"cash_in", "cash_out", "topup", "withdrawal", "transfer", "p2p", "fee", "refund",
                             "merchant_payment", "bill", "parcel"})


def _signed(op_kind: str, amount: int, details: dict[str, object]) -> int:
    """The operation's effect on the drawer (+ in, − out)."""
    if op_kind in (FLOAT, CASH_IN):
        return amount
    if op_kind == OVER_SHORT:
        return amount if details.get("direction") == "over" else -amount
    if op_kind in (CASH_OUT, VAULT_RETURN):
        return -amount
    return 0


def day_report_document(session: Session, receipt: Receipt, lang: str) -> ReceiptDocument:
    def t(key: str, **params: object) -> str:
        return translate(key, lang, **params)

    day = core.get_session(session, int(receipt.subject_id))
    ops = core.operations_of(session, day.id)
    rows = []
    totals = {CASH_IN: [0, 0], CASH_OUT: [0, 0]}
    for op in ops:
        op_receipt = receipts.receipt_for(session, core.RECEIPT_KIND, op.id)
        effect = _signed(op.kind, op.amount or 0, op.details or {}) if op.status == "succeeded" else 0
        if op.kind in totals and op.status == "succeeded":
            totals[op.kind][0] += 1
            totals[op.kind][1] += op.amount or 0
        label = kind_label(op.kind, lang, op.details)
        if op.status != "succeeded":
            label = f"{label} ({t(f'counter.status.{op.status}')})"
        wallet = str((op.details or {}).get("wallet", ""))
        rows.append((
            local_text(op.created_at, lang)[11:16], label, f"*{wallet[-4:]}" if wallet else "",
            format_fen(effect, lang) if effect else "—", op_receipt.serial if op_receipt else op.reference,
        ))
    facts: list[tuple[str, str]] = [
        (t("counter.report.teller"), _staff(session, day.teller_id)),
        (t("counter.report.date"), day.business_date.isoformat()),
        (t("counter.report.float"), format_fen(day.float_amount, lang)),
        (t("counter.report.cash_in"), t("counter.report.count_sum", count=totals[CASH_IN][0],
                                        amount=format_fen(totals[CASH_IN][1], lang))),
        (t("counter.report.cash_out"), t("counter.report.count_sum", count=totals[CASH_OUT][0],
                                         amount=format_fen(totals[CASH_OUT][1], lang))),
    ]
    facts += _balance_facts(day, lang)
    if day.signed_off_by is not None:
        facts.append((t("counter.report.signed_off"), _staff(session, day.signed_off_by)))
    return ReceiptDocument(
        title=t("counter.report.title"),
        headline_label=t("counter.report.status"), headline_value=t(f"counter.session.status.{day.status}"),
        facts=tuple(facts),
        table=ReceiptTable(
            caption=t("counter.report.operations", count=len(rows)),
            columns=(t("counter.report.col.time"), t("counter.report.col.kind"), t("counter.report.col.wallet"),
                     t("counter.report.col.drawer"), t("counter.report.col.receipt")),
            rows=tuple(rows),
        ),
        signatures=(t("receipt.sign.teller"), t("counter.receipt.sign.supervisor")),
    )


def _balance_facts(day: CounterSession, lang: str) -> list[tuple[str, str]]:
    def t(key: str, **params: object) -> str:
        return translate(key, lang, **params)

    if day.counted_total is None or day.expected_total is None or day.difference is None:
        return []
    pieces = "; ".join(f"{format_fen(int(d), lang)} × {n}" for d, n in (day.denominations or {}).items()) or "—"
    difference = format_fen(abs(day.difference), lang)
    return [
        (t("counter.report.expected"), format_fen(day.expected_total, lang)),
        (t("counter.report.counted"), format_fen(day.counted_total, lang)),
        (t("counter.report.difference"), t("counter.report.difference.none") if day.difference == 0 else
         t("counter.report.difference.short" if day.difference < 0 else "counter.report.difference.over",
           amount=difference)),
        (t("counter.report.denominations"), pieces),
    ]


receipts.register_kind(core.RECEIPT_KIND, operation_document)
receipts.register_kind(core.DAY_REPORT_KIND, day_report_document)

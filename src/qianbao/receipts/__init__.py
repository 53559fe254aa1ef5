"""Counter receipts (SPEC §3.2 step 4, §7): a register of serials and PDF printing with WeasyPrint.

Every counter operation gets one receipt, issued in the operation's own unit of work:

    serial = receipts.issue(session, branch_id, "counter.cash_in", operation.id, teller_id)

`issue` is idempotent per (kind, subject): a retried request gets the same serial. Serials read
"<branch code>-<YYYYMMDD>-<seq>" and count per branch and business day in Asia/Shanghai (unique per
branch and day by constraint; concurrent tellers are handled with a savepoint and a fresh draw).

What a receipt of a kind prints comes from a builder the owning package registers at import:

    receipts.register_kind("counter.cash_in", build)   # build(session, receipt, lang) -> ReceiptDocument

and the shared frame (operator, branch, serial, time in Asia/Shanghai, teller, "reprint n") is added
by `print_receipt`, which counts the print, audits it and gathers what the PDF needs:

    prepared = receipts.print_receipt(session, receipt_id, staff_id, lang, branch_id=staff_branch)
    pdf = prepared.pdf()                     # after the commit: rendering takes a moment

Look-ups: receipt_for(s, kind, subject) -> Receipt | None; get_receipt(s, id, branch_id=) NOT_FOUND for
another branch's. Kinds registered here: "wallet.open" and "wallet.upgrade" (receipts/opening.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from qianbao.receipts import opening as _opening  # noqa: F401 - registers the opening kinds
from qianbao.receipts.document import ReceiptDocument, ReceiptFrame, ReceiptTable, render_html, render_pdf
from qianbao.receipts.models import Receipt
from qianbao.receipts.service import (
    build_document,
    get_receipt,
    issue,
    receipt_for,
    record_print,
    register_kind,
    registered_kinds,
)
from qianbao.staff.models import Branch, StaffMember


def frame_of(session: Session, receipt: Receipt, lang: str) -> ReceiptFrame:
    branch = session.get(Branch, receipt.branch_id)
    teller = session.get(StaffMember, receipt.staff_id)
    assert branch is not None and teller is not None  # both are foreign keys of the receipt
    return ReceiptFrame(
        serial=receipt.serial,
        branch_name=branch.name_zh if lang == "zh-CN" else branch.name_en,
        branch_address=branch.address,
        teller=f"{teller.name} ({teller.employee_no})",
        operated_at=receipt.issued_at,
        print_number=max(receipt.print_count, 1),
        lang=lang,
    )


@dataclass(frozen=True)
class PreparedPrint:
    """A counted print: everything the PDF needs, read in the transaction that counted it."""

    receipt_id: int
    serial: str
    document: ReceiptDocument
    frame: ReceiptFrame

    def pdf(self) -> bytes:
        return render_pdf(self.document, self.frame)


def print_receipt(
    session: Session, receipt_id: int, staff_id: int, lang: str, *, branch_id: int | None = None
) -> PreparedPrint:
    """Count a print of the receipt and gather what it prints, in `lang` (NOT_FOUND for another branch's).

    Render with `.pdf()` after the transaction commits: WeasyPrint takes a moment, and a SQLite writer
    should not wait on it.
    """
    receipt = record_print(session, receipt_id, staff_id, branch_id=branch_id)
    document = build_document(session, receipt, lang)
    return PreparedPrint(receipt.id, receipt.serial, document, frame_of(session, receipt, lang))


__all__ = [
    "PreparedPrint",
    "Receipt",
    "ReceiptDocument",
    "ReceiptFrame",
    "ReceiptTable",
    "build_document",
    "frame_of",
    "get_receipt",
    "issue",
    "print_receipt",
    "receipt_for",
    "record_print",
    "register_kind",
    "registered_kinds",
    "render_html",
    "render_pdf",
]

"""What the teller console adds around the counter-opening domain (qianbao.wallets.counter_opening):
the supervisor's approval through the branch approval queue, the counter's ID-card reader, and the
sandbox people a demo can place on it.

Approvals. An application that needs a supervisor (`awaiting_supervisor`) is put in the branch's approval
queue (/teller/approvals, qianbao.approvals) as kind "counter.opening" in the same unit of work, so the
supervisor decides it where they decide everything else. The decision continues here: approve →
`wallets.approve_application`, reject → `wallets.reject_application` with the supervisor's reason, a
withdrawal by the teller → `wallets.cancel_application`. Both sides refuse the teller who took the
application (SELF_APPROVAL_FORBIDDEN) and another branch's supervisor.

The reader. Each counter has its own reader, named after the branch and the teller's employee number
("0101-T0101"). The sandbox reader keeps cards in memory, so the app holds one reader per process in
`app.state.idcard_reader` (made on first use; tests may put their own there).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qianbao import approvals, wallets
from qianbao.adapters.idcard import IdCardReader, reader_from_settings
from qianbao.adapters.idcard.sandbox import SandboxIdCardReader, card_for_citizen
from qianbao.adapters.identity.citizens import SANDBOX_CITIZENS, SandboxCitizen
from qianbao.adapters.identity.sandbox import NO_RECORD_SEQUENCES, TIMEOUT_SEQUENCES, UNSURE_SEQUENCES
from qianbao.approvals.models import ApprovalRequest
from qianbao.identity import age_on, today_in_shanghai
from qianbao.pii.masking import mask_id_number, mask_name
from qianbao.settings import Settings
from qianbao.wallets.counter_opening import OPEN_STATUSES
from qianbao.wallets.models import APP_AWAITING_SUPERVISOR, CounterApplication

APPROVAL_KIND = "counter.opening"
SUBJECT_TYPE = "counter_application"
# The reasons wallets gives for needing a supervisor: one about the identity check, one about the holder.
VERIFIER_REASONS = ("verifier_mismatch", "verifier_unsure", "verifier_unavailable")
HOLDER_REASONS = ("existing_wallet", "phone_registered")


def summary_key(reasons: list[str]) -> str:
    """The approval queue's line for these reasons: one catalogue entry per combination."""
    verifier = next((r for r in reasons if r in VERIFIER_REASONS), None)
    holder = next((r for r in reasons if r in HOLDER_REASONS), None)
    return "teller.open.approval." + "+".join(r for r in (verifier, holder) if r is not None)


def request_supervisor(session: Session, application: CounterApplication) -> ApprovalRequest:
    """Put an application that needs a supervisor into the branch's approval queue."""
    return approvals.request_approval(
        session, APPROVAL_KIND, application.branch_id, application.teller_staff_id, SUBJECT_TYPE, application.id,
        approvals.Summary(summary_key(application.approval_reasons), {
            "name": mask_name(application.legal_name), "id_number": mask_id_number(application.id_number),
            "application": application.id,
        }),
    )


def pending_approval(session: Session, application_id: int) -> ApprovalRequest | None:
    return session.scalar(
        select(ApprovalRequest).where(
            ApprovalRequest.kind == APPROVAL_KIND, ApprovalRequest.subject_type == SUBJECT_TYPE,
            ApprovalRequest.subject_id == str(application_id), ApprovalRequest.status == "pending",
        )
    )


def withdraw(session: Session, application_id: int, staff_id: int, branch_id: int | None) -> None:
    """The teller abandons the application (the customer left), withdrawing its approval request too."""
    wallets.get_application(session, application_id, branch_id=branch_id)
    request = pending_approval(session, application_id)
    if request is not None:
        # The queue's cancel runs `_on_rejected`, which cancels the application with it.
        approvals.cancel(session, request.id, staff_id)
    else:
        wallets.cancel_application(session, application_id, staff_id, branch_id=branch_id)


def _on_approved(session: Session, request: ApprovalRequest) -> None:
    assert request.decided_by is not None
    wallets.approve_application(session, int(request.subject_id), request.decided_by, branch_id=request.branch_id)


def _on_rejected(session: Session, request: ApprovalRequest) -> None:
    application = wallets.get_application(session, int(request.subject_id), branch_id=request.branch_id)
    if application.status not in OPEN_STATUSES:
        return  # expired or ended meanwhile: the queue entry just closes
    if request.status == "cancelled":
        wallets.cancel_application(session, application.id, request.requested_by, branch_id=request.branch_id)
    elif application.status == APP_AWAITING_SUPERVISOR:
        assert request.decided_by is not None
        wallets.reject_application(session, application.id, request.decided_by, request.reason or "",
                                   branch_id=request.branch_id)


approvals.register(APPROVAL_KIND, on_approved=_on_approved, on_rejected=_on_rejected)


# ---- the counter's ID-card reader ----------------------------------------------------------------------

_reader_lock = threading.Lock()


def reader(app_state: Any, settings: Settings) -> IdCardReader:
    """The process's reader (one per app: the sandbox's cards live in it)."""
    existing = getattr(app_state, "idcard_reader", None)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    with _reader_lock:
        existing = getattr(app_state, "idcard_reader", None)
        if existing is None:
            existing = reader_from_settings(settings)
            app_state.idcard_reader = existing
    return existing  # type: ignore[no-any-return]


def counter_device(branch_code: str | None, employee_no: str) -> str:
    """The reader at this teller's counter."""
    return f"{branch_code or 'HQ'}-{employee_no}"


# ---- sandbox people for the demo -------------------------------------------------------------------------

@dataclass(frozen=True)
class SandboxPerson:
    """A sandbox citizen as the demo control lists them: masked, with what their case shows."""

    id_number: str  # the option's value: the sandbox register is made up, and the list shows it masked
    masked_name: str
    masked_id: str
    case: str  # ordinary | unsure | no_record | timeout | minor | expired


def _case(citizen: SandboxCitizen, today: date, minimum_age: int) -> str:
    sequence = int(citizen.id_number[14:17])
    card = card_for_citizen(citizen, today=today)
    if age_on(card.birth_date, today) < minimum_age:
        return "minor"
    if card.valid_until is not None and card.valid_until < today:
        return "expired"
    if sequence in TIMEOUT_SEQUENCES:
        return "timeout"
    if sequence in UNSURE_SEQUENCES:
        return "unsure"
    if sequence in NO_RECORD_SEQUENCES:
        return "no_record"
    return "ordinary"


def sandbox_people(minimum_age: int) -> list[SandboxPerson]:
    today = today_in_shanghai()
    return [SandboxPerson(c.id_number, mask_name(c.name), mask_id_number(c.id_number), _case(c, today, minimum_age))
            for c in SANDBOX_CITIZENS]


def is_sandbox(reader_: IdCardReader, settings: Settings) -> bool:
    """Demo controls show only on a sandbox reader outside production."""
    return isinstance(reader_, SandboxIdCardReader) and settings.environment != "production"

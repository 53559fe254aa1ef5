"""Generic supervisor approvals (SPEC §3.2, §7): opening exceptions, large cash-out, drawer floats,
end-of-day differences. See service.py for the rules and the continuation registry.

    register(kind, on_approved=, on_rejected=)
    request_approval(s, kind, branch_id, requested_by, subject_type, subject_id, Summary(key, params))
    decide(s, approval_id, supervisor_id, approve, reason)      cancel(s, approval_id, by_staff_id, reason)
    get_approval, pending_for_branch, recent_decisions, summary_text
"""

from qianbao.approvals.models import ApprovalRequest
from qianbao.approvals.service import (
    Summary,
    cancel,
    decide,
    get_approval,
    pending_for_branch,
    recent_decisions,
    register,
    registered_kinds,
    request_approval,
    summary_text,
)

__all__ = [
    "ApprovalRequest",
    "Summary",
    "cancel",
    "decide",
    "get_approval",
    "pending_for_branch",
    "recent_decisions",
    "register",
    "registered_kinds",
    "request_approval",
    "summary_text",
]

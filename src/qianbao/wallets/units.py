"""A unit of work whose refusal is audited: `with audited(db, action=..., actor=...) as session:`.

SPEC §3 and §13: a refused opening step keeps nothing but an audit record. The domain functions raise
before (or roll back with) everything they wrote, so the refusal's audit entry cannot live in the same
transaction. `audited` runs the work in one transaction and, when it ends in a QianbaoError, writes
one `outcome="refused"` entry (the action, the code, the caller's masked details) in a second, separate
transaction, then re-raises. Success is audited by the domain functions themselves, as their last step.

A CredentialFailure (a wrong SMS code, say) commits what it counted before propagating, as
`qianbao.credentials.transaction` does: the failure count is the point of such a refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from qianbao import audit
from qianbao.credentials import transaction as credentials_transaction
from qianbao.db import Database
from qianbao.errors import QianbaoError


@contextmanager
def audited(
    db: Database,
    *,
    action: str,
    actor: audit.Actor,
    channel: str | None = None,
    object_type: str | None = None,
    object_id: int | str | None = None,
    details: dict[str, Any] | None = None,
) -> Iterator[Session]:
    """Yield a session in a transaction; on a QianbaoError audit the refusal separately and re-raise.

    `details` must hold masked values only (see `qianbao.audit.record`).
    """
    try:
        with credentials_transaction(db) as session:
            yield session
    except QianbaoError as exc:
        record_refusal(db, exc, action=action, actor=actor, channel=channel, object_type=object_type,
                       object_id=object_id, details=details)
        raise


def record_refusal(
    db: Database,
    exc: QianbaoError,
    *,
    action: str,
    actor: audit.Actor,
    channel: str | None = None,
    object_type: str | None = None,
    object_id: int | str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write the audit entry of a refused step in a transaction of its own."""
    params = {key: value for key, value in exc.params.items() if isinstance(value, str | int | bool) or value is None}
    with db.transaction() as session:
        audit.record(
            session, action=action, actor=actor, channel=channel, object_type=object_type, object_id=object_id,
            outcome="refused", details={**(details or {}), "code": exc.code, "params": params},
        )

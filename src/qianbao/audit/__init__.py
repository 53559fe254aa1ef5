"""The append-only, hash-chained audit log: `audit.record(session, action=..., actor=...)` and its verifier."""

from qianbao.audit.service import SYSTEM, Actor, latest, record

__all__ = ["SYSTEM", "Actor", "latest", "record"]

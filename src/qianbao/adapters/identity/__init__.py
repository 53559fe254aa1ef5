"""The identity verifier: does this name belong to this resident ID number? (SPEC §3.1 step 2, §3.2 step 2)

In production this is the public-security citizen-identity check service (公民身份信息核查): the operator
sends a name and an ID number and gets back one of three answers:

    match     the number exists and is registered to this name (一致)
    mismatch  the number is registered to another name, or no such number is registered (不一致 / 库中无此号)
    unsure    the service cannot decide automatically (a record under maintenance, a photo comparison
              needed): the opening goes to the operators' KYC review queue

with a reason code that says which, and a reference (the service's serial number) to keep with the
decision for audit. The service being down or slow is not an answer: `verify` raises
`VerifierUnavailable`, the caller tells the customer to try again later and keeps nothing.

Callers check the number's format and the name with `qianbao.identity` first; the verifier only answers
the question a rule cannot: who holds the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from qianbao.errors import QianbaoError

if TYPE_CHECKING:
    from qianbao.settings import Settings


class Decision(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    UNSURE = "unsure"


class Reason(StrEnum):
    """Why the service decided as it did; stored with the decision and shown to reviewing operators."""

    CONSISTENT = "CONSISTENT"  # name and number agree
    NAME_MISMATCH = "NAME_MISMATCH"  # the number is registered to another name
    NO_RECORD = "NO_RECORD"  # no such number is registered
    REVIEW_REQUIRED = "REVIEW_REQUIRED"  # the service cannot decide automatically


@dataclass(frozen=True)
class VerificationResult:
    decision: Decision
    reason_code: Reason
    # The service's serial number for this check, unique per call; keep it with the KYC decision.
    reference: str


class VerifierUnavailable(QianbaoError):
    """The service failed or did not answer in time: no decision was made, ask again later.

    `reason` is "timeout" or "unavailable", for logs and metrics; the customer sees one message for both.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("IDENTITY_VERIFIER_UNAVAILABLE")
        self.reason = reason


class IdentityVerifier(Protocol):
    def verify(self, name: str, id_number: str) -> VerificationResult:
        """Ask whether `name` holds `id_number`; raise VerifierUnavailable on failure or timeout."""
        ...


def verifier_from_settings(settings: Settings) -> IdentityVerifier:
    """The verifier named by QIANBAO_IDENTITY_VERIFIER ("sandbox": see docs/identity.md for its rules)."""
    if settings.identity_verifier == "sandbox":
        from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier

        return SandboxIdentityVerifier(
            latency_ms=settings.identity_latency_ms,
            timeout_ms=settings.identity_timeout_ms,
            failure_rate=settings.identity_failure_rate,
        )
    raise ValueError(f"unknown identity verifier {settings.identity_verifier!r}")

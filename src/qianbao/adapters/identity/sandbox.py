"""The sandbox identity verifier: answers like the public-security check service, by documented rules.

Decision rules, applied in this order (docs/identity.md has the same table with example numbers):

1. The number is not a valid resident ID by `qianbao.identity.parse_resident_id` → mismatch, NO_RECORD.
2. Its sequence digits (the 15th to 17th characters) decide first, for every number:
       990–999  the service times out → VerifierUnavailable("timeout")
       900–989  unsure, REVIEW_REQUIRED (the opening goes to the operators' KYC review queue)
       800–899  mismatch, NO_RECORD (库中无此号)
3. A number in the sandbox register (`citizens.SANDBOX_CITIZENS`): match, CONSISTENT when the name is the
   registered one; otherwise mismatch, NAME_MISMATCH.
4. Any other valid number → match, CONSISTENT: the sandbox takes it to be registered to whoever names it,
   so that a demo can open wallets for made-up people.

Names are compared after the spellings that do not change a name are evened out: Unicode NFC, no white
space, and the look-alikes of the middle dot read as "·".

Like the real service it takes time (`latency_ms`, with `sleep` injectable so tests check the wait
without waiting), gives up after `timeout_ms` (a latency above the timeout is a timeout), and fails now
and then (`failure_rate`, drawn from `rng` after the wait) with VerifierUnavailable("unavailable").
"""

from __future__ import annotations

import random
import secrets
import time
import unicodedata
from collections.abc import Callable

from qianbao.adapters.identity import Decision, Reason, VerificationResult, VerifierUnavailable
from qianbao.adapters.identity.citizens import find_citizen
from qianbao.errors import QianbaoError
from qianbao.identity.rules import parse_resident_id

TIMEOUT_SEQUENCES = range(990, 1000)
UNSURE_SEQUENCES = range(900, 990)
NO_RECORD_SEQUENCES = range(800, 900)

_DOT_LOOKALIKES = "\u2022\u2027\u30fb\uff65\u2219\u22c5.\uff0e"


def _same_name(given: str, registered: str) -> bool:
    def even(name: str) -> str:
        name = "".join(unicodedata.normalize("NFC", name).split())
        return "".join("\u00b7" if char in _DOT_LOOKALIKES else char for char in name)

    return even(given) == even(registered)


class SandboxIdentityVerifier:
    def __init__(
        self,
        *,
        latency_ms: int = 0,
        timeout_ms: int = 5000,
        failure_rate: float = 0.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.latency_ms = latency_ms
        self.timeout_ms = timeout_ms
        self.failure_rate = failure_rate
        self.rng = rng or random.Random()
        self.sleep = sleep

    def verify(self, name: str, id_number: str) -> VerificationResult:
        # The same rules as every channel's (qianbao.identity), so that the sandbox never knows a number
        # the opening flow refuses, nor the other way round.
        try:
            number = parse_resident_id(id_number).number
        except QianbaoError:
            number = None
        sequence = int(number[14:17]) if number else -1

        if sequence in TIMEOUT_SEQUENCES or self.latency_ms > self.timeout_ms:
            self.sleep(self.timeout_ms / 1000)
            raise VerifierUnavailable("timeout")
        if self.latency_ms:
            self.sleep(self.latency_ms / 1000)
        if self.failure_rate and self.rng.random() < self.failure_rate:
            raise VerifierUnavailable("unavailable")

        if number is None or sequence in NO_RECORD_SEQUENCES:
            return self._result(Decision.MISMATCH, Reason.NO_RECORD)
        if sequence in UNSURE_SEQUENCES:
            return self._result(Decision.UNSURE, Reason.REVIEW_REQUIRED)
        citizen = find_citizen(number)
        if citizen is not None and not _same_name(name, citizen.name):
            return self._result(Decision.MISMATCH, Reason.NAME_MISMATCH)
        return self._result(Decision.MATCH, Reason.CONSISTENT)

    @staticmethod
    def _result(decision: Decision, reason: Reason) -> VerificationResult:
        # The real service's serial numbers are opaque; a random one keeps callers from reading meaning in.
        return VerificationResult(decision=decision, reason_code=reason, reference="SBX-IDV-" + secrets.token_hex(8))

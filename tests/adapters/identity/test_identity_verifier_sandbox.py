"""The sandbox identity verifier answers by its documented rules (docs/identity.md), slowly and fallibly."""

from __future__ import annotations

import random

import pytest

from qianbao.adapters.identity import Decision, Reason, VerifierUnavailable, verifier_from_settings
from qianbao.adapters.identity.citizens import SANDBOX_CITIZENS
from qianbao.adapters.identity.sandbox import SandboxIdentityVerifier
from qianbao.identity import parse_legal_name, parse_resident_id
from qianbao.settings import Settings


class Sleeps(list[float]):
    """Records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def verifier() -> SandboxIdentityVerifier:
    return SandboxIdentityVerifier(sleep=Sleeps())


def test_registered_name_and_number_match(verifier: SandboxIdentityVerifier) -> None:
    result = verifier.verify("李明", "440305199210110058")
    assert (result.decision, result.reason_code) == (Decision.MATCH, Reason.CONSISTENT)


def test_registered_number_with_another_name_is_a_mismatch(verifier: SandboxIdentityVerifier) -> None:
    result = verifier.verify("李敏", "440305199210110058")
    assert (result.decision, result.reason_code) == (Decision.MISMATCH, Reason.NAME_MISMATCH)


def test_spelling_of_the_middle_dot_and_spaces_do_not_make_a_mismatch(verifier: SandboxIdentityVerifier) -> None:
    assert verifier.verify("阿卜杜 • 热合曼", "650102198503150031").decision is Decision.MATCH
    assert verifier.verify("王秀英", "11010519491231002x").decision is Decision.MATCH


def test_sequence_900_to_989_is_unsure_and_goes_to_review(verifier: SandboxIdentityVerifier) -> None:
    result = verifier.verify("周建国", "320102196510019132")  # registered, sequence 913
    assert (result.decision, result.reason_code) == (Decision.UNSURE, Reason.REVIEW_REQUIRED)
    assert verifier.verify("张三", "110105199001019517").decision is Decision.UNSURE  # sequence 951


def test_sequence_800_to_899_has_no_record(verifier: SandboxIdentityVerifier) -> None:
    result = verifier.verify("张三", "110105199001018012")
    assert (result.decision, result.reason_code) == (Decision.MISMATCH, Reason.NO_RECORD)


def test_sequence_990_to_999_times_out() -> None:
    sleeps = Sleeps()
    verifier = SandboxIdentityVerifier(timeout_ms=3000, sleep=sleeps)
    with pytest.raises(VerifierUnavailable) as caught:
        verifier.verify("张三", "110105199001019912")
    assert caught.value.reason == "timeout"
    assert sleeps == [3.0]


def test_unregistered_valid_number_matches_any_name(verifier: SandboxIdentityVerifier) -> None:
    result = verifier.verify("张三", "110105200803150029")
    assert (result.decision, result.reason_code) == (Decision.MATCH, Reason.CONSISTENT)


@pytest.mark.parametrize("number", ["110105194912310021", "990000194912310026", "not a number"])
def test_invalid_number_has_no_record(verifier: SandboxIdentityVerifier, number: str) -> None:
    result = verifier.verify("张三", number)
    assert (result.decision, result.reason_code) == (Decision.MISMATCH, Reason.NO_RECORD)


def test_every_answer_has_its_own_reference(verifier: SandboxIdentityVerifier) -> None:
    references = {verifier.verify("李明", "440305199210110058").reference for _ in range(5)}
    assert len(references) == 5
    assert all(ref.startswith("SBX-IDV-") for ref in references)


def test_latency_is_waited_before_the_answer() -> None:
    sleeps = Sleeps()
    SandboxIdentityVerifier(latency_ms=150, sleep=sleeps).verify("李明", "440305199210110058")
    assert sleeps == [0.15]


def test_latency_above_the_timeout_is_a_timeout() -> None:
    sleeps = Sleeps()
    verifier = SandboxIdentityVerifier(latency_ms=6000, timeout_ms=5000, sleep=sleeps)
    with pytest.raises(VerifierUnavailable) as caught:
        verifier.verify("李明", "440305199210110058")
    assert caught.value.reason == "timeout"
    assert sleeps == [5.0]


def test_failure_rate_makes_some_calls_unavailable() -> None:
    verifier = SandboxIdentityVerifier(failure_rate=0.25, rng=random.Random(20261125), sleep=Sleeps())
    failures = 0
    for _ in range(400):
        try:
            verifier.verify("李明", "440305199210110058")
        except VerifierUnavailable as exc:
            assert exc.reason == "unavailable"
            failures += 1
    assert 60 <= failures <= 140


def test_failure_rate_of_one_always_fails_and_zero_never_does() -> None:
    with pytest.raises(VerifierUnavailable):
        SandboxIdentityVerifier(failure_rate=1.0, sleep=Sleeps()).verify("李明", "440305199210110058")
    never = SandboxIdentityVerifier(failure_rate=0.0, sleep=Sleeps())
    assert all(never.verify("李明", "440305199210110058").decision is Decision.MATCH for _ in range(50))


def test_unavailable_is_a_503_refusal_with_a_message_in_both_languages() -> None:
    error = VerifierUnavailable("timeout")
    assert (error.code, error.status) == ("IDENTITY_VERIFIER_UNAVAILABLE", 503)
    assert "身份核验" in error.message("zh-CN")
    assert "identity check" in error.message("en")


def test_settings_choose_the_sandbox_and_its_latency_timeout_and_failure_rate() -> None:
    settings = Settings(identity_latency_ms=70, identity_timeout_ms=900, identity_failure_rate=0.1)
    verifier = verifier_from_settings(settings)
    assert isinstance(verifier, SandboxIdentityVerifier)
    assert (verifier.latency_ms, verifier.timeout_ms, verifier.failure_rate) == (70, 900, 0.1)


def test_every_sandbox_citizen_passes_the_identity_rules() -> None:
    for citizen in SANDBOX_CITIZENS:
        assert parse_legal_name(citizen.name) == citizen.name
        assert parse_resident_id(citizen.id_number).number == citizen.id_number

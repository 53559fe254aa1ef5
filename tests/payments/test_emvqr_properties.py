"""Property tests of the EMVCo codec (hypothesis): encode → parse is the identity, and any damage is refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qianbao.errors import QianbaoError
from qianbao.payments import emvqr

ANS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


def ans(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(ANS, min_size=min_size, max_size=max_size)


digits = st.text(st.sampled_from("0123456789"), min_size=1, max_size=1)
tags = st.integers(min_value=1, max_value=99).map(lambda n: f"{n:02d}")


@st.composite
def merchant_qrs(draw: st.DrawFn) -> emvqr.MerchantQR:
    qianbao = emvqr.MerchantAccount("26", emvqr.QIANBAO_GUID,
                                    (("01", draw(st.from_regex(r"\A[A-Z0-9]{4,32}\Z"))),))
    others = draw(st.lists(
        st.builds(lambda tag, guid, subs: emvqr.MerchantAccount(f"{tag}", guid, tuple(sorted(subs.items()))),
                  st.integers(27, 51).map(str), ans(1, 20),
                  st.dictionaries(st.integers(1, 99).map(lambda n: f"{n:02d}"), ans(1, 10), max_size=2)),
        max_size=2, unique_by=lambda a: a.tag))
    others = sorted(others, key=lambda a: a.tag)
    dynamic = draw(st.booleans())
    amount = draw(st.integers(1, 99_999_999_99)) if dynamic else None
    additional = draw(st.dictionaries(st.sampled_from(["01", "02", "03", "04", "05", "06", "07", "08"]),
                                      ans(1, 25), max_size=3))
    if dynamic:
        additional["05"] = draw(st.from_regex(r"\A[A-Za-z0-9_\-]{1,25}\Z"))
    language = draw(st.none() | st.builds(emvqr.Language, st.just("ZH"), st.text(CJK, min_size=1, max_size=25),
                                          st.none() | st.text(CJK, min_size=1, max_size=15)))
    return emvqr.MerchantQR(
        merchant_name=draw(ans(1, 25)), merchant_city=draw(ans(1, 15)),
        mcc=draw(st.from_regex(r"\A[0-9]{4}\Z")), initiation=emvqr.DYNAMIC if dynamic else emvqr.STATIC,
        amount=emvqr.format_amount(amount) if amount is not None else None,
        accounts=(qianbao, *others), postal_code=draw(st.none() | ans(1, 10)),
        additional=tuple(sorted(additional.items())), language=language,
        other=tuple(sorted(draw(st.dictionaries(st.integers(80, 99).map(str), ans(1, 30), max_size=2)).items())),
    )


def fits(qr: emvqr.MerchantQR) -> bool:
    try:
        emvqr.encode(qr)
    except ValueError:  # over 512 characters: a few draws are too big for one code
        return False
    return True


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(merchant_qrs())
def test_encode_then_parse_gives_the_same_code(qr):
    if not fits(qr):
        return
    payload = emvqr.encode(qr)
    assert emvqr.parse(payload) == qr
    assert emvqr.encode(emvqr.parse(payload)) == payload


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(merchant_qrs())
def test_qianbao_target_reads_back_amount_and_order(qr):
    if not fits(qr):
        return
    target = emvqr.qianbao_target(emvqr.parse(emvqr.encode(qr)))
    assert target.merchant_no == qr.accounts[0].get("01")
    assert target.dynamic == qr.dynamic
    assert target.amount == (emvqr.amount_fen(qr.amount) if qr.amount else None)
    assert target.order_ref == (qr.reference_label if qr.dynamic else None)


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(merchant_qrs(), st.data())
def test_any_single_character_change_is_refused(qr, data):
    # CRC-16 catches every error burst of up to 16 bits: one changed ASCII character is 8.
    if not fits(qr) or qr.language is not None:
        return
    payload = emvqr.encode(qr)
    index = data.draw(st.integers(0, len(payload) - 1))
    replacement = data.draw(ANS.filter(lambda ch: ch != payload[index]))
    # The CRC's hex digits are read in either case: "a13a" is the same checksum as "A13A", not damage.
    assume(not (index >= len(payload) - 4 and replacement.upper() == payload[index]))
    damaged = payload[:index] + replacement + payload[index + 1:]
    with pytest.raises(QianbaoError) as caught:
        emvqr.parse(damaged)
    assert caught.value.code.startswith("QR_")


@settings(max_examples=100)
@given(st.text(max_size=600))
def test_arbitrary_text_is_refused_with_a_qr_code_or_parses(text):
    try:
        emvqr.parse(text)
    except QianbaoError as exc:
        assert exc.code.startswith("QR_")


@settings(max_examples=100)
@given(merchant_qrs(), st.integers(1, 7))
def test_truncated_payload_is_refused(qr, cut):
    if not fits(qr):
        return
    with pytest.raises(QianbaoError):
        emvqr.parse(emvqr.encode(qr)[:-cut])

"""The EMVCo merchant-presented QR codec: published payloads, Qianbao's own codes, every refusal."""

from __future__ import annotations

import pytest

from qianbao.errors import QianbaoError
from qianbao.payments import emvqr

# The example of the EMV QRCPS-MPM specification (Appendix A): dynamic, CNY 23.72, Chinese language template.
EMVCO_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN"
    "5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***"
    "0708A60086670902ME91320016A0112233449988770708123456786304A13A"
)
# A published Indonesian QRIS code (two account templates, a postal code, a payment-system sub-template).
QRIS_EXAMPLE = (
    "00020101021226570011ID.DANA.WWW011893600915015706056102091570605610303UME51440014ID.CO.QRIS.WWW"
    "0215ID20210807329890303UME5204893153033605405100005802ID5906XENDIT6015Kota Jakarta Se6105121906"
    "2720115SzW8BPHhw35i1vT60490011ID.DANA.WWW0425MER2021071400774509608641050116304B00A"
)


ACCOUNT = emvqr.tlv("26", "0010CN.QIANBAO0109M20260001")


def refused(payload: str) -> QianbaoError:
    with pytest.raises(QianbaoError) as caught:
        emvqr.parse(payload)
    return caught.value


def with_crc(body: str) -> str:
    """`body` (everything before the CRC object) completed with a correct CRC."""
    return body + "6304" + emvqr.crc_hex(body + "6304")


def qianbao_static() -> str:
    return emvqr.qianbao_code(merchant_no="M20260001", name="Lao Wang Noodles", city="Beijing", mcc="5812",
                              name_zh="老王面馆", city_zh="北京")


def test_crc_is_ccitt_false():
    assert emvqr.crc16(b"123456789") == 0x29B1
    assert emvqr.crc_hex(EMVCO_EXAMPLE[:-4]) == "A13A"


def test_emvco_specification_example_parses_field_by_field():
    qr = emvqr.parse(EMVCO_EXAMPLE)
    assert qr.dynamic and qr.initiation == "12"
    assert (qr.mcc, qr.currency, qr.country, qr.amount) == ("4111", "156", "CN", "23.72")
    assert (qr.merchant_name, qr.merchant_city) == ("BEST TRANSPORT", "BEIJING")
    assert qr.language == emvqr.Language("ZH", "最佳运输", "北京")
    assert [(a.tag, a.guid, a.fields) for a in qr.accounts] == [
        ("29", "D15600000000", (("05", "A93FO3230Q"),)),
        ("31", "D15600000001", (("03", "12345678"),)),
    ]
    assert qr.tip_indicator == "01"
    assert dict(qr.additional) == {"03": "1234", "06": "***", "07": "A6008667", "09": "ME"}
    assert qr.other == (("91", "0016A011223344998877070812345678"),)


def test_qris_example_parses_with_its_payment_system_template():
    qr = emvqr.parse(QRIS_EXAMPLE)
    assert (qr.currency, qr.country, qr.amount, qr.postal_code) == ("360", "ID", "10000", "12190")
    assert [a.guid for a in qr.accounts] == ["ID.DANA.WWW", "ID.CO.QRIS.WWW"]
    assert qr.bill_number == "SzW8BPHhw35i1vT"


def test_published_codes_re_encode_to_a_payload_that_parses_the_same():
    for payload in (EMVCO_EXAMPLE, QRIS_EXAMPLE):
        qr = emvqr.parse(payload)
        assert emvqr.parse(emvqr.encode(qr)) == qr


def test_lengths_count_characters_and_the_crc_covers_utf8_bytes():
    # 64's name 最佳运输 is 4 characters (12 bytes): a byte-counting parser would fail this payload.
    assert "0104最佳运输" in EMVCO_EXAMPLE
    assert emvqr.parse(EMVCO_EXAMPLE).language.name == "最佳运输"  # type: ignore[union-attr]


def test_qianbao_static_code_has_no_amount_and_names_the_merchant():
    payload = qianbao_static()
    assert payload.startswith("000201010211")
    target = emvqr.qianbao_target(emvqr.parse(payload))
    assert target == emvqr.QianbaoTarget(merchant_no="M20260001", dynamic=False, amount=None, order_ref=None,
                                         bill_number=None, terminal=None, name="Lao Wang Noodles",
                                         name_zh="老王面馆")


def test_qianbao_dynamic_code_carries_amount_and_order():
    payload = emvqr.qianbao_code(merchant_no="M20260001", name="Lao Wang", city="Beijing", mcc="5812",
                                 amount=2372, order_ref="QB7Y3K2M9", bill_number="T-1001", terminal="POS 2")
    qr = emvqr.parse(payload)
    assert qr.initiation == "12" and qr.amount == "23.72" and qr.currency == "156" and qr.country == "CN"
    target = emvqr.qianbao_target(qr)
    assert (target.dynamic, target.amount, target.order_ref, target.bill_number, target.terminal) == (
        True, 2372, "QB7Y3K2M9", "T-1001", "POS 2")


def test_qianbao_code_cuts_long_names_to_the_field_sizes():
    payload = emvqr.qianbao_code(merchant_no="M20260001", name="A" * 40, city="B" * 30, mcc="5812",
                                 name_zh="长" * 30, city_zh="城" * 20)
    qr = emvqr.parse(payload)
    assert (len(qr.merchant_name), len(qr.merchant_city)) == (25, 15)
    assert qr.language is not None and (len(qr.language.name), len(qr.language.city or "")) == (25, 15)


def test_chinese_characters_never_go_into_the_common_character_set_fields():
    payload = emvqr.qianbao_code(merchant_no="M20260001", name="老王 Noodles", city="北京 Beijing", mcc="5812")
    qr = emvqr.parse(payload)
    assert (qr.merchant_name, qr.merchant_city) == ("Noodles", "Beijing")


def test_lowercase_crc_is_accepted():
    assert emvqr.parse(EMVCO_EXAMPLE[:-4] + "a13a").amount == "23.72"


def test_surrounding_whitespace_from_a_scanner_is_ignored():
    assert emvqr.parse(f"  {EMVCO_EXAMPLE}\r\n").mcc == "4111"


# ---- refusals -----------------------------------------------------------------------------------------

def test_bad_crc_is_refused():
    assert refused(EMVCO_EXAMPLE[:-4] + "A13B").code == "QR_CRC_MISMATCH"


def test_a_changed_amount_breaks_the_crc():
    assert refused(EMVCO_EXAMPLE.replace("540523.72", "540599.72")).code == "QR_CRC_MISMATCH"


@pytest.mark.parametrize("payload", ["", "   ", "hello", "https://example.com/pay?x=1", "0002010102116304"])
def test_what_is_not_an_emvco_payload_is_refused(payload):
    assert refused(payload).code == "QR_INVALID"


def test_missing_crc_is_refused():
    assert refused(EMVCO_EXAMPLE[:-8]).code == "QR_INVALID"


def test_payload_over_512_characters_is_refused():
    body = "000201" + "0102115204581253031565802CN5904SHOP6007BEIJING" + "99" + "99" + "X" * 99
    body += "".join(f"{tag}99" + "Y" * 99 for tag in ("95", "96", "97", "98"))
    assert refused(with_crc(body)).code == "QR_INVALID"


def test_length_running_past_the_end_is_refused():
    # 59 claims 30 characters; the payload ends first (the CRC still matches what is there).
    assert refused(with_crc("000201010211" + ACCOUNT + "5930SHOP")).code == "QR_LENGTH_INVALID"


def test_zero_length_is_refused():
    err = refused(with_crc("0002010102115900"))
    assert (err.code, err.params["tag"]) == ("QR_LENGTH_INVALID", "59")


def test_non_digit_id_or_length_is_refused():
    assert refused(with_crc("0002010102115X04SHOP")).code == "QR_INVALID"


def test_crc_object_not_last_is_refused():
    # A CRC object followed by another: the walk does not end on the checksum.
    body = "0002010102115204581253031565802CN5904SHOP6007BEIJING" + ACCOUNT
    inner = body + "6304ABCD" + "9902XX"
    err = refused(with_crc(inner))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_DUPLICATE", "63")


def test_duplicate_id_is_refused():
    body = "0002010102115204581253031565802CN5904SHOP5904SHOP6007BEIJING" + ACCOUNT
    err = refused(with_crc(body))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_DUPLICATE", "59")


@pytest.mark.parametrize("tag", ["52", "53", "58", "59", "60"])
def test_missing_mandatory_object_is_refused(tag):
    objects = {"52": "5812", "53": "156", "58": "CN", "59": "SHOP", "60": "BEIJING"}
    del objects[tag]
    body = "000201010211" + ACCOUNT + "".join(emvqr.tlv(t, v) for t, v in objects.items())
    err = refused(with_crc(body))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_MISSING", tag)


def test_code_without_any_merchant_account_is_refused():
    err = refused(with_crc("0002010102115204581253031565802CN5904SHOP6007BEIJING"))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_MISSING", "02-51")


@pytest.mark.parametrize(("tag", "value"), [
    ("00", "02"), ("01", "13"), ("52", "58A2"), ("53", "CNY"), ("54", "1,00"), ("54", "-5"), ("58", "cn"),
    ("55", "04"),
])
def test_malformed_values_are_refused(tag, value):
    objects = {"00": "01", "01": "11", "26": "0010CN.QIANBAO0109M20260001", "52": "5812", "53": "156",
               "58": "CN", "59": "SHOP", "60": "BEIJING", tag: value}
    body = "".join(emvqr.tlv(t, v) for t, v in sorted(objects.items(), key=lambda kv: (kv[0] != "00", kv[0])))
    if not body.startswith("000201"):
        assert refused(with_crc(body)).code == "QR_INVALID"
        return
    err = refused(with_crc(body))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_INVALID", tag)


def test_merchant_name_longer_than_25_is_refused():
    body = "000201010211" + ACCOUNT + "5204581253031565802CN5926" + "N" * 26 + "6007BEIJING"
    err = refused(with_crc(body))
    assert (err.code, err.params["tag"]) == ("QR_LENGTH_INVALID", "59")


def test_control_characters_are_refused():
    body = "000201010211" + ACCOUNT + "5204581253031565802CN5904SH\x00P6007BEIJING"
    err = refused(with_crc(body))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_INVALID", "59")


def test_broken_template_is_refused_naming_it():
    body = "000201010211" + "2605XX0ZZ" + "5204581253031565802CN5904SHOP6007BEIJING"
    err = refused(with_crc(body))
    assert err.code in ("QR_FIELD_INVALID", "QR_LENGTH_INVALID") and err.params["tag"].startswith("26")


def test_account_template_without_guid_is_refused():
    body = "000201010211" + "26090105M0001" + "5204581253031565802CN5904SHOP6007BEIJING"
    err = refused(with_crc(body))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_INVALID", "26")


def test_language_template_without_a_name_is_refused():
    body = "000201010211" + ACCOUNT + "5204581253031565802CN5904SHOP6007BEIJING" + "64060002ZH"
    err = refused(with_crc(body))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_MISSING", "64-01")


def test_convenience_fee_indicator_needs_its_fee():
    body = "000201010211" + ACCOUNT + "52045812530315655020258" + "02CN5904SHOP6007BEIJING"
    err = refused(with_crc(body))
    assert (err.code, err.params["tag"]) == ("QR_FIELD_MISSING", "56")


# ---- what Qianbao can pay -----------------------------------------------------------------------------

def test_another_schemes_code_is_not_qianbao():
    with pytest.raises(QianbaoError) as caught:
        emvqr.qianbao_target(emvqr.parse(EMVCO_EXAMPLE))
    assert caught.value.code == "QR_NOT_QIANBAO"


def test_qianbao_code_in_another_currency_is_refused():
    qr = emvqr.parse(qianbao_static())
    foreign = emvqr.parse(emvqr.encode(emvqr.MerchantQR(**{**qr.__dict__, "currency": "840"})))
    with pytest.raises(QianbaoError) as caught:
        emvqr.qianbao_target(foreign)
    assert (caught.value.code, caught.value.params["currency"]) == ("QR_CURRENCY_UNSUPPORTED", "840")


@pytest.mark.parametrize("amount", ["0", "0.00", "1.001", "."])
def test_qianbao_amount_must_be_positive_with_two_decimals(amount):
    qr = emvqr.parse(qianbao_static())
    if amount == ".":
        with pytest.raises(QianbaoError) as caught:
            emvqr.parse(emvqr.encode(emvqr.MerchantQR(**{**qr.__dict__, "amount": amount})))
        assert caught.value.code == "QR_FIELD_INVALID"
        return
    odd = emvqr.parse(emvqr.encode(emvqr.MerchantQR(**{**qr.__dict__, "amount": amount})))
    with pytest.raises(QianbaoError) as caught:
        emvqr.qianbao_target(odd)
    assert caught.value.code == "QR_AMOUNT_INVALID"


def test_amount_forms_in_fen():
    assert [emvqr.amount_fen(a) for a in ("23.72", "23.7", "23", "23.", ".5", "0.01")] == [2372, 2370, 2300, 2300,
                                                                                        50, 1]


def test_dynamic_qianbao_code_without_order_reference_is_refused():
    qr = emvqr.parse(emvqr.qianbao_code(merchant_no="M20260001", name="S", city="C", mcc="5812", amount=100,
                                        order_ref="QB1"))
    bare = emvqr.MerchantQR(**{**qr.__dict__, "additional": ()})
    with pytest.raises(QianbaoError) as caught:
        emvqr.qianbao_target(emvqr.parse(emvqr.encode(bare)))
    assert (caught.value.code, caught.value.params["tag"]) == ("QR_FIELD_MISSING", "62-05")


def test_dynamic_qianbao_code_without_amount_is_refused():
    qr = emvqr.parse(emvqr.qianbao_code(merchant_no="M20260001", name="S", city="C", mcc="5812", amount=100,
                                        order_ref="QB1"))
    bare = emvqr.MerchantQR(**{**qr.__dict__, "amount": None})
    with pytest.raises(QianbaoError) as caught:
        emvqr.qianbao_target(emvqr.parse(emvqr.encode(bare)))
    assert (caught.value.code, caught.value.params["tag"]) == ("QR_FIELD_MISSING", "54")


def test_qianbao_code_with_a_tip_prompt_is_refused():
    qr = emvqr.parse(qianbao_static())
    tipped = emvqr.MerchantQR(**{**qr.__dict__, "tip_indicator": "01"})
    with pytest.raises(QianbaoError) as caught:
        emvqr.qianbao_target(emvqr.parse(emvqr.encode(tipped)))
    assert (caught.value.code, caught.value.params["tag"]) == ("QR_FIELD_INVALID", "55")


def test_static_code_ignores_a_reference_label():
    qr = emvqr.parse(qianbao_static())
    labelled = emvqr.MerchantQR(**{**qr.__dict__, "additional": (("05", "X1"),)})
    assert emvqr.qianbao_target(emvqr.parse(emvqr.encode(labelled))).order_ref is None

"""Request signatures between the wallet and the bank (qianbao.adapters.bank.signing)."""

from __future__ import annotations

import pytest

from qianbao.adapters.bank import signing

SECRETS = {"M1": "secret-one"}
BODY = b'{"amount":100}'


def _signed(**overrides: object) -> dict[str, str]:
    headers = signing.sign("secret-one", "M1", "POST", "/v1/debits", BODY, now=1_000_000, nonce="n" * 20)
    headers.update({k: str(v) for k, v in overrides.items()})
    return headers


def test_a_signed_request_verifies() -> None:
    signed = signing.verify(SECRETS, _signed(), "POST", "/v1/debits", BODY, now=1_000_000)
    assert (signed.merchant, signed.nonce, signed.timestamp) == ("M1", "n" * 20, 1_000_000)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/v1/debits", BODY), ("POST", "/v1/credits", BODY), ("POST", "/v1/debits", b'{"amount":101}'),
])
def test_changing_the_method_path_or_body_breaks_the_signature(method: str, path: str, body: bytes) -> None:
    with pytest.raises(signing.SignatureError) as refused:
        signing.verify(SECRETS, _signed(), method, path, body, now=1_000_000)
    assert refused.value.code == "SIGNATURE_INVALID"


def test_another_secret_or_an_unknown_merchant_is_refused() -> None:
    other = signing.sign("another-secret", "M1", "POST", "/v1/debits", BODY, now=1_000_000)
    for headers in (other, _signed(**{signing.MERCHANT: "M2"})):
        with pytest.raises(signing.SignatureError) as refused:
            signing.verify(SECRETS, headers, "POST", "/v1/debits", BODY, now=1_000_000)
        assert refused.value.code == "SIGNATURE_INVALID"


def test_a_missing_header_is_refused() -> None:
    headers = _signed()
    del headers[signing.NONCE]
    with pytest.raises(signing.SignatureError) as refused:
        signing.verify(SECRETS, headers, "POST", "/v1/debits", BODY, now=1_000_000)
    assert refused.value.code == "SIGNATURE_MISSING"


def test_a_timestamp_more_than_five_minutes_off_is_stale() -> None:
    assert signing.verify(SECRETS, _signed(), "POST", "/v1/debits", BODY, now=1_000_000 + 300)
    for now in (1_000_000 + 301, 1_000_000 - 301):
        with pytest.raises(signing.SignatureError) as refused:
            signing.verify(SECRETS, _signed(), "POST", "/v1/debits", BODY, now=now)
        assert refused.value.code == "TIMESTAMP_STALE"


def test_each_signing_gets_a_fresh_nonce() -> None:
    first = signing.sign("s", "M1", "GET", "/x", b"")
    second = signing.sign("s", "M1", "GET", "/x", b"")
    assert first[signing.NONCE] != second[signing.NONCE]

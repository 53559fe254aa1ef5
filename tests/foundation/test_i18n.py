"""One catalogue per language, the same keys in both, and every error code worded in both."""

from __future__ import annotations

import re

import pytest

from qianbao.errors import CATALOGUE, QianbaoError
from qianbao.i18n import LANGUAGES, catalogue, negotiate, translate

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_every_message_key_exists_in_both_languages() -> None:
    zh, en = set(catalogue("zh-CN")), set(catalogue("en"))
    assert zh - en == set(), f"missing in English: {sorted(zh - en)}"
    assert en - zh == set(), f"missing in Chinese: {sorted(en - zh)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_error_code_has_a_message(lang: str) -> None:
    missing = [code for code in CATALOGUE if f"error.{code}" not in catalogue(lang)]
    assert missing == []


def test_translations_use_the_same_placeholders() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    mismatched = [k for k in zh if set(PLACEHOLDER.findall(zh[k])) != set(PLACEHOLDER.findall(en.get(k, "")))]
    assert mismatched == []


def test_chinese_messages_are_written_in_chinese() -> None:
    # The language switch names the other language in that language, by design.
    names_the_other_language = {"lang.switch"}
    untranslated = [
        k for k, v in catalogue("zh-CN").items()
        if k not in names_the_other_language and not re.search(r"[\u4e00-\u9fff]", v)
    ]
    assert untranslated == []


def test_chinese_is_the_default_language() -> None:
    assert translate("nav.home") == "首页"
    assert negotiate(None) == "zh-CN"
    assert negotiate("fr-FR,de;q=0.8") == "zh-CN"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("en-US,en;q=0.9", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("zh-TW", "zh-CN"),
     ("fr;q=1, en;q=0.5", "en"), ("en;q=0.2, zh;q=0.9", "zh-CN")],
)
def test_accept_language_picks_the_best_supported_language(header: str, expected: str) -> None:
    assert negotiate(header) == expected


def test_error_messages_fill_their_parameters() -> None:
    error = QianbaoError("RATE_LIMITED", retry_after=30)
    assert error.message("zh-CN") == "操作过于频繁，请 30 秒后再试。"
    assert error.message("en") == "Too many attempts; please try again in 30 seconds."
    assert error.status == 429


def test_an_unknown_error_code_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        QianbaoError("NO_SUCH_CODE")

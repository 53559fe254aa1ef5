"""The shared stylesheet: readable Chinese type, AA contrast for every text colour pair, visible focus."""

from __future__ import annotations

import re

import pytest

from qianbao.web.render import STATIC_PATH

CSS = (STATIC_PATH / "qianbao.css").read_text(encoding="utf-8")
ROOT = CSS[CSS.index(":root {"):CSS.index("}", CSS.index(":root {"))]
VARIABLES = dict(re.findall(r"(--qb-[a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;", ROOT))
PAIRS = re.findall(r"(--qb-[a-z0-9-]+)/(--qb-[a-z0-9-]+)", ROOT[ROOT.index("contrast pairs"):])


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_helper_matches_the_wcag_reference_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_the_stylesheet_declares_its_text_colour_pairs() -> None:
    assert len(PAIRS) >= 10
    assert all(fg in VARIABLES and bg in VARIABLES for fg, bg in PAIRS)


@pytest.mark.parametrize(("foreground", "background"), PAIRS)
def test_every_declared_text_colour_pair_meets_wcag_aa(foreground: str, background: str) -> None:
    ratio = contrast(VARIABLES[foreground], VARIABLES[background])
    assert ratio >= 4.5, f"{foreground} on {background} is {ratio:.2f}:1"


def test_focus_rings_contrast_with_the_surfaces_they_sit_on() -> None:
    # WCAG 2.2 non-text contrast: 3:1 for the dark ring on white and the gold ring on the green bars.
    assert contrast(VARIABLES["--qb-focus"], VARIABLES["--qb-surface"]) >= 3
    gold_focus = re.search(r"\.topbar \{\s*--qb-focus: (#[0-9a-fA-F]{6})", CSS)
    assert gold_focus
    for bar in ("--qb-brand", "--qb-brand-800"):
        assert contrast(gold_focus.group(1), VARIABLES[bar]) >= 3


def test_focus_is_always_visible() -> None:
    assert re.search(r":focus-visible \{\s*outline: 3px solid var\(--qb-focus\)", CSS)
    assert "outline: none" not in CSS.replace("main:focus { outline: none; }", "")


def test_type_prefers_chinese_system_fonts_and_ships_none() -> None:
    stack = '"PingFang SC", "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", system-ui, sans-serif'
    assert f"--qb-font: {stack};" in CSS
    assert re.search(r"body \{[^}]*font-family: var\(--qb-font\);", CSS)

"""`qianbao sandbox-bank ...`: the flags of `serve` and the demo cards."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from qianbao.cli import app
from qianbao.cli.sandbox_bank import settings_from_flags
from qianbao.sandbox_bank.config import SandboxBankSettings
from qianbao.sandbox_bank.demo import DEMO_CARDS


def test_serve_flags_override_the_environment(tmp_path: Path) -> None:
    base = SandboxBankSettings(data_dir=tmp_path, latency_ms=80)
    cfg = settings_from_flags(base, {"port": 8123, "latency_ms": 5, "failure_rate": 0.2, "error_rate": None},
                              manual=True, pull=True, no_seed=True)
    assert (cfg.port, cfg.latency_ms, cfg.failure_rate, cfg.error_rate) == (8123, 5, 0.2, 0.0)
    assert (cfg.auto_process, cfg.callback_mode, cfg.seed_demo) == (False, "pull", False)
    assert cfg.resolved_database_url.endswith("sandbox-bank.db"), "its own database, never the wallet's"


def test_a_rate_outside_zero_to_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        settings_from_flags(SandboxBankSettings(data_dir=tmp_path), {"failure_rate": 1.5})


def test_the_cards_command_lists_the_demo_cards_grouped_in_fours() -> None:
    result = CliRunner().invoke(app, ["sandbox-bank", "cards"])
    assert result.exit_code == 0
    for card in DEMO_CARDS:
        assert " ".join(card.number[i:i + 4] for i in range(0, len(card.number), 4)) in result.output

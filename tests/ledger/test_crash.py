"""Killed mid-stream: after a SIGKILL the ledger still checks out, every acknowledged transfer is there
exactly once, and retrying everything with the same keys applies nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from crash_client import PER_BATCH, requests
from ledger_helpers import Chart, fund
from sqlalchemy import text
from typer.testing import CliRunner

from qianbao import ledger
from qianbao.cli import app
from qianbao.db import Database

pytestmark = pytest.mark.slow

CLIENT = Path(__file__).with_name("crash_client.py")
BATCHES = 400
KILL_AFTER = 40


def ledger_check(database_url: str, tmp_path: Path) -> None:
    env = {"QIANBAO_DATABASE_URL": database_url, "QIANBAO_DATA_DIR": str(tmp_path), "QIANBAO_CLI_LANG": "en",
           "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["ledger", "check"], env=env)
    assert result.exit_code == 0, result.output


def stream(database_url: str, wallets: list[int], first: int, last: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CLIENT), database_url, str(first), str(last), ",".join(map(str, wallets))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )


def test_a_client_killed_mid_stream_loses_nothing_acknowledged_and_retries_apply_once(
    db: Database, chart: Chart, database_url: str, tmp_path: Path
) -> None:
    with db.transaction() as s:
        wallets = [ledger.open_account(s, "customer_wallet").id for _ in range(6)]
    for wallet in wallets:
        fund(db, chart, wallet, 1_000_000)

    client = stream(database_url, wallets, 0, BATCHES)
    acked: list[int] = []
    assert client.stdout is not None
    for line in client.stdout:
        acked.append(int(line.split()[1]))
        if len(acked) == KILL_AFTER:
            client.send_signal(signal.SIGKILL)
            break
    rest, _ = client.communicate(timeout=60)
    acked += [int(line.split()[1]) for line in rest.splitlines() if line.startswith("ACK")]
    assert client.returncode == -signal.SIGKILL
    assert KILL_AFTER <= len(acked) < BATCHES, "the client finished before it could be killed"

    ledger_check(database_url, tmp_path)
    with db.read() as s:
        stored = Counter(k for (k,) in s.execute(text("SELECT key FROM ledger_idempotency WHERE key LIKE 'stream-%'")))
        made = s.execute(text("SELECT COUNT(*) FROM ledger_transfers WHERE code = 'stream'")).scalar_one()
    acked_keys = {f"stream-{b * PER_BATCH + j}" for b in acked for j in range(PER_BATCH)}
    assert acked_keys <= set(stored)
    assert max(stored.values()) == 1 and made == len(stored)
    # Whole batches or nothing: the kill never leaves half a transaction behind.
    assert len(stored) % PER_BATCH == 0

    retry = stream(database_url, wallets, 0, BATCHES)
    out, err = retry.communicate(timeout=600)
    assert retry.returncode == 0, err
    replayed = sum(int(line.split()[2]) for line in out.splitlines())
    assert replayed == len(stored)

    expected = Counter[int]()
    for batch in range(BATCHES):
        for item in requests(batch, wallets):
            expected[item.debit] -= item.amount
            expected[item.credit] += item.amount
    with db.read() as s:
        for wallet in wallets:
            assert ledger.balance(s, wallet).posted == 1_000_000 + expected[wallet]
        made = s.execute(text("SELECT COUNT(*) FROM ledger_transfers WHERE code = 'stream'")).scalar_one()
    assert made == BATCHES * PER_BATCH
    ledger_check(database_url, tmp_path)

"""`qianbao worker --once` delivers the outbox; `qianbao notices` shows and requeues it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from qianbao.cli import app
from qianbao.logging import configure_logging
from qianbao.notices import outbox
from qianbao.notices.delivery import deliver_due
from qianbao.notices.models import DEAD, PENDING, SENT


@pytest.fixture
def cli_env(database_url, keyring, tmp_path) -> Iterator[dict[str, str]]:
    yield {
        "QIANBAO_DATABASE_URL": database_url,
        "QIANBAO_KEY_FILE": str(keyring.path),
        "QIANBAO_DATA_DIR": str(tmp_path),
        "QIANBAO_SMS_LATENCY_MS": "0",
        "QIANBAO_SMS_FAILURE_RATE": "0",
        "COLUMNS": "200",
    }
    # The command points the logs at CliRunner's captured stderr, which is closed once it returns.
    configure_logging(json=False, level="WARNING")


def test_worker_once_delivers_the_outbox(db, cli_env, sandbox_texts):
    with db.transaction() as session:
        outbox.enqueue_sms(session, "13800138000", text="【钱包】您的钱包已开通")
        outbox.enqueue_inbox(session, 7, "t", "b")

    result = CliRunner().invoke(app, ["worker", "--once"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert "2 item(s)" in result.output
    assert sandbox_texts() == [("+8613800138000", "【钱包】您的钱包已开通")]
    with db.read() as session:
        assert outbox.status_counts(session) == {PENDING: 0, SENT: 2, DEAD: 0}


def test_notices_status_shows_counts_by_status(db, settings, cli_env, dev_gateway):
    with db.transaction() as session:
        outbox.enqueue_sms(session, "12345", text="号码无效")
        outbox.enqueue_sms(session, "13800138000", text="稍后发送")
    deliver_due(db, settings, limit=1, gateway=dev_gateway)

    result = CliRunner().invoke(app, ["notices", "status"], env=cli_env)

    assert result.exit_code == 0, result.output
    lines = {line.strip("│ ").split()[0]: line for line in result.output.splitlines() if "│" in line}
    assert lines["pending"].split()[-2] == "1"
    assert lines["dead"].split()[-2] == "1"
    assert lines["sent"].split()[-2] == "0"


def test_notices_retry_dead_requeues_dead_messages(db, settings, cli_env, dev_gateway):
    with db.transaction() as session:
        outbox.enqueue_sms(session, "12345", text="号码无效")
    deliver_due(db, settings, gateway=dev_gateway)

    result = CliRunner().invoke(app, ["notices", "retry-dead"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert "1 dead message(s)" in result.output
    with db.read() as session:
        assert outbox.status_counts(session)[PENDING] == 1

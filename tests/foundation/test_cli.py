"""The `qianbao` command: plain-words help, one clear line on bad configuration, a demo that runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

COMMANDS = [
    [], ["serve"], ["worker"], ["db"], ["db", "upgrade"], ["demo", "seed"],
    ["keys", "init"], ["keys", "rotate"], ["audit", "verify"], ["notices", "status"], ["ledger", "check"],
]


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 120):
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "qianbao", *args], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_explains_itself(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def _assert_one_clear_line(result, code: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert code in lines[0]


def test_serve_stops_with_one_line_when_the_database_is_unreachable(tmp_path: Path, keyring) -> None:
    result = run_cli("serve", env={"QIANBAO_DATABASE_URL": "postgresql+psycopg://qianbao@127.0.0.1:1/qianbao",
                                   "QIANBAO_KEY_FILE": str(keyring.path)}, cwd=tmp_path)
    _assert_one_clear_line(result, "CONFIG_DATABASE_UNREACHABLE")


def test_serve_stops_with_one_line_when_the_database_url_is_malformed(tmp_path: Path, keyring) -> None:
    result = run_cli("serve", env={"QIANBAO_DATABASE_URL": "not a url", "QIANBAO_KEY_FILE": str(keyring.path)},
                     cwd=tmp_path)
    _assert_one_clear_line(result, "CONFIG_DATABASE_URL_INVALID")


def test_serve_stops_with_one_line_when_the_encryption_key_is_missing(tmp_path: Path) -> None:
    result = run_cli("serve", env={"QIANBAO_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    _assert_one_clear_line(result, "CONFIG_KEYS_MISSING")


def test_serve_refuses_an_unmigrated_database(tmp_path: Path, keyring, empty_database_url) -> None:
    result = run_cli("serve", env={"QIANBAO_DATABASE_URL": empty_database_url,
                                   "QIANBAO_KEY_FILE": str(keyring.path)}, cwd=tmp_path)
    _assert_one_clear_line(result, "CONFIG_DATABASE_NOT_MIGRATED")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_demo_creates_everything_and_prints_the_urls(tmp_path: Path) -> None:
    """The README's first quick-start command, on a directory with nothing in it."""
    port, bank_port = _free_port(), _free_port()
    # A bank port of its own: the default 8100 is the one a person trying the demo on this machine uses.
    env = {**os.environ, "COLUMNS": "200", "QIANBAO_PORT": str(port),
           "QIANBAO_BANK_URL": f"http://127.0.0.1:{bank_port}"}
    env.pop("QIANBAO_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "qianbao", "serve", "--demo"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, "server did not become ready"
        page = httpx.get(f"http://127.0.0.1:{port}/app", headers={"accept": "text/html"})
        assert page.status_code == 200 and "钱包" in page.text
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    for path in ("/app", "/teller", "/ops", "/api/docs"):
        assert f"http://127.0.0.1:{port}{path}" in output
    assert (tmp_path / "qianbao-data" / "qianbao.db").exists()
    assert (tmp_path / "qianbao-data" / "keys.json").exists()
    assert f"http://127.0.0.1:{bank_port}" in output
    # SIGTERM stops the sandbox bank the demo started too: nothing is left listening on its port.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{bank_port}/healthz", timeout=1)

"""Run the sandbox bank as its own process (`qianbao serve --demo`, the tests' `sandbox_bank` fixture)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class SandboxBankProcess:
    """`python -m qianbao sandbox-bank serve` in a child process with its own data directory and database.

    `options` become QIANBAO_SANDBOX_BANK_* variables (latency_ms=0, callback_mode="pull", ...). Its output
    goes to `<data_dir>/sandbox-bank.log`."""

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int | None = None, **options: Any) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "sandbox-bank.log"

    def start(self, timeout: float = 30.0) -> SandboxBankProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "QIANBAO_SANDBOX_BANK_DATA_DIR": str(self.data_dir)}
        for name, value in self.options.items():
            env[f"QIANBAO_SANDBOX_BANK_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qianbao", "sandbox-bank", "serve", "--host", self.host, "--port", str(self.port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the sandbox bank did not start on {self.url}:\n{tail}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SandboxBankProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


__all__ = ["SandboxBankProcess", "free_port", "port_in_use"]

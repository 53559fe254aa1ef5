"""Data flows down: the credentials package imports nothing of the web or API layers, even indirectly."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("fastapi", "starlette", "jinja2", "qianbao.web", "qianbao.api")


def test_credentials_package_imports_no_web_layer() -> None:
    probe = (
        "import sys, qianbao.credentials, qianbao.credentials.jobs\n"
        f"print('\\n'.join(m for m in sys.modules if m.startswith({FORBIDDEN!r})))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == []

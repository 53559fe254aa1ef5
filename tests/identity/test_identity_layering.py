"""Data flows down: the identity rules and their adapters import nothing of the web or API layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import qianbao

SRC = Path(qianbao.__file__).parent
FORBIDDEN = ("fastapi", "starlette", "jinja2", "qianbao.web", "qianbao.api")


@pytest.mark.parametrize("package", ["identity", "adapters/identity", "adapters/idcard"])
def test_identity_code_imports_no_web_layer(package: str) -> None:
    imported: set[str] = set()
    for path in (SRC / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    assert [name for name in imported if name.startswith(FORBIDDEN)] == []
    assert imported, "no source files found"

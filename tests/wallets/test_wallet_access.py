"""Access (SPEC §10): a customer reaches only their own wallet; another's is NOT_FOUND, never "forbidden"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from wallet_helpers import Harness

from qianbao import wallets
from qianbao.db import Database
from qianbao.errors import QianbaoError
from qianbao.wallets.numbers import with_check_digit


def test_a_customer_reaches_their_own_wallet_by_its_number(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    with db.read() as session:
        wallet = wallets.wallet_for_customer(session, opened.customer_id, wallets.format_wallet_number(opened.number))
    assert wallet.id == opened.wallet_id


def test_someone_elses_wallet_is_not_found_exactly_like_a_number_nobody_has(h: Harness, db: Database) -> None:
    mine, theirs = h.register("13800138000"), h.register("13900139000")
    unused = with_check_digit("999999999999999")
    errors = []
    for number in (theirs.number, unused):
        with db.read() as session, pytest.raises(QianbaoError) as caught:
            wallets.wallet_for_customer(session, mine.customer_id, number)
        errors.append((caught.value.code, caught.value.status, caught.value.params))
    assert errors[0] == errors[1] == ("NOT_FOUND", 404, {})


def test_a_mistyped_number_is_refused_as_invalid_before_ownership_is_looked_at(h: Harness, db: Database) -> None:
    opened = h.register("13800138000")
    typo = opened.number[:-1] + str((int(opened.number[-1]) + 1) % 10)
    with db.read() as session, pytest.raises(QianbaoError) as caught:
        wallets.wallet_for_customer(session, opened.customer_id, typo)
    assert caught.value.code == "WALLET_NUMBER_INVALID"


def test_the_wallets_package_imports_no_web_layer() -> None:
    root = Path(wallets.__file__).parent
    imported: set[str] = set()
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    forbidden = {m for m in imported if m.split(".")[0] in {"fastapi", "starlette", "jinja2"}
                 or m.startswith(("qianbao.web", "qianbao.api"))}
    assert forbidden == set()

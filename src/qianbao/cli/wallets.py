"""`qianbao wallets ...`: look a wallet up, print the tier policy, downgrade a wallet as an operator.

    qianbao wallets show 6217 0000 1234 5678      holder (masked), tier, status, balance, limits, tier history
    qianbao wallets tiers                         the tier policy as the ops console shows it
    qianbao wallets downgrade <number> <tier> --reason "..." --staff OP001
                                                  audited as that operator (the account must be an operator)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from qianbao import bootstrap, ledger, wallets
from qianbao.cli.base import app, cli_language, console, friendly_errors, settings
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.money import format_fen
from qianbao.pii.masking import mask_name, mask_phone

wallets_app = typer.Typer(help="Wallets: show one, print the tier policy, downgrade as an operator.",
                          no_args_is_help=True)
app.add_typer(wallets_app, name="wallets")


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    cfg = settings()
    bootstrap.keyring(cfg)
    db = bootstrap.open_database(cfg)
    try:
        bootstrap.require_current_schema(db)
        with db.transaction() as session:
            yield session
    finally:
        db.dispose()


def _t(key: str, **params: object) -> str:
    return translate(key, cli_language(), **params)


def _amount(fen: int | None) -> str:
    return _t("wallet.limit.none") if fen is None else format_fen(fen, cli_language())


@wallets_app.command("show")
@friendly_errors
def show(number: list[str] = typer.Argument(..., help="The wallet number; spaces between groups are fine.")) -> None:
    """Show a wallet: holder (masked), tier, status, balance, limits and tier history."""
    with _unit_of_work() as session:
        wallet = wallets.wallet_by_number(session, " ".join(number))
        customer = wallets.get_customer(session, wallet.customer_id)
        limits = wallets.wallet_limits(session, wallet)
        balance = ledger.balance(session, wallet.ledger_account_id)
        history = wallets.tier_history(session, wallet.id)
    table = Table(show_header=False, title=wallets.format_wallet_number(wallet.number))
    rows = [
        (_t("cli.wallets.holder"), f"{mask_name(customer.legal_name) or '-'}  {mask_phone(customer.phone)}"),
        (_t("cli.wallets.real_name"), _t(f"kyc.status.{customer.real_name_status}")),
        (_t("cli.wallets.tier"), _t(f"wallet.tier.{wallet.tier}")),
        (_t("cli.wallets.status"), _t(f"wallet.status.{wallet.status}")
         + (f" — {_t('wallet.outflow_restricted.' + str(wallet.outflow_restriction_reason))}"
            if wallet.outflow_restricted else "")),
        (_t("cli.wallets.balance"), _amount(balance.posted)),
        (_t("cli.wallets.balance_cap"), _amount(limits.balance_cap)),
        (_t("cli.wallets.single_payment"), _amount(limits.single_payment_limit)),
        (_t("cli.wallets.daily_outflow"), _amount(limits.daily_outflow_limit)),
        (_t("cli.wallets.annual_outflow"), _amount(limits.annual_outflow_limit)),
        (_t("cli.wallets.opened"), f"{wallet.opened_at:%Y-%m-%d %H:%M} UTC ({wallet.opened_channel})"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    for change in history:
        source = "-" if change.from_tier is None else str(change.from_tier)
        console.print(f"  {change.changed_at:%Y-%m-%d %H:%M}  {source} → {change.to_tier}  {change.cause}"
                      + (f"  {change.reason}" if change.reason else ""))


@wallets_app.command("tiers")
@friendly_errors
def tiers() -> None:
    """Print the tier policy (balance cap, single payment, daily and annual outflow) and the wallet-wide caps."""
    with _unit_of_work() as session:
        all_tiers = wallets.all_tiers(session)
        wide = wallets.wallet_policy(session)
    table = Table(title=_t("cli.wallets.tiers_title"))
    for header in ("cli.wallets.tier", "cli.wallets.balance_cap", "cli.wallets.single_payment",
                   "cli.wallets.daily_outflow", "cli.wallets.annual_outflow"):
        table.add_column(_t(header))
    for tier in all_tiers:
        table.add_row(_t(f"wallet.tier.{tier.tier}"), _amount(tier.balance_cap), _amount(tier.single_payment_limit),
                      _amount(tier.daily_outflow_limit), _amount(tier.annual_outflow_limit))
    console.print(table)
    console.print(_t("cli.wallets.wide_policy", password_free=_amount(wide.password_free_daily_limit),
                     static_qr=_amount(wide.static_qr_daily_limit), minimum_age=wide.minimum_age))


@wallets_app.command("downgrade")
@friendly_errors
def downgrade(
    number: str = typer.Argument(..., help="The wallet number (quote it if it has spaces)."),
    tier: int = typer.Argument(..., help="The new, lower tier: a larger number than the current one."),
    reason: str = typer.Option(..., "--reason", help="Why; kept in the audit log and the tier history."),
    staff: str = typer.Option(..., "--staff", help="Employee number of the operator taking the decision."),
) -> None:
    """Downgrade a wallet (SPEC §2: only an operator, with a reason; it only tightens future limits)."""
    from qianbao.staff import staff_by_number

    with _unit_of_work() as session:
        member = staff_by_number(session, staff)
        if member is None or not member.active or member.role != "operator":
            raise QianbaoError("FORBIDDEN")
        wallet = wallets.wallet_by_number(session, number)
        change = wallets.downgrade_by_operator(session, wallet.id, tier, reason, member.id)
    console.print(_t("cli.wallets.downgraded", number=wallets.format_wallet_number(wallet.number),
                     from_tier=change.from_tier, to_tier=change.to_tier))

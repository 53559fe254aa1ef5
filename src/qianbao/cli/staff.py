"""`qianbao staff ...`: branches and staff accounts from the command line (the first operator, scripts).

Actions taken here are audited as the system actor "cli" on the system channel.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pyotp
import segno
import typer
from rich.table import Table
from sqlalchemy.orm import Session

from qianbao import audit, bootstrap
from qianbao.cli.base import app, cli_language, console, friendly_errors, settings
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.settings import Settings
from qianbao.staff import branches, members
from qianbao.staff.demo import demo_totp_secret
from qianbao.staff.models import ROLES

staff_app = typer.Typer(
    help="Branches and staff accounts: create, list, disable, reset a password; demo TOTP codes.",
    no_args_is_help=True,
)
app.add_typer(staff_app, name="staff")

CLI_ACTOR = audit.Actor.system("cli")


@contextmanager
def _unit_of_work() -> Iterator[tuple[Session, Settings]]:
    cfg = settings()
    bootstrap.keyring(cfg)
    db = bootstrap.open_database(cfg)
    try:
        bootstrap.require_current_schema(db)
        with db.transaction() as session:
            yield session, cfg
    finally:
        db.dispose()


def _t(key: str, **params: object) -> str:
    return translate(key, cli_language(), **params)


@staff_app.command("branch-create")
@friendly_errors
def branch_create(
    code: str = typer.Option(..., "--code", help="Branch number, 4 to 8 digits (0101)."),
    name_zh: str = typer.Option(..., "--name-zh", help="Chinese name (北京西城支行)."),
    name_en: str = typer.Option(..., "--name-en", help="English name (Beijing Xicheng Branch)."),
    address: str = typer.Option(..., "--address", help="Street address."),
) -> None:
    """Create a branch (网点)."""
    with _unit_of_work() as (session, _cfg):
        branch = branches.create_branch(session, code=code, name_zh=name_zh, name_en=name_en, address=address,
                                        by=CLI_ACTOR, channel="system")
        line = _t("cli.staff.branch_created", code=branch.code, name=branch.name(cli_language()))
    console.print(f"[green]✓[/] {line}")


def _ascii_qr(uri: str) -> str:
    buffer = io.StringIO()
    segno.make(uri, error="m").terminal(out=buffer, compact=True)
    return buffer.getvalue()


@staff_app.command("create")
@friendly_errors
def create(
    employee_no: str = typer.Option(..., "--no", "--employee-no", help="Employee number, 3-16 letters or digits."),
    name: str = typer.Option(..., "--name", help="The person's name."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}."),
    branch: str | None = typer.Option(None, "--branch", help="Branch number; required for tellers and supervisors."),
) -> None:
    """Create a staff account; prints its one-time password and the TOTP enrolment (URI and QR code) once."""
    with _unit_of_work() as (session, cfg):
        created = members.create_staff(session, employee_no=employee_no, name=name, role=role, branch_code=branch,
                                       by=CLI_ACTOR, channel="system", settings=cfg)
        member = created.member
        role_name = _t(f"staff.role.{member.role}")
        summary = _t("cli.staff.created", employee_no=member.employee_no, name=member.name, role=role_name)
    console.print(f"[green]✓[/] {summary}")
    # soft_wrap: a secret broken over two lines would be copied wrong.
    console.print(_t("cli.staff.one_time_password", password=created.initial_password), markup=False,
                  soft_wrap=True)
    console.print(_t("cli.staff.totp_uri"), soft_wrap=True)
    console.print(created.totp.uri, markup=False, soft_wrap=True)
    console.print(_ascii_qr(created.totp.uri), markup=False, highlight=False)


@staff_app.command("list")
@friendly_errors
def list_(branch: str | None = typer.Option(None, "--branch", help="Only this branch's staff.")) -> None:
    """List staff accounts with their role, branch and status."""
    lang = cli_language()
    with _unit_of_work() as (session, _cfg):
        branch_id = branches.branch_by_code(session, branch).id if branch else None
        rows = members.list_staff(session, branch_id=branch_id)
        table = Table("employee no", "name", "role", "branch", "active")
        for member, member_branch in rows:
            table.add_row(member.employee_no, member.name, translate(f"staff.role.{member.role}", lang),
                          f"{member_branch.code} {member_branch.name(lang)}" if member_branch else "-",
                          "yes" if member.active else "no")
    if not rows:
        console.print(_t("cli.staff.list.empty"))
        return
    console.print(table)


def _member_id(session: Session, employee_no: str) -> int:
    member = members.staff_by_number(session, employee_no)
    if member is None:
        raise QianbaoError("STAFF_NOT_FOUND", employee_no=members.normalise_employee_no(employee_no)[:20])
    return member.id


@staff_app.command("disable")
@friendly_errors
def disable(
    employee_no: str = typer.Argument(..., help="Employee number."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit log)."),
) -> None:
    """Disable a staff account and end its sessions at once."""
    from qianbao import credentials

    with _unit_of_work() as (session, _cfg):
        staff_id = _member_id(session, employee_no)
        open_sessions = len(credentials.list_sessions(session, members.principal(staff_id)))
        member = members.disable_staff(session, staff_id, reason=reason, by=CLI_ACTOR, channel="system")
        line = _t("cli.staff.disabled", employee_no=member.employee_no, sessions=open_sessions)
    console.print(f"[green]✓[/] {line}")


@staff_app.command("reset-password")
@friendly_errors
def reset_password(employee_no: str = typer.Argument(..., help="Employee number.")) -> None:
    """Give an account a new one-time password (printed once) and lift a login lock."""
    with _unit_of_work() as (session, cfg):
        staff_id = _member_id(session, employee_no)
        password = members.reset_password(session, staff_id, by=CLI_ACTOR, channel="system", settings=cfg)
        number = members.get_staff(session, staff_id).employee_no
    console.print(_t("cli.staff.password_reset", employee_no=number, password=password), markup=False,
                  soft_wrap=True)


@staff_app.command("totp")
@friendly_errors
def totp(employee_no: str = typer.Argument(..., help="Employee number of a demo account.")) -> None:
    """Print an account's current dynamic password. Demo and test environments only: refused in production,
    where the code lives only in the staff member's authenticator app."""
    cfg = settings()
    if cfg.environment == "production":
        raise QianbaoError("STAFF_TOTP_DEMO_ONLY")
    with _unit_of_work() as (session, _cfg):
        secret = demo_totp_secret(session, employee_no)
    number = members.normalise_employee_no(employee_no)
    if secret is None:
        raise QianbaoError("STAFF_TOTP_NOT_ENROLLED", employee_no=number[:20])
    totp_ = pyotp.TOTP(secret)
    seconds = totp_.interval - int(time.time()) % totp_.interval
    console.print(_t("cli.staff.totp_code", employee_no=number, code=totp_.now(), seconds=seconds), soft_wrap=True)

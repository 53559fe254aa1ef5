"""Staff pages: sign-in (password, TOTP, one-time password change) and sign-out for both consoles, the
ops console's staff administration, and the supervisor's approval queue in the teller console.

/teller/login and /ops/login run the same steps (qianbao.staff.signin) and differ in look and landing:
branch staff land on /teller, operators and auditors on /ops, whichever page they started from.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from qianbao import access, approvals, credentials
from qianbao.errors import QianbaoError
from qianbao.i18n import translate
from qianbao.staff import branches as branch_service
from qianbao.staff import members, signin
from qianbao.staff.models import ROLES, StaffMember
from qianbao.web import auth
from qianbao.web.auth import StaffContext, requires
from qianbao.web.pages import safe_next
from qianbao.web.render import render

router = APIRouter(include_in_schema=False)

Console = Literal["teller", "ops"]
CONSOLES: tuple[Console, ...] = ("teller", "ops")


def _lang(request: Request) -> str:
    return getattr(request.state, "lang", "zh-CN")


def _db(request: Request) -> Any:
    return request.app.state.db


def _error_text(request: Request, exc: QianbaoError) -> str:
    return exc.message(_lang(request))


def _landing(role: str) -> str:
    return "/teller" if role in access.BRANCH_ROLES else "/ops"


def _after_sign_in(role: str, next_path: str | None) -> str:
    """Where a staff member goes once signed in: the page they asked for if it is in their own console."""
    landing = _landing(role)
    target = safe_next(next_path)
    if target == landing or target.startswith(landing + "/") or target.startswith(landing + "?"):
        return target
    return landing


def _step_url(console: Console, step: str, next_path: str | None) -> str:
    url = f"/{console}/login{step}"
    target = safe_next(next_path)
    return url + (f"?next={quote(target, safe='/')}" if target != "/" else "")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ---- sign-in ----------------------------------------------------------------------------------------

def _login_page(request: Request, console: Console, *, next_path: str, employee_no: str = "",
                error: str | None = None, notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    device, is_new = auth.ensure_device_id(request)
    request.state.csrf_token = credentials.csrf_token(device)
    request.state.no_store = True
    response = render(request, "staff/login.html", status_code=status_code, console=console, next=next_path,
                      employee_no=employee_no, error=error, notice=notice)
    if is_new:
        auth.set_device_cookie(request, response, device)
    return response


def _pending(request: Request, stage: signin.Stage) -> signin.SignedInStaff | None:
    resolved = auth.read_staff(request)
    if resolved.staff is None or resolved.staff.stage != stage:
        return None
    request.state.csrf_token = credentials.csrf_token(resolved.staff.session)
    request.state.no_store = True
    return resolved.staff


def _record_refusal(request: Request, *, step: str, channel: str, exc: QianbaoError,
                    member_id: int | None = None, employee_no: str | None = None) -> None:
    with _db(request).transaction() as session:
        member = session.get(StaffMember, member_id) if member_id is not None else (
            members.staff_by_number(session, employee_no or "")
        )
        signin.record_sign_in(session, step=step, outcome="refused", channel=channel, member=member,
                              employee_no=employee_no, code=exc.code)


def _channel(console: Console) -> str:
    return "counter" if console == "teller" else "ops"


def _login_get(console: Console) -> Any:
    def login_form(request: Request, next: str = Query("", max_length=500),
                   expired: bool = Query(False)) -> Response:
        resolved = auth.read_staff(request)
        if resolved.staff is not None and resolved.staff.stage == "signed_in":
            return _see_other(_after_sign_in(resolved.staff.role, next))
        notice = translate("error.SESSION_EXPIRED", _lang(request)) if expired or resolved.expired else None
        return _login_page(request, console, next_path=next, notice=notice)

    return login_form


def _login_post(console: Console) -> Any:
    def login_submit(
        request: Request,
        employee_no: str = Form("", max_length=32),
        password: str = Form("", max_length=256),
        next: str = Form("", max_length=500),
        _device: str = Depends(auth.device_csrf),
    ) -> Response:
        settings = auth.settings_of(request)
        try:
            with credentials.transaction(_db(request)) as session:
                member = signin.check_password(session, employee_no, password, ip=auth.client_ip(request),
                                               settings=settings)
                started = signin.start_pending(
                    session, member, replaces_token=auth.staff_token(request), device_id=_device,
                    user_agent=auth.user_agent(request), ip=auth.client_ip(request), settings=settings,
                )
        except QianbaoError as exc:
            _record_refusal(request, step="password", channel=_channel(console), exc=exc, employee_no=employee_no)
            return _login_page(request, console, next_path=next, employee_no=employee_no,
                               error=_error_text(request, exc), status_code=exc.status)
        response = _see_other(_step_url(console, "/totp", next))
        auth.set_staff_cookie(request, response, started.token)
        return response

    return login_submit


def _totp_page(request: Request, console: Console, staff: signin.SignedInStaff, *, next_path: str,
               qr: credentials.TotpEnrolment | None = None, error: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    with _db(request).transaction() as session:
        member = signin.member_of(session, staff)
        enrolled = signin.totp_enrolled(session, member)
        if not enrolled and qr is None and not signin.totp_enrolment_pending(session, member):
            qr = signin.begin_enrolment(session, member)
    return render(
        request, "staff/totp.html", status_code=status_code, console=console, next=next_path, signing_in=staff,
        enrolled=enrolled, qr_svg=credentials.qr_svg(qr.uri) if qr else None,
        secret=qr.grouped_secret if qr else None, error=error,
    )


def _totp_get(console: Console) -> Any:
    def totp_form(request: Request, next: str = Query("", max_length=500)) -> Response:
        staff = _pending(request, "second_factor")
        if staff is None:
            return _see_other(_step_url(console, "", next))
        return _totp_page(request, console, staff, next_path=next)

    return totp_form


def _verify_pending_csrf(staff: signin.SignedInStaff, token: str | None) -> None:
    credentials.verify_csrf(staff.session, token)


def _totp_post(console: Console) -> Any:
    def totp_submit(
        request: Request,
        code: str = Form("", max_length=32),
        next: str = Form("", max_length=500),
        csrf: str | None = Depends(auth.submitted_csrf),
    ) -> Response:
        staff = _pending(request, "second_factor")
        if staff is None:
            return _see_other(_step_url(console, "", next))
        _verify_pending_csrf(staff, csrf)
        settings = auth.settings_of(request)
        token = auth.staff_token(request)
        try:
            with credentials.transaction(_db(request)) as session:
                member = signin.member_of(session, staff)
                signin.check_second_factor(session, member, code)
                common: dict[str, Any] = {
                    "replaces_token": token, "device_id": auth.device_id(request),
                    "user_agent": auth.user_agent(request), "ip": auth.client_ip(request), "settings": settings,
                }
                if member.password_must_change:
                    started = signin.start_pending(session, member, stage="password_change", **common)
                    target = _step_url(console, "/password", next)
                else:
                    started = signin.open_session(session, member, **common)
                    signin.record_sign_in(session, step="signed_in", outcome="success",
                                          channel=_channel(console), member=member)
                    target = _after_sign_in(member.role, next)
        except QianbaoError as exc:
            _record_refusal(request, step="second_factor", channel=_channel(console), exc=exc, member_id=staff.id)
            return _totp_page(request, console, staff, next_path=next, error=_error_text(request, exc),
                              status_code=exc.status)
        response = _see_other(target)
        auth.set_staff_cookie(request, response, started.token)
        return response

    return totp_submit


def _totp_new(console: Console) -> Any:
    def totp_new_qr(
        request: Request,
        next: str = Form("", max_length=500),
        csrf: str | None = Depends(auth.submitted_csrf),
    ) -> Response:
        staff = _pending(request, "second_factor")
        if staff is None:
            return _see_other(_step_url(console, "", next))
        _verify_pending_csrf(staff, csrf)
        with _db(request).transaction() as session:
            member = signin.member_of(session, staff)
            if signin.totp_enrolled(session, member):
                return _see_other(_step_url(console, "/totp", next))
            enrolment = signin.begin_enrolment(session, member)
        return _totp_page(request, console, staff, next_path=next, qr=enrolment)

    return totp_new_qr


def _password_page(request: Request, console: Console, *, next_path: str, error: str | None = None,
                   status_code: int = 200) -> HTMLResponse:
    return render(request, "staff/password.html", status_code=status_code, console=console, next=next_path,
                  error=error)


def _password_get(console: Console) -> Any:
    def password_form(request: Request, next: str = Query("", max_length=500)) -> Response:
        if _pending(request, "password_change") is None:
            return _see_other(_step_url(console, "", next))
        return _password_page(request, console, next_path=next)

    return password_form


def _password_post(console: Console) -> Any:
    def password_submit(
        request: Request,
        current_password: str = Form("", max_length=256),
        new_password: str = Form("", max_length=256),
        confirm_password: str = Form("", max_length=256),
        next: str = Form("", max_length=500),
        csrf: str | None = Depends(auth.submitted_csrf),
    ) -> Response:
        staff = _pending(request, "password_change")
        if staff is None:
            return _see_other(_step_url(console, "", next))
        _verify_pending_csrf(staff, csrf)
        settings = auth.settings_of(request)
        try:
            if new_password != confirm_password:
                raise QianbaoError("STAFF_PASSWORD_MISMATCH")
            with credentials.transaction(_db(request)) as session:
                member = signin.member_of(session, staff)
                signin.change_initial_password(session, member, current_password, new_password, settings=settings)
                started = signin.open_session(
                    session, member, replaces_token=auth.staff_token(request), device_id=auth.device_id(request),
                    user_agent=auth.user_agent(request), ip=auth.client_ip(request), settings=settings,
                )
                signin.record_sign_in(session, step="signed_in", outcome="success", channel=_channel(console),
                                      member=member)
                target = _after_sign_in(member.role, next)
        except QianbaoError as exc:
            _record_refusal(request, step="password_change", channel=_channel(console), exc=exc, member_id=staff.id)
            if exc.code == "LOGIN_LOCKED":
                # The lock ended the sign-in: start again once it runs out.
                return _login_page(request, console, next_path=next, error=_error_text(request, exc),
                                   status_code=exc.status)
            return _password_page(request, console, next_path=next, error=_error_text(request, exc),
                                  status_code=exc.status)
        response = _see_other(target)
        auth.set_staff_cookie(request, response, started.token)
        return response

    return password_submit


for _console in CONSOLES:
    router.add_api_route(f"/{_console}/login", _login_get(_console), methods=["GET"], response_class=HTMLResponse,
                         name=f"{_console}_login")
    router.add_api_route(f"/{_console}/login", _login_post(_console), methods=["POST"],
                         name=f"{_console}_login_submit")
    router.add_api_route(f"/{_console}/login/totp", _totp_get(_console), methods=["GET"],
                         response_class=HTMLResponse, name=f"{_console}_login_totp")
    router.add_api_route(f"/{_console}/login/totp", _totp_post(_console), methods=["POST"],
                         name=f"{_console}_login_totp_submit")
    router.add_api_route(f"/{_console}/login/totp/new", _totp_new(_console), methods=["POST"],
                         name=f"{_console}_login_totp_new")
    router.add_api_route(f"/{_console}/login/password", _password_get(_console), methods=["GET"],
                         response_class=HTMLResponse, name=f"{_console}_login_password")
    router.add_api_route(f"/{_console}/login/password", _password_post(_console), methods=["POST"],
                         name=f"{_console}_login_password_submit")


@router.post("/staff/logout")
def logout(request: Request, staff: StaffContext = Depends(requires("staff.session"))) -> Response:
    with _db(request).transaction() as session:
        credentials.end_session(session, auth.staff_token(request))
        member = session.get(StaffMember, staff.id)
        signin.record_sign_in(session, step="signed_out", outcome="success", channel=staff.channel, member=member)
    response = _see_other(f"{staff.landing}/login")
    auth.clear_staff_cookie(request, response)
    return response


# ---- ops: staff administration ------------------------------------------------------------------------

def _staff_page(request: Request, staff: StaffContext, *, error: str | None = None, status_code: int = 200,
                form: dict[str, str] | None = None, branch_form: dict[str, str] | None = None,
                notice: str | None = None) -> HTMLResponse:
    with _db(request).read() as session:
        rows = members.list_staff(session)
        all_branches = branch_service.list_branches(session)
    return render(
        request, "ops/staff.html", status_code=status_code, section="staff", rows=rows, branches=all_branches,
        roles=ROLES, error=error, form=form or {}, branch_form=branch_form or {}, notice=notice,
        can_manage=access.can(staff.actor, "ops.staff"),
    )


@router.get("/ops/staff", response_class=HTMLResponse)
def ops_staff(
    request: Request, done: str = Query("", max_length=32), staff: StaffContext = Depends(requires("ops.read"))
) -> HTMLResponse:
    notice = translate(f"ops.staff.done.{done}", _lang(request)) if done in {"branch_created"} else None
    return _staff_page(request, staff, notice=notice)


@router.post("/ops/staff", response_class=HTMLResponse)
def ops_staff_create(
    request: Request,
    employee_no: str = Form("", max_length=32),
    name: str = Form("", max_length=128),
    role: str = Form("", max_length=16),
    branch_code: str = Form("", max_length=16),
    staff: StaffContext = Depends(requires("ops.staff")),
) -> HTMLResponse:
    form = {"employee_no": employee_no, "name": name, "role": role, "branch_code": branch_code}
    try:
        with _db(request).transaction() as session:
            created = members.create_staff(
                session, employee_no=employee_no, name=name, role=role, branch_code=branch_code or None,
                by=staff.audit_actor, channel="ops", created_by=staff.id, settings=auth.settings_of(request),
            )
            member = created.member
    except QianbaoError as exc:
        return _staff_page(request, staff, error=_error_text(request, exc), status_code=exc.status, form=form)
    return render(
        request, "ops/staff_secret.html", section="staff", member=member, kind="created",
        password=created.initial_password, qr_svg=credentials.qr_svg(created.totp.uri),
        secret=created.totp.grouped_secret,
    )


@router.post("/ops/branches", response_class=HTMLResponse)
def ops_branch_create(
    request: Request,
    code: str = Form("", max_length=16),
    name_zh: str = Form("", max_length=128),
    name_en: str = Form("", max_length=192),
    address: str = Form("", max_length=400),
    staff: StaffContext = Depends(requires("ops.staff")),
) -> Response:
    try:
        with _db(request).transaction() as session:
            branch_service.create_branch(session, code=code, name_zh=name_zh, name_en=name_en, address=address,
                                         by=staff.audit_actor, channel="ops")
    except QianbaoError as exc:
        branch_form = {"code": code, "name_zh": name_zh, "name_en": name_en, "address": address}
        return _staff_page(request, staff, error=_error_text(request, exc), status_code=exc.status,
                           branch_form=branch_form)
    return _see_other("/ops/staff?done=branch_created")


def _detail_page(request: Request, staff: StaffContext, staff_id: int, *, error: str | None = None,
                 notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    with _db(request).read() as session:
        member = members.get_staff(session, staff_id)
        branch = branch_service.get_branch(session, member.branch_id) if member.branch_id else None
        enrolled = credentials.has_totp(session, members.principal(member))
        locked_until = credentials.login_locked_until(session, members.principal(member))
    return render(
        request, "ops/staff_detail.html", status_code=status_code, section="staff", member=member, branch=branch,
        totp_enrolled=enrolled, locked_until=locked_until, error=error, notice=notice,
        can_manage=access.can(staff.actor, "ops.staff"), is_self=member.id == staff.id,
    )


DETAIL_NOTICES = frozenset({"disabled", "totp_reset"})


@router.get("/ops/staff/{staff_id}", response_class=HTMLResponse)
def ops_staff_detail(
    request: Request, staff_id: int, done: str = Query("", max_length=32),
    staff: StaffContext = Depends(requires("ops.read")),
) -> HTMLResponse:
    notice = translate(f"ops.staff.done.{done}", _lang(request)) if done in DETAIL_NOTICES else None
    return _detail_page(request, staff, staff_id, notice=notice)


@router.post("/ops/staff/{staff_id}/disable", response_class=HTMLResponse)
def ops_staff_disable(
    request: Request, staff_id: int, reason: str = Form("", max_length=400),
    staff: StaffContext = Depends(requires("ops.staff")),
) -> Response:
    try:
        with _db(request).transaction() as session:
            members.disable_staff(session, staff_id, reason=reason, by=staff.audit_actor, channel="ops",
                                  by_staff_id=staff.id)
    except QianbaoError as exc:
        if exc.code == "STAFF_NOT_FOUND":
            raise
        return _detail_page(request, staff, staff_id, error=_error_text(request, exc), status_code=exc.status)
    return _see_other(f"/ops/staff/{staff_id}?done=disabled")


@router.post("/ops/staff/{staff_id}/reset-password", response_class=HTMLResponse)
def ops_staff_reset_password(
    request: Request, staff_id: int, staff: StaffContext = Depends(requires("ops.staff"))
) -> HTMLResponse:
    try:
        with _db(request).transaction() as session:
            password = members.reset_password(session, staff_id, by=staff.audit_actor, channel="ops",
                                              by_staff_id=staff.id, settings=auth.settings_of(request))
            member = members.get_staff(session, staff_id)
    except QianbaoError as exc:
        if exc.code == "STAFF_NOT_FOUND":
            raise
        return _detail_page(request, staff, staff_id, error=_error_text(request, exc), status_code=exc.status)
    return render(request, "ops/staff_secret.html", section="staff", member=member, kind="password_reset",
                  password=password, qr_svg=None, secret=None)


@router.post("/ops/staff/{staff_id}/reset-totp", response_class=HTMLResponse)
def ops_staff_reset_totp(
    request: Request, staff_id: int, staff: StaffContext = Depends(requires("ops.staff"))
) -> Response:
    try:
        with _db(request).transaction() as session:
            members.reset_totp(session, staff_id, by=staff.audit_actor, channel="ops")
    except QianbaoError as exc:
        if exc.code == "STAFF_NOT_FOUND":
            raise
        return _detail_page(request, staff, staff_id, error=_error_text(request, exc), status_code=exc.status)
    return _see_other(f"/ops/staff/{staff_id}?done=totp_reset")


# ---- teller console: the supervisor's approval queue ----------------------------------------------------

def _approvals_page(request: Request, staff: StaffContext, *, error: str | None = None, notice: str | None = None,
                    status_code: int = 200) -> HTMLResponse:
    lang = _lang(request)
    with _db(request).read() as session:
        pending = approvals.pending_for_branch(session, staff.branch_id) if staff.branch_id else []
        decided = approvals.recent_decisions(session, staff.branch_id) if staff.branch_id else []
        ids = {a.requested_by for a in pending + decided} | {a.decided_by for a in decided if a.decided_by}
        people = {m.id: m for m in session.scalars(select(StaffMember).where(StaffMember.id.in_(ids)))}
    return render(
        request, "teller/approvals.html", status_code=status_code, section="approvals", pending=pending,
        decided=decided, people=people, summary=lambda a: approvals.summary_text(a, lang), error=error,
        notice=notice,
    )


@router.get("/teller/approvals", response_class=HTMLResponse)
def teller_approvals(
    request: Request, done: str = Query("", max_length=32),
    staff: StaffContext = Depends(requires("teller.approvals")),
) -> HTMLResponse:
    notice = translate(f"teller.approvals.done.{done}", _lang(request)) if done in {"approved", "rejected"} else None
    return _approvals_page(request, staff, notice=notice)


@router.post("/teller/approvals/{approval_id}/decide", response_class=HTMLResponse)
def teller_approval_decide(
    request: Request,
    approval_id: int,
    decision: Literal["approve", "reject"] = Form(...),
    reason: str = Form("", max_length=1000),
    staff: StaffContext = Depends(requires("teller.approve")),
) -> Response:
    try:
        with _db(request).transaction() as session:
            request_row = approvals.get_approval(session, approval_id)
            access.require(staff.actor, "teller.approve", branch_id=request_row.branch_id)
            approvals.decide(session, approval_id, staff.id, approve=decision == "approve", reason=reason)
    except QianbaoError as exc:
        if exc.code in {"APPROVAL_NOT_FOUND", "ACCESS_OTHER_BRANCH"}:
            raise
        return _approvals_page(request, staff, error=_error_text(request, exc), status_code=exc.status)
    return _see_other(f"/teller/approvals?done={'approved' if decision == 'approve' else 'rejected'}")

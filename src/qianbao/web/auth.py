"""Web authentication plumbing for every page and API route: cookies, who is asking, CSRF, headers.

Dependencies (FastAPI `Depends`):

    requires("ops.read")          a signed-in staff member whose role the action allows (qianbao.access)
    current_staff(roles=[...])    the same with an explicit list of roles (any staff role by default)
    current_customer              a signed-in customer (principal type "customer")
    device_csrf                   CSRF for forms shown before sign-in (bound to the device cookie)

A staff dependency returns a `StaffContext` (who, role, branch, `actor` for qianbao.access, CSRF token);
`current_customer` returns a `CustomerContext`. Without a session, a page request is redirected to its
sign-in page (`?next=` the page; htmx requests get HX-Redirect) and an /api request gets a 401
problem (UNAUTHENTICATED, or SESSION_EXPIRED after the idle timeout). A signed-in user whose role the
action does not allow gets 403 FORBIDDEN; an auditor gets FORBIDDEN on every writing request.

Cookies. Customer sessions use credentials' session cookie (`__Host-qb_session`, or `qb_session` on the
plain-HTTP development server); staff sessions use a cookie of their own with the same flags
(`__Host-qb_staff` / `qb_staff`), so a teller who opens the customer app in the same browser is not
signed out of the console, and neither kind of token is ever looked up as the other. Sessions are
rotated at sign-in (credentials.start_session(replaces_token=...)) and time out after 15 idle minutes
(credentials). Every response to a signed-in page is `Cache-Control: no-store`.

CSRF. Every state-changing request (anything but GET/HEAD/OPTIONS) through `requires`,
`current_staff` or `current_customer` must carry the session's token, as the form field `csrf_token`
(templates: `{{ csrf_input() }}` inside every POST form) or the `X-CSRF-Token` header (htmx, fetch).
Otherwise 403 CSRF_FAILED. API routes that authenticate with the session cookie follow the same rule
(send the header); routes authenticated by a bearer token or an HMAC signature (the merchant API) carry
no ambient credential, so they need no CSRF token and must not accept the session cookie.

`SecurityHeadersMiddleware` sets CSP (no inline script or style: the shell has none), X-Frame-Options
DENY, nosniff, Referrer-Policy and Permissions-Policy on every response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Literal, NoReturn
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qianbao import access, credentials
from qianbao.credentials import CookieSpec
from qianbao.credentials.models import UserSession
from qianbao.credentials.sessions import SESSION_COOKIE
from qianbao.errors import QianbaoError
from qianbao.settings import Settings
from qianbao.staff import signin
from qianbao.staff.signin import SignedInStaff

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STAFF_COOKIE = "qb_staff"
# The customer sign-in page (built by the customer-app flows); pages needing a customer redirect there.
CUSTOMER_LOGIN_PATH = "/app/login"
TELLER_LOGIN_PATH = "/teller/login"
OPS_LOGIN_PATH = "/ops/login"
# The merchant pages (qianbao.web.merchant_pages) sign in with the merchant number and portal password.
MERCHANT_LOGIN_PATH = "/m/login"


# ---- cookies ----------------------------------------------------------------------------------------

def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def customer_cookie(settings: Settings) -> CookieSpec:
    return credentials.session_cookie(settings)


def staff_cookie(settings: Settings) -> CookieSpec:
    """credentials' session cookie flags under the staff cookie's own name."""
    base = credentials.session_cookie(settings)
    return replace(base, name=base.name.removesuffix(SESSION_COOKIE) + STAFF_COOKIE)


def device_cookie(settings: Settings) -> CookieSpec:
    return credentials.device_cookie(settings)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")


def device_id(request: Request) -> str | None:
    return request.cookies.get(device_cookie(settings_of(request)).name) or None


def ensure_device_id(request: Request) -> tuple[str, bool]:
    """The browser's device id, or a new one (True: the caller must set it with `set_device_cookie`)."""
    existing = device_id(request)
    if existing:
        return existing, False
    return credentials.new_device_id(), True


def set_device_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(**device_cookie(settings_of(request)).set_cookie_kwargs(value))


def set_staff_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(**staff_cookie(settings_of(request)).set_cookie_kwargs(token))


def clear_staff_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(**staff_cookie(settings_of(request)).delete_cookie_kwargs())


def staff_token(request: Request) -> str | None:
    return request.cookies.get(staff_cookie(settings_of(request)).name) or None


def customer_token(request: Request) -> str | None:
    return request.cookies.get(customer_cookie(settings_of(request)).name) or None


# ---- who is asking ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaffContext:
    """The signed-in staff member of this request."""

    staff: SignedInStaff
    actor: access.Actor
    csrf_token: str

    @property
    def id(self) -> int:
        return self.staff.id

    @property
    def role(self) -> str:
        return self.staff.role

    @property
    def branch_id(self) -> int | None:
        return self.staff.branch_id

    @property
    def branch_code(self) -> str | None:
        return self.staff.branch_code

    @property
    def name(self) -> str:
        return self.staff.name

    @property
    def employee_no(self) -> str:
        return self.staff.employee_no

    @property
    def audit_actor(self) -> Any:
        return self.staff.audit_actor

    @property
    def channel(self) -> str:
        """The audit channel of this staff member's actions: the counter for branch staff, else ops."""
        return "counter" if self.role in access.BRANCH_ROLES else "ops"

    @property
    def landing(self) -> str:
        return "/teller" if self.role in access.BRANCH_ROLES else "/ops"

    def branch_name(self, lang: str) -> str | None:
        return self.staff.branch_name(lang)


@dataclass(frozen=True)
class CustomerContext:
    """The signed-in customer of this request (`customer_id` is the principal id)."""

    customer_id: int
    session: UserSession
    actor: access.Actor
    csrf_token: str


@dataclass(frozen=True)
class AccessSpec:
    """What a dependency lets through; the access-matrix test reads it off every route."""

    audience: Literal["staff", "customer", "merchant"]
    roles: frozenset[str]
    action: str | None = None
    # How the caller proves who they are: the session cookie (pages, the app's own JSON calls) or an
    # `Authorization: Bearer` token (the customer JSON API, qianbao.api.customer_auth).
    # The merchant API (qianbao.api.merchant_api) takes no cookie nor token: each request is HMAC-signed.
    credential: Literal["cookie", "bearer", "hmac"] = "cookie"


class LoginRequired(Exception):
    """Raised by a dependency when a page needs a sign-in; the handler answers with a redirect."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


async def login_required_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.headers.get("hx-request"):
        # htmx would follow a 303 inside the fragment; send the whole page to the sign-in instead.
        return Response(status_code=401, headers={"HX-Redirect": exc.location})
    return RedirectResponse(exc.location, status_code=303)


def login_path_for(path: str) -> str:
    return OPS_LOGIN_PATH if path == "/ops" or path.startswith("/ops/") else TELLER_LOGIN_PATH


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _same_site_path(url: str | None, request: Request) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.url.netloc:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if path.startswith("/") and not path.startswith("//") else None


def _unauthenticated(request: Request, login_path: str, *, expired: bool) -> NoReturn:
    if _is_api(request):
        raise QianbaoError("SESSION_EXPIRED" if expired else "UNAUTHENTICATED")
    if request.method in SAFE_METHODS:
        target = _here(request)
    else:
        # A form posted from a page whose session ended: come back to that page, not to the POST target.
        target = (_same_site_path(request.headers.get("hx-current-url"), request)
                  or _same_site_path(request.headers.get("referer"), request)
                  or login_path.rsplit("/", 1)[0])
    location = f"{login_path}?next={quote(target, safe='')}"
    if expired:
        location += "&expired=1"
    raise LoginRequired(location)


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a state-changing request carries (header, or form field), None for safe methods."""
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get(credentials.csrf.HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(credentials.csrf.FORM_FIELD)
        return value if isinstance(value, str) else None
    return None


def read_staff(request: Request) -> signin.Resolved:
    """The staff member behind the request's staff cookie, at any sign-in stage (writes the idle clock)."""
    token = staff_token(request)
    if not token:
        return signin.Resolved(None)
    with request.app.state.db.transaction() as session:
        return signin.resolve(session, token, ip=client_ip(request), settings=settings_of(request))


def _staff_dependency(spec: AccessSpec) -> Callable[..., StaffContext]:
    def dependency(request: Request, csrf: str | None = Depends(submitted_csrf)) -> StaffContext:
        resolved = read_staff(request)
        signed_in = resolved.staff
        if signed_in is None or signed_in.stage != "signed_in":
            _unauthenticated(request, login_path_for(request.url.path), expired=resolved.expired)
        actor = access.Actor.staff(signed_in.id, signed_in.role, signed_in.branch_id)
        context = StaffContext(staff=signed_in, actor=actor, csrf_token=credentials.csrf_token(signed_in.session))
        request.state.staff = context
        request.state.csrf_token = context.csrf_token
        request.state.no_store = True
        writes = request.method not in SAFE_METHODS
        if spec.action is not None:
            access.require(actor, spec.action, writes=writes)
        elif actor.role not in spec.roles or (writes and actor.role == access.AUDITOR):
            raise QianbaoError("FORBIDDEN")
        if writes:
            credentials.verify_csrf(signed_in.session, csrf)
        return context

    dependency.__qb_access__ = spec  # type: ignore[attr-defined]
    return dependency


@cache
def requires(action: str) -> Callable[..., StaffContext]:
    """The dependency for a staff route doing `action` (a key of qianbao.access.POLICY). The same
    callable for the same action, so tests can `app.dependency_overrides[requires(action)]`."""
    rule = access.rule(action)
    return _staff_dependency(AccessSpec("staff", rule.roles & set(access.STAFF_ROLES), action))


@cache
def _current_staff(roles: frozenset[str]) -> Callable[..., StaffContext]:
    unknown = roles - set(access.STAFF_ROLES)
    if unknown:
        raise ValueError(f"not staff roles: {sorted(unknown)}")
    return _staff_dependency(AccessSpec("staff", roles))


def current_staff(roles: Iterable[str] | None = None) -> Callable[..., StaffContext]:
    """A signed-in staff member with one of `roles` (default: any staff role). Prefer `requires(action)`,
    which keeps the decision in qianbao.access."""
    return _current_staff(frozenset(roles) if roles is not None else frozenset(access.STAFF_ROLES))


def _customer(request: Request, csrf: str | None = Depends(submitted_csrf)) -> CustomerContext:
    token = customer_token(request)
    expired = False
    record: UserSession | None = None
    if token:
        with request.app.state.db.transaction() as session:
            try:
                record = credentials.require_session(session, token, ip=client_ip(request),
                                                     settings=settings_of(request))
            except QianbaoError as exc:
                expired = exc.code == "SESSION_EXPIRED"
    if record is None or record.principal_type != "customer":
        _unauthenticated(request, CUSTOMER_LOGIN_PATH, expired=expired)
    context = CustomerContext(
        customer_id=record.principal_id, session=record, actor=access.Actor.customer(record.principal_id),
        csrf_token=credentials.csrf_token(record),
    )
    request.state.customer = context
    request.state.csrf_token = context.csrf_token
    request.state.no_store = True
    if request.method not in SAFE_METHODS:
        credentials.verify_csrf(record, csrf)
    return context


_customer.__qb_access__ = AccessSpec("customer", frozenset({access.CUSTOMER}))  # type: ignore[attr-defined]
current_customer: Callable[..., CustomerContext] = _customer


def device_csrf(request: Request, csrf: str | None = Depends(submitted_csrf)) -> str:
    """For forms posted before sign-in: the token must be the one bound to the browser's device cookie.
    Returns the device id."""
    device = device_id(request)
    credentials.verify_csrf(device, csrf)
    assert device is not None
    return device


def access_spec(call: Any) -> AccessSpec | None:
    """The access declaration a dependency carries, if it is one of ours."""
    return getattr(call, "__qb_access__", None)


# ---- security headers -------------------------------------------------------------------------------

# No inline scripts or styles anywhere in the shell: htmx's indicator style is switched off in base.html
# and the pages' behaviour lives in /static/qianbao.js. Inline SVG and data: icons are images.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# FastAPI's Swagger UI page loads its script and style from the jsDelivr CDN and starts with an inline
# script: that one page gets what it needs and nothing more (still no framing, no plugins).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCS_PATHS = frozenset({"/api/docs", "/docs/oauth2-redirect"})


class SecurityHeadersMiddleware:
    """Plain ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CONTENT_SECURITY_POLICY if path in DOCS_PATHS else CONTENT_SECURITY_POLICY

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra: list[tuple[bytes, bytes]] = [
                    (b"content-security-policy", csp.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=(), payment=()"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                state = scope.get("state", {})
                if state.get("no_store") and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                headers.extend((name, value) for name, value in extra if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)

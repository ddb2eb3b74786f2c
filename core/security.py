"""Who may use each route, CSRF, rate limits and security headers."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from functools import wraps
from typing import TypeVar

from flask import Flask, abort, current_app, g, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from core.models import Role

ANYONE = frozenset({"anonymous", *Role})
SIGNED_IN = frozenset(Role)

View = TypeVar("View", bound=Callable)

csrf = CSRFProtect()

# Failed sign-ins: five a minute from one address. Successful ones (a redirect) do not count.
SIGN_IN_ENDPOINT = "core.sign_in"
SIGN_IN_LIMIT = "5 per minute"
SIGN_IN_LIMIT_MESSAGE = (
    "Too many failed sign-in attempts from your network. Wait one minute, then try again."
)


def allow(*roles: Role | str) -> Callable[[View], View]:
    """Let only these roles use the view: anonymous visitors go to sign in, others get 403.

    The allowed roles are recorded on the view so the route-table test can check them.
    """
    allowed = frozenset(ANYONE if "anonymous" in roles else roles)

    def decorate(view: View) -> View:
        if "anonymous" in allowed:
            view.allowed_roles = allowed
            return view

        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        guarded.allowed_roles = allowed
        return guarded

    return decorate


public = allow("anonymous")
signed_in = allow(*SIGNED_IN)


def require_place_access(place_ids: Iterable[int]) -> None:
    """Coordinators and facilitators may only see the places they are attached to."""
    if not all(current_user.can_access_place(place_id) for place_id in place_ids):
        abort(403)


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _set_security_headers(response):
    nonce = g.get("csp_nonce")
    script_src = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src {script_src}; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not current_app.debug and request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint not in ("static", "assets", "govuk_frontend"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


# Control characters (Unicode category Cc: C0, DEL and C1) in what a request carries.
# PostgreSQL cannot store NUL at all; the others break exports (XLSX and SAV refuse
# them), terminals (`holdfast compare` prints names) and anyone reading the data.
# Tab, line feed and carriage return are ordinary in multi-line answers, so a form
# value may hold them; a web address never does. Format characters such as the bidi
# overrides are not controls and pass: names in Arabic or Hebrew need them.
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROLS_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # keeps \t \n \r
UNUSUAL_CHARACTERS = (
    "There is a problem with what you entered",
    "Go back and remove the unusual characters (such as a null character) from what you entered, "
    "then try again.",
)
UNUSUAL_ADDRESS = (
    "There is a problem with the web address",
    "Remove the unusual characters (such as a null character) from the web address, then try again.",
)


def _refuse_unusual_characters():
    """One filter for every form field and URL part, before any view or the database sees them.

    It is a request hook rather than a base form class because not every form is a WTForms
    form: the respondent journey, the import column and value screens and the open link's
    about-you page read request.form directly. A whole form is refused with one page: the
    browser's Back button keeps what was typed.
    """
    if CONTROLS.search(request.path):
        abort(404)  # view arguments come from the path: no page has such an address
    if any(CONTROLS.search(text) for pair in request.args.items(multi=True) for text in pair):
        return render_template("errors/error.html", title=UNUSUAL_ADDRESS[0], message=UNUSUAL_ADDRESS[1]), 400
    names = [*request.form, *request.files]
    names += [upload.filename or "" for _, upload in request.files.items(multi=True)]
    if any(CONTROLS.search(name) for name in names) or any(
        CONTROLS_BUT_LINE_BREAKS.search(value) for _, value in request.form.items(multi=True)
    ):
        return render_template("errors/error.html", title=UNUSUAL_CHARACTERS[0], message=UNUSUAL_CHARACTERS[1]), 400
    return None


def init_app(app: Flask) -> None:
    """Call after the blueprints are registered: it wraps their views with rate limits."""
    app.before_request(_refuse_unusual_characters)
    csrf.init_app(app)
    _init_rate_limits(app)
    app.after_request(_set_security_headers)
    app.context_processor(lambda: {"cspNonce": csp_nonce()})

    app.register_error_handler(CSRFError, _error_page(400, *CSRF_FAILURE))
    for code, (title, message) in ERROR_PAGES.items():
        app.register_error_handler(code, _error_page(code, title, message))


def _init_rate_limits(app: Flask) -> None:
    # One Limiter per app: Flask-Limiter keeps its storage on the Limiter object.
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter = Limiter(get_remote_address, app=app, default_limits=[])
    app.extensions["holdfast_limiter"] = limiter  # the wrapped view holds it only weakly
    app.view_functions[SIGN_IN_ENDPOINT] = limiter.limit(
        SIGN_IN_LIMIT,
        methods=["POST"],
        deduct_when=lambda response: response.status_code != 302,
        error_message=SIGN_IN_LIMIT_MESSAGE,
    )(app.view_functions[SIGN_IN_ENDPOINT])


CSRF_FAILURE = (
    "Your form could not be sent",
    "The page had been open too long or was sent twice. Go back, reload the page and try again.",
)
ERROR_PAGES = {
    400: ("Something was wrong with that request", "Go back and try again."),
    403: ("You do not have access to this page", "Your role does not allow you to see it. Ask an admin if you think you need access."),
    404: ("Page not found", "If you typed the web address, check it is correct. If you followed a link, it may be out of date."),
    405: ("Page not found", "This page cannot be used in that way."),
    413: ("The file is too large", "Upload a file smaller than 5 MB."),
    429: ("Too many attempts", None),  # the rate limit's own message is shown
    500: ("Sorry, there is a problem with the service", "Try again later."),
}


def _error_page(code: int, title: str, message: str | None):
    def handler(error):
        text = message or getattr(error, "description", "") or ""
        return render_template("errors/error.html", title=title, message=text), code

    return handler

"""Who may use each route, CSRF, control characters, sign-in limits and security headers."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable, Iterable
from functools import wraps
from typing import TypeVar

from flask import Flask, abort, current_app, g, make_response, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.routing import IntegerConverter

from core.db import WriterQueueTimeout
from core.models import Role, normalise_email

ANYONE = frozenset({"anonymous", *Role})
SIGNED_IN = frozenset(Role)

View = TypeVar("View", bound=Callable)

csrf = CSRFProtect()

# Sign-in limits count FAILED sign-ins only, per network address and per account, in the
# storage RATELIMIT_STORAGE_URI names: Redis in production, so that every worker and host
# counts together (memory:// counts in each process separately). What happens at a limit:
#
# - A network address with 5 failures in the last minute is refused whatever it sends,
#   the right password included, until its oldest failure is a minute old. Were the
#   right password let through, the guessing would go on and success would show.
# - An account with 10 failures in 15 minutes, from any addresses, is locked until the
#   oldest of them is 15 minutes old, and the page says how long that is. The right
#   password is refused during the lock even from an address that has not failed: an
#   attacker has addresses to spare (any botnet), so checking it would let guessing
#   from many addresses go on. The cost is that anyone can keep an account locked by
#   failing often; the lock is short and says when it ends.
#
# A refused attempt checks no password, so it is not counted as a failure. Failures are
# counted for the email address given, whether or not an account has it, so the lock
# says nothing about who has an account. Two requests at the same moment can both pass
# the check before either failure is counted: at most one extra guess per concurrent request.
NETWORK_LIMIT = parse("5 per minute")
ACCOUNT_LIMIT = parse("10 per 15 minutes")
NETWORK_LIMIT_MESSAGE = "Too many failed sign-in attempts from your network. Wait one minute, then try again."
ACCOUNT_LIMIT_MESSAGE = (
    "This account is locked for a short time after too many failed sign-in attempts. "
    "Try again in {minutes}."
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


# The largest id a row can have: PostgreSQL's `integer`. A larger number is no row's id,
# and sent to the database it fails there (SQLite overflows at 2**63) rather than finds
# nothing, so it must be answered before any query.
LARGEST_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number larger than any id does not match, so the
    address is 404 like any other unknown id."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


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


class SignInLimits:
    """Counts failed sign-ins in the `limits` storage at `storage_uri` (see the rule above)."""

    def __init__(self, storage_uri: str, key_prefix: str, secret: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.key_prefix = key_prefix
        self.secret = secret.encode()

    def _network(self, address: str | None) -> tuple[str, ...]:
        return (self.key_prefix, "sign-in-network", address or "unknown")

    def _account(self, email: str) -> tuple[str, ...]:
        # An HMAC, so the shared store (Redis) holds no email addresses.
        digest = hmac.new(self.secret, normalise_email(email).encode(), hashlib.sha256).hexdigest()
        return (self.key_prefix, "sign-in-account", digest)

    def refusal(self, address: str | None, email: str) -> str | None:
        """Why a sign-in must be refused before its password is checked, or None."""
        if not self.limiter.test(NETWORK_LIMIT, *self._network(address)):
            return NETWORK_LIMIT_MESSAGE
        if not self.limiter.test(ACCOUNT_LIMIT, *self._account(email)):
            reset_at = self.limiter.get_window_stats(ACCOUNT_LIMIT, *self._account(email)).reset_time
            minutes = max(1, math.ceil((reset_at - time.time()) / 60))
            return ACCOUNT_LIMIT_MESSAGE.format(minutes=f"{minutes} minute{'s' if minutes != 1 else ''}")
        return None

    def record_failure(self, address: str | None, email: str) -> None:
        self.limiter.hit(NETWORK_LIMIT, *self._network(address))
        self.limiter.hit(ACCOUNT_LIMIT, *self._account(email))


def sign_in_refusal(email: str) -> str | None:
    """For the sign-in view: why this attempt is refused unchecked, or None."""
    limits = current_app.extensions["holdfast_sign_in_limits"]
    return limits.refusal(request.remote_addr, email) if limits else None


def record_failed_sign_in(email: str) -> None:
    limits = current_app.extensions["holdfast_sign_in_limits"]
    if limits:
        limits.record_failure(request.remote_addr, email)


def init_app(app: Flask) -> None:
    """The control-character filter, CSRF, sign-in limits, headers and error pages."""
    app.before_request(_refuse_unusual_characters)
    csrf.init_app(app)
    _init_sign_in_limits(app)
    app.after_request(_set_security_headers)
    app.context_processor(lambda: {"cspNonce": csp_nonce()})

    app.register_error_handler(CSRFError, _error_page(400, *CSRF_FAILURE))
    for code, (title, message) in ERROR_PAGES.items():
        app.register_error_handler(code, _error_page(code, title, message))
    app.register_error_handler(WriterQueueTimeout, _busy_page)


def _init_sign_in_limits(app: Flask) -> None:
    if not app.config.get("RATELIMIT_ENABLED", True):
        app.extensions["holdfast_sign_in_limits"] = None
        return
    storage_uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    app.extensions["holdfast_sign_in_limits"] = SignInLimits(
        storage_uri, app.config.get("RATELIMIT_KEY_PREFIX", ""), app.config["SECRET_KEY"]
    )
    if storage_uri.startswith("memory://") and not (app.debug or app.testing):
        app.logger.warning(
            "Sign-in limits are counted in this process's memory: each gunicorn worker counts "
            "separately and lets more guesses through. Set RATELIMIT_STORAGE_URI to a Redis URL, "
            "such as redis://127.0.0.1:6379, shared by every worker and host."
        )


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
    429: ("You are sending too quickly", "Wait a minute, then try again."),
    500: ("Sorry, there is a problem with the service", "Try again later."),
}


BUSY = (
    "Sorry, the service is busy",
    "Nothing from this page was saved. Wait a few seconds, then go back and send it again.",
)
BUSY_RETRY_SECONDS = 5


def _busy_page(_error):
    """A write that could not get its turn in time (core.db.WriterQueueTimeout): say so
    and ask for a retry, rather than leave the browser waiting."""
    response = make_response(render_template("errors/error.html", title=BUSY[0], message=BUSY[1]), 503)
    response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response


def _error_page(code: int, title: str, message: str):
    def handler(_error):
        return render_template("errors/error.html", title=title, message=message), code

    return handler

"""Holdfast: is the gain in cross-sector collaboration holding? Application factory."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from flask import Flask, send_from_directory
from flask_login import LoginManager
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from analysis.cli import compare_command
from analysis.routes import bp as analysis_bp, cache as results_cache
from briefings.cli import briefing_command
from briefings.routes import bp as briefings_bp
from codesign.routes import bp as codesign_bp
from core import cli, db, security
from core.audit_routes import bp as audit_bp
from core.models import User
from core.routes import bp as core_bp
from surveys.routes import bp as surveys_bp

PROJECT_ROOT = Path(__file__).resolve().parent
GOVUK_FRONTEND_DIST = PROJECT_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"

# Settings that may come from the environment instead of instance/config.py.
ENVIRONMENT_SETTINGS = (
    "SECRET_KEY", "PANEL_SECRET", "DATABASE_URL", "RATELIMIT_STORAGE_URI", "CACHE_REDIS_URL", "CACHE_DIR",
    "MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_SENDER",
    "PUBLIC_URL",
)
INT_ENVIRONMENT_SETTINGS = ("PROXY_FIX_X_FOR",)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = security.IdConverter  # before any route is added
    app.config.from_mapping(
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'holdfast.db'}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=None,  # decided below: Secure unless in debug
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead, so long surveys do not expire
        PROXY_FIX_X_FOR=0,
        # Where respondents reach Holdfast: the worker builds the links in reminders from it.
        PUBLIC_URL="http://127.0.0.1:5000",
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        for name in ENVIRONMENT_SETTINGS:
            if os.environ.get(name):
                app.config[name] = os.environ[name]
        for name in INT_ENVIRONMENT_SETTINGS:
            if os.environ.get(name):
                app.config[name] = int(os.environ[name])
    else:
        app.config.from_mapping(test_config)
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = not app.debug
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY is not set: run `make run` once to create instance/config.py, "
            "or set the SECRET_KEY environment variable."
        )
    if app.config["PROXY_FIX_X_FOR"]:
        # Behind a proxy: trust its client address, scheme and host, so rate limits see
        # the real address and links shown for copying carry the public https address.
        hops = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    app.jinja_loader = ChoiceLoader(
        [
            app.jinja_loader,
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    WTFormsHelpers(app)

    db.init_app(app)
    _init_results_cache(app, testing=test_config is not None)
    _init_login(app)
    _register_frontend_assets(app)
    app.register_blueprint(core_bp)
    app.register_blueprint(surveys_bp)
    app.register_blueprint(analysis_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(briefings_bp)
    app.register_blueprint(codesign_bp)
    security.init_app(app)
    cli.init_app(app)
    app.cli.add_command(compare_command)
    app.cli.add_command(briefing_command)
    return app


def _init_results_cache(app: Flask, testing: bool) -> None:
    """The results pages' cache (analysis.routes.cache), shared by every worker and host:
    Redis when CACHE_REDIS_URL is set, else files in CACHE_DIR (instance/cache by default;
    a temporary folder of its own for an app made with a test configuration). Never an
    in-process store: workers would each keep their own, and disagree."""
    config = {
        "CACHE_DEFAULT_TIMEOUT": app.config.get("CACHE_DEFAULT_TIMEOUT", 7 * 24 * 3600),
        # Keys carry a digest of the data, so an entry is never stale, only unused: they
        # expire after a week, and the folder is pruned past CACHE_THRESHOLD files.
        "CACHE_KEY_PREFIX": app.config.get("CACHE_KEY_PREFIX", "holdfast:"),
    }
    if app.config.get("CACHE_REDIS_URL"):
        config |= {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": app.config["CACHE_REDIS_URL"]}
    else:
        folder = app.config.get("CACHE_DIR")
        if not folder and testing:
            folder = tempfile.mkdtemp(prefix="holdfast-cache-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
        config |= {
            "CACHE_TYPE": "FileSystemCache",
            "CACHE_DIR": str(folder or Path(app.instance_path) / "cache"),
            "CACHE_THRESHOLD": app.config.get("CACHE_THRESHOLD", 20_000),
        }
    results_cache.init_app(app, config=config)


def _init_login(app: Flask) -> None:
    login_manager = LoginManager(app)
    login_manager.login_view = "core.sign_in"
    login_manager.login_message = "Sign in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        user_id, _, token = session_id.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session().get(User, int(user_id))
        if user is None or not user.active or not secrets.compare_digest(user.session_token, token):
            return None
        return user


def _register_frontend_assets(app: Flask) -> None:
    """Serve GOV.UK Frontend's fonts, images and script from the installed npm package."""

    @security.public
    def assets(filename: str):
        return send_from_directory(GOVUK_FRONTEND_DIST / "assets", filename, max_age=86400)

    @security.public
    def govuk_frontend(filename: str):
        return send_from_directory(GOVUK_FRONTEND_DIST, filename, max_age=86400)

    app.add_url_rule("/assets/<path:filename>", view_func=assets)
    app.add_url_rule("/govuk-frontend/<path:filename>", view_func=govuk_frontend)

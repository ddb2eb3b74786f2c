"""Alembic environment: runs against the engine the app (or a test) hands over."""

from __future__ import annotations

from alembic import context

from core.db import Base

# Every package's models must be imported so their tables are in the metadata.
import briefings.models  # noqa: F401
import core.audit  # noqa: F401
import core.models  # noqa: F401
import core.outbox  # noqa: F401
import surveys.import_ledger  # noqa: F401
import surveys.models  # noqa: F401

config = context.config


def _engine():
    engine = config.attributes.get("engine")
    if engine is None:
        from app import create_app  # only when Alembic is run directly, not through flask

        engine = create_app().extensions["db_engine"]
    return engine


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `flask --app app db upgrade`.")
run_migrations_online()

"""Alembic environment: runs against the engine the app (or a test) hands over."""

from __future__ import annotations

from alembic import context

from core.db import Base

# Every package's models must be imported so their tables are in the metadata.
import briefings.models  # noqa: F401
import codesign.models  # noqa: F401
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


def _sqlite_foreign_keys(connection, on: bool) -> None:
    # Outside any transaction (SQLite ignores the pragma inside one), so straight to the driver.
    connection.connection.dbapi_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # SQLite alters a table by copying it and dropping the old one; with foreign keys
        # on, that drop would cascade and delete every row that refers to it (a survey's
        # waves, their responses). Off while migrating; checked before turning them back on.
        if sqlite:
            _sqlite_foreign_keys(connection, False)
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"The migration left rows pointing at nothing: {broken[:5]}")
        finally:
            if sqlite:
                connection.commit()
                _sqlite_foreign_keys(connection, True)


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `flask --app app db upgrade`.")
run_migrations_online()

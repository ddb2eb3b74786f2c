"""Alembic, not create_all, makes the schema: the migrations must match the models."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from core.cli import alembic_config, upgrade_database
from core.db import Base, make_engine
from core.models import Sector


@pytest.mark.both_backends
def test_migrations_produce_the_models_schema(app):
    with app.extensions["db_engine"].connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert differences == []


@pytest.mark.both_backends
def test_standard_sectors_come_with_the_schema(db_session):
    names = db_session.scalars(select(Sector.name).order_by(Sector.position)).all()
    assert names[:3] == ["Voluntary and community", "Local authority", "Health and care"]
    assert "Mutual aid / community group" in names and len(names) >= 11


def test_downgrade_and_upgrade_again(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade_database(engine)
    assert "users" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_database(engine)
    assert "organisations" in inspect(engine).get_table_names()
    engine.dispose()


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_altering_a_table_on_sqlite_keeps_the_rows_that_refer_to_it(tmp_path):
    """SQLite alters a table by copying and dropping it: with foreign keys on, the drop
    would cascade and delete every survey's waves. Up from 0007, down and up again keeps them."""
    engine = make_engine(f"sqlite:///{tmp_path / 'kept.db'}")
    command.upgrade(alembic_config(engine), "0007")
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO surveys (name, run_by, purpose, template, anonymity, k_internal,"
                                   " k_briefing, min_organisations, created_at) VALUES"
                                   " ('S', 'Board', '', 't', 'anonymous', 5, 10, 3, '2026-01-01 00:00:00')")
        connection.exec_driver_sql("INSERT INTO instruments (code, name, version, description, builtin)"
                                   " VALUES ('i', 'I', 1, '', 0)")
        connection.exec_driver_sql("INSERT INTO waves (survey_id, number, label, role, status, instrument_id,"
                                   " open_link_slug) VALUES (1, 1, 'Wave 1', 'baseline', 'draft', 1, 'slug')")
    upgrade_database(engine)
    command.downgrade(alembic_config(engine), "0007")
    upgrade_database(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT label FROM waves").scalars().all() == ["Wave 1"]
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()

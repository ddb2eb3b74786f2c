"""Command-line tools: `flask --app app db upgrade`, `create-user`, `seed-demo`, `worker`."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from codesign import service as codesign_service
from codesign.demo import load_demo_workshop
from codesign.routes import owner_link
from core import outbox, service
from core.db import writing
from core.demo import DEMO_EMAILS, DEMO_PASSWORD, load_demo_data
from surveys import schedule
from surveys.invitation_routes import respondent_link, stop_link
from surveys.demo import load_demo_surveys
from core.models import Place, Role, User

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_database(engine) -> None:
    # "heads": features developed side by side add sibling revisions until a merge revision
    # (such as 0009) joins them.
    command.upgrade(alembic_config(engine), "heads")


def _session() -> Session:
    return current_app.extensions["db_sessionmaker"]()


db_group = AppGroup("db", help="Database migrations (Alembic).")


@db_group.command("upgrade", help="Apply all migrations.")
def db_upgrade() -> None:
    upgrade_database(current_app.extensions["db_engine"])
    click.echo("Database is up to date.")


@db_group.command("revision", help="Write a new migration from the difference between models and database.")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    command.revision(
        alembic_config(current_app.extensions["db_engine"]), message=message, autogenerate=True
    )


@click.command("create-user", help="Create a user who can sign in straight away.")
@with_appcontext
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="", help="Full name (defaults to the email address).")
@click.option("--place", "places", multiple=True, help="Place name, for coordinators and facilitators; repeatable.")
@click.password_option(envvar="HOLDFAST_PASSWORD", help="Or set HOLDFAST_PASSWORD.")
def create_user(email: str, role: str, name: str, places: tuple[str, ...], password: str) -> None:
    if len(password) < service.MIN_PASSWORD_LENGTH:
        raise click.UsageError(f"The password must have at least {service.MIN_PASSWORD_LENGTH} characters.")
    with _session() as session:
        place_ids = list(session.scalars(select(Place.id).where(Place.name.in_(places))))
        if len(place_ids) != len(set(places)):
            raise click.UsageError("Every --place must name an existing place.")
        if Role(role).is_place_scoped and not place_ids:
            raise click.UsageError("A coordinator or facilitator needs at least one --place.")
        try:
            user = service.create_user(session, email, name or email, Role(role), place_ids, password, actor=None)
        except service.ServiceError as error:
            raise click.UsageError(error.message) from error
        session.commit()
        click.echo(f"Created {user.role} {user.email}.")


@click.command("seed-demo", help="Load fictional demo data (places, sectors, organisations, users).")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing if the database already has users.")
def seed_demo(if_empty: bool) -> None:
    with _session() as session:
        if if_empty and session.scalar(select(User.id).limit(1)) is not None:
            click.echo("The database already has data; demo data not loaded again.")
        elif session.scalar(select(User.id).where(User.email.in_(DEMO_EMAILS)).limit(1)) is not None:
            raise click.ClickException("The demo data is already loaded.")
        else:
            load_demo_data(session)
            load_demo_surveys(session, current_app.config["PANEL_SECRET"])
            load_demo_workshop(session)
            session.commit()
            click.echo("Demo data loaded: places, organisations, users and three waves of survey responses.")
        found = session.scalars(select(User).where(User.email.in_(DEMO_EMAILS)))
        demo_users = sorted(found, key=lambda user: DEMO_EMAILS.index(user.email))
    if demo_users:
        click.echo(f"Demo logins (password for each: {DEMO_PASSWORD}):")
        for user in demo_users:
            click.echo(f"  {user.role:<12} {user.email}")


@click.command("worker", help="Send queued email and keep waves to their timetables, until stopped.")
@with_appcontext
@click.option("--once", is_flag=True, help="Send what is due now, then stop.")
@click.option("--batch", default=50, show_default=True, help="Messages claimed at a time.")
@click.option("--poll", default=2.0, show_default=True, help="Seconds to wait when nothing is due.")
def worker(once: bool, batch: int, poll: float) -> None:
    settings = outbox.MailSettings.from_config(current_app.config)
    if settings is None:
        click.echo("No mail server is configured (MAIL_SERVER): messages stay queued until one is.")
    else:
        click.echo(f"Sending email through {settings.server}:{settings.port} as {settings.sender}.")
    timetable_due = 0.0
    while True:
        if time.monotonic() >= timetable_due:
            _run_timetable(mail=settings is not None)
            timetable_due = time.monotonic() + TIMETABLE_EVERY
        if settings is not None:
            with _session() as session:
                sent, failed = outbox.run_once(session, settings, batch)
            if sent or failed:
                click.echo(f"{sent} sent, {failed} not sent")
            if once:
                return
            if sent or failed:
                continue  # more may be due: look again at once
        elif once:
            return
        time.sleep(poll)


TIMETABLE_EVERY = 30.0  # seconds: waves open and close within this of their set time


def _run_timetable(mail: bool) -> None:
    """Open, close, remind and erase as the waves' timetables say, and remind the owners of
    overdue workshop actions. Links in reminders are built for PUBLIC_URL, as no request is
    there to say where Holdfast is reached."""
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]), _session() as session:
        done = schedule.run_due(session, current_app.config["SECRET_KEY"],
                                respondent_link if mail else None, stop_link if mail else None)
        overdue = 0
        if mail:
            with writing(session):
                overdue = codesign_service.queue_overdue_reminders(session, date.today(), owner_link)
                session.commit()
    if any(vars(done).values()) or overdue:
        click.echo(f"Timetable: {done.opened} opened, {done.closed} closed, {done.reminded} reminded, "
                   f"{done.erased} erased; {overdue} overdue workshop actions reminded")


def init_app(app: Flask) -> None:
    for cmd in (db_group, create_user, seed_demo, worker):
        app.cli.add_command(cmd)

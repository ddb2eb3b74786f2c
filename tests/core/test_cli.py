from sqlalchemy import select

from core.demo import DEMO_EMAILS, DEMO_PASSWORD, DEMO_PLACES
from core.instance import write_instance_config
from core.models import Organisation, Place, User
from core import service
from tests.conftest import count


def test_create_user(app, db_session, make_place):
    place = make_place("Cli Town")
    result = app.test_cli_runner().invoke(
        args=["create-user", "Cli@Example.org", "--role", "coordinator", "--place", "Cli Town"],
        env={"HOLDFAST_PASSWORD": "a long enough one"},
    )
    assert result.exit_code == 0, result.output
    user = db_session.scalar(select(User).where(User.email == "cli@example.org"))
    assert user.places == [place]
    assert service.authenticate(db_session, "cli@example.org", "a long enough one") == user


def test_create_user_refuses_bad_input(app, db_session):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["create-user", "a@example.org", "--role", "admin"], env={"HOLDFAST_PASSWORD": "short"})
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    placeless = runner.invoke(
        args=["create-user", "b@example.org", "--role", "facilitator"], env={"HOLDFAST_PASSWORD": "long enough password"}
    )
    assert placeless.exit_code == 2 and "needs at least one --place" in placeless.output
    assert db_session.scalar(select(User).where(User.email.in_(["a@example.org", "b@example.org"]))) is None


def test_seed_demo_loads_once_and_prints_logins(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    # Every test starts from the migrated, empty database, so --if-empty loads the demo.
    assert "Demo data loaded:" in first.output
    logins = [line.split()[-1] for line in first.output.splitlines() if line.startswith("  ")]
    assert logins == DEMO_EMAILS
    assert DEMO_PASSWORD in first.output
    places = db_session.scalars(select(Place.name).where(Place.name.in_(DEMO_PLACES))).all()
    assert sorted(places) == sorted(DEMO_PLACES)
    organisations = count(db_session, Organisation)
    assert organisations >= 12

    second = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "not loaded again" in second.output and DEMO_EMAILS[0] in second.output
    assert count(db_session, Organisation) == organisations
    for email in DEMO_EMAILS:
        assert service.authenticate(db_session, email, DEMO_PASSWORD) is not None


def test_instance_config_is_written_once_with_random_secrets(tmp_path):
    assert write_instance_config(tmp_path)
    first = (tmp_path / "config.py").read_text()
    assert not write_instance_config(tmp_path)
    assert (tmp_path / "config.py").read_text() == first
    other = tmp_path / "other"
    write_instance_config(other)
    assert (other / "config.py").read_text() != first
    assert "SECRET_KEY" in first and "PANEL_SECRET" in first
    assert oct((tmp_path / "config.py").stat().st_mode & 0o777) == "0o600"


def test_seed_demo_twice_says_so(app, db_session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 1 and "already loaded" in again.output

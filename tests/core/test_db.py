"""SQLite writers queue fairly and always leave the queue, however a transaction ends."""

import fcntl
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from app import create_app
from core.cli import upgrade_database
from core.db import WriterQueueTimeout, make_engine, reads_first, start_writing
from core.lazy import cached_property
from tests.conftest import base_test_config


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    yield engine
    engine.dispose()


def test_only_requests_that_write_take_the_write_lock(app, engine):
    queue = engine.writer_queue
    with app.test_request_context("/", method="GET"), engine.connect() as connection:
        connection.execute(text("select 1"))
        assert not queue.thread_lock.locked()
    with app.test_request_context("/", method="POST"), engine.connect() as connection:
        connection.execute(text("select 1"))
        assert queue.thread_lock.locked()
        connection.commit()
        assert not queue.thread_lock.locked()


@pytest.mark.parametrize("ending", ["rollback", "close", "invalidate"])
def test_the_queue_is_left_however_the_transaction_ends(app, engine, ending):
    queue = engine.writer_queue
    with app.test_request_context("/", method="POST"):
        connection = engine.connect()
        connection.execute(text("select 1"))
        assert queue.thread_lock.locked()
        {"rollback": connection.rollback, "close": connection.close, "invalidate": connection.invalidate}[ending]()
        assert not queue.thread_lock.locked()
        if ending == "invalidate":
            connection.rollback()
        connection.close()


def test_a_second_writer_waits_for_the_first(app, engine):
    entered = threading.Event()

    def second_writer():
        with app.test_request_context("/", method="POST"), engine.connect() as connection:
            connection.execute(text("select 1"))
            entered.set()
            connection.rollback()

    with app.test_request_context("/", method="POST"), engine.connect() as connection:
        connection.execute(text("select 1"))
        thread = threading.Thread(target=second_writer)
        thread.start()
        assert not entered.wait(timeout=0.3)  # queued behind the first writer
        connection.commit()
    thread.join(timeout=5)
    assert entered.is_set()


def test_in_memory_databases_need_no_queue():
    engine = make_engine("sqlite://")
    engine.writer_queue.acquire()
    engine.writer_queue.release()
    engine.dispose()


def test_a_writer_that_cannot_get_its_turn_in_time_fails_rather_than_waiting_for_ever(app, engine):
    queue = engine.writer_queue
    queue.timeout = 0.2
    outcome = []

    def second_writer():
        with app.test_request_context("/", method="POST"), engine.connect() as connection:
            try:
                connection.execute(text("select 1"))
            except WriterQueueTimeout:
                outcome.append("timed out")

    with app.test_request_context("/", method="POST"), engine.connect() as connection:
        connection.execute(text("select 1"))
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=5)
        connection.rollback()
    assert outcome == ["timed out"]
    assert not queue.thread_lock.locked()


def test_a_writer_in_another_process_is_waited_for_only_as_long_as_the_timeout(app, engine):
    """Another process holds the file lock (flock locks belong to the open file, so a
    second open of it stands in for another gunicorn worker)."""
    queue = engine.writer_queue
    queue.timeout = 0.2
    with open(queue.path, "a") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        with app.test_request_context("/", method="POST"), engine.connect() as connection:
            with pytest.raises(WriterQueueTimeout):
                connection.execute(text("select 1"))
        # This process's other writers wait their own timeout, and give up too.
        with app.test_request_context("/", method="POST"), engine.connect() as connection:
            with pytest.raises(WriterQueueTimeout):
                connection.execute(text("select 1"))
        fcntl.flock(other_process, fcntl.LOCK_UN)
    queue.timeout = 10
    with app.test_request_context("/", method="POST"), engine.connect() as connection:
        connection.execute(text("select 1"))  # the queue works again once the other lets go
        connection.rollback()
    assert not queue.thread_lock.locked()


def test_a_writer_waiting_for_another_process_gets_in_once_it_lets_go(app, engine):
    """The wait is in the kernel's queue for the file (a helper thread blocks on it), so
    the writer is woken when the other process unlocks, well within its timeout."""
    queue = engine.writer_queue
    wrote = threading.Event()
    with open(queue.path, "a") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)

        def writer():
            with app.test_request_context("/", method="POST"), engine.connect() as connection:
                connection.execute(text("select 1"))
                wrote.set()
                connection.rollback()

        thread = threading.Thread(target=writer)
        thread.start()
        while not [t for t in threading.enumerate() if t.name == "writer-queue"]:
            time.sleep(0.01)  # queued on the file
        assert not wrote.wait(timeout=0.2)
        fcntl.flock(other_process, fcntl.LOCK_UN)
        thread.join(timeout=5)
    assert wrote.is_set() and not queue.thread_lock.locked()


def test_a_reads_first_request_holds_the_lock_only_for_the_transaction_after_start_writing(app, engine):
    queue = engine.writer_queue
    maker = sessionmaker(engine, expire_on_commit=False)

    @reads_first
    def view():
        with maker() as session:
            session.execute(text("select 1"))
            assert not queue.thread_lock.locked()  # reading waits for no one
            start_writing(session)
            session.execute(text("create table if not exists t (x integer)"))
            assert queue.thread_lock.locked()
            session.commit()
            session.execute(text("select 1"))  # rendering afterwards: a plain read again
            assert not queue.thread_lock.locked()

    with app.test_request_context("/", method="POST"):
        view()


def test_a_request_whose_write_times_out_gets_a_busy_page_that_asks_for_a_retry(tmp_path):
    app = create_app(base_test_config(f"sqlite:///{tmp_path / 'busy.db'}"))
    engine = app.extensions["db_engine"]
    upgrade_database(engine)
    engine.writer_queue.timeout = 0.2
    with open(engine.writer_queue.path, "a") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        response = app.test_client().post("/sign-in", data={"email": "a@example.org", "password": "x"})
        fcntl.flock(other_process, fcntl.LOCK_UN)
    engine.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Nothing from this page was saved" in response.get_data(as_text=True)


def test_two_requests_computing_the_same_cached_property_do_not_wait_for_each_other():
    """Python 3.11's functools.cached_property would hold one lock for both: the second
    thread could not start until the first finished, and this barrier would break."""
    barrier = threading.Barrier(2, timeout=5)

    class Page:
        @cached_property
        def figures(self):
            barrier.wait()  # both compute at once, or neither gets past
            return id(self)

    pages = [Page(), Page()]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda page: page.figures, pages))
    assert results == [id(page) for page in pages]
    assert pages[0].figures == id(pages[0])  # kept on the instance


def test_no_module_uses_the_locking_cached_property_of_python_3_11():
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root)) for package in ("core", "surveys", "analysis", "briefings", "codesign")
        for path in (root / package).rglob("*.py")
        if re.search(r"^from functools import [^\n]*cached_property|@functools\.cached_property", path.read_text(), re.M)
    ]
    assert offenders == []


def test_a_postgresql_engine_keeps_a_connection_for_each_thread_of_a_worker():
    """Connections past the pool are closed when handed back (and PostgreSQL starts a
    process for each new one): a pool smaller than gunicorn's 16 threads churns them."""
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # nothing is connected to
    assert engine.pool.size() >= 16
    engine.dispose()

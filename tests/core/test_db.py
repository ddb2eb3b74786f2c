"""SQLite writers queue fairly and always leave the queue, however a transaction ends."""

import threading

import pytest
from sqlalchemy import text

from core.db import make_engine


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

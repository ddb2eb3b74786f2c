"""Engine, per-request session and the declarative base shared by every package."""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import wraps

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use utcnow()")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine, make_url(url).database)
        return engine
    # As many kept connections as a gunicorn worker has threads (16): connections beyond
    # the pool are closed when handed back, and opening one costs PostgreSQL a new process,
    # so a smaller pool made every busy request pay for one (sends at 32 respondents).
    return create_engine(url, pool_pre_ping=True, pool_size=16, max_overflow=8)


# How long a writer waits for its turn before its request fails with "try again" (503).
# A send holds the lock for milliseconds, so only something wrong makes anyone wait this
# long; failing clearly beats a server that stops answering.
WRITE_WAIT_SECONDS = 10.0


class WriterQueueTimeout(Exception):
    """A writer waited longer than the queue's timeout for SQLite's write lock."""


class WriterQueue:
    """Makes SQLite writers wait their turn on a file lock instead of busy-polling.

    SQLite's busy handler sleeps between retries (up to 100 ms a time), so under load a
    process that has just written keeps winning the write lock and another waits for
    seconds. Queuing on flock (a thread lock within the process, as flock is per process)
    wakes the next writer as soon as the lock is free. The kernel drops the lock if a
    process dies. Written by hand: no maintained library does this for SQLAlchemy.

    Every wait is bounded (`timeout`): a writer that cannot get its turn raises
    WriterQueueTimeout rather than waiting for ever. flock has no timed wait, so the one
    thread per process that has passed the thread lock and found the file locked waits in
    the kernel's queue through a helper thread, and gives up at the deadline; a helper
    whose writer gave up lets go of both locks the moment it gets the file (until then
    this process's other writers wait on the thread lock, within their own timeouts).
    Waiting in the kernel rather than polling matters: a process polling every few
    milliseconds loses the lock to one whose threads queue on it back to back, and its
    writers starve (issue 28: sends at 32 respondents fell to half the rate).
    """

    def __init__(self, database: str | None, timeout: float = WRITE_WAIT_SECONDS) -> None:
        in_memory = not database or database == ":memory:"
        self.path = None if in_memory else f"{database}.writers"
        self.timeout = timeout
        self.thread_lock = threading.Lock()
        self.held = threading.local()  # how many of this thread's transactions hold it
        self.file = None

    def acquire(self) -> None:
        if self.path is None:
            return
        depth = getattr(self.held, "depth", 0)
        if depth == 0:
            deadline = time.monotonic() + self.timeout
            if not self.thread_lock.acquire(timeout=self.timeout):
                raise WriterQueueTimeout(f"waited {self.timeout:g} s for the write lock")
            try:
                locked = self._lock_file(deadline)
            except BaseException:
                self.thread_lock.release()
                raise
            if not locked:
                # The helper still waiting for the file hands the thread lock back.
                raise WriterQueueTimeout(f"waited {self.timeout:g} s for the write lock")
        self.held.depth = depth + 1

    def _lock_file(self, deadline: float) -> bool:
        """Lock the file by the deadline (True), or leave a helper to let go of it and of
        the thread lock once it comes (False)."""
        if self.file is None or self.file.closed:
            self.file = open(self.path, "a")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        file, got, gave_up, decided = self.file, threading.Event(), threading.Event(), threading.Lock()

        def wait_for_the_file() -> None:
            fcntl.flock(file, fcntl.LOCK_EX)
            with decided:
                if not gave_up.is_set():
                    got.set()
                    return
            fcntl.flock(file, fcntl.LOCK_UN)
            self.thread_lock.release()

        threading.Thread(target=wait_for_the_file, name="writer-queue", daemon=True).start()
        got.wait(max(0.0, deadline - time.monotonic()))
        with decided:
            if got.is_set():
                return True
            gave_up.set()
        return False

    def release(self) -> None:
        if self.path is None:
            return
        self.held.depth -= 1
        if self.held.depth == 0:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.thread_lock.release()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _configure_sqlite(engine: Engine, database: str | None) -> None:
    writers = engine.writer_queue = WriterQueue(database)
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN so that SAVEPOINTs work
        # (the documented pysqlite recipe); turn on WAL and foreign keys.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:
        if _takes_write_lock():
            writers.acquire()
            connection.connection.info["holds_writer_queue"] = True
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    def leave_queue(dbapi_connection_info: dict) -> None:
        if dbapi_connection_info.pop("holds_writer_queue", False):
            writers.release()

    # However the transaction ends (commit, rollback, the pool resetting or dropping the
    # connection), the next writer's turn comes.
    def on_end(connection) -> None:
        if not connection.invalidated:  # an invalidated one leaves through the pool event
            leave_queue(connection.connection.info)

    for name in ("commit", "rollback"):
        event.listen(engine, name, on_end)
    @event.listens_for(engine.pool, "reset")
    def on_reset(dbapi_connection, connection_record, reset_state) -> None:
        leave_queue(connection_record.info)

    @event.listens_for(engine.pool, "checkin")
    def on_checkin(dbapi_connection, connection_record) -> None:
        leave_queue(connection_record.info)

    @event.listens_for(engine.pool, "close")
    def on_close(dbapi_connection, connection_record) -> None:
        leave_queue(connection_record.info)

    @event.listens_for(engine.pool, "invalidate")
    def on_invalidate(dbapi_connection, connection_record, exception) -> None:
        leave_queue(connection_record.info)
    event.listen(engine, "engine_disposed", lambda _engine: writers.close())


_writing = threading.local()


@contextmanager
def writing(db_session: Session) -> Iterator[None]:
    """Transactions begun inside take SQLite's write lock as they begin, in or out of a
    request (the worker's claims: a read then a write that must not interleave with
    another worker's). The open transaction is ended first. (No effect on PostgreSQL.)"""
    db_session.commit()
    _writing.depth = getattr(_writing, "depth", 0) + 1
    try:
        yield
    finally:
        _writing.depth -= 1


def _takes_write_lock() -> bool:
    """Whether a new SQLite transaction should take the write lock as it begins.

    A request that writes takes it at BEGIN: with a plain BEGIN, a transaction that has
    read and then writes gets "database is locked" at once under concurrency, without
    waiting (SQLite's deadlock rule). A hot path can instead read first and take the
    lock only for its writes (see `reads_first` and `start_writing`): then only the one
    transaction after `start_writing` takes it, and whatever the request reads after that
    transaction ends (a lazy load while rendering) waits for no one.
    """
    if _every_transaction_writes():
        return True
    return has_request_context() and g.pop("write_lock_next", False)


def _every_transaction_writes() -> bool:
    """Inside `writing`, or in a request that writes and is not `reads_first`."""
    if getattr(_writing, "depth", 0):
        return True
    if not has_request_context():
        return False
    return request.method not in ("GET", "HEAD", "OPTIONS") and not g.get("reads_first", False)


def reads_first(view):
    """For a view that reads, then calls `start_writing` before each write."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        g.reads_first = True
        return view(*args, **kwargs)

    return wrapped


def start_writing(db_session: Session) -> None:
    """End the read transaction; the next one takes SQLite's write lock when it begins
    and holds it until it commits or rolls back, so the lock is held only while writing.
    Any request that writes after reading without the lock (a GET, or a `reads_first`
    view) calls this before each write transaction. (No effect on PostgreSQL's locking.)"""
    if has_request_context() and not _every_transaction_writes():
        db_session.commit()
        g.write_lock_next = True


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()

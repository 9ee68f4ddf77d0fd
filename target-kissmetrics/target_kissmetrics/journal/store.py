"""The :class:`Journal`: the connection, deliveries, pruning and metadata on SQLite or PostgreSQL
(claims: :mod:`.claims`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from target_kissmetrics.errors import ConfigError, JournalError
from target_kissmetrics.journal import schema
from target_kissmetrics.journal.claims import CHUNK, Claims
from target_kissmetrics.journal.ownership import SessionLock, SingleWriter
from target_kissmetrics.journal.paths import create_owner_only
from target_kissmetrics.journal.schema import DELIVERED, PENDING, deliveries, journal_meta

_RETRIED_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock: the transaction is retried
_ATTEMPTS = 5
_C = deliveries.c
_T = TypeVar("_T")


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, from the start

    return engine


def _postgres_engine(url: URL) -> Engine:
    # NullPool: closing a connection ends its session (and the session's advisory lock).
    keepalives = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
    return create_engine(url, poolclass=NullPool, connect_args=keepalives)


def _reason(exc: BaseException) -> str:
    """The database's own words, without SQLAlchemy's statement and links."""
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).strip().splitlines()[0]


class Journal(Claims):
    """Thread-safe (one connection, one lock): sinks may drain in parallel.

    ``Journal(path, days)`` is the SQLite file at ``path``; ``url`` (an SQLAlchemy URL) overrides it.
    """

    def __init__(self, path: Path | None, retention_days: int, url: str | None = None) -> None:
        self._lock = threading.Lock()
        setting = "journal_url" if url else "journal_path"
        try:
            parsed = make_url(url) if url else None
        except ArgumentError:
            raise ConfigError(
                "journal_url is not an SQLAlchemy URL (sqlite:///FILE or postgresql+psycopg://…)"
            ) from None
        if parsed is not None and parsed.get_backend_name() == "sqlite":
            path, parsed = Path(parsed.database or "").expanduser(), None
            if not path.name:
                raise ConfigError("journal_url sqlite:/// needs a file path (an in-memory journal is lost)")
        if parsed is not None and parsed.get_backend_name() != "postgresql":
            raise ConfigError("journal_url must be sqlite:///FILE or postgresql+psycopg://…")
        self.path = path
        self.where = str(path) if parsed is None else parsed.render_as_string(hide_password=True)
        try:
            if parsed is None:
                assert path is not None
                create_owner_only(path)
                self._engine = _sqlite_engine(path)
            else:
                self._engine = _postgres_engine(parsed)
            self._connection = self._engine.connect()
            self._owners: SingleWriter | SessionLock = (
                SingleWriter() if parsed is None else SessionLock(self._engine)
            )
            with self._transaction() as db:
                schema.create(db)
            self.owner = self._owners.owner
            self.pruned = self._prune(retention_days)
        except (OSError, SQLAlchemyError, JournalError, ImportError) as exc:
            raise ConfigError(f"{setting} {self.where} is not usable: {_reason(exc)}") from None

    def _write_error(self, exc: BaseException) -> JournalError:
        return JournalError(
            f"the delivery journal {self.where} could not be written ({_reason(exc)}); the run stopped "
            "and no STATE was emitted past the events involved (free space, then run again)"
        )

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One write transaction; a database error (a full disk) becomes one :class:`JournalError` line."""
        with self._lock:
            try:
                with self._connection.begin():
                    yield self._connection
            except SQLAlchemyError as exc:
                if self._connection.in_transaction():
                    self._connection.rollback()
                raise self._write_error(exc) from None

    def _retrying(self, work: Callable[[Connection], _T]) -> _T:
        """``work(connection)`` in a transaction, run again after a deadlock between concurrent claims."""
        for attempt in range(_ATTEMPTS):
            with self._lock:
                try:
                    with self._connection.begin():
                        return work(self._connection)
                except SQLAlchemyError as exc:
                    if self._connection.in_transaction():
                        self._connection.rollback()
                    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
                    if state not in _RETRIED_SQLSTATES or attempt + 1 == _ATTEMPTS:
                        raise self._write_error(exc) from None
            time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _prune(self, retention_days: int) -> int:
        if retention_days <= 0:
            return 0
        cutoff = time.time() - retention_days * 86400
        with self._transaction() as db:
            result = db.execute(delete(deliveries).where(_C.status == DELIVERED, _C.updated_at < cutoff))
            return int(result.rowcount)

    # -- the rest ----------------------------------------------------------------------------------------
    def lookup(self, stream: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """key -> (status, stored request) for the keys the journal knows."""
        found: dict[str, tuple[str, str]] = {}
        with self._lock:
            for start in range(0, len(keys), CHUNK):
                chunk = list(keys[start : start + CHUNK])
                rows = self._connection.execute(
                    select(_C.record_key, _C.status, _C.request).where(
                        _C.stream == stream, self._keys_in(chunk)
                    )
                )
                for key, status, request in rows:
                    found[key] = (status, request)
            self._connection.rollback()
        return found

    def pending(self) -> list[tuple[str, str, str]]:
        """(stream, key, stored request) of every event journaled as pending: sent or not, unconfirmed."""
        with self._lock:
            rows = self._connection.execute(
                select(_C.stream, _C.record_key, _C.request)
                .where(_C.status == PENDING)
                .order_by(_C.created_at, _C.stream, _C.record_key)
            ).all()
            self._connection.rollback()
        return [(stream, key, request) for stream, key, request in rows]

    def add_pending(self, stream: str, rows: Iterable[tuple[str, str]]) -> None:
        """Store (key, request) as pending, in one transaction; existing keys are left as they are."""
        rows = list(rows)
        with self._transaction() as db:
            self._insert(db, stream, rows)

    def mark_delivered(self, stream: str, keys: Iterable[str]) -> None:
        """Delivered for good: keep the key, drop the request (it holds an email and is not needed)."""
        now = time.time()
        keys = sorted(keys)
        with self._transaction() as db:
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                db.execute(
                    update(deliveries)
                    .where(_C.stream == stream, self._keys_in(chunk))
                    .values(status=DELIVERED, request="", updated_at=now)
                )

    def get_meta(self, name: str) -> str | None:
        with self._lock:
            value = self._connection.execute(
                select(journal_meta.c.value).where(journal_meta.c.name == name)
            ).scalar_one_or_none()
            self._connection.rollback()
        return None if value is None else str(value)

    def set_meta(self, name: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(delete(journal_meta).where(journal_meta.c.name == name))
            db.execute(insert(journal_meta).values(name=name, value=value))

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._connection.execute(select(_C.status, func.count()).group_by(_C.status)).all()
            self._connection.rollback()
        return {status: count for status, count in rows}

    def close(self) -> None:
        with self._lock:
            self._connection.close()
            self._owners.close()
            self._engine.dispose()

"""The :class:`Journal`: claims, deliveries, pruning and metadata on SQLite or PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Text,
    any_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from target_kissmetrics.errors import ConfigError, JournalError
from target_kissmetrics.journal import schema
from target_kissmetrics.journal.ownership import SessionLock, SingleWriter
from target_kissmetrics.journal.paths import create_owner_only
from target_kissmetrics.journal.schema import DELIVERED, PENDING, deliveries, journal_meta

NEW = "new"  # claimed now: send this run's request
RESEND = "resend"  # pending from a worker that is gone: send the stored request
BUSY = "busy"  # pending under a live worker (or this one): it sends it, not us

_CHUNK = 500  # keys per statement (SQLite's host-parameter limit is 999 on old builds)
_ROWS_PER_INSERT = 999 // 7
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


_PG_INSERT = text(
    "INSERT INTO deliveries (stream, record_key, status, request, created_at, updated_at, owner) "
    "SELECT :stream, k, 'pending', r, :now, :now, :owner FROM unnest(:keys, :requests) AS t (k, r) "
    "ON CONFLICT DO NOTHING RETURNING record_key"
).bindparams(bindparam("keys", type_=ARRAY(Text)), bindparam("requests", type_=ARRAY(Text)))


@lru_cache(maxsize=8)
def _sqlite_insert(count: int) -> str:
    columns = ", ".join(column.name for column in deliveries.columns)
    marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * count)
    return f"INSERT OR IGNORE INTO deliveries ({columns}) VALUES {marks}"  # noqa: S608 - only '?' marks


def _reason(exc: BaseException) -> str:
    """The database's own words, without SQLAlchemy's statement and links."""
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).strip().splitlines()[0]


class Journal:
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

    @property
    def is_shared(self) -> bool:
        """Whether several workers may use this journal at once (PostgreSQL)."""
        return isinstance(self._owners, SessionLock)

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

    # -- claims ------------------------------------------------------------------------------------------
    def claim(self, stream: str, rows: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """Claim (key, request) rows for sending, atomically: key -> (what to do, request to send).

        ``NEW``: stored as pending under this worker, send the request given. ``RESEND``: pending under
        a worker that is gone (or an earlier run), now ours: send the stored request. ``BUSY``: pending
        under a live worker (another, or this one in an earlier batch), which sends it. ``DELIVERED``:
        KISSmetrics has it. Keys in key order, so concurrent claims lock rows in the same order."""
        ordered = sorted(dict(rows).items())
        outcome: dict[str, tuple[str, str]] = {}
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            outcome.update(self._retrying(partial(self._claim_chunk, stream=stream, rows=chunk)))
        return outcome

    def _claim_chunk(
        self, db: Connection, *, stream: str, rows: list[tuple[str, str]]
    ) -> dict[str, tuple[str, str]]:
        found = db.execute(
            select(_C.record_key, _C.status, _C.request, _C.owner)
            .where(_C.stream == stream, self._keys_in([key for key, _ in rows]))
            .order_by(_C.record_key)
            .with_for_update()
        ).all()
        owners = {owner for _, status, _, owner in found if status == PENDING}
        dead = self._owners.dead(db, owners) if owners or self.is_shared else set()
        outcome: dict[str, tuple[str, str]] = {}
        for key, status, request, owner in found:
            if status == DELIVERED:
                outcome[key] = (DELIVERED, "")
            elif owner in dead:
                outcome[key] = (RESEND, request)
            else:
                outcome[key] = (BUSY, "")
        taken = [key for key, (what, _) in outcome.items() if what == RESEND]
        self._take(db, stream, taken)
        new = [(key, request) for key, request in rows if key not in outcome]
        inserted = set(self._insert(db, stream, new))
        for key, request in new:  # not inserted: another worker inserted it after our SELECT
            outcome[key] = (NEW, request) if key in inserted else (BUSY, "")
        return outcome

    def _keys_in(self, keys: Sequence[str]) -> ColumnElement[bool]:
        """``record_key`` among ``keys``: ``= ANY(array)`` on PostgreSQL (one parameter), else ``IN``."""
        if self.is_shared:
            return _C.record_key == any_(bindparam("keys", list(keys), type_=ARRAY(Text)))
        return _C.record_key.in_(list(keys))

    def _take(self, db: Connection, stream: str, keys: list[str]) -> None:
        if keys:
            statement = update(deliveries).where(_C.stream == stream, self._keys_in(keys))
            db.execute(statement.values(owner=self.owner, updated_at=time.time()))

    def _insert(self, db: Connection, stream: str, rows: Sequence[tuple[str, str]]) -> list[str]:
        """Insert new pending rows, leaving existing keys as they are; the keys inserted.

        PostgreSQL: one ``INSERT … SELECT FROM unnest(keys, requests) ON CONFLICT DO NOTHING RETURNING``
        (arrays keep the statement short, so the driver parses it once). SQLite: one multi-row statement
        per chunk, its text cached by row count (compiling a many-row ``insert().values()`` costs ~0.5 ms
        a row; the driver's executemany releases the GIL around every row, which the delivery threads
        turn into long waits)."""
        now = time.time()
        if not rows:
            return []
        if self.is_shared:
            keys, requests = zip(*rows, strict=True)
            values = {"keys": list(keys), "requests": list(requests), "now": now, "owner": self.owner}
            return list(db.execute(_PG_INSERT, {"stream": stream, **values}).scalars())
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            params: list[object] = []
            for key, request in chunk:
                params += (stream, key, PENDING, request, now, now, self.owner)
            db.exec_driver_sql(_sqlite_insert(len(chunk)), tuple(params))
        return [key for key, _ in rows]  # a claim inserts only keys it found missing (one writer)

    def claim_orphans(self) -> list[tuple[str, str, str]]:
        """Take over every pending row whose owner is gone: (stream, key, stored request), oldest first.

        Rows another worker is claiming right now are skipped (``SKIP LOCKED``), not waited for."""

        def work(db: Connection) -> list[tuple[str, str, str]]:
            found = db.execute(
                select(_C.stream, _C.record_key, _C.request, _C.owner)
                .where(_C.status == PENDING, _C.owner.is_distinct_from(self.owner))
                .order_by(_C.created_at, _C.stream, _C.record_key)
                .with_for_update(skip_locked=True)
            ).all()
            dead = self._owners.dead(db, {owner for *_, owner in found}) if found else set()
            orphans = [(stream, key, request) for stream, key, request, owner in found if owner in dead]
            by_stream: dict[str, list[str]] = {}
            for stream, key, _ in orphans:
                by_stream.setdefault(stream, []).append(key)
            for stream, keys in by_stream.items():
                for start in range(0, len(keys), _CHUNK):
                    self._take(db, stream, keys[start : start + _CHUNK])
            return orphans

        return self._retrying(work)

    # -- the rest ----------------------------------------------------------------------------------------
    def lookup(self, stream: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """key -> (status, stored request) for the keys the journal knows."""
        found: dict[str, tuple[str, str]] = {}
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
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
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
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

"""Claims: which worker sends which delivery, decided atomically in the journal (see :mod:`.ownership`).

A claim stores new requests as pending under this worker, takes over pending rows whose owner is gone,
and leaves those a live worker holds to it. :class:`Claims` is a part of :class:`.store.Journal`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import ColumnElement, Connection, Text, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from target_kissmetrics.journal.ownership import SessionLock, SingleWriter
from target_kissmetrics.journal.schema import DELIVERED, PENDING, deliveries

NEW = "new"  # claimed now: send this run's request
RESEND = "resend"  # pending from a worker that is gone: send the stored request
BUSY = "busy"  # pending under a live worker (or this one): it sends it, not us

CHUNK = 500  # keys per statement (SQLite's host-parameter limit is 999 on old builds)
_ROWS_PER_INSERT = 999 // 7
_C = deliveries.c
_T = TypeVar("_T")

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


class Claims:
    """Claims and pending rows, for the :class:`.store.Journal` that holds the connection."""

    owner: int
    _owners: SingleWriter | SessionLock

    if TYPE_CHECKING:

        def _retrying(self, work: Callable[[Connection], _T]) -> _T: ...

    @property
    def is_shared(self) -> bool:
        """Whether several workers may use this journal at once (PostgreSQL)."""
        return isinstance(self._owners, SessionLock)

    # -- claims ------------------------------------------------------------------------------------------
    def claim(self, stream: str, rows: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """Claim (key, request) rows for sending, atomically: key -> (what to do, request to send).

        ``NEW``: stored as pending under this worker, send the request given. ``RESEND``: pending under
        a worker that is gone (or an earlier run), now ours: send the stored request. ``BUSY``: pending
        under a live worker (another, or this one in an earlier batch), which sends it. ``DELIVERED``:
        KISSmetrics has it. Keys in key order, so concurrent claims lock rows in the same order."""
        ordered = sorted(dict(rows).items())
        outcome: dict[str, tuple[str, str]] = {}
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
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
                for start in range(0, len(keys), CHUNK):
                    self._take(db, stream, keys[start : start + CHUNK])
            return orphans

        return self._retrying(work)

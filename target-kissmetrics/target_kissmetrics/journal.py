"""The delivery journal: which record keys were delivered, and the exact request of those in flight.

SQLite in WAL mode, one row per (stream, record key). Before a batch is sent its new requests are
stored as ``pending`` in one transaction; after delivery they become ``delivered`` in another, and their
request (which holds an email) is dropped: only the key is needed from then on. So a replay (a crash, a
lost STATE, a re-run) never sends a delivered record again, and a pending one is re-sent with the *stored*
request, not one rebuilt from data that may have changed since: KISSmetrics then sees the very same
request and counts it once. The key is never stored (requests omit ``_k``).

The file (and SQLite's ``-wal``/``-shm`` beside it, which take its mode) is readable by its owner only:
pending requests carry customers' emails. Pending rows are never pruned; delivered ones only when
``retention_days`` is positive (0 keeps them forever, the default).

``journal_path`` is the SQLite file. SPEC §6 reserves ``journal_url`` (an SQLAlchemy URL, default this
file) for the scale-out issue; this class is the one place that would change.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from target_kissmetrics.errors import ConfigError, JournalError

DELIVERED = "delivered"
_CHUNK = 500  # SQLite host-parameter limit is 999 on old builds
_OWNER_ONLY = 0o600

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS deliveries (
    stream TEXT NOT NULL,
    record_key TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (stream, record_key)
) WITHOUT ROWID
""",
    "CREATE TABLE IF NOT EXISTS journal_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # Every run starts by re-sending what is pending: find those without reading every delivered row.
    "CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (created_at) WHERE status = 'pending'",
)


def default_journal_path() -> Path:
    """Under Meltano, ``$MELTANO_PROJECT_ROOT/.target-kissmetrics/<environment>/journal.sqlite``; else
    ``./.target-kissmetrics/journal.sqlite``.

    Not in ``.meltano/``: Meltano empties ``.meltano/run/<plugin>/`` on every install and marks the whole
    folder as a cache that backups skip (``CACHEDIR.TAG``). One journal per Meltano environment, as state.
    """
    root = os.environ.get("MELTANO_PROJECT_ROOT")
    if root:
        environment = os.environ.get("MELTANO_ENVIRONMENT") or "no-environment"
        return Path(root) / ".target-kissmetrics" / environment / "journal.sqlite"
    return Path(".target-kissmetrics") / "journal.sqlite"


def legacy_default_journal_path() -> Path | None:
    """Where the journal lived by default before: in the folder ``meltano install`` empties."""
    root = os.environ.get("MELTANO_PROJECT_ROOT")
    return Path(root) / ".meltano" / "run" / "target-kissmetrics" / "journal.sqlite" if root else None


def adopt_legacy_journal(path: Path) -> bool:
    """Copy the journal from its old default place into a new default ``path`` that does not exist yet.

    The old place was shared by every Meltano environment, so each environment gets its own copy.
    """
    legacy = legacy_default_journal_path()
    if legacy is None or path.exists() or not legacy.is_file():
        return False
    _create_owner_only(path)
    source = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
    target = sqlite3.connect(str(path))
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return True


def _create_owner_only(path: Path) -> None:
    """Create the folder (0700) and the file (0600) if missing; make an existing file 0600 too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, _OWNER_ONLY))
    except OSError:
        return  # not a file we can create: SQLite says why, in its words
    for sibling in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if sibling.exists() and sibling.stat().st_mode & 0o077:
            sibling.chmod(_OWNER_ONLY)


class Journal:
    """Thread-safe (one connection, one lock): sinks may drain in parallel."""

    def __init__(self, path: Path, retention_days: int) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            _create_owner_only(path)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=10000")
            for statement in _SCHEMA:
                self._db.execute(statement)
            self.pruned = self._prune(retention_days)
        except (OSError, sqlite3.Error, JournalError) as exc:
            raise ConfigError(f"journal_path {path} is not usable: {exc}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; an SQLite error (a full disk) becomes one :class:`JournalError` line."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise JournalError(
                    f"the delivery journal {self.path} could not be written ({exc}); the run stopped and no "
                    "STATE was emitted past the events involved (free space, then run again)"
                ) from None

    def _prune(self, retention_days: int) -> int:
        if retention_days <= 0:
            return 0
        cutoff = time.time() - retention_days * 86400
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM deliveries WHERE status = 'delivered' AND updated_at < ?", (cutoff,)
            )
            return cursor.rowcount

    def lookup(self, stream: str, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """key -> (status, stored request) for the keys the journal knows."""
        found: dict[str, tuple[str, str]] = {}
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT record_key, status, request FROM deliveries "  # noqa: S608 - only '?' marks
                    f"WHERE stream = ? AND record_key IN ({marks})",
                    [stream, *chunk],
                )
                for key, status, request in rows:
                    found[key] = (status, request)
        return found

    def pending(self) -> list[tuple[str, str, str]]:
        """(stream, key, stored request) of every event journaled as pending: sent or not, unconfirmed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, record_key, request FROM deliveries WHERE status = 'pending' "
                "ORDER BY created_at, stream, record_key"
            )
            return [(stream, key, request) for stream, key, request in rows]

    # One statement per chunk of rows rather than ``executemany``: the sqlite3 module releases the GIL
    # around every row's step, and with the delivery threads busy each re-acquisition can wait a whole
    # switch interval (measured: ~150 ms for 500 rows, on the thread that reads the records).
    _ROWS_PER_INSERT = 999 // 5

    def add_pending(self, stream: str, rows: Iterable[tuple[str, str]]) -> None:
        """Store (key, request) as pending, in one transaction; existing keys are left as they are."""
        now = time.time()
        rows = list(rows)
        with self._transaction() as db:
            for start in range(0, len(rows), self._ROWS_PER_INSERT):
                chunk = rows[start : start + self._ROWS_PER_INSERT]
                values = ",".join("(?, ?, 'pending', ?, ?, ?)" for _ in chunk)
                params: list[object] = []
                for key, request in chunk:
                    params += (stream, key, request, now, now)
                db.execute(f"INSERT OR IGNORE INTO deliveries VALUES {values}", params)  # noqa: S608

    def mark_delivered(self, stream: str, keys: Iterable[str]) -> None:
        """Delivered for good: keep the key, drop the request (it holds an email and is not needed)."""
        now = time.time()
        keys = list(keys)
        with self._transaction() as db:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                db.execute(
                    "UPDATE deliveries SET status = 'delivered', request = '', updated_at = ? "  # noqa: S608
                    f"WHERE stream = ? AND record_key IN ({marks})",
                    [now, stream, *chunk],
                )

    def get_meta(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM journal_meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO journal_meta VALUES (?, ?)", (name, value))

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
            return {status: count for status, count in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()

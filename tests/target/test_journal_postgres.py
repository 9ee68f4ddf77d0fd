"""The journal on a real PostgreSQL server (``postgres_url``, started by local_pipeline/postgres.py):
atomic claims between workers, takeover of a dead worker's pending rows with their stored bytes, never of
a live one's, a lost ownership lock, and the SQLite default's older files."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy
from target_kissmetrics.errors import ConfigError, JournalError
from target_kissmetrics.journal import BUSY, DELIVERED, NEW, RESEND, Journal


def rows(first: int, last: int, tag: str = "q") -> list[tuple[str, str]]:
    return [(f"in_{i:04d}", f"{tag}{i}") for i in range(first, last)]


def crash(journal: Journal, url: str) -> None:
    """As a killed worker: its sessions end without anything being marked or released by it.

    The server ends a backend shortly after its client's socket closes, not at the same instant, and only
    then is the session's lock free: wait (up to 10 s) until the lock session's backend is gone, as the
    next worker to start would find it."""
    lock_session = journal._owners._session  # type: ignore[union-attr]
    pid = lock_session.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one()
    journal._owners.close()
    journal._connection.invalidate()
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        deadline = time.monotonic() + 10
        with engine.connect() as db:
            alive = sqlalchemy.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            while db.execute(alive, {"pid": pid}).scalar_one() and time.monotonic() < deadline:
                db.rollback()  # a fresh snapshot of pg_stat_activity
                time.sleep(0.02)
    finally:
        engine.dispose()


def test_two_workers_never_claim_the_same_key(postgres_url: str) -> None:
    one, two = Journal(None, 0, url=postgres_url), Journal(None, 0, url=postgres_url)
    try:
        first = one.claim("billed", rows(0, 100))
        assert {what for what, _ in first.values()} == {NEW} and first["in_0007"] == (NEW, "q7")
        one.mark_delivered("billed", [f"in_{i:04d}" for i in range(25)])
        second = two.claim("billed", rows(0, 150, tag="other"))
        assert [second[f"in_{i:04d}"][0] for i in (0, 24, 25, 99, 100, 149)] == [
            DELIVERED,
            DELIVERED,
            BUSY,
            BUSY,
            NEW,
            NEW,
        ]
        assert second["in_0120"] == (NEW, "other120") and second["in_0050"] == (BUSY, "")
        assert two.claim_orphans() == [], "a live worker's pending rows are not taken over"
        assert one.counts() == {"delivered": 25, "pending": 125}
    finally:
        one.close()
        two.close()


def test_concurrent_workers_claim_each_key_exactly_once(postgres_url: str) -> None:
    """Four workers (separate engines and sessions), overlapping shuffled claims in chunks, at once."""
    workers = [Journal(None, 0, url=postgres_url) for _ in range(4)]
    claimed: list[list[str]] = [[] for _ in workers]
    start = threading.Barrier(len(workers))

    def work(n: int) -> None:
        pool = rows(0, 1200)
        random.Random(n).shuffle(pool)
        start.wait()
        for offset in range(0, 900, 150):
            got = workers[n].claim("billed", pool[offset : offset + 150])
            claimed[n] += [key for key, (what, _) in got.items() if what == NEW]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        everything = [key for keys in claimed for key in keys]
        assert len(everything) == len(set(everything)), "a key was claimed by two workers"
        assert min(len(keys) for keys in claimed) > 0, "every worker claimed something"
        assert workers[0].counts() == {"pending": len(everything)}
    finally:
        for worker in workers:
            worker.close()


def test_a_dead_workers_pending_rows_are_taken_over_with_their_stored_bytes(postgres_url: str) -> None:
    dead, heir, late = (Journal(None, 0, url=postgres_url) for _ in range(3))
    try:
        dead.claim("billed", rows(0, 30, tag="stored"))
        dead.mark_delivered("billed", ["in_0000"])
        assert heir.claim_orphans() == []
        crash(dead, postgres_url)
        orphans = heir.claim_orphans()
        assert orphans == [("billed", f"in_{i:04d}", f"stored{i}") for i in range(1, 30)]
        assert late.claim_orphans() == [], "the heir is alive: its rows stay its own"
        again = late.claim("billed", rows(0, 31, tag="rebuilt"))
        assert (
            again["in_0000"][0] == DELIVERED and again["in_0001"] == (BUSY, "") and again["in_0030"][0] == NEW
        )
        heir.mark_delivered("billed", [key for _, key, _ in orphans])
        assert heir.counts() == {"delivered": 30, "pending": 1}
    finally:
        heir.close()
        late.close()


def test_a_claim_takes_over_a_dead_workers_row_when_its_record_comes_again(postgres_url: str) -> None:
    dead, heir = Journal(None, 0, url=postgres_url), Journal(None, 0, url=postgres_url)
    try:
        dead.claim("billed", rows(0, 3, tag="stored"))
        crash(dead, postgres_url)
        got = heir.claim("billed", rows(0, 5, tag="rebuilt"))
        assert got == {
            "in_0000": (RESEND, "stored0"),
            "in_0001": (RESEND, "stored1"),
            "in_0002": (RESEND, "stored2"),
            "in_0003": (NEW, "rebuilt3"),
            "in_0004": (NEW, "rebuilt4"),
        }
    finally:
        heir.close()


def test_a_worker_whose_lock_session_was_lost_stops_before_sending(postgres_url: str) -> None:
    worker = Journal(None, 0, url=postgres_url)
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.begin() as admin:  # the server ends the lock session (as a dropped connection)
            admin.execute(
                sqlalchemy.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND ((classid::bigint << 32) | objid::bigint) = :owner"
                ),
                {"owner": worker.owner},
            )
        with pytest.raises(JournalError, match="ownership lock was lost"):
            worker.claim("billed", rows(0, 3))
        assert worker.lookup("billed", ["in_0000"]) == {}, "nothing was claimed"
    finally:
        engine.dispose()
        worker.close()


def test_unusable_urls_are_one_line_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Journal(None, 0, url="postgresql+psycopg://user:s3cretpw@127.0.0.1:1/none")
    assert "s3cretpw" not in str(info.value)
    assert str(info.value).startswith(
        "journal_url postgresql+psycopg://user:***@127.0.0.1:1/none is not usable"
    )
    with pytest.raises(ConfigError, match="must be sqlite:///FILE or postgresql"):
        Journal(None, 0, url="mysql://x@localhost/db")
    with pytest.raises(ConfigError, match="not an SQLAlchemy URL"):
        Journal(None, 0, url="not a url")
    sqlite = Journal(None, 0, url=f"sqlite:///{tmp_path / 'j.sqlite'}")
    assert sqlite.path == tmp_path / "j.sqlite" and not sqlite.is_shared
    sqlite.close()


def test_an_older_sqlite_journal_gains_owners_and_its_pending_rows_are_resent(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the schema before journal_url existed
        db.execute(
            "CREATE TABLE deliveries (stream TEXT NOT NULL, record_key TEXT NOT NULL, status TEXT NOT NULL, "
            "request TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL, "
            "PRIMARY KEY (stream, record_key)) WITHOUT ROWID"
        )
        db.execute("INSERT INTO deliveries VALUES ('billed', 'in_1', 'pending', 'stored', 1, 1)")
        db.execute("INSERT INTO deliveries VALUES ('billed', 'in_2', 'delivered', '', 1, 1)")
    db.close()
    journal = Journal(path, 0)
    try:
        assert journal.claim("billed", [("in_1", "rebuilt"), ("in_2", "x"), ("in_3", "new")]) == {
            "in_1": (RESEND, "stored"),
            "in_2": (DELIVERED, ""),
            "in_3": (NEW, "new"),
        }
        assert journal.claim_orphans() == [], "now this run's own"
    finally:
        journal.close()

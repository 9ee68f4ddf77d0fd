"""The delivery journal on its own: pending → delivered, stored bytes never replaced, atomic batches,
chunked statements, durability settings, pruning, unusable paths, the default location.

A delivered entry keeps its key and drops its request (the request holds an email and is never needed
again), so lookups of delivered keys give an empty request."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from target_kissmetrics.errors import ConfigError, JournalError
from target_kissmetrics.journal import Journal, default_journal_path


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "j.sqlite", 60)
    yield j  # type: ignore[misc]
    j.close()


def test_pending_then_delivered_per_stream(journal: Journal) -> None:
    journal.add_pending("billed", [("in_1", "q1"), ("in_2", "q2")])
    journal.add_pending("canceled", [("in_1", "other stream")])
    assert journal.lookup("billed", ["in_1", "in_2", "in_3"]) == {
        "in_1": ("pending", "q1"),
        "in_2": ("pending", "q2"),
    }
    journal.mark_delivered("billed", ["in_2"])
    assert journal.lookup("billed", ["in_1", "in_2"]) == {
        "in_1": ("pending", "q1"),
        "in_2": ("delivered", ""),
    }
    assert journal.lookup("canceled", ["in_1", "in_2"]) == {"in_1": ("pending", "other stream")}
    assert journal.counts() == {"pending": 2, "delivered": 1}
    assert journal.lookup("billed", []) == {}


def test_stored_request_is_never_replaced(journal: Journal) -> None:
    journal.add_pending("billed", [("in_1", "first bytes")])
    journal.add_pending("billed", [("in_1", "rebuilt from drifted data")])
    assert journal.lookup("billed", ["in_1"]) == {"in_1": ("pending", "first bytes")}
    journal.mark_delivered("billed", ["in_1"])
    journal.add_pending("billed", [("in_1", "again")])
    assert journal.lookup("billed", ["in_1"]) == {"in_1": ("delivered", "")}


def test_large_batches_are_chunked(journal: Journal) -> None:
    rows = [(f"in_{i}", f"q{i}") for i in range(1234)]
    journal.add_pending("billed", rows)
    keys = [key for key, _ in rows]
    found = journal.lookup("billed", keys)
    assert (
        len(found) == 1234 and found["in_1233"] == ("pending", "q1233") and found["in_0"] == ("pending", "q0")
    )
    journal.mark_delivered("billed", keys[:1001])
    assert journal.counts() == {"delivered": 1001, "pending": 233}
    assert journal.lookup("billed", ["in_1000", "in_1001"]) == {
        "in_1000": ("delivered", ""),
        "in_1001": ("pending", "q1001"),
    }


def test_a_failed_batch_stores_nothing_and_leaves_the_journal_usable(journal: Journal) -> None:
    rows: list[tuple[str, str]] = [(f"in_{i}", f"q{i}") for i in range(300)]
    rows.append(("in_bad", object()))  # type: ignore[arg-type]  # cannot be stored: the batch fails
    with pytest.raises(JournalError, match="could not be written"):
        journal.add_pending("billed", rows)
    assert journal.counts() == {}
    journal.add_pending("billed", [("in_ok", "q")])
    with pytest.raises(JournalError, match="could not be written"):
        journal.mark_delivered("billed", [object()])  # type: ignore[list-item]
    assert journal.lookup("billed", ["in_ok"]) == {"in_ok": ("pending", "q")}
    journal.mark_delivered("billed", ["in_ok"])
    assert journal.counts() == {"delivered": 1}


def test_durable_and_persistent(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "j.sqlite"
    first = Journal(path, 60)
    first.add_pending("billed", [("in_1", "q1")])
    first.mark_delivered("billed", ["in_1"])
    first.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    again = Journal(path, 60)
    try:
        assert again.pruned == 0
        assert again.lookup("billed", ["in_1"]) == {"in_1": ("delivered", "")}
    finally:
        again.close()


def test_pruning_cutoff_is_exactly_the_retention(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path, 10)
    assert j.path == path
    j.add_pending("billed", [("just_over", "q"), ("just_under", "q")])
    j.mark_delivered("billed", ["just_over", "just_under"])  # pending entries are never pruned
    j.close()
    with sqlite3.connect(path) as db:  # 10 days and 5 s ago; 10 days less 5 s ago
        db.execute("UPDATE deliveries SET updated_at = updated_at - 864005 WHERE record_key = 'just_over'")
        db.execute("UPDATE deliveries SET updated_at = updated_at - 863995 WHERE record_key = 'just_under'")
    j = Journal(path, 10)
    try:
        assert j.pruned == 1 and set(j.lookup("billed", ["just_over", "just_under"])) == {"just_under"}
    finally:
        j.close()


def test_pruning_keeps_what_is_within_retention(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path, 10)
    j.add_pending("billed", [("old", "q"), ("edge", "q"), ("new", "q")])
    j.mark_delivered("billed", ["old", "edge", "new"])  # pending entries are never pruned
    j.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE deliveries SET updated_at = updated_at - 11 * 86400 WHERE record_key = 'old'")
        db.execute("UPDATE deliveries SET updated_at = updated_at - 9.9 * 86400 WHERE record_key = 'edge'")
    j = Journal(path, 10)
    try:
        assert j.pruned == 1
        assert set(j.lookup("billed", ["old", "edge", "new"])) == {"edge", "new"}
    finally:
        j.close()


def test_threads_share_one_journal(journal: Journal) -> None:
    def work(n: int) -> None:
        keys = [f"t{n}_{i}" for i in range(50)]
        journal.add_pending("billed", [(k, k) for k in keys])
        journal.mark_delivered("billed", keys[:25])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert journal.counts() == {"delivered": 150, "pending": 150}


def test_unusable_path_is_one_clear_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError) as info:
        Journal(blocker / "journal.sqlite", 60)
    assert str(info.value).startswith(f"journal_path {blocker / 'journal.sqlite'} is not usable: ")


def test_default_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MELTANO_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("MELTANO_ENVIRONMENT", "prod")
    assert default_journal_path() == tmp_path / ".target-kissmetrics" / "prod" / "journal.sqlite"
    monkeypatch.delenv("MELTANO_ENVIRONMENT")
    monkeypatch.delenv("MELTANO_PROJECT_ROOT")
    assert default_journal_path() == Path(".target-kissmetrics") / "journal.sqlite"

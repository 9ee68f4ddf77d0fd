"""`meltano run` with Meltano's system database (state) and the delivery journal on one real PostgreSQL
server (started by the tests: local_pipeline/postgres.py), against the stand-ins: the README's "Scaling out"
setup. Exactly once, state read back from PostgreSQL, and a replay after drift sends nothing again."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from local_pipeline import LocalPipeline
from local_pipeline.postgres import create_database

from .operations import assert_exactly_once, last_lines
from .test_journal_operations import STATE_ID, drift

pytestmark = pytest.mark.slow


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[LocalPipeline]:
    with LocalPipeline(invoices=600, seed=5, workdir=tmp_path / "stand-ins", history_days=60) as running:
        yield running


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, last_lines(result.stderr)


def test_meltano_state_and_the_journal_on_postgresql(pipeline: LocalPipeline, postgres_server: str) -> None:
    on_postgres = {
        "MELTANO_DATABASE_URI": create_database(postgres_server, "meltano_system"),
        "TARGET_KISSMETRICS_JOURNAL_URL": create_database(postgres_server, "kissmetrics_journal"),
    }
    ok(pipeline.meltano_run(**on_postgres))
    delivered = assert_exactly_once(pipeline)
    assert delivered > 100
    assert not (pipeline.workdir / "journal.sqlite").exists(), "journal_url wins over journal_path"
    assert not (pipeline.workdir / "meltano.db").exists()
    engine = sqlalchemy.create_engine(on_postgres["TARGET_KISSMETRICS_JOURNAL_URL"])
    try:
        with engine.connect() as db:
            statuses = dict(
                db.execute(sqlalchemy.text("SELECT status, COUNT(*) FROM deliveries GROUP BY status")).all()
            )
    finally:
        engine.dispose()
    assert statuses == {"delivered": pipeline.kissmetrics.control("count")["requests"]}
    saved = pipeline.meltano("state", "get", STATE_ID, **on_postgres)
    ok(saved)
    assert "bookmarks" in saved.stdout, "Meltano kept the state in PostgreSQL"

    sent = pipeline.kissmetrics.control("count")["requests"]
    drift(pipeline)  # a rebuilt request would now differ from the one sent
    ok(pipeline.meltano("state", "clear", "--force", STATE_ID, **on_postgres))
    ok(pipeline.meltano_run(**on_postgres))
    assert pipeline.kissmetrics.control("count")["requests"] == sent, "the replay sent nothing again"
    assert assert_exactly_once(pipeline) == delivered

"""No Stripe or KISSmetrics key in any log line, error, exception, dry-run output or Meltano file.

Pipelines run with recognisable keys (the stand-ins' live key, the KISSmetrics canary key, and an
unknown Stripe key that Stripe answers 401 to) through the shell pipe, a dry run, failures on either
side, and ``meltano run``; every byte they print, every state and journal file, and every file Meltano
wrote under ``.meltano/logs/`` and ``.meltano/run/`` for this test's own runs (not for another test's
running at the same time) is scanned for each key, raw or percent-encoded, and for its distinctive body.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from local_pipeline import KISSMETRICS_KEY, LocalPipeline
from stand_ins.stripe import LIVE_KEY
from tests.reliability.conftest import reset_kissmetrics, shared_pipeline
from tests.reliability.harness import FIGURES, Cell, meltano_sys_dir

UNKNOWN_STRIPE_KEY = "sk_live_RECOGNISABLEcanary0001"
SECRETS = [LIVE_KEY, KISSMETRICS_KEY, UNKNOWN_STRIPE_KEY]
NEEDLES = sorted(
    {
        *SECRETS,
        *(quote(k, safe="") for k in SECRETS),
        "51StandInLiveKey00000001",
        "SECRETCANARY",
        "RECOGNISABLEcanary",
    }
)

pytestmark = pytest.mark.slow  # real processes against stand-ins


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    yield from shared_pipeline(tmp_path_factory, invoices=120, seed=61)


def own_meltano_files(system_db: Path, pipeline: LocalPipeline) -> list[tuple[Path, str]]:
    """The files Meltano wrote for this test's own runs, never another test's running at the same time:
    the logs of the run ids in this test's own system database (``.meltano/logs/elt/<state id>/<run id>/``),
    and files under ``.meltano/run`` that name this test's stand-ins (each listens on its own port), such
    as a plugin config a run left behind."""
    with sqlite3.connect(system_db) as db:
        run_ids = {str(row[0]) for row in db.execute("SELECT run_id FROM runs")}
    assert run_ids, "this test's Meltano runs left no job in its system database"
    found = []
    for folder in ("logs", "run"):
        for path in (meltano_sys_dir() / folder).rglob("*"):
            if "/venv/" in str(path) or not path.is_file():
                continue
            try:
                text = path.read_bytes().decode("latin-1")
            except OSError:
                continue  # removed meanwhile by whichever run wrote it
            ours = bool(run_ids & set(path.parts)) if folder == "logs" else None
            if ours is None:
                ours = pipeline.stripe.url in text or pipeline.kissmetrics.url in text
            if ours:
                found.append((path, text))
    return found


def leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


def test_no_key_in_any_output_or_file(pipeline: LocalPipeline, catalog: Path, tmp_path: Path) -> None:
    outputs: dict[str, str] = {}
    debug = {"LOGLEVEL": "DEBUG"}

    def pipe(name: str, **kwargs: object) -> None:
        reset_kissmetrics(pipeline)
        stripe_faults = kwargs.pop("stripe_faults", None)
        km_faults = kwargs.pop("km_faults", None)
        cell = Cell(pipeline, tmp_path / name, catalog, env_extra=debug, **kwargs)  # type: ignore[arg-type]
        if stripe_faults:
            pipeline.stripe.control("faults", stripe_faults)
        if km_faults:
            pipeline.kissmetrics.control("faults", km_faults)
        try:
            run = cell.run()
        finally:
            pipeline.stripe.control("faults", {})
            pipeline.kissmetrics.control("faults", {})
        outputs[f"{name}: tap stderr"] = run.tap_stderr
        outputs[f"{name}: target stderr"] = run.target_stderr
        outputs[f"{name}: target stdout (STATE)"] = run.target_stdout
        if cell.journal_path.exists():
            outputs[f"{name}: journal"] = cell.journal_path.read_bytes().decode("latin-1")

    pipe("success")
    pipe("dry-run", target_extra={"dry_run": True})
    pipe("stripe-500-storm", stripe_faults={"rates": {"500": 1.0}})
    pipe("stripe-401", tap_extra={"api_key": UNKNOWN_STRIPE_KEY})
    pipe("kissmetrics-503-storm", km_faults={"rates": {"503": 1.0}}, target_extra={"max_retries": 1})
    pipe("kissmetrics-unreachable", target_extra={"tracking_url": "http://127.0.0.1:9", "max_retries": 0})
    assert "_k=REDACTED" in outputs["dry-run: target stderr"]
    assert "Delivery failed" in outputs["kissmetrics-503-storm: target stderr"]
    assert "401 Unauthorized" in outputs["stripe-401: tap stderr"]

    # Meltano: one run that completes, one that fails (Stripe answers 500 to everything).
    reset_kissmetrics(pipeline)
    env = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TARGET_KISSMETRICS_JOURNAL_PATH": str(tmp_path / "meltano-journal.sqlite"),
        "LOGLEVEL": "DEBUG",
    }
    ok = pipeline.meltano_run(**env)
    assert ok.returncode == 0, ok.stderr[-2000:]
    pipeline.stripe.control("faults", {"rates": {"500": 1.0}})
    try:
        failed = pipeline.meltano("run", "--force", "stripe-to-kissmetrics", **env)
    finally:
        pipeline.stripe.control("faults", {})
    assert failed.returncode != 0
    for name, result in (("meltano ok", ok), ("meltano failed", failed)):
        outputs[f"{name}: stdout"] = result.stdout
        outputs[f"{name}: stderr"] = result.stderr
    # This test's own system database (state, runs), then the files Meltano wrote for these runs.
    outputs["meltano system database"] = (tmp_path / "meltano.db").read_bytes().decode("latin-1")
    meltano_files = own_meltano_files(tmp_path / "meltano.db", pipeline)
    for path, text in meltano_files:
        outputs[f"file {path.relative_to(meltano_sys_dir())}"] = text

    found = {name: leaks(text) for name, text in outputs.items() if leaks(text)}
    assert found == {}, f"keys found in: {sorted(found)}"
    FIGURES["secrets"].append({"outputs_scanned": len(outputs), "meltano_files_scanned": len(meltano_files)})

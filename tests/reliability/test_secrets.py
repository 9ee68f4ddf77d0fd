"""No Stripe or KISSmetrics key in any log line, error, exception, dry-run output or Meltano file.

Pipelines run with recognisable keys (the stand-ins' live key, the KISSmetrics canary key, and an
unknown Stripe key that Stripe answers 401 to) through the shell pipe, a dry run, failures on either
side, and ``meltano run``; every byte they print, every state and journal file, and every file Meltano
wrote under ``.meltano/logs/`` and ``.meltano/run/`` during the test is scanned for each key, raw or
percent-encoded, and for its distinctive body.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from local_pipeline import KISSMETRICS_KEY, LocalPipeline
from stand_ins.processes import REPO_ROOT
from stand_ins.stripe import LIVE_KEY
from tests.reliability.conftest import reset_kissmetrics, shared_pipeline
from tests.reliability.harness import FIGURES, Cell

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


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    yield from shared_pipeline(tmp_path_factory, invoices=120, seed=61)


def leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


def test_no_key_in_any_output_or_file(pipeline: LocalPipeline, catalog: Path, tmp_path: Path) -> None:
    started = time.time()
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
    meltano_files = [
        path
        for folder in ("logs", "run")
        for path in (REPO_ROOT / ".meltano" / folder).rglob("*")
        if path.is_file() and path.stat().st_mtime >= started and "/venv/" not in str(path)
    ]
    for path in meltano_files:
        text = path.read_bytes().decode("latin-1")
        if path.name.endswith(".config.json") and pipeline.stripe.url not in text:
            continue  # another run's live config hand-off (not ours)
        outputs[f"file {path.relative_to(REPO_ROOT)}"] = text

    found = {name: leaks(text) for name, text in outputs.items() if leaks(text)}
    assert found == {}, f"keys found in: {sorted(found)}"
    FIGURES["secrets"].append({"outputs_scanned": len(outputs), "meltano_files_scanned": len(meltano_files)})

"""Reliability fixtures: stand-ins shared per module, a fresh workspace per cell, the figures report."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_pipeline import LocalPipeline
from tests.reliability.harness import FIGURES, billed_catalog


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return billed_catalog(tmp_path_factory.mktemp("catalog"))


def shared_pipeline(
    tmp_path_factory: pytest.TempPathFactory, invoices: int, seed: int
) -> Iterator[LocalPipeline]:
    workdir = tmp_path_factory.mktemp("stand-ins")
    with LocalPipeline(invoices=invoices, seed=seed, workdir=workdir, history_days=60) as running:
        yield running


def reset_kissmetrics(pipeline: LocalPipeline) -> None:
    pipeline.kissmetrics.control("reset", {})
    pipeline.stripe.control("faults", {})


def report_figures(terminalreporter: Any) -> None:
    """Print the figures the reliability tests gathered (called by tests/conftest.py, which also gathers
    them from pytest-xdist workers)."""
    if not any(FIGURES.values()):
        return
    cells, trials = FIGURES["cells"], FIGURES["crash_trials"]
    lines = []
    if cells:
        passed = sum(1 for c in cells if c["exact"])
        lines.append(
            f"fault matrix: {passed}/{len(cells)} cells exact; re-sends per cell: "
            + ", ".join(f"{c['cell']}={c['resends']}" for c in cells)
        )
    if trials:
        passed = sum(1 for t in trials if t["exact"])
        lines.append(
            f"crash trials: {passed}/{len(trials)} exact; raw re-sends total "
            f"{sum(t['resends'] for t in trials)}; per trial: "
            + ", ".join(f"{t['trial']}={t['resends']}" for t in trials)
        )
    if FIGURES["drift"]:
        lines.append(f"property drift: {json.dumps(FIGURES['drift'])}")
    if FIGURES["secrets"]:
        lines.append(f"secrets: no key found in {json.dumps(FIGURES['secrets'])}")
    if FIGURES["bad_inputs"]:
        lines.append(f"bad inputs handled: {len(FIGURES['bad_inputs'])}")
    terminalreporter.write_sep("-", "reliability figures")
    for line in lines:
        terminalreporter.write_line(line)
    target = os.environ.get("RELIABILITY_FIGURES")
    if target:
        Path(target).write_text(json.dumps(FIGURES, indent=1, default=str))

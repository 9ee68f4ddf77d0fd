"""Fault matrix: each fault, at up to 20% of requests, on Stripe's side or KISSmetrics' side.

Each cell's outcome is pinned: the ten cells whose faults a retry budget absorbs (20% of requests, 6
retries) must complete on the first run; the three no budget survives (100% storms, and 503s with
``max_retries: 0``) must fail loudly (non-zero exit, one clear error line, no STATE past the last one),
and the next run, faults off, must complete them. Either way the KISSmetrics stand-in's de-duplicated
view ends equal to the generator's ground truth: 0 lost, 0 counted twice. Raw requests against the
dashboard count the re-sends KISSmetrics' de-duplication had to absorb.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_pipeline import LocalPipeline
from tests.reliability.conftest import reset_kissmetrics, shared_pipeline
from tests.reliability.harness import FIGURES, Cell, assert_exact, assert_fails_loudly, expected_billed, tally

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    yield from shared_pipeline(tmp_path_factory, invoices=400, seed=21)


# (cell id, side, faults body, target settings, the error line a failing run must print)
# Cells whose first run must fail loudly; every other cell must complete on its first run.
FAILS_FIRST = frozenset(
    {"stripe-429-storm-100pct", "stripe-500-storm-100pct", "kissmetrics-503-20pct-no-retries"}
)
STRIPE = "stripe"
KISSMETRICS = "kissmetrics"
_TAP_FAILED = r"tap-stripe-billing: error: Stripe request GET /v1/\S+ failed after 7 attempts: .+"
_TARGET_FAILED = (
    r".*\| ERROR +\| target-kissmetrics +\| Delivery failed: \d+ events were not delivered after retries; "
    r"no STATE was emitted past them \(\d+ of \d+ subscription_billed events were not delivered \(.+\)\)"
)
CELLS: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    (
        "stripe-429-storm-20pct",
        STRIPE,
        {"rates": {"429": 0.2}, "seed": 1},
        {},
        _TAP_FAILED.replace(".+", "rate limited \\(429\\): .+"),
    ),
    ("stripe-429-should-retry-20pct", STRIPE, {"rates": {"429_retry": 0.2}, "seed": 2}, {}, _TAP_FAILED),
    (
        "stripe-500-20pct",
        STRIPE,
        {"rates": {"500": 0.2}, "seed": 3},
        {},
        _TAP_FAILED.replace(".+", "HTTP 500: An unknown error occurred"),
    ),
    (
        "stripe-reset-20pct",
        STRIPE,
        {"rates": {"reset": 0.2}, "seed": 4},
        {},
        _TAP_FAILED.replace(".+", "unreachable: .+"),
    ),
    ("stripe-slow-20pct", STRIPE, {"rates": {"slow": 0.2}, "seed": 5, "slow_seconds": 0.3}, {}, _TAP_FAILED),
    (
        "stripe-mixed-20pct",
        STRIPE,
        {"rates": {"429": 0.05, "429_retry": 0.05, "500": 0.05, "reset": 0.05}, "seed": 6},
        {},
        _TAP_FAILED,
    ),
    ("kissmetrics-503-20pct", KISSMETRICS, {"rates": {"503": 0.2}, "seed": 8}, {}, _TARGET_FAILED),
    (
        "kissmetrics-timeout-20pct",
        KISSMETRICS,
        {"rates": {"slow": 0.2}, "seed": 9, "slow_seconds": 0.4},
        {"timeout_seconds": 0.25},
        _TARGET_FAILED,
    ),
    ("kissmetrics-drop-20pct", KISSMETRICS, {"rates": {"drop": 0.2}, "seed": 10}, {}, _TARGET_FAILED),
    (
        "kissmetrics-mixed-20pct",
        KISSMETRICS,
        {"rates": {"503": 0.07, "slow": 0.06, "drop": 0.07}, "seed": 11, "slow_seconds": 0.6},
        {"timeout_seconds": 0.25},
        _TARGET_FAILED,
    ),
    # Storms no retry budget survives: the run must fail loudly, and the next one complete it.
    (
        "stripe-429-storm-100pct",
        STRIPE,
        {"rates": {"429": 1.0}, "seed": 12},
        {},
        _TAP_FAILED.replace(".+", "rate limited \\(429\\): .+"),
    ),
    (
        "stripe-500-storm-100pct",
        STRIPE,
        {"rates": {"500": 1.0}, "seed": 13},
        {},
        _TAP_FAILED.replace(".+", "HTTP 500: An unknown error occurred"),
    ),
    (
        "kissmetrics-503-20pct-no-retries",
        KISSMETRICS,
        {"rates": {"503": 0.2}, "seed": 14},
        {"max_retries": 0},
        _TARGET_FAILED,
    ),
]


@pytest.mark.parametrize(
    ("name", "side", "faults", "target_extra", "failure"), CELLS, ids=[c[0] for c in CELLS]
)
def test_fault_cell(  # noqa: PLR0917
    pipeline: LocalPipeline,
    catalog: Path,
    tmp_path: Path,
    name: str,
    side: str,
    faults: dict[str, Any],
    target_extra: dict[str, Any],
    failure: str,
) -> None:
    reset_kissmetrics(pipeline)
    expected = expected_billed(pipeline)
    assert len(expected) > 150
    cell = Cell(pipeline, tmp_path, catalog, target_extra={"max_concurrency": 8, **target_extra})
    stand_in = pipeline.stripe if side == STRIPE else pipeline.kissmetrics
    stand_in.control("faults", faults)
    try:
        first = cell.run()
    finally:
        injected = stand_in.control("faults")["injected"] if side == STRIPE else None
        stand_in.control("faults", {})
    if side == KISSMETRICS:
        injected = {"dropped": pipeline.kissmetrics.control("count")["dropped"]}
    outcome = "completed"
    must_fail = name in FAILS_FIRST
    assert first.ok is not must_fail, (
        f"{name}: the first run was expected to {'fail loudly' if must_fail else 'complete'}; "
        f"tap: {first.tap_stderr[-1500:]} target: {first.target_stderr[-1500:]}"
    )
    if first.ok:
        assert bookmark_moved(first)
        assert first.error_lines() == []
    else:
        line = assert_fails_loudly(first)
        assert re.fullmatch(failure, line), line
        second = cell.run()
        assert second.ok, second.tap_stderr[-2000:] + second.target_stderr[-2000:]
        assert bookmark_moved(second)
        outcome = "failed loudly, next run completed"
    if side == KISSMETRICS and "slow_seconds" in faults:
        time.sleep(faults["slow_seconds"] + 0.2)  # let timed-out requests land in this cell, not the next
    result = tally(pipeline, expected)
    assert_exact(result, name)
    assert pipeline.kissmetrics.control("violations") == []
    FIGURES["cells"].append(
        {
            "cell": name,
            "outcome": outcome,
            "exact": result.exact,
            "expected": result.expected,
            "raw_requests": result.raw_requests,
            "resends": result.resends,
            "injected": injected,
        }
    )


def test_the_pinned_outcomes_are_the_readme_figures() -> None:
    """README: 13 cells, 10 complete on the first run, 3 fail loudly and then complete."""
    names = [c[0] for c in CELLS]
    assert len(names) == len(set(names)) == 13
    assert set(names) >= FAILS_FIRST
    assert len(set(names) - FAILS_FIRST) == 10


def bookmark_moved(run: Any) -> bool:
    from tests.reliability.harness import bookmark

    return bookmark(run.state_after) is not None and bookmark(run.state_after) != bookmark(run.state_before)

"""Fixtures shared by the whole suite."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def new_york() -> Iterator[None]:
    """A local time zone far from UTC, so "naive means UTC" is really checked."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


# -- the reliability figures, also when pytest-xdist runs the tests in worker processes -------------------
def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the figures its tests gathered to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from tests.reliability.harness import FIGURES

        workeroutput["reliability_figures"] = json.dumps(FIGURES, default=str)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: add a finished worker's figures to this process's."""
    from tests.reliability.harness import FIGURES

    received = json.loads(getattr(node, "workeroutput", {}).get("reliability_figures", "{}"))
    for name, entries in received.items():
        FIGURES.setdefault(name, []).extend(entries)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller reports
    from tests.reliability.conftest import report_figures

    report_figures(terminalreporter)

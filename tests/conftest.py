"""Fixtures shared by the whole suite."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_databases = itertools.count()


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


# -- one Meltano system folder per xdist worker -------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    """On an xdist worker: a `.meltano/` of its own for the `meltano` commands run in this checkout.

    Two `meltano run`s of one project at the same time share `.meltano/run/<plugin>/` (the catalog
    `tap.properties.json`, removed when a run ends), so one run can fail for another's cleanup. Each
    worker gets its own system folder (``MELTANO_SYS_DIR_ROOT``) whose plugin folders are links to the
    checkout's installed plugins; `run/`, `logs/` and the default system database are its own. A test
    that runs `meltano` in another project (a copy, a new project) removes the variable from that
    command's environment, as it does every other ``MELTANO_*`` setting of this process.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or "MELTANO_SYS_DIR_ROOT" in os.environ:
        return
    sys_dir = Path(tempfile.mkdtemp(prefix=f"meltano-{workerinput['workerid']}-"))
    shared = REPO_ROOT / ".meltano"
    for entry in sorted(shared.iterdir()) if shared.is_dir() else []:
        if entry.is_dir() and entry.name not in ("run", "logs"):
            (sys_dir / entry.name).symlink_to(entry)
    os.environ["MELTANO_SYS_DIR_ROOT"] = str(sys_dir)
    config.stash[_SYS_DIR] = sys_dir


_SYS_DIR = pytest.StashKey[Path]()


def pytest_unconfigure(config: pytest.Config) -> None:
    sys_dir = config.stash.get(_SYS_DIR, None)
    if sys_dir is not None:
        os.environ.pop("MELTANO_SYS_DIR_ROOT", None)
        shutil.rmtree(sys_dir, ignore_errors=True)  # links only: the checkout's plugins stay


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 16 (the ``pgserver`` wheel's binaries) for the whole session: its URL."""
    from local_pipeline.postgres import running_postgres

    with running_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh database of its own on the session's PostgreSQL server."""
    from local_pipeline.postgres import create_database

    return create_database(postgres_server, f"test_{next(_databases)}")

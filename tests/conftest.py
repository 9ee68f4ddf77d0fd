"""Fixtures shared by the whole suite."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator

import pytest

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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 16 (the ``pgserver`` wheel's binaries) for the whole session: its URL."""
    from tests.postgres import running_postgres

    with running_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh database of its own on the session's PostgreSQL server."""
    from tests.postgres import create_database

    return create_database(postgres_server, f"test_{next(_databases)}")

"""A real PostgreSQL 16 server for the tests and the shard benchmark, from the ``pgserver`` wheel's
binaries (no apt, no Docker).

PostgreSQL refuses to run as root, and the tests may run as root: ``initdb`` and ``postgres`` then run as
``nobody`` on a temporary folder it owns. The server listens on 127.0.0.1 only, on a free port, with no
Unix socket, and trusts local connections (a throw-away cluster). :func:`running_postgres` stops it when
the block ends, failed or not.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import sqlalchemy

_SPEC = importlib.util.find_spec("pgserver")  # found, not imported: its helpers are not used
assert _SPEC is not None and _SPEC.origin is not None, "pgserver is not installed (requirements-dev.txt)"
BIN = Path(_SPEC.origin).parent / "pginstall" / "bin"
USER = "postgres"  # the cluster's superuser (a database role, not a system user)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_unprivileged() -> dict[str, object]:
    """subprocess keywords that run a program as ``nobody`` when we are root (else as ourselves)."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def _ready(port: int) -> bool:
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres", connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _reachable_binaries(folder: Path, keywords: dict[str, object], env: dict[str, str]) -> Path:
    """The wheel's ``bin`` folder, or a copy of the installation in ``folder`` when ``nobody`` cannot
    reach the wheel (a virtual environment under a private home folder)."""
    try:
        probe = subprocess.run(  # type: ignore[call-overload]
            [BIN / "postgres", "--version"], capture_output=True, env=env, cwd=folder, check=False, **keywords
        )
        if probe.returncode == 0:
            return BIN
    except PermissionError:
        pass
    # The binaries find their libraries through an rpath three folders up (site-packages/pgserver.libs):
    # copy both, keeping that layout.
    site = BIN.parents[2]
    for name in ("pgserver/pginstall", "pgserver.libs"):
        shutil.copytree(site / name, folder / "site" / name, symlinks=True)
    return folder / "site" / "pgserver" / "pginstall" / "bin"


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """Start a fresh cluster; yield its SQLAlchemy URL (database ``postgres``); stop and remove it."""
    folder = Path(tempfile.mkdtemp(prefix="km-pg-"))
    data = folder / "data"
    log = folder / "server.log"
    keywords = _as_unprivileged()
    if keywords:
        nobody = pwd.getpwnam("nobody")
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(folder)}
    server: subprocess.Popen[bytes] | None = None
    try:
        binaries = _reachable_binaries(folder, keywords, env)
        subprocess.run(
            [binaries / "initdb", "-D", data, "-U", USER, "--auth=trust", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
            env=env,
            cwd=folder,
            **keywords,  # type: ignore[call-overload]
        )
        port = _free_port()
        with log.open("wb") as out:
            server = subprocess.Popen(  # type: ignore[call-overload]
                [
                    binaries / "postgres",
                    "-D",
                    data,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-k",
                    "",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=100",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=folder,
                **keywords,
            )
        deadline = time.monotonic() + 30
        while not _ready(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres"
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown: ends sessions, then stops
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """A new, empty database on the server at ``url``; its URL."""
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name

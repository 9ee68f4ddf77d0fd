"""Where the SQLite journal lives by default, the old default place, and owner-only file modes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

OWNER_ONLY = 0o600


def default_journal_path() -> Path:
    """Under Meltano, ``$MELTANO_PROJECT_ROOT/.target-kissmetrics/<environment>/journal.sqlite``; else
    ``./.target-kissmetrics/journal.sqlite``.

    Not in ``.meltano/``: Meltano empties ``.meltano/run/<plugin>/`` on every install and marks the whole
    folder as a cache that backups skip (``CACHEDIR.TAG``). One journal per Meltano environment, as state.
    """
    root = os.environ.get("MELTANO_PROJECT_ROOT")
    if root:
        environment = os.environ.get("MELTANO_ENVIRONMENT") or "no-environment"
        return Path(root) / ".target-kissmetrics" / environment / "journal.sqlite"
    return Path(".target-kissmetrics") / "journal.sqlite"


def legacy_default_journal_path() -> Path | None:
    """Where the journal lived by default before: in the folder ``meltano install`` empties."""
    root = os.environ.get("MELTANO_PROJECT_ROOT")
    return Path(root) / ".meltano" / "run" / "target-kissmetrics" / "journal.sqlite" if root else None


def adopt_legacy_journal(path: Path) -> bool:
    """Copy the journal from its old default place into a new default ``path`` that does not exist yet.

    The old place was shared by every Meltano environment, so each environment gets its own copy.
    """
    legacy = legacy_default_journal_path()
    if legacy is None or path.exists() or not legacy.is_file():
        return False
    create_owner_only(path)
    source = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
    target = sqlite3.connect(str(path))
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return True


def create_owner_only(path: Path) -> None:
    """Create the folder (0700) and the file (0600) if missing; make an existing file 0600 too."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, OWNER_ONLY))
    except OSError:
        return  # not a file we can create: SQLite says why, in its words
    for sibling in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if sibling.exists() and sibling.stat().st_mode & 0o077:
            sibling.chmod(OWNER_ONLY)

"""The delivery journal: which record keys were delivered, and the exact request of those in flight.

One row per (stream, record key). Before a batch is sent its new requests are *claimed*: stored as
``pending`` under this worker's owner id, in one transaction; after delivery they become ``delivered`` in
another, and their request (which holds an email) is dropped: only the key is needed from then on. So a
replay (a crash, a lost STATE, a re-run) never sends a delivered record again, and a pending one is
re-sent with the *stored* request, not one rebuilt from data that may have changed since: KISSmetrics
then sees the very same request and counts it once. The key is never stored (requests omit ``_k``).

Where it lives (``journal_url``, an SQLAlchemy URL; SQLAlchemy Core, the same code for both):

- **SQLite** (the default, the file at ``journal_path``): WAL, ``synchronous=FULL``, one writer at a
  time (``BEGIN IMMEDIATE``), file readable by its owner only (pending requests carry emails). One
  target at a time per file: every pending row found belongs to an earlier run and is re-sent.
- **PostgreSQL** (``postgresql+psycopg://…``): several targets may run at once on overlapping input.
  Claims are atomic (``SELECT … FOR UPDATE`` in key order, ``INSERT … ON CONFLICT DO NOTHING``), and a
  pending row is taken over only when its owner is dead: see :mod:`.ownership`.

Modules: :mod:`.paths` (default place, file modes), :mod:`.schema` (tables), :mod:`.ownership` (who owns
a pending row), :mod:`.claims` (who sends what), :mod:`.store` (the :class:`Journal`).
"""

from target_kissmetrics.journal.claims import BUSY, NEW, RESEND
from target_kissmetrics.journal.paths import (
    adopt_legacy_journal,
    default_journal_path,
    legacy_default_journal_path,
)
from target_kissmetrics.journal.schema import DELIVERED, PENDING
from target_kissmetrics.journal.store import Journal

__all__ = [
    "BUSY",
    "DELIVERED",
    "NEW",
    "PENDING",
    "RESEND",
    "Journal",
    "adopt_legacy_journal",
    "default_journal_path",
    "legacy_default_journal_path",
]

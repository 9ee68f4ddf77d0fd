"""Who may send a pending row: its owner while alive, anyone once the owner is dead.

Each :class:`~target_kissmetrics.journal.Journal` gets a random 63-bit owner id and writes it on the rows
it claims. How a dead owner is told from one still sending depends on the database:

- **PostgreSQL: a lock held by a live session, no lease to expire.** The worker takes the session-level
  advisory lock ``pg_advisory_lock(owner)`` on a connection of its own, held for the journal's life.
  PostgreSQL releases a session's locks when the session ends: the process exits or is killed (the kernel
  closes its socket, the server ends the backend at once), or the connection is lost (TCP keepalives on
  both sides; set the server's ``tcp_keepalives_idle`` for hosts that vanish). Another worker tests an
  owner with ``pg_try_advisory_xact_lock(owner)``: it succeeds only when no session holds the lock, i.e.
  the owner is dead (and is released at the end of that claim's transaction). A slow worker stays the
  owner however long KISSmetrics makes it wait (its retry budget: with the defaults 7 tries of up to
  ``timeout_seconds`` 15 s plus up to 31.5 s of backoff, over 2 minutes for one event, and events queue
  behind ``max_concurrency`` others): an expiring lease would have to outlast that budget, delaying
  every takeover by as much, or risk a takeover of a worker still retrying.
  Each claim also checks that its own lock is still held, so a worker whose lock session was lost stops
  with one line before sending anything more.
- **SQLite: one target at a time per file.** Every pending row found belongs to an earlier run that
  stopped (as before ``journal_url`` existed); it is re-sent at start or when its record comes again.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

from target_kissmetrics.errors import JournalError


class SingleWriter:
    """SQLite: no other worker can be alive, so every other owner is dead."""

    def __init__(self) -> None:
        self.owner = secrets.randbits(63)

    def dead(self, connection: Connection, owners: set[int | None]) -> set[int | None]:
        return {owner for owner in owners if owner != self.owner}

    def close(self) -> None:
        return None


_TRY = text("SELECT o, pg_try_advisory_xact_lock(o) FROM unnest(:owners) AS o").bindparams(
    bindparam("owners", type_=ARRAY(BIGINT))
)


class SessionLock:
    """PostgreSQL: the owner holds ``pg_advisory_lock(owner)`` on its own session while it lives."""

    def __init__(self, engine: Engine) -> None:
        self.owner = secrets.randbits(63)
        self._session = engine.connect()
        self._session.execute(text("SELECT pg_advisory_lock(:owner)"), {"owner": self.owner})
        self._session.commit()

    def dead(self, connection: Connection, owners: set[int | None]) -> set[int | None]:
        """Which owners hold no lock (called inside the claim's transaction); raise if we lost ours."""
        asked = [owner for owner in owners if owner is not None]
        free = dict(connection.execute(_TRY, {"owners": [*asked, self.owner]}).tuples().all())
        if free.get(self.owner):
            raise JournalError(
                "the delivery journal's ownership lock was lost (the database connection dropped), so "
                "another worker may take over this run's pending events; the run stopped"
            )
        gone: set[int | None] = {owner for owner, is_free in free.items() if is_free}
        if None in owners:
            gone.add(None)  # written by an older journal, which had no owners
        return gone - {self.owner}

    def close(self) -> None:
        try:
            self._session.close()  # the session ends: its lock with it
        except Exception:  # already gone is as good as closed
            return

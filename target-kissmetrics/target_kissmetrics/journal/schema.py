"""The journal's tables (SQLAlchemy Core), created if missing; older SQLite journals gain ``owner``."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, Float, Index, MetaData, Table, Text, inspect, text

PENDING = "pending"
DELIVERED = "delivered"

metadata = MetaData()

deliveries = Table(
    "deliveries",
    metadata,
    Column("stream", Text, primary_key=True),
    Column("record_key", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("request", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The worker that claimed a pending row (its random lease id); NULL: nobody (an older journal).
    Column("owner", BigInteger, nullable=True),
    sqlite_with_rowid=False,
)

# Every run starts by re-sending what is pending: find those without reading every delivered row.
Index(
    "deliveries_pending",
    deliveries.c.created_at,
    sqlite_where=deliveries.c.status == PENDING,
    postgresql_where=deliveries.c.status == PENDING,
)

journal_meta = Table(
    "journal_meta",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# Taken (for the transaction) by a PostgreSQL worker creating the tables: two first workers at once
# would otherwise both try to create them. An arbitrary constant: "km-journal-schema".
SCHEMA_LOCK = 0x6B6D_6A73_6368


def create(connection: Connection) -> None:
    """Create what is missing, inside the caller's transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
    metadata.create_all(connection, checkfirst=True)
    columns = {column["name"] for column in inspect(connection).get_columns("deliveries")}
    if "owner" not in columns:  # a journal written before journal_url existed
        connection.execute(text("ALTER TABLE deliveries ADD COLUMN owner BIGINT"))

"""The derived tables of a local warehouse: built when a sync ends, found current or not when FinMatch reads it.

They live in the warehouse beside fpr_records, in schema `finmatch`, with a catalog (`finmatch.derived_tables`)
naming each table's fingerprint (derived.py) and the version of fpr_records it was built from: its row count and
latest `_fivetran_synced`, which every write of a sync moves (a soft delete included). Both come from DuckDB's own
statistics, in milliseconds at 100 million records. FinMatch reads a derived table only
when both match what it reads now, so tables built before a later sync, or by an older FinMatch, are never read as
current. A warehouse changed without a sync (an UPDATE by hand that leaves `_fivetran_synced`) is not noticed:
`make sync` or `python tools/build_derived.py` builds them again.

No pandas here: the sync's virtualenv has DuckDB alone.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb

from finmatch.data.derived import VOCABULARY, Catalog, Source, fingerprint, for_engine, vocabulary_from
from finmatch.data.dialects import DuckDBDialect
from finmatch.data.sql import live_condition

SCHEMA = "finmatch"
# The names the app reads them by: the warehouse is attached as `warehouse` (local_store.py).
TABLE = "warehouse.tester.fpr_records"
CATALOG = f"warehouse.{SCHEMA}.derived_tables"
BUSY_RETRIES = 40  # half-second tries while FinMatch holds the warehouse open for a page


def table_columns(connection):
    return {column[0].lower() for column in connection.execute(f"SELECT * FROM {TABLE} LIMIT 0").description}


def source_version(connection, columns):
    """(rows, latest _fivetran_synced in microseconds): what any sync that writes changes."""
    synced = "epoch_us(max(_fivetran_synced))" if "_fivetran_synced" in columns else "NULL"
    rows, latest = connection.execute(f"SELECT count(*), {synced} FROM {TABLE}").fetchone()
    return int(rows), None if latest is None else int(latest)


@dataclass
class Built:
    """What a build did: each table's seconds, in build order, and the total."""

    seconds: dict = field(default_factory=dict)
    total: float = 0.0

    def summary(self):
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.seconds.items())
        return f"{len(self.seconds)} derived tables built in {self.total:.1f} s ({parts})"


def build_derived(warehouse):
    """Builds every local derived table into the warehouse file and writes the catalog last."""
    started = time.perf_counter()
    built = Built()
    connection = _attached(warehouse)
    try:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS warehouse.{SCHEMA}")
        connection.execute(f"DROP TABLE IF EXISTS {CATALOG}")  # until the catalog is written again, nothing is current
        connection.execute(f"USE warehouse.{SCHEMA}")  # a derived table reading another finds it by its bare name
        columns = table_columns(connection)
        live = live_condition(columns)
        version = source_version(connection, columns)
        source = Source(TABLE, live, DuckDBDialect(), {})
        entries = []
        for derived in sorted(for_engine("duckdb"), key=lambda derived: derived.name != VOCABULARY):
            sql, params = derived.sql(source)
            table_started = time.perf_counter()
            connection.execute(f"CREATE OR REPLACE TABLE {derived.name} AS {sql}", list(params))
            built.seconds[derived.name] = time.perf_counter() - table_started
            entries.append((derived.name, fingerprint(sql, params), built.seconds[derived.name]))
            if derived.name == VOCABULARY:
                rows = connection.execute(f"SELECT field, value FROM {VOCABULARY}").fetchall()
                source = Source(TABLE, live, DuckDBDialect(), vocabulary_from(rows))
        _write_catalog(connection, entries, version)
    finally:
        connection.close()
    built.total = time.perf_counter() - started
    return built


def _attached(warehouse):
    """An in-memory database with the warehouse attached read-write, waiting while a reader holds it."""
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")  # a sync's summary, not a bar per table
    quoted = str(warehouse).replace("'", "''")
    for attempt in range(BUSY_RETRIES):
        try:
            connection.execute(f"ATTACH '{quoted}' AS warehouse")
            return connection
        except duckdb.IOException:
            if attempt == BUSY_RETRIES - 1:
                connection.close()
                raise
            time.sleep(0.5)
    return connection


def _write_catalog(connection, entries, version):
    connection.execute(
        f"CREATE TABLE {CATALOG} (name VARCHAR, fingerprint VARCHAR, seconds DOUBLE, source_rows BIGINT, "
        "source_synced BIGINT, built_at TIMESTAMP)"
    )
    built_at = datetime.now(timezone.utc).replace(tzinfo=None)
    connection.executemany(
        f"INSERT INTO {CATALOG} VALUES (?, ?, ?, ?, ?, ?)",
        [(name, print_, seconds, *version, built_at) for name, print_, seconds in entries],
    )


NONE_BUILT = "No derived tables in the warehouse: computed from fpr_records (`make sync` builds them)."
OLDER = (
    "Derived tables not read: built from an older fpr_records ({built:,} rows then, {now:,} now, or synced since). "
    "Computed from fpr_records; `make sync` builds them again."
)


def current_catalog(cursor):
    """The catalog of the warehouse attached to `cursor`, keeping only tables built from its present fpr_records."""
    try:
        rows = cursor.execute(
            f"SELECT name, fingerprint, seconds, source_rows, source_synced, built_at FROM {CATALOG}"
        ).fetchall()
    except duckdb.CatalogException:
        return Catalog({}, NONE_BUILT, local_name)
    if not rows:
        return Catalog({}, NONE_BUILT, local_name)
    version = source_version(cursor, table_columns(cursor))
    if any(tuple(row[3:5]) != version for row in rows):
        return Catalog({}, OLDER.format(built=rows[0][3], now=version[0]), local_name)
    seconds = sum(row[2] for row in rows)
    built_at = max(row[5] for row in rows).strftime("%Y-%m-%d %H:%M")
    note = f"Derived tables read: built {built_at} UTC in {seconds:.1f} s from this version of fpr_records."
    return Catalog({row[0]: row[1] for row in rows}, note, local_name)


def local_name(name):
    return f"warehouse.{SCHEMA}.{name}"

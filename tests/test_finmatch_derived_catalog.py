"""When a derived table may be read, decided on its own: the catalog of a local warehouse and Snowflake's freshness.

Quick tests of the rules test_finmatch_derived_tables.py and test_finmatch_dynamic_tables_and_masking.py show through
the page: a table is read only with the app's own definition, built from the fpr_records being read, or (in
Snowflake) running and within twice its target lag.
"""

from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from finmatch.data.derived import Catalog, fingerprint
from finmatch.data.derived_local import current_catalog, source_version
from finmatch.data.derived_snowflake import _fresh

SQL = "SELECT customer_id FROM t WHERE customer_segment IN (?)"


def test_a_table_is_read_only_for_the_definition_it_was_built_with():
    catalog = Catalog({"profiles": fingerprint(SQL, ["Retail"])}, "built", lambda name: f"derived.{name}")

    assert catalog.table_for("profiles", SQL, ["Retail"]) == "derived.profiles"
    assert catalog.table_for("profiles", "  SELECT customer_id  FROM t\nWHERE customer_segment IN (?)", ["Retail"])
    assert catalog.table_for("profiles", SQL, ["Corporate"]) is None
    assert catalog.table_for("profiles", SQL.replace("IN", "NOT IN"), ["Retail"]) is None
    assert catalog.table_for("cells", SQL, ["Retail"]) is None
    assert catalog.read == {"profiles"} and catalog.computed == {"profiles", "cells"}
    assert catalog.says() == "built Computed instead, as defined differently now: profiles."


def test_fingerprints_differ_with_the_sql_or_its_parameters_and_not_with_spacing():
    # pinned: a catalog written by an earlier build is read by the next version of the app with the same definitions
    assert fingerprint("SELECT 1", []) == "0824ffb941bdb62ca897684a9f8576ac"
    assert (
        fingerprint("SELECT ?", [date(2025, 1, 2)]) == "94249da57ef46baa3ca96cb1b688cb00"
    )  # a date parameter, as its text
    assert fingerprint("SELECT 1", []) == fingerprint(" SELECT\n  1 ", [])
    assert len({fingerprint("SELECT 1", []), fingerprint("SELECT 2", []), fingerprint("SELECT 1", [1])}) == 3
    assert fingerprint(SQL, [["a", "b"]]) != fingerprint(SQL, [["b", "a"]])


@pytest.fixture
def warehouse():
    connection = duckdb.connect()
    connection.execute("ATTACH ':memory:' AS warehouse")
    connection.execute(
        "CREATE SCHEMA warehouse.tester; CREATE SCHEMA warehouse.finmatch; "
        "CREATE TABLE warehouse.tester.fpr_records AS SELECT range AS record_id, FALSE AS _fivetran_deleted, "
        "TIMESTAMPTZ '2025-06-02 08:00:00+00' + to_seconds(range) AS _fivetran_synced FROM range(5)"
    )
    yield connection
    connection.close()


def catalog_of(connection, rows, synced):
    connection.execute(
        "CREATE OR REPLACE TABLE warehouse.finmatch.derived_tables (name VARCHAR, fingerprint VARCHAR, seconds DOUBLE, "
        "source_rows BIGINT, source_synced BIGINT, built_at TIMESTAMP)"
    )
    connection.execute(
        "INSERT INTO warehouse.finmatch.derived_tables "
        "VALUES ('profiles', 'abc', 1.5, ?, ?, TIMESTAMP '2025-06-02 09:00:00')",
        [rows, synced],
    )
    return current_catalog(connection)


def test_the_version_is_the_row_count_and_the_latest_sync(warehouse):
    assert source_version(warehouse, {"_fivetran_synced"}) == (5, 1748851204000000)
    assert source_version(warehouse, set()) == (5, None)


def test_tables_of_this_version_are_current_and_of_another_are_not(warehouse):
    rows, synced = source_version(warehouse, {"_fivetran_synced"})

    current = catalog_of(warehouse, rows, synced)
    assert current.fingerprints == {"profiles": "abc"}
    assert current.note.startswith("Derived tables read: built 2025-06-02 09:00 UTC in 1.5 s")
    current.fingerprints["profiles"] = fingerprint(SQL, [])
    assert current.table_for("profiles", SQL, []) == "warehouse.finmatch.profiles"
    for older in ((rows - 1, synced), (rows, synced - 1), (rows + 1, synced)):
        stale = catalog_of(warehouse, *older)
        assert stale.fingerprints == {} and stale.table_for("profiles", SQL, []) is None, older
        assert stale.note == (
            f"Derived tables not read: built from an older fpr_records ({older[0]:,} rows then, {rows:,} now, or "
            "synced since). Computed from fpr_records; `make sync` builds them again."
        )


def test_no_catalog_or_an_empty_one_means_none_is_current(warehouse):
    none = "No derived tables in the warehouse: computed from fpr_records (`make sync` builds them)."
    missing = current_catalog(warehouse)
    assert (missing.note, missing.table_for("profiles", SQL, [])) == (none, None)
    warehouse.execute(
        "CREATE TABLE warehouse.finmatch.derived_tables (name VARCHAR, fingerprint VARCHAR, seconds DOUBLE, "
        "source_rows BIGINT, source_synced BIGINT, built_at TIMESTAMP)"
    )
    empty = current_catalog(warehouse)
    assert (empty.note, empty.table_for("profiles", SQL, [])) == (none, None)


NOW = datetime(2025, 6, 2, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def fixed_clock(monkeypatch):
    """The freshness rule reads the time: here it is NOW, so that no test depends on when it runs."""
    import finmatch.data.derived_snowflake as derived_snowflake

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return NOW.astimezone(tz) if tz else NOW.replace(tzinfo=None)  # naive without a zone, as datetime.now

    monkeypatch.setattr(derived_snowflake, "datetime", Clock)


def state(minutes_ago, scheduling="RUNNING"):
    return {"scheduling_state": scheduling, "data_timestamp": NOW - timedelta(minutes=minutes_ago)}


@pytest.mark.parametrize(
    "table, lag, fresh",
    [
        (state(10), "1 hour", True),
        (state(120), "1 hour", True),  # exactly twice its lag
        (state(121), "1 hour", False),
        (state(50), "30 minutes", True),
        (state(70), "30 minutes", False),
        (state(3), "1 minute", False),
        (state(10, "SUSPENDED"), "1 hour", False),
        (state(10, "ACTIVE"), "1 hour", True),
        (state(10000), "DOWNSTREAM", True),  # refreshed when what reads it asks: its lag is not a time
        ({"scheduling_state": "RUNNING", "data_timestamp": None}, "1 hour", False),
    ],
)
def test_a_dynamic_table_is_fresh_while_running_and_within_twice_its_lag(fixed_clock, table, lag, fresh):
    assert _fresh(table, lag) is fresh


def test_a_table_refreshed_a_second_more_than_twice_its_lag_ago_is_not(fixed_clock):
    late = {"scheduling_state": "RUNNING", "data_timestamp": NOW - timedelta(hours=2, seconds=1)}
    assert not _fresh(late, "1 hour")

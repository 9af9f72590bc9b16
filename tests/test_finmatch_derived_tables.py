"""FinMatch's derived tables in a local warehouse: built when a sync ends, read only while current.

A copy of the shared warehouse gets its derived tables as `make sync` builds them (derived_local.build_derived);
the page must then show the same figures as without them, equal to SQL written here, and say it read them. A later
sync, or a definition the app no longer has, must make it compute from fpr_records instead, and say so.
"""

import shutil

import duckdb
import pytest
from test_finmatch_app import (
    LIVE,
    campaign_frame,
    cards,
    charts,
    choose_customer,
    choose_product,
    dataframe_with,
    expected_cards,
    sql,
)

from finmatch.data.derived import for_engine
from finmatch.data.derived_local import CATALOG, build_derived

SIDEBAR_READ = "Derived tables read: built"


@pytest.fixture(scope="module")
def derived_warehouse(finmatch_warehouse, tmp_path_factory):
    """The shared warehouse with its derived tables built, as after `make sync`."""
    copy = tmp_path_factory.mktemp("derived") / "warehouse.db"
    shutil.copy(finmatch_warehouse, copy)
    build_derived(copy)
    return copy


@pytest.fixture
def warehouse_copy(derived_warehouse, tmp_path):
    """A copy of it this test may change."""
    copy = tmp_path / "warehouse.db"
    shutil.copy(derived_warehouse, copy)
    return copy


def sidebar(at):
    return " ".join(caption.value for caption in at.sidebar.caption)


def page_figures(at):
    """What a banker reads after choosing a product and a customer: cards, chart data, the action list, the campaign
    list and Match's table."""
    at = choose_customer(choose_product(at.run()))
    chart_data = [chart.proto.spec for chart in charts(at)]
    return (
        cards(at),
        chart_data,
        dataframe_with(at, "Action score"),
        campaign_frame(at),
        [frame.value for frame in at.dataframe if "Estimated acceptance" in frame.value.columns],
        at,
    )


def test_the_build_writes_every_table_and_a_catalog_of_the_version_it_read(derived_warehouse, finmatch_warehouse):
    with duckdb.connect(str(derived_warehouse), read_only=True) as db:
        catalog = db.execute(f"SELECT name, source_rows, source_synced FROM {CATALOG.split('.', 1)[1]}").fetchall()
        version = "SELECT count(*), epoch_us(max(_fivetran_synced)) FROM tester.fpr_records"
        (rows, synced) = db.execute(version).fetchone()
        (live_rows,) = db.execute(f"SELECT count(*) {LIVE}").fetchone()
        (summed,) = db.execute("SELECT sum(records) FROM finmatch.daily_sums").fetchone()
        profiles = db.execute("SELECT count(*) FROM finmatch.customer_profiles").fetchone()[0]
        (customers,) = db.execute(f"SELECT count(DISTINCT customer_id) {LIVE}").fetchone()
    assert sorted(name for name, _, _ in catalog) == sorted(derived.name for derived in for_engine("duckdb"))
    assert {(source_rows, source_synced) for _, source_rows, source_synced in catalog} == {(rows, synced)}
    assert summed == live_rows == rows - 3  # the three soft-deleted rows are not live, and not counted in the tables
    assert profiles == customers


def test_the_page_reads_them_and_shows_the_figures_it_shows_without_them(app_on, derived_warehouse, finmatch_warehouse):
    with_tables = page_figures(app_on(derived_warehouse))
    without = page_figures(app_on(finmatch_warehouse))

    assert with_tables[0] == without[0] == expected_cards(finmatch_warehouse)
    assert with_tables[1] == without[1]
    for shown, before in zip(with_tables[2:5], without[2:5], strict=True):
        assert str(shown) == str(before)
    assert SIDEBAR_READ in sidebar(with_tables[5])
    assert "Computed instead" not in sidebar(with_tables[5])  # every derived table the page reads was current
    assert "No derived tables in the warehouse: computed from fpr_records" in sidebar(without[5])


@pytest.mark.parametrize(
    "segments, products, dates",
    [
        ((), (), None),
        (("Retail",), (), None),
        (("Retail", "Corporate"), (), ("2024-03-01", "2025-02-28")),
        ((), (), ("2025-01-01", "2025-01-31")),
        ((), ("Insurance",), None),  # read from the sums per day that keep the product recommended
        (("Retail",), ("Insurance", "Mortgage"), ("2024-03-01", "2025-02-28")),
    ],
)
def test_the_cards_follow_filters_and_dates_as_sql_says(
    app_on, derived_warehouse, finmatch_warehouse, segments, products, dates
):
    import pandas as pd

    at = app_on(derived_warehouse).run()
    at.sidebar.multiselect[0].set_value(list(segments)).run()
    next(box for box in at.sidebar.multiselect if box.label == "Product recommended").set_value(list(products)).run()
    where = ""
    if segments:
        where += " AND customer_segment IN (" + ", ".join(f"'{segment}'" for segment in segments) + ")"
    if products:
        where += " AND product_recommendation IN (" + ", ".join(f"'{product}'" for product in products) + ")"
    if dates:
        at.sidebar.date_input[0].set_value(tuple(pd.Timestamp(day).date() for day in dates)).run()
        where += f" AND product_recommendation_date BETWEEN DATE '{dates[0]}' AND DATE '{dates[1]}'"

    assert cards(at) == expected_cards(finmatch_warehouse, where)
    assert SIDEBAR_READ in sidebar(at)
    assert "Computed instead" not in sidebar(at)


def simulate_a_later_sync(warehouse):
    """What a sync that soft-deletes one record writes: the flag, and a later _fivetran_synced."""
    with duckdb.connect(str(warehouse)) as db:
        db.execute(
            "UPDATE tester.fpr_records "
            "SET _fivetran_deleted = TRUE, _fivetran_synced = _fivetran_synced + INTERVAL 1 HOUR "
            "WHERE record_id = (SELECT max(record_id) FROM tester.fpr_records WHERE NOT _fivetran_deleted)"
        )


def test_tables_built_before_a_later_sync_are_not_read_and_the_figures_follow_the_new_data(app_on, warehouse_copy):
    simulate_a_later_sync(warehouse_copy)

    at = app_on(warehouse_copy).run()

    assert "Derived tables not read: built from an older fpr_records" in sidebar(at)
    assert cards(at) == expected_cards(warehouse_copy)
    assert int(at.sidebar.caption[1].value.split("·")[1].split()[0].replace(",", "")) == 746


def test_a_table_whose_definition_changed_is_computed_and_named(app_on, warehouse_copy, finmatch_warehouse):
    with duckdb.connect(str(warehouse_copy)) as db:
        db.execute("UPDATE finmatch.derived_tables SET fingerprint = 'older' WHERE name = 'customer_profiles'")

    at = choose_product(app_on(warehouse_copy).run())

    assert "Computed instead, as defined differently now: customer_profiles." in sidebar(at)
    assert len(campaign_frame(at)) == 100
    assert cards(at) == expected_cards(finmatch_warehouse)


def test_building_again_after_the_sync_makes_them_current(app_on, warehouse_copy):
    simulate_a_later_sync(warehouse_copy)
    build_derived(warehouse_copy)

    at = app_on(warehouse_copy).run()

    assert SIDEBAR_READ in sidebar(at)
    assert cards(at) == expected_cards(warehouse_copy)


def explorer_caption(at):
    return next(caption.value for caption in at.caption if caption.value.startswith("Rows "))


@pytest.mark.parametrize("text", ["Product 1", "PROD_0001", "e5", "-4"])
def test_a_search_finds_what_sql_finds_whether_or_not_record_ids_can_hold_it(app_on, derived_warehouse, text):
    """Text no hexadecimal record id can hold skips the record ids; text one could hold still searches them."""
    at = app_on(derived_warehouse).run()
    next(box for box in at.text_input if box.label.startswith("Search")).input(text).run()

    term = text.lower()
    (expected,) = sql(
        derived_warehouse,
        f"SELECT count(*) {LIVE} AND (contains(lower(record_id), '{term}') OR contains(lower(product_id), '{term}') "
        f"OR contains(lower(product_name), '{term}'))",
    )[0]
    assert explorer_caption(at).endswith(f"of {expected:,}, most recently changed first.")

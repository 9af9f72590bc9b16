"""FinMatch's figures and the text that prints them, on 40 records whose every figure is known in advance.

The records are chosen so that each figure is a round number written out here: 15 accepted and 9 declined
of 40 (62.5 % accepted), 16 still open (40.0 %), 12 sales after acceptance worth $1,250,000 in all, and
averages of 0.650, 0.450, 0.240, $2,000.40 and $12,345.68. Records 1 to 20 were recommended on 2025-01-10
(15 accepted, 5 declined), records 21 to 40 on 2025-01-20 (4 declined, 16 open); records 11 to 30 are
Retail; record 1 is the only Lead, records 10 and 11 the only Engaged. The three soft-deleted records
carry figures large enough to show anywhere they were counted. Nothing expected is computed with the
app's formatters.
"""

import shutil
from datetime import date, timedelta

import duckdb
import pytest
from test_finmatch_in_snowflake import StandInSession

from finmatch.analysis.insights import FOCUS_AREAS, computed_insight, gather_statistics
from finmatch.data.backends import DuckDBBackend, SnowparkBackend, forget_derived_data
from finmatch.data.filters import Filters
from finmatch.data.fpr_data import FprData

TODAY = date(2025, 7, 1)
LIVE_RECORDS = 40
# Per live record, numbered n = 1..40 in record_id order.
KNOWN_FIGURES = """
UPDATE tester.fpr_records AS f SET
  product_recommendation_status = CASE WHEN n <= 15 THEN 'Accepted' WHEN n <= 24 THEN 'Declined'
                                       WHEN n <= 34 THEN 'Pending' ELSE 'In Progress' END,
  product_recommendation_date = CASE WHEN n <= 20 THEN DATE '2025-01-10' ELSE DATE '2025-01-20' END,
  product_sales_date = CASE WHEN n <= 12 THEN DATE '2025-01-15' WHEN n <= 15 THEN DATE '2025-01-05'
                            ELSE DATE '2025-01-20' END,
  product_sales_amount = CASE WHEN n <= 10 THEN 100000 WHEN n <= 12 THEN 125000 ELSE 999999 END,
  recommendation_score = CASE WHEN n <= 10 THEN 0.2 ELSE 0.8 END,
  customer_satisfaction_score = CASE WHEN n <= 10 THEN 0.9 ELSE 0.3 END,
  customer_churn_probability = CASE WHEN n <= 4 THEN 0.6 ELSE 0.2 END,
  customer_product_affinity = CASE WHEN n BETWEEN 25 AND 28 THEN 0.8 ELSE 0.5 END,
  account_balance = CASE WHEN n <= 20 THEN 1500.40 ELSE 2500.40 END,
  customer_transaction_value = 12345.678,
  customer_segment = CASE WHEN n BETWEEN 11 AND 30 THEN 'Retail' ELSE 'Corporate' END,
  customer_lifecycle_stage = CASE WHEN n = 1 THEN 'Lead' WHEN n IN (10, 11) THEN 'Engaged' ELSE 'Converted' END
FROM numbered WHERE f.record_id = numbered.record_id
"""
# The soft-deleted records: accepted, sold after the recommendation, with enormous amounts.
DELETED_FIGURES = """
UPDATE tester.fpr_records SET product_recommendation_status = 'Accepted', product_sales_amount = 1e9,
  product_recommendation_date = DATE '2025-01-10', product_sales_date = DATE '2025-01-15', account_balance = 1e9,
  customer_transaction_value = 1e9, recommendation_score = 1, customer_satisfaction_score = 1,
  customer_churn_probability = 1
WHERE _fivetran_deleted
"""


def forty_known_records(warehouse, folder):
    path = folder / "warehouse.db"
    shutil.copy(warehouse, path)
    with duckdb.connect(str(path)) as db:
        db.execute(
            "CREATE TEMP TABLE numbered AS SELECT record_id, row_number() OVER (ORDER BY record_id) AS n "
            "FROM tester.fpr_records WHERE NOT coalesce(_fivetran_deleted, false)"
        )
        db.execute(
            "DELETE FROM tester.fpr_records WHERE record_id IN "
            f"(SELECT record_id FROM numbered WHERE n > {LIVE_RECORDS})"
        )
        db.execute(KNOWN_FIGURES)
        db.execute(DELETED_FIGURES)
        assert db.execute(
            "SELECT count(*) FILTER (WHERE _fivetran_deleted), count(*) FROM tester.fpr_records"
        ).fetchone() == (3, 43)
    return path


@pytest.fixture(scope="module")
def known_records(finmatch_warehouse, tmp_path_factory):
    return forty_known_records(finmatch_warehouse, tmp_path_factory.mktemp("known"))


@pytest.fixture(autouse=True)
def no_kept_tables():
    """Each test reads the warehouse afresh rather than tables another test left built."""
    forget_derived_data()
    yield
    forget_derived_data()


def engines(warehouse):
    """FprData locally (from FinMatch's own tables) and in Snowflake (one statement per question)."""
    return {
        "locally": FprData(DuckDBBackend(warehouse)),
        "in Snowflake": FprData(SnowparkBackend(StandInSession(warehouse))),
    }


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_acceptance_is_accepted_over_decided_and_the_open_share_is_open_over_every_record(known_records, engine):
    kpis = engines(known_records)[engine].kpis(Filters())

    assert (kpis["records"], kpis["decided"], kpis["accepted"], kpis["still_open"]) == (40, 24, 15, 16)
    assert kpis["acceptance_rate"] == 15 / 24
    assert kpis["open_share"] == 16 / 40


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_sales_count_only_accepted_recommendations_sold_on_or_after_their_date(known_records, engine):
    kpis = engines(known_records)[engine].kpis(Filters())

    assert kpis["sales_after_acceptance_count"] == 12
    assert kpis["sales_after_acceptance"] == pytest.approx(1_250_000)
    assert kpis["sales_after_acceptance_squares"] == pytest.approx(10 * 100_000**2 + 2 * 125_000**2)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_averages_and_their_sample_spreads_are_over_the_selected_records(known_records, engine):
    kpis = engines(known_records)[engine].kpis(Filters())

    assert kpis["avg_recommendation_score"] == pytest.approx(0.65)
    assert kpis["avg_satisfaction"] == pytest.approx(0.45)
    assert kpis["avg_churn_probability"] == pytest.approx(0.24)
    assert kpis["avg_balance"] == pytest.approx(2000.40)
    assert kpis["avg_transaction_value"] == pytest.approx(12345.678)
    # stddev_samp: 20 balances 500 below the mean and 20 500 above it; 4 churns 0.36 above 0.24, 36 0.04 below.
    assert kpis["sd_balance"] == pytest.approx(500 * (40 / 39) ** 0.5)
    assert kpis["sd_churn_probability"] == pytest.approx(((4 * 0.36**2 + 36 * 0.04**2) / 39) ** 0.5)
    assert kpis["sd_transaction_value"] == pytest.approx(0, abs=1e-6)
    assert kpis["n_balance"] == kpis["n_churn_probability"] == 40


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_acceptance_by_group_is_accepted_over_decided_of_that_group(known_records, engine):
    by_segment = engines(known_records)[engine].acceptance_by("customer_segment", Filters())

    rows = {
        row["value"]: (row["records"], row["decided"], row["accepted"], row["acceptance_rate"])
        for _, row in by_segment.iterrows()
    }
    assert rows == {"Corporate": (20, 10, 10, 1.0), "Retail": (20, 14, 5, 5 / 14)}


def test_the_insights_print_money_shares_and_scores_exactly(known_records):
    stats = gather_statistics(FprData(DuckDBBackend(known_records)), Filters(), TODAY)
    overall, _, financial, _ = (computed_insight(focus, stats) for focus in FOCUS_AREAS)

    assert overall.startswith(
        "40 recommendations in the selection, 24 of them decided: **62.5%** of decided recommendations were accepted "
        "(portfolio 62.5%), and 40.0% are still Pending or In Progress. Average recommendation score 0.650, "
        "satisfaction 0.450, churn probability 0.240."
    )
    assert financial.startswith(
        "Sales after acceptance total **$1,250,000.00** over 12 sales: accepted recommendations whose sale is dated "
        "on or after the recommendation, $104,166.67 each on average."
    )
    assert "Average balance $2,000.40, average transaction value $12,345.68." in financial
    assert financial.endswith(
        "No projection: 4 open high-affinity recommendations are older than 90 days and count as not accepted, and "
        "none is younger."
    )


def test_a_projection_comes_from_measured_rates_with_the_ends_of_both_intervals(known_records):
    """10 open high-affinity recommendations younger than 90 days; 3 of 8 decided high-affinity ones accepted:
    Beta(4, 6) under a uniform prior, mean 0.4; five sales averaging $1,000 with a spread of $100: Student's t with
    4 degrees of freedom. About 10 x 0.4 x $1,000 = $4,000, the range from the ends of both intervals."""
    from scipy import stats as scipy_stats

    stats = gather_statistics(FprData(DuckDBBackend(known_records)), Filters(), TODAY)
    stats.update(
        open_high_affinity=12,
        open_high_affinity_recent=10,
        accepted_high_affinity=3,
        decided_high_affinity=8,
        sales_after_acceptance=5,
        avg_sale_after_acceptance=1000.0,
        sd_sale_after_acceptance=100.0,
    )
    half = 2.131846786326649 * 100 / 5**0.5  # t(0.95, 4 df) x standard error
    low = 10 * scipy_stats.beta.ppf(0.05, 4, 6) * (1000 - half)
    high = 10 * scipy_stats.beta.ppf(0.95, 4, 6) * (1000 + half)

    financial = computed_insight("Financial impact", stats)

    assert financial.endswith(
        "If the 10 open high-affinity recommendations younger than 90 days are accepted as decided high-affinity "
        "ones were (3 of 8) and sold at the average sale, they would bring about **$4,000.00** "
        f"(90% range ${low:,.2f} to ${high:,.2f}); 2 open high-affinity recommendations are older than 90 days and "
        "count as not accepted."
    )


def figures(kpis):
    return (
        kpis["records"],
        kpis["decided"],
        kpis["accepted"],
        kpis["still_open"],
        kpis["acceptance_rate"],
        kpis["open_share"],
        kpis["sales_after_acceptance"],
        kpis["sales_after_acceptance_count"],
    )


LATER_HALF = (date(2025, 1, 15), date(2025, 1, 31))  # records 21 to 40
EARLIER_HALF = (LATER_HALF[0] - timedelta(days=17), LATER_HALF[0] - timedelta(days=1))  # records 1 to 20


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_the_cards_and_both_compared_periods_add_up_their_own_records(known_records, engine):
    """The selection keeps the filters' dates; each period is (after, up to] and ignores them."""
    data = engines(known_records)[engine]
    dated = Filters(date_from=LATER_HALF[0], date_to=LATER_HALF[1])
    recent, before = (
        (LATER_HALF[0] - timedelta(days=1), LATER_HALF[1]),
        (EARLIER_HALF[0] - timedelta(days=1), EARLIER_HALF[1]),
    )

    selection, later, earlier = data.kpis_with_periods(dated, recent, before)

    assert figures(selection) == figures(later) == (20, 4, 0, 16, 0.0, 0.8, None, 0)
    assert figures(earlier)[:6] == (20, 20, 15, 0, 0.75, 0.0)
    assert figures(earlier)[6:] == (pytest.approx(1_250_000), 12)
    assert earlier["avg_balance"] == pytest.approx(1500.40) and later["avg_balance"] == pytest.approx(2500.40)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_compared_periods_keep_the_other_filters(known_records, engine):
    data = engines(known_records)[engine]
    retail = Filters(segments=("Retail",), date_from=LATER_HALF[0], date_to=LATER_HALF[1])
    recent, before = (
        (LATER_HALF[0] - timedelta(days=1), LATER_HALF[1]),
        (EARLIER_HALF[0] - timedelta(days=1), EARLIER_HALF[1]),
    )

    selection, later, earlier = data.kpis_with_periods(retail, recent, before)

    assert figures(selection) == figures(later) == (10, 4, 0, 6, 0.0, 0.6, None, 0)  # records 21 to 30
    assert figures(earlier)[:6] == (10, 10, 5, 0, 0.5, 0.0)  # records 11 to 20
    assert figures(earlier)[6:] == (pytest.approx(250_000), 2)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_without_periods_only_the_selection_is_figured(known_records, engine):
    data = engines(known_records)[engine]

    selection, later, earlier = data.kpis_with_periods(Filters(date_to=date(2025, 1, 10)))

    assert (later, earlier) == (None, None)
    assert figures(selection)[:6] == (20, 20, 15, 0, 0.75, 0.0)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_a_period_runs_from_the_day_after_its_start_to_its_end_day_included(known_records, engine):
    """Recent: (2025-01-10, 2025-01-20], records 21 to 40 only; before: (2024-12-31, 2025-01-10], records 1 to 20."""
    data = engines(known_records)[engine]

    _, later, earlier = data.kpis_with_periods(
        Filters(), (date(2025, 1, 10), date(2025, 1, 20)), (date(2024, 12, 31), date(2025, 1, 10))
    )

    assert (later["records"], later["decided"], later["still_open"]) == (20, 4, 16)
    assert (earlier["records"], earlier["decided"], earlier["accepted"]) == (20, 20, 15)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_a_day_in_both_periods_counts_as_recent_and_a_day_in_neither_in_neither(known_records, engine):
    data = engines(known_records)[engine]

    _, later, earlier = data.kpis_with_periods(
        Filters(), (date(2025, 1, 9), date(2025, 1, 10)), (date(2025, 1, 5), date(2025, 1, 10))
    )
    assert (later["records"], earlier["records"]) == (20, 0)

    _, later, earlier = data.kpis_with_periods(
        Filters(), (date(2025, 1, 15), date(2025, 1, 31)), (date(2025, 1, 14), date(2025, 1, 15))
    )
    assert (later["records"], earlier["records"]) == (20, 0)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_one_period_alone_is_no_comparison(known_records, engine):
    data = engines(known_records)[engine]

    for recent, before in (
        ((date(2025, 1, 9), date(2025, 1, 20)), None),
        (None, (date(2025, 1, 9), date(2025, 1, 20))),
    ):
        selection, later, earlier = data.kpis_with_periods(Filters(), recent, before)
        assert (selection["records"], later, earlier) == (40, None, None)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_the_kpis_of_a_filtered_selection_count_only_its_records(known_records, engine):
    kpis = engines(known_records)[engine].kpis(Filters(segments=("Retail",)))  # records 11 to 30

    assert (kpis["records"], kpis["decided"], kpis["accepted"], kpis["still_open"]) == (20, 14, 5, 6)
    assert kpis["sales_after_acceptance"] == pytest.approx(250_000)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_a_selection_from_its_first_day_includes_that_day(known_records, engine):
    kpis = engines(known_records)[engine].kpis(Filters(date_from=date(2025, 1, 20)))

    assert (kpis["records"], kpis["decided"], kpis["still_open"]) == (20, 4, 16)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_an_average_of_one_record_has_no_spread_and_one_of_two_has_the_sample_one(known_records, engine):
    data = engines(known_records)[engine]

    one = data.kpis(Filters(stages=("Lead",)))  # record 1
    assert (one["records"], one["n_balance"], one["avg_balance"], one["sd_balance"]) == (
        1,
        1,
        pytest.approx(1500.40),
        None,
    )

    two = data.kpis(Filters(stages=("Engaged",)))  # records 10 (score 0.2) and 11 (score 0.8)
    assert (two["n_recommendation_score"], two["avg_recommendation_score"]) == (2, pytest.approx(0.5))
    assert two["sd_recommendation_score"] == pytest.approx((2 * 0.3**2 / 1) ** 0.5)


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_an_empty_selection_has_no_rates_and_no_averages(known_records, engine):
    kpis = engines(known_records)[engine].kpis(Filters(segments=("Corporate",), statuses=("Declined",)))

    assert (kpis["records"], kpis["decided"], kpis["sales_after_acceptance_count"]) == (0, 0, 0)
    assert (kpis["acceptance_rate"], kpis["open_share"], kpis["sales_after_acceptance"]) == (None, None, None)
    assert (kpis["avg_balance"], kpis["sd_balance"], kpis["n_balance"]) == (None, None, 0)

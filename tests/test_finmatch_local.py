"""Figures answered locally from FinMatch's own tables equal those of the statements Snowflake runs.

Locally the cards, the charts' counts, Who to act on and Match's customer products are answered from
tables FinMatch keeps per warehouse version (sums per day, the most urgent open recommendations, the
per-customer profiles; see app/finmatch/data/local.py); in Snowflake each is one statement over FPR_RECORDS. Here
both run on the same warehouse, the Snowflake side through the stand-in session (each statement parsed as
Snowflake SQL and run as its DuckDB translation), for many choices of filters, and must agree.
"""

import shutil
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from test_finmatch_app import LIVE, sql
from test_finmatch_campaign import campaign_tools
from test_finmatch_in_snowflake import StandInSession

import finmatch.data.local
from finmatch.analysis.campaign import campaigns_for
from finmatch.analysis.match import Matcher, rank_products
from finmatch.data.backends import DuckDBBackend, SnowparkBackend, forget_derived_data
from finmatch.data.cells import cells_from
from finmatch.data.filters import Filters
from finmatch.data.fpr_data import FprData

TODAY = date(2025, 7, 1)
KEYS = ("status", "stage", "product_type", "segment")


@pytest.fixture(autouse=True)
def no_kept_tables():
    forget_derived_data()
    yield
    forget_derived_data()


def both(warehouse):
    """(local, Snowflake) FprData on one warehouse."""
    local = FprData(DuckDBBackend(warehouse))
    assert local.backend.materialises
    return local, FprData(SnowparkBackend(StandInSession(warehouse)))


def filter_choices(warehouse):
    """Filters a viewer could choose: none, one or several values of each column, dates, narrow and empty ones."""
    values = {key: tuple(found) for key, found in FprData(DuckDBBackend(warehouse)).vocabulary().items()}
    first, last = values["dates"]
    middle = first + (last - first) / 2
    return [
        Filters(),
        Filters(segments=values["segments"][:1]),
        Filters(segments=values["segments"][:1], date_from=first, date_to=middle),
        Filters(date_from=middle, date_to=last),
        Filters(date_from=middle),
        Filters(date_from=first + timedelta(days=10)),  # most records: counted as all but those outside
        Filters(segments=values["segments"][1:3], date_to=last - timedelta(days=10)),
        Filters(product_types=tuple(values["product_types"][:2]), stages=values["stages"][1:2]),
        Filters(statuses=("Pending",)),
        Filters(statuses=("Accepted", "Declined"), date_to=middle),
        Filters(
            segments=values["segments"][-1:],
            stages=values["stages"][:1],
            statuses=("In Progress",),
            date_from=middle - timedelta(days=60),
            date_to=middle,
        ),
        Filters(date_from=first - timedelta(days=30), date_to=first - timedelta(days=1)),  # no record
    ]


def same_frames(left, right):
    pd.testing.assert_frame_equal(
        left.reset_index(drop=True), right.reset_index(drop=True), check_dtype=False, check_exact=False, rtol=1e-12
    )


def assert_same_breakdowns(local, snowflake):
    assert (local.records, local.first_date, local.last_date) == (
        snowflake.records,
        snowflake.first_date,
        snowflake.last_date,
    )
    for key in KEYS:
        same_frames(local.counts(key), snowflake.counts(key))
    for question in ("affinity_bands", "acceptance_by_score", "monthly", "open_ages"):
        same_frames(getattr(local, question)(), getattr(snowflake, question)())


def assert_same_kpis(local, snowflake):
    assert local.keys() == snowflake.keys()
    for name, value in snowflake.items():
        assert local[name] == (value if value is None else pytest.approx(value, rel=1e-12)), name


def test_the_charts_counts_equal_the_snowflake_statements_for_every_choice_of_filters(finmatch_warehouse):
    local, snowflake = both(finmatch_warehouse)
    for filters in filter_choices(finmatch_warehouse):
        assert_same_breakdowns(local.breakdowns(filters, TODAY), snowflake.breakdowns(filters, TODAY))


def test_the_cards_and_both_compared_periods_equal_the_snowflake_statements(finmatch_warehouse):
    local, snowflake = both(finmatch_warehouse)
    for filters in filter_choices(finmatch_warehouse):
        (first, last) = local.vocabulary()["dates"]
        for recent, before in (
            (None, None),
            ((last - timedelta(days=90), last), (last - timedelta(days=180), last - timedelta(days=90))),
            ((first, first + timedelta(days=30)), (first - timedelta(days=30), first)),
        ):
            for mine, theirs in zip(
                local.kpis_with_periods(filters, recent, before),
                snowflake.kpis_with_periods(filters, recent, before),
                strict=True,
            ):
                assert (mine is None) == (theirs is None)
                if theirs is not None:
                    assert_same_kpis(mine, theirs)
        assert_same_kpis(local.kpis(filters), snowflake.kpis(filters))


@pytest.mark.parametrize("kept", [finmatch.data.local.ACTION_TOP_ROWS, 40])
def test_who_to_act_on_equals_the_snowflake_statement_whether_or_not_the_kept_rows_suffice(
    finmatch_warehouse, monkeypatch, kept
):
    """With 40 kept the broad selections are answered from them and the narrow ones read the table."""
    monkeypatch.setattr(finmatch.data.local, "ACTION_TOP_ROWS", kept)
    answered = []
    original = finmatch.data.local.open_recommendations

    def recording(*args):
        answer = original(*args)
        answered.append(answer is not None)
        return answer

    monkeypatch.setattr(finmatch.data.local, "open_recommendations", recording)
    local, snowflake = both(finmatch_warehouse)
    for filters in filter_choices(finmatch_warehouse):
        for limit in (5, 50):
            same_frames(local.action_list(filters, TODAY, limit), snowflake.action_list(filters, TODAY, limit))
    if kept == 40:
        assert any(answered) and not all(answered)
    else:
        assert all(answered)  # 750 records: every open recommendation is kept


def snowflake_matcher(warehouse):
    data = FprData(SnowparkBackend(StandInSession(warehouse)))
    options = data.vocabulary()
    lists = campaigns_for(data, options, options["products"])
    return Matcher(data, lists.codes, lists.bits)


def test_match_reads_a_customers_products_from_the_profiles_and_ranks_them_as_in_snowflake(finmatch_warehouse):
    matcher, in_snowflake = campaign_tools(finmatch_warehouse)[1], snowflake_matcher(finmatch_warehouse)
    order = ["product", "profile_code", "band", "held_out", "accepted"]
    same_frames(matcher.outcome_cells().sort_values(order), in_snowflake.outcome_cells().sort_values(order))
    cells = cells_from(matcher.outcome_cells())
    customers = [row[0] for row in sql(finmatch_warehouse, f"SELECT DISTINCT customer_id {LIVE} ORDER BY 1 LIMIT 60")]
    for customer in [*customers, "CUST_999999"]:
        profile = matcher.profile(customer)
        assert profile == in_snowflake.profile(customer)
        if profile is None:
            continue
        mine = rank_products(cells, profile, matcher.customer_products(customer))
        theirs = rank_products(cells, profile, in_snowflake.customer_products(customer))
        same_frames(mine[0], theirs[0])
        assert mine[1] == theirs[1]


def test_a_new_sync_is_answered_from_tables_of_its_own(finmatch_warehouse, tmp_path):
    """The kept tables belong to a version of the warehouse: rewritten by a sync, it is read again."""
    path = tmp_path / "warehouse.db"
    shutil.copy(finmatch_warehouse, path)
    local = FprData(DuckDBBackend(path))
    before = local.kpis_with_periods(Filters())[0]
    statuses_before = local.breakdowns(Filters(), TODAY).counts("status")
    urgent_before = local.action_list(Filters(), TODAY, 10)
    with duckdb.connect(str(path)) as db:
        db.execute(
            "UPDATE tester.fpr_records SET product_recommendation_status = 'Accepted' "
            "WHERE product_recommendation_status = 'Declined'"
        )
        db.execute(
            "UPDATE tester.fpr_records SET customer_churn_probability = 1.0, customer_product_affinity = 1.0, "
            "recommendation_score = 1.0 WHERE product_recommendation_status = 'Pending' AND record_id IN "
            "(SELECT max(record_id) FROM tester.fpr_records GROUP BY customer_segment)"
        )
    snowflake = FprData(SnowparkBackend(StandInSession(path)))
    after = local.kpis_with_periods(Filters())[0]
    (accepted,) = sql(path, f"SELECT count(*) {LIVE} AND product_recommendation_status = 'Accepted'")[0]
    assert after["accepted"] == accepted > before["accepted"]
    statuses = local.breakdowns(Filters(), TODAY).counts("status")
    same_frames(statuses, snowflake.breakdowns(Filters(), TODAY).counts("status"))
    assert not statuses.equals(statuses_before)
    urgent = local.action_list(Filters(), TODAY, 10)
    same_frames(urgent, snowflake.action_list(Filters(), TODAY, 10))
    assert list(urgent["record_id"]) != list(urgent_before["record_id"])

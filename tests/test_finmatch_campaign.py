"""Campaign lists: the customers most worth offering a product, who was left out and why, and the model behind them.

Every figure is checked against SQL written here: each customer's features (averages over their records, the
latest record's segment and stage by a window function), the suppression rules spelled out (held names listed
literally, the cool-off by date, the churn threshold), the empirical-Bayes base rate from the products' counts,
and, when the model ranks, its scores from its published coefficients over those features.
"""

import math
import shutil
from datetime import date, timedelta

import duckdb
import pytest
from scipy import stats
from test_finmatch_app import LIVE, sql

from finmatch.analysis.campaign import Target, campaigns_for
from finmatch.analysis.match import Matcher
from finmatch.data.backends import DuckDBBackend, SnowparkBackend
from finmatch.data.fpr_data import FprData

TODAY = date(2026, 12, 4)
HELD_AS = {
    "Credit Card": ("Credit Card",),
    "Insurance": ("Insurance",),
    "Investment": ("Investment Account",),
    "Loan": ("Loan",),
    "Mortgage": ("Mortgage",),
    "Savings Account": ("Savings Account",),
}
ACCEPTED = "CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END"
DECIDED = "CASE WHEN product_recommendation_status IN ('Accepted', 'Declined') THEN 1 ELSE 0 END"
FEATURES = f"""
    WITH live AS (SELECT * {LIVE}),
    latest AS (
      SELECT customer_id, customer_segment AS segment, customer_lifecycle_stage AS stage,
             row_number() OVER (PARTITION BY customer_id ORDER BY coalesce(last_updated_epoch, -1) DESC,
                                customer_segment DESC NULLS LAST, customer_lifecycle_stage DESC NULLS LAST) AS nth
      FROM live
    ),
    features AS (
      SELECT customer_id, avg(account_balance) AS balance, avg(customer_transaction_value) AS transaction_value,
             avg(customer_transaction_count) AS transaction_count, count(DISTINCT product_type) AS products_held,
             date_diff('day', max(customer_lifecycle_stage_transition_date), max(product_recommendation_date))
               AS stage_age_days,
             avg(customer_product_affinity) AS affinity, avg(customer_satisfaction_score) AS satisfaction,
             avg(customer_churn_probability) AS churn
      FROM live GROUP BY customer_id
    ),
    customers AS (SELECT f.*, l.segment, l.stage FROM features f JOIN latest l USING (customer_id) WHERE l.nth = 1)
"""


def literal_list(values):
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def classified(product, cool_off_days=180, churn=0.7):
    """SQL of every customer with the class the documented rules give them, first that applies."""
    held, since = literal_list(HELD_AS[product]), TODAY - timedelta(days=cool_off_days)
    churn_rule = "FALSE" if churn is None else f"c.churn >= {churn}"
    return f"""{FEATURES},
    furthest AS (
      SELECT customer_id, max(CASE product_recommendation_status WHEN 'Accepted' THEN 3 WHEN 'Pending' THEN 2
                                   WHEN 'In Progress' THEN 2 WHEN 'Declined' THEN 1 ELSE 0 END) AS status,
             max(CASE WHEN product_recommendation_status = 'Declined' THEN product_recommendation_date END) AS said_no
      FROM live WHERE product_recommendation = '{product}' GROUP BY 1
    ),
    classes AS (
      SELECT c.*, f.status,
             CASE WHEN c.customer_id IN (SELECT customer_id FROM live WHERE product_type IN ({held})) THEN 'hold'
                  WHEN f.status = 3 THEN 'accepted' WHEN f.status = 2 THEN 'open'
                  WHEN f.status = 1 AND (f.said_no IS NULL OR f.said_no >= DATE '{since}') THEN 'cool_off'
                  WHEN f.status = 0 THEN 'other'
                  WHEN {churn_rule} THEN 'high_churn' ELSE 'eligible' END AS class
      FROM customers c LEFT JOIN furthest f USING (customer_id)
    )"""


def expected_counts(warehouse, product, **rules):
    rows = sql(warehouse, classified(product, **rules) + " SELECT class, count(*) FROM classes GROUP BY 1")
    return dict(rows)


def expected_by_balance(warehouse, product, size, **rules):
    """(customer_id, balance) of the eligible customers, largest balance first."""
    return sql(
        warehouse,
        classified(product, **rules) + f" SELECT customer_id, balance FROM classes WHERE class = 'eligible' "
        f"ORDER BY balance DESC, customer_id LIMIT {size}",
    )


def expected_base_rate(warehouse, product):
    """(estimate, low, high, answered share, average sale): the empirical-Bayes rate of the product written out."""
    rows = sql(
        warehouse,
        f"SELECT product_recommendation, sum({ACCEPTED}), sum({DECIDED}), "
        "sum(CASE WHEN product_recommendation_status IN ('Pending', 'In Progress') "
        f"AND product_recommendation_date < DATE '{TODAY - timedelta(days=90)}' THEN 1 ELSE 0 END), "
        "avg(CASE WHEN product_recommendation_status = 'Accepted' "
        "AND product_sales_date >= product_recommendation_date THEN product_sales_amount END) "
        f"{LIVE} AND product_recommendation IS NOT NULL GROUP BY 1",
    )
    rates = [accepted / decided for _, accepted, decided, _, _ in rows]
    mean = sum(rates) / len(rates)
    variance = sum((rate - mean) ** 2 for rate in rates) / (len(rates) - 1)
    strength = min(max(mean * (1 - mean) / variance - 1, 1.0), sum(decided for _, _, decided, _, _ in rows))
    (_, accepted, decided, stale, sale) = next(row for row in rows if row[0] == product)
    a, b = mean * strength + accepted, (1 - mean) * strength + decided - accepted
    return a / (a + b), stats.beta.ppf(0.05, a, b), stats.beta.ppf(0.95, a, b), decided / (decided + stale), sale


def campaign_tools(warehouse, snowflake_session=None):
    """The app's Campaigns and Matcher on a warehouse, set up as the page sets them up."""
    backend = SnowparkBackend(snowflake_session) if snowflake_session else DuckDBBackend(warehouse)
    data = FprData(backend)
    options = data.vocabulary()
    lists = campaigns_for(data, options, options["products"])
    return lists, Matcher(data, lists.codes, lists.bits)


@pytest.fixture(scope="module")
def insurance(finmatch_warehouse):
    return campaign_tools(finmatch_warehouse)[0].build(Target("Insurance", size=200), TODAY)


def test_on_random_data_the_model_does_not_rank_and_the_list_goes_to_the_largest_balances(
    finmatch_warehouse, insurance
):
    assert not insurance.model_ranks
    expected = expected_by_balance(finmatch_warehouse, "Insurance", 200)
    assert list(insurance.ranked["customer_id"]) == [customer for customer, _ in expected]
    assert list(insurance.ranked["balance"]) == pytest.approx([balance for _, balance in expected], rel=1e-12)
    estimate, low, high, answered, sale = expected_base_rate(finmatch_warehouse, "Insurance")
    assert list(insurance.ranked["score"]) == pytest.approx([estimate] * 200, rel=1e-12)
    assert insurance.ranked["low"].iloc[0] == pytest.approx(low, rel=1e-9)
    assert insurance.ranked["high"].iloc[0] == pytest.approx(high, rel=1e-9)
    assert insurance.ranked["expected_value"].iloc[0] == pytest.approx(estimate * answered * sale, rel=1e-9)


@pytest.mark.parametrize("product", ["Investment", "Credit Card", "Insurance"])
def test_suppression_counts_add_up_and_equal_sql(finmatch_warehouse, product):
    counts = campaign_tools(finmatch_warehouse)[0].build(Target(product, size=10), TODAY).counts

    expected = expected_counts(finmatch_warehouse, product)
    for name in ("hold", "accepted", "open", "cool_off", "other", "high_churn", "eligible"):
        assert counts[name] == expected.get(name, 0), name
    assert counts["customers"] == sum(expected.values()) == 750 - 3
    assert counts["customers"] == counts["hold"] + counts["recommended"] + counts["high_churn"] + counts["eligible"]
    assert counts["hold"] > 0 and counts["high_churn"] > 0


def test_no_listed_customer_holds_the_product_or_was_offered_it_in_the_cool_off(finmatch_warehouse):
    listed = campaign_tools(finmatch_warehouse)[0].build(Target("Investment", size=5000), TODAY).ranked

    touched = {
        customer
        for (customer,) in sql(
            finmatch_warehouse,
            f"SELECT customer_id {LIVE} AND (product_type = 'Investment Account' OR (product_recommendation = "
            "'Investment' AND product_recommendation_status <> 'Declined'))",
        )
    }
    assert len(listed) and not set(listed["customer_id"]) & touched
    assert (listed["churn"] < 0.7).all()


@pytest.fixture(scope="module")
def recent_declines(finmatch_warehouse, tmp_path_factory):
    """A copy where the Loan declines of the first twenty customers who declined it are 30 days old."""
    path = tmp_path_factory.mktemp("declines") / "warehouse.db"
    shutil.copy(finmatch_warehouse, path)
    with duckdb.connect(str(path)) as db:
        db.execute(
            f"UPDATE tester.fpr_records SET product_recommendation_date = DATE '{TODAY - timedelta(days=30)}' "
            "WHERE product_recommendation = 'Loan' AND product_recommendation_status = 'Declined' AND customer_id IN "
            f"(SELECT customer_id {LIVE} AND product_recommendation = 'Loan' "
            "AND product_recommendation_status = 'Declined' ORDER BY customer_id LIMIT 20)"
        )
    return path


def test_a_decline_keeps_the_customer_out_only_for_the_cool_off(recent_declines):
    tools = campaign_tools(recent_declines)[0]

    within = tools.build(Target("Loan", size=5000), TODAY)
    assert within.counts["cool_off"] == expected_counts(recent_declines, "Loan").get("cool_off", 0) > 0
    assert within.counts["declined_again"] > 0  # older declines are offered again

    none = tools.build(Target("Loan", size=5000, cool_off_days=0), TODAY)
    assert none.counts["cool_off"] == 0
    assert none.counts["eligible"] > within.counts["eligible"]
    assert list(none.ranked["customer_id"]) == [
        customer for customer, _ in expected_by_balance(recent_declines, "Loan", 5000, cool_off_days=0)
    ]


def test_customers_likely_to_leave_are_left_out_of_cross_sell_unless_the_rule_is_off(finmatch_warehouse):
    tools = campaign_tools(finmatch_warehouse)[0]

    off = tools.build(Target("Mortgage", size=5000, exclude_high_churn=False), TODAY)

    assert off.counts["high_churn"] == 0 and (off.ranked["churn"] >= 0.7).any()
    assert list(off.ranked["customer_id"]) == [
        customer for customer, _ in expected_by_balance(finmatch_warehouse, "Mortgage", 5000, churn=None)
    ]


def test_targeting_keeps_only_the_chosen_profiles(finmatch_warehouse):
    listed = campaign_tools(finmatch_warehouse)[0].build(Target("Loan", ("Retail",), ("Lead",), size=500), TODAY)

    assert set(listed.ranked["segment"]) == {"Retail"} and set(listed.ranked["stage"]) == {"Lead"}
    expected = sql(
        finmatch_warehouse,
        classified("Loan") + " SELECT count(*) FROM classes WHERE class = 'eligible' AND segment = 'Retail' "
        "AND stage = 'Lead'",
    )[0][0]
    assert len(listed.ranked) == expected


# ---------- a planted pattern: the model must find it, and rank by it ----------


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """6,000 generated records (about 1,200 customers) where Insurance is accepted by Retail and Corporate customers
    and declined by the others, one answer in ten the other way."""
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "tools"))
    from benchmark_app import GENERATOR_SQL

    path = tmp_path_factory.mktemp("planted") / "warehouse.db"
    with duckdb.connect(str(path)) as db:
        db.execute(GENERATOR_SQL.format(rows=6000, customers=1200, version=0))
        db.execute(
            "UPDATE tester.fpr_records SET product_recommendation_status = CASE WHEN "
            "(customer_segment IN ('Retail', 'Corporate')) <> (hash(record_id) % 10 = 0) THEN 'Accepted' "
            "ELSE 'Declined' END "
            "WHERE product_recommendation = 'Insurance' AND product_recommendation_status IN ('Accepted', 'Declined')"
        )
    return path


@pytest.fixture(scope="module")
def planted_list(planted):
    return campaign_tools(planted)[0].build(Target("Insurance", size=300, exclude_high_churn=False), TODAY)


def test_a_planted_pattern_turns_the_verdict_and_the_model_ranks(planted_list):
    check = planted_list.model.check

    assert planted_list.model_ranks
    assert check.held_out >= 30 and check.lift_low > 1 and check.auc_low > 0.5
    assert check.lift > 1.5 and check.auc > 0.8


def test_the_ranked_list_follows_the_models_coefficients_over_features_written_here(planted, planted_list):
    model = planted_list.model
    segments = sorted(row[0] for row in sql(planted, f"SELECT DISTINCT customer_segment {LIVE}"))
    stages = sorted(row[0] for row in sql(planted, f"SELECT DISTINCT customer_lifecycle_stage {LIVE}"))
    names = ("balance", "transaction_value", "transaction_count", "products_held", "stage_age_days", "affinity")
    rows = sql(
        planted,
        classified("Insurance", churn=None)
        + f" SELECT customer_id, segment, stage, {', '.join(names)}, satisfaction, churn FROM classes "
        "WHERE class = 'eligible'",
    )

    def score(row):
        customer, segment, stage, *values = row
        code = (segments.index(segment) + 1) * (len(stages) + 1) + stages.index(stage) + 1
        weights = [model.weights[name] for name in (*names, "satisfaction", "churn")]
        linear = model.intercept + sum(w * v for w, v in zip(weights, values, strict=True)) + model.code_weights[code]
        return customer, 1 / (1 + math.exp(-linear)), values[0]

    scored = sorted((score(row) for row in rows), key=lambda item: (-item[1], -item[2], item[0]))[:300]
    assert list(planted_list.ranked["customer_id"]) == [customer for customer, _, _ in scored]
    assert list(planted_list.ranked["score"]) == pytest.approx([value for _, value, _ in scored], rel=1e-9)
    assert (planted_list.ranked["low"] <= planted_list.ranked["score"]).all()
    assert (planted_list.ranked["score"] <= planted_list.ranked["high"]).all()
    assert planted_list.ranked["reason"].str.startswith("model: ").all()


def test_the_model_and_its_version_are_the_same_on_both_engines(planted, planted_list):
    from test_finmatch_in_snowflake import StandInSession

    in_snowflake = campaign_tools(planted, StandInSession(planted))[0].build(
        Target("Insurance", size=300, exclude_high_churn=False), TODAY
    )

    assert in_snowflake.model.version == planted_list.model.version
    assert list(in_snowflake.ranked["customer_id"]) == list(planted_list.ranked["customer_id"])
    assert list(in_snowflake.ranked["score"]) == pytest.approx(list(planted_list.ranked["score"]), rel=1e-9)
    assert in_snowflake.counts == planted_list.counts


def test_the_campaigns_tab_says_the_model_beats_the_base_rate_and_follows_it(app_on, planted):
    at = app_on(planted).run()
    next(box for box in at.selectbox if box.label == "Product to offer").set_value("Insurance").run()

    [verdict] = [message.value for message in at.success]
    assert verdict.startswith("The model beats Insurance's base rate on ")
    assert "times as often as average (90% likely range " in verdict and "(AUC 0." in verdict
    assert verdict.endswith("The list follows the model: highest chance of yes first.")
    assert any(caption.value.startswith("How it was checked: a logistic regression") for caption in at.caption)


# ---------- when the model may rank ----------


def check(**changes):
    from finmatch.analysis.propensity import Check

    figures = {"held_out": 100, "accepted": 40, "auc": 0.7, "auc_low": 0.6, "auc_high": 0.8}
    figures.update({"lift": 1.6, "lift_low": 1.2, "lift_high": 2.0}, **changes)
    return Check(**figures)


def test_the_model_ranks_only_when_both_intervals_clear_chance_on_enough_answers():
    assert check().beats_base_rate
    assert not check(lift_low=1.0).beats_base_rate and check(lift_low=1.0001).beats_base_rate
    assert not check(auc_low=0.5).beats_base_rate and check(auc_low=0.5001).beats_base_rate
    assert check(held_out=30, accepted=10).enough and not check(held_out=29, accepted=10).enough
    assert not check(held_out=29, accepted=10).beats_base_rate
    assert not check(accepted=0).enough and not check(accepted=100).enough and check(accepted=99).enough


def test_the_products_rates_are_the_same_on_both_engines(finmatch_warehouse):
    from test_finmatch_in_snowflake import StandInSession

    locally = campaign_tools(finmatch_warehouse)[0].rates(TODAY)
    in_snowflake = campaign_tools(finmatch_warehouse, StandInSession(finmatch_warehouse))[0].rates(TODAY)

    assert locally.keys() == in_snowflake.keys() and len(locally) == 6
    for product, rates in locally.items():
        there = in_snowflake[product]
        assert (rates.answered.accepted, rates.answered.out_of, rates.offered.out_of, rates.sales) == (
            there.answered.accepted,
            there.answered.out_of,
            there.offered.out_of,
            there.sales,
        )
        assert (rates.answered.estimate, rates.offered.low, rates.sale_low) == pytest.approx(
            (there.answered.estimate, there.offered.low, there.sale_low), rel=1e-9
        )


def test_each_products_rates_equal_sql_with_the_average_sales_t_interval(finmatch_warehouse):
    rates = campaign_tools(finmatch_warehouse)[0].rates(TODAY)
    sale = (
        "CASE WHEN product_recommendation_status = 'Accepted' AND product_sales_date >= product_recommendation_date "
        "THEN product_sales_amount END"
    )
    rows = sql(
        finmatch_warehouse,
        "SELECT product_recommendation, sum(CASE WHEN product_recommendation_status IN ('Pending', 'In Progress') "
        f"THEN 1 ELSE 0 END), count({sale}), avg({sale}), stddev_samp({sale}), "
        "sum(CASE WHEN product_recommendation_status IN ('Pending', 'In Progress') "
        f"AND product_recommendation_date < DATE '{TODAY.isoformat()}' - INTERVAL 90 DAY THEN 1 ELSE 0 END) {LIVE} "
        "AND product_recommendation IS NOT NULL GROUP BY 1",
    )
    assert len(rows) == 6
    for product, still_open, sales, average, spread, stale in rows:
        found = rates[product]
        half = stats.t.ppf(0.95, sales - 1) * spread / math.sqrt(sales)
        assert (found.product, found.still_open, found.sales) == (product, still_open, sales)
        assert (found.average_sale, found.sale_low, found.sale_high) == pytest.approx(
            (average, average - half, average + half), rel=1e-9
        )
        assert found.stale_open == stale == found.offered.out_of - found.answered.out_of

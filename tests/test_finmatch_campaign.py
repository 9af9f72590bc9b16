"""Campaign lists: the customers most worth offering a product, with what was suppressed and why.

Every figure is checked against SQL written here: the customer's latest profile by a window function,
the held-product names spelled out literally, the shrunk estimate, its Wilson interval and the
expected value; never against the app's own queries or formatters.
"""

import shutil

import duckdb
import pytest
from test_finmatch_app import LIVE, campaign_frame, sql

from finmatch.analysis.campaign import Target, campaigns_for
from finmatch.analysis.match import Matcher, rank_products
from finmatch.data.backends import DuckDBBackend
from finmatch.data.fpr_data import FprData

K = 10  # PRIOR_STRENGTH, as documented
Z = 1.6448536269514722  # 90 % two-sided
BAND = (
    "CASE WHEN {0} IS NULL THEN NULL WHEN {0} < 0.25 THEN 'Low' WHEN {0} < 0.5 THEN 'Medium-Low' "
    "WHEN {0} < 0.75 THEN 'Medium-High' ELSE 'High' END"
)
# Held names that count as holding each recommended product, as a banker would list them.
HELD_AS = {
    "Credit Card": ("Credit Card",),
    "Insurance": ("Insurance",),
    "Investment": ("Investment Account",),
    "Loan": ("Loan",),
    "Mortgage": ("Mortgage",),
    "Savings Account": ("Savings Account",),
}
ACCEPTED = "CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END"


def literal_list(values):
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def expected_campaign(warehouse, product, size=100):
    """(customer_id, estimate, low, high, similar decided, expected value, value low, value high) in list order."""
    held = literal_list(HELD_AS[product])
    wilson = (
        "(({p} + {z2} / (2 * {n})) {sign} {z} * sqrt({p} * (1 - {p}) / {n} + {z2} / (4 * {n} * {n})))"
        " / (1 + {z2} / {n})"
    )
    p, n = "(s / n)", "n"
    low = wilson.format(p=p, n=n, z=Z, z2=Z * Z, sign="-")
    high = wilson.format(p=p, n=n, z=Z, z2=Z * Z, sign="+")
    return sql(
        warehouse,
        f"""
        WITH live AS (SELECT * {LIVE}),
        latest AS (
          SELECT customer_id, customer_segment AS segment, customer_lifecycle_stage AS stage,
                 row_number() OVER (PARTITION BY customer_id ORDER BY coalesce(last_updated_epoch, -1) DESC,
                                    customer_segment DESC NULLS LAST, customer_lifecycle_stage DESC NULLS LAST) AS nth
          FROM live
        ),
        affinity AS (SELECT customer_id, avg(customer_product_affinity) AS affinity FROM live GROUP BY 1),
        profile AS (
          SELECT l.customer_id, l.segment, l.stage, a.affinity, {BAND.format("a.affinity")} AS band
          FROM latest l JOIN affinity a USING (customer_id) WHERE nth = 1
        ),
        decided AS (
          SELECT *, {ACCEPTED} AS took FROM live
          WHERE product_recommendation = '{product}' AND product_recommendation_status IN ('Accepted', 'Declined')
        ),
        base AS (SELECT sum(took) * 1.0 / count(*) AS rate FROM decided),
        sale AS (
          SELECT avg(product_sales_amount) AS amount FROM live WHERE product_recommendation = '{product}'
          AND product_recommendation_status = 'Accepted' AND product_sales_date >= product_recommendation_date
          AND product_sales_amount IS NOT NULL
        ),
        cells AS (
          SELECT customer_segment AS segment, customer_lifecycle_stage AS stage,
                 {BAND.format("customer_product_affinity")} AS band, count(*) AS decided, sum(took) AS took
          FROM decided GROUP BY 1, 2, 3
        ),
        scored AS (
          SELECT pr.customer_id, pr.affinity, coalesce(c.decided, 0) AS similar_decided,
                 coalesce(c.took, 0) + {K} * base.rate AS s, coalesce(c.decided, 0) + {K} AS n, sale.amount
          FROM profile pr CROSS JOIN base CROSS JOIN sale
          LEFT JOIN cells c ON c.segment = pr.segment AND c.stage = pr.stage AND c.band = pr.band
          WHERE pr.customer_id NOT IN (SELECT customer_id FROM live WHERE product_type IN ({held}))
            AND pr.customer_id NOT IN (SELECT customer_id FROM live WHERE product_recommendation = '{product}')
        )
        SELECT customer_id, s / n, {low}, {high}, similar_decided, s / n * amount, ({low}) * amount, ({high}) * amount
        FROM scored
        ORDER BY s / n * amount DESC, s / n DESC, affinity DESC, customer_id
        LIMIT {size}
        """,
    )


def expected_counts(warehouse, product):
    held = literal_list(HELD_AS[product])
    return sql(
        warehouse,
        f"""
        WITH live AS (SELECT * {LIVE}),
        customers AS (SELECT DISTINCT customer_id FROM live),
        holders AS (SELECT DISTINCT customer_id FROM live WHERE product_type IN ({held})),
        furthest AS (
          SELECT customer_id, max(CASE product_recommendation_status WHEN 'Accepted' THEN 3 WHEN 'Pending' THEN 2
                                  WHEN 'In Progress' THEN 2 WHEN 'Declined' THEN 1 ELSE 0 END) AS status
          FROM live WHERE product_recommendation = '{product}' GROUP BY 1
        )
        SELECT count(*),
               count(h.customer_id),
               count(CASE WHEN h.customer_id IS NULL THEN f.customer_id END),
               count(CASE WHEN h.customer_id IS NULL AND f.status = 2 THEN 1 END),
               count(CASE WHEN h.customer_id IS NULL AND f.status = 3 THEN 1 END),
               count(CASE WHEN h.customer_id IS NULL AND f.status = 1 THEN 1 END),
               count(CASE WHEN h.customer_id IS NULL AND f.customer_id IS NULL THEN 1 END)
        FROM customers c LEFT JOIN holders h USING (customer_id) LEFT JOIN furthest f USING (customer_id)
        """,
    )[0]


def campaign_tools(warehouse):
    """The app's Campaigns and Matcher on a warehouse, set up as the page sets them up."""
    data = FprData(DuckDBBackend(warehouse))
    options = data.vocabulary()
    lists = campaigns_for(data, options, options["products"])
    return lists, Matcher(data, lists.codes, lists.bits)


def campaigns(warehouse):
    return campaign_tools(warehouse)[0]


@pytest.mark.parametrize("product", ["Investment", "Insurance", "Savings Account"])
def test_the_list_is_ranked_by_expected_value_with_intervals_as_the_sql_says(finmatch_warehouse, product):
    ranked = campaigns(finmatch_warehouse).ranked(Target(product, size=100))

    expected = expected_campaign(finmatch_warehouse, product)
    assert list(ranked["customer_id"]) == [row[0] for row in expected]
    actual = ranked[["estimate", "low", "high", "similar_decided", "expected_value", "value_low", "value_high"]]
    for got, want in zip(actual.itertuples(index=False), expected, strict=True):
        assert list(got) == pytest.approx(list(want[1:]), rel=1e-9)


@pytest.mark.parametrize("product", ["Investment", "Credit Card"])
def test_suppression_counts_add_up_and_equal_sql(finmatch_warehouse, product):
    counts = campaigns(finmatch_warehouse).counts(Target(product))

    customers, hold, recommended, still_open, accepted, declined, eligible = expected_counts(
        finmatch_warehouse, product
    )
    assert (counts["customers"], counts["already_hold"], counts["already_recommended"]) == (
        customers,
        hold,
        recommended,
    )
    assert (counts["already_open"], counts["already_accepted"], counts["already_declined"]) == (
        still_open,
        accepted,
        declined,
    )
    assert counts["eligible"] == eligible == customers - hold - recommended
    assert hold > 0 and recommended > 0


def test_no_listed_customer_holds_the_product_or_was_recommended_it(finmatch_warehouse):
    ranked = campaigns(finmatch_warehouse).ranked(Target("Investment", size=5000))

    listed = set(ranked["customer_id"])
    touched = {
        customer
        for (customer,) in sql(
            finmatch_warehouse,
            f"SELECT customer_id {LIVE} AND (product_type = 'Investment Account' "
            "OR product_recommendation = 'Investment')",
        )
    }
    assert listed and not listed & touched
    (eligible,) = expected_counts(finmatch_warehouse, "Investment")[-1:]
    assert len(listed) == eligible


def test_targeting_keeps_only_the_chosen_profiles(finmatch_warehouse):
    ranked = campaigns(finmatch_warehouse).ranked(Target("Loan", segments=("Retail",), stages=("Lead",), size=500))

    assert set(ranked["segment"]) == {"Retail"} and set(ranked["stage"]) == {"Lead"}
    (retail_leads,) = sql(
        finmatch_warehouse,
        f"SELECT count(DISTINCT customer_id) {LIVE} AND customer_segment = 'Retail' "
        "AND customer_lifecycle_stage = 'Lead' AND customer_id NOT IN "
        f"(SELECT customer_id {LIVE} AND (product_type = 'Loan' OR product_recommendation = 'Loan'))",
    )[0]
    assert len(ranked) == retail_leads  # one record per customer here, so record and profile agree


def test_a_customers_estimate_is_the_same_in_the_campaign_list_and_in_match(finmatch_warehouse):
    lists, matcher = campaign_tools(finmatch_warehouse)
    ranked = lists.ranked(Target("Mortgage", size=20))

    for row in ranked.head(5).itertuples():
        profile = matcher.profile(row.customer_id)
        ranking, _ = rank_products(matcher.cells(), profile, matcher.customer_products(row.customer_id))
        in_match = ranking.set_index("product").loc["Mortgage"]
        assert (in_match["estimate"], in_match["low"], in_match["high"]) == pytest.approx(
            (row.estimate, row.low, row.high), rel=1e-12
        )


@pytest.fixture(scope="module")
def several_records_per_customer(finmatch_warehouse, tmp_path_factory):
    """A copy where customers hold several records: ties in change time, records without one, new segments."""
    path = tmp_path_factory.mktemp("customers") / "warehouse.db"
    shutil.copy(finmatch_warehouse, path)
    with duckdb.connect(str(path)) as db:
        # Every customer number n >= 400 becomes customer n - 300: 350 customers with two records each.
        db.execute(
            "UPDATE tester.fpr_records SET customer_id = 'CUST_' || lpad(CAST(CAST(substr(customer_id, 6) AS INTEGER) "
            "- 300 AS VARCHAR), 6, '0') WHERE CAST(substr(customer_id, 6) AS INTEGER) >= 400"
        )
        # Ties: both records of CUST_000100 and of CUST_000101 at one time; CUST_000102's newer one has no time.
        db.execute(
            "UPDATE tester.fpr_records SET last_updated_epoch = 1748800000 "
            "WHERE customer_id IN ('CUST_000100', 'CUST_000101')"
        )
        db.execute(
            "UPDATE tester.fpr_records SET last_updated_epoch = NULL WHERE record_id = "
            "(SELECT max(record_id) FROM tester.fpr_records WHERE customer_id = 'CUST_000102')"
        )
        # No change time on any record of CUST_000103: its profile still comes from one of them.
        db.execute("UPDATE tester.fpr_records SET last_updated_epoch = NULL WHERE customer_id = 'CUST_000103'")
    return path


def test_profiles_follow_the_latest_record_with_the_documented_tie_rule(several_records_per_customer):
    _, matcher = campaign_tools(several_records_per_customer)

    expected = sql(
        several_records_per_customer,
        f"""
        SELECT customer_id, customer_segment, customer_lifecycle_stage FROM (
          SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY coalesce(last_updated_epoch, -1) DESC,
                 customer_segment DESC NULLS LAST, customer_lifecycle_stage DESC NULLS LAST) AS nth
          FROM (SELECT * {LIVE})
        ) WHERE nth = 1 AND customer_id IN ('CUST_000100', 'CUST_000101', 'CUST_000102', 'CUST_000103', 'CUST_000120')
        ORDER BY 1
        """,
    )
    for customer, segment, stage in expected:
        profile = matcher.profile(customer)
        assert (profile["segment"], profile["stage"]) == (segment, stage), customer


def test_with_several_records_per_customer_the_list_still_equals_the_sql(several_records_per_customer):
    ranked = campaigns(several_records_per_customer).ranked(Target("Investment", size=200))

    expected = expected_campaign(several_records_per_customer, "Investment", size=200)
    assert list(ranked["customer_id"]) == [row[0] for row in expected]
    assert list(ranked["expected_value"]) == pytest.approx([row[5] for row in expected], rel=1e-9)


def test_the_campaigns_tab_shows_the_counts_the_list_and_how_held_names_are_matched(
    app_on, finmatch_warehouse, monkeypatch, downloads
):
    at = app_on(finmatch_warehouse)
    monkeypatch.setenv("FINMATCH_SHOW_CUSTOMER_DATA", "1")
    at.run()
    next(box for box in at.selectbox if box.label == "Product to offer").set_value("Investment").run()

    customers, hold, recommended, still_open, accepted, declined, eligible = expected_counts(
        finmatch_warehouse, "Investment"
    )
    text = "\n".join(block.value for block in at.markdown)
    assert (
        f"**{customers:,}** customers considered (every customer) · **{hold:,}** already hold Investment · "
        f"**{recommended:,}** already recommended it ({still_open:,} still open, {accepted:,} accepted, "
        f"{declined:,} declined) · **{eligible:,}** eligible"
    ) in text
    captions = "\n".join(caption.value for caption in at.caption)
    assert "Held products counted as Investment: “Investment Account”" in captions
    shown = campaign_frame(at)
    expected = expected_campaign(finmatch_warehouse, "Investment")
    assert list(shown["Customer ID"]) == [row[0] for row in expected]
    assert list(shown["Expected value"]) == [f"${row[5]:,.2f}" for row in expected]
    assert list(shown["Estimated acceptance"]) == [f"{row[1]:.1%}" for row in expected]
    assert list(shown["Estimated acceptance, 90% interval"]) == [f"{row[2]:.1%} – {row[3]:.1%}" for row in expected]
    assert list(shown["Decided recommendations behind it"]) == [row[4] for row in expected]
    csv = downloads["Download the campaign list as CSV"]
    assert csv.splitlines()[0].startswith("Rank,Customer ID,Customer,Expected value,")
    assert all(customer in csv for customer in shown["Customer ID"])

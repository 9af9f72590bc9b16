"""Match: products a customer has neither been offered nor holds, ranked by what similar customers accepted.

Estimates and their intervals are checked against the shrinkage formula and the Wilson interval written
here in SQL; the holdout check is shown to find no significant improvement in the random synthetic data,
to say so in those words, and to find one that is planted.
"""

import shutil

import duckdb
import pytest
from test_finmatch_app import LIVE, choose_customer, dataframe_with, sql
from test_finmatch_campaign import campaign_tools

from finmatch.analysis.holdout import Holdout
from finmatch.analysis.match import rank_products

BAND = (
    "CASE WHEN {0} IS NULL THEN NULL WHEN {0} < 0.25 THEN 'Low' WHEN {0} < 0.5 THEN 'Medium-Low' "
    "WHEN {0} < 0.75 THEN 'Medium-High' ELSE 'High' END"
)
DECIDED_ONLY = "AND product_recommendation_status IN ('Accepted', 'Declined')"
PLANTED_TAKERS = ("Retail", "Small Business")
PLANTED_PRODUCTS = ("Insurance", "Loan", "Mortgage")
K = 10  # PRIOR_STRENGTH, as documented
Z = 1.6448536269514722
# Held products that count as holding a recommended product: the same name, or "Investment Account".
HELD_AS = {"Investment Account": "Investment"}


@pytest.fixture(scope="module")
def planted_warehouse(finmatch_warehouse, tmp_path_factory):
    """A copy where recommendations are decided by segment and product alone (a signal to find); 1 in 16 stay open."""
    path = tmp_path_factory.mktemp("planted") / "warehouse.db"
    shutil.copy(finmatch_warehouse, path)
    takers, products = (", ".join(f"'{value}'" for value in group) for group in (PLANTED_TAKERS, PLANTED_PRODUCTS))
    with duckdb.connect(str(path)) as db:
        db.execute(
            "UPDATE tester.fpr_records SET product_recommendation_status = CASE "
            "WHEN substr(md5(record_id), 1, 1) = 'f' THEN 'Pending' "
            f"WHEN (customer_segment IN ({takers})) = (product_recommendation IN ({products})) THEN 'Accepted' "
            "ELSE 'Declined' END"
        )
    return path


def expected_ranking(warehouse, customer):
    """The ranking as SQL written here computes it: (similar accepted + K × base) / (similar decided + K), with the
    90 % Wilson interval of those counts, over products neither offered to nor held by the customer."""
    segment, stage = sql(
        warehouse,
        f"SELECT customer_segment, customer_lifecycle_stage {LIVE} AND customer_id = '{customer}' "
        "ORDER BY last_updated_epoch DESC NULLS LAST, customer_segment DESC, customer_lifecycle_stage DESC LIMIT 1",
    )[0]
    (band,) = sql(
        warehouse, f"SELECT {BAND.format('avg(customer_product_affinity)')} {LIVE} AND customer_id = '{customer}'"
    )[0]
    offered = {p for (p,) in sql(warehouse, f"SELECT product_recommendation {LIVE} AND customer_id = '{customer}'")}
    held = {HELD_AS.get(p, p) for (p,) in sql(warehouse, f"SELECT product_type {LIVE} AND customer_id = '{customer}'")}
    accepted = "sum(CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END)"
    n, p = "(coalesce(s.decided, 0) + 10)", f"((coalesce(s.took, 0) + {K} * b.rate) / (coalesce(s.decided, 0) + {K}))"
    wilson = (
        f"(({p} + {Z * Z} / (2 * {n})) {{}} {Z} * sqrt({p} * (1 - {p}) / {n} + {Z * Z} / (4 * {n} * {n})))"
        f" / (1 + {Z * Z} / {n})"
    )
    rows = sql(
        warehouse,
        f"""
        WITH b AS (
          SELECT product_recommendation AS product, count(*) AS decided, {accepted} * 1.0 / count(*) AS rate
          {LIVE} {DECIDED_ONLY} GROUP BY 1
        ),
        s AS (
          SELECT product_recommendation AS product, count(*) AS decided, {accepted} AS took {LIVE} {DECIDED_ONLY}
          AND customer_segment = '{segment}' AND customer_lifecycle_stage = '{stage}'
          AND {BAND.format("customer_product_affinity")} = '{band}' GROUP BY 1
        )
        SELECT b.product, coalesce(s.decided, 0), coalesce(s.took, 0), b.decided, {p},
               {wilson.format("-")}, {wilson.format("+")}
        FROM b LEFT JOIN s USING (product)
        ORDER BY 5 DESC, 1
        """,
    )
    kept = [row for row in rows if row[0] not in offered | held]
    return {"segment": segment, "stage": stage, "band": band}, kept, sorted(held & {row[0] for row in rows} - offered)


def matcher_for(warehouse):
    return campaign_tools(warehouse)[1]


@pytest.mark.parametrize("customer", ["CUST_000010", "CUST_000321", "CUST_000428", "CUST_000749"])
def test_the_ranking_is_the_shrunk_estimate_with_its_interval_over_products_neither_offered_nor_held(
    finmatch_warehouse, customer
):
    matcher = matcher_for(finmatch_warehouse)
    profile, expected, held = expected_ranking(finmatch_warehouse, customer)

    found = matcher.profile(customer)
    assert {key: found[key] for key in ("segment", "stage", "band")} == profile
    ranking, left_out = rank_products(matcher.cells(), found, matcher.customer_products(customer))
    actual = list(
        ranking[["product", "similar_decided", "similar_accepted", "product_decided"]].itertuples(
            index=False, name=None
        )
    )
    assert actual == [row[:4] for row in expected]
    assert list(ranking["estimate"]) == pytest.approx([row[4] for row in expected])
    assert list(ranking["low"]) == pytest.approx([row[5] for row in expected])
    assert list(ranking["high"]) == pytest.approx([row[6] for row in expected])
    assert left_out == held


def test_a_product_the_customer_holds_is_never_suggested(finmatch_warehouse):
    """Investment Account holders are not offered Investment, whatever their estimate."""
    matcher = matcher_for(finmatch_warehouse)
    (customer,) = sql(
        finmatch_warehouse,
        f"SELECT min(customer_id) {LIVE} AND product_type = 'Investment Account' "
        "AND product_recommendation <> 'Investment'",
    )[0]

    ranking, left_out = rank_products(matcher.cells(), matcher.profile(customer), matcher.customer_products(customer))
    assert left_out == ["Investment"] and "Investment" not in set(ranking["product"])


def test_the_verdict_names_what_was_tested_not_an_absence_of_difference():
    """Lower error that is within two standard errors is "not significantly better", never "no better"."""
    holdout = Holdout(
        held_out=73, learned_from=287, base_error=0.2553, estimate_error=0.2488, gain=0.0065, gain_sd=0.036
    )

    assert holdout.verdict() == (
        "Not significantly better than base rates: mean squared error 0.2488 against 0.2553 for each product's base "
        "rate alone, on 73 decided recommendations it did not learn from. The estimates' error is lower by 0.0065, "
        "which is within 2 standard errors (0.0084): this test cannot tell them apart from the base rates. Treat the "
        "ranking as the products' overall acceptance, and the intervals as the uncertainty around it."
    )


def test_an_unknown_customer_has_no_profile(finmatch_warehouse):
    assert matcher_for(finmatch_warehouse).profile("CUST_999999") is None


def test_the_holdout_finds_no_significant_improvement_in_random_data_and_says_what_it_tested(finmatch_warehouse):
    holdout = matcher_for(finmatch_warehouse).holdout()

    (held_out,) = sql(
        finmatch_warehouse, f"SELECT count(*) {LIVE} {DECIDED_ONLY} AND substr(md5(record_id), 1, 1) IN ('0', '1', '2')"
    )[0]
    assert holdout.held_out == held_out >= 30
    assert not holdout.has_signal
    verdict = holdout.verdict()
    assert verdict.startswith(
        f"Not significantly better than base rates: mean squared error {holdout.estimate_error:.4f} "
        f"against {holdout.base_error:.4f} for each product's base rate alone, on {held_out:,} decided recommendations"
    )
    assert "no better" not in verdict


def test_the_holdout_finds_a_planted_signal(planted_warehouse):
    holdout = matcher_for(planted_warehouse).holdout()

    assert holdout.has_signal
    assert holdout.estimate_error < holdout.base_error
    assert holdout.verdict().startswith("Significantly better than base rates:")


def test_the_match_tab_shows_the_ranking_its_sample_sizes_and_the_holdout_verdict(app_on, planted_warehouse):
    at = choose_customer(app_on(planted_warehouse).run())

    ranking = dataframe_with(at, "Similar customers: answered")
    assert list(ranking.columns) == [
        "Product",
        "Estimated acceptance",
        "90% likely range",
        "Similar customers: answered",
        "Similar customers: said yes",
        "Product's overall rate",
        "Product: answered offers",
    ]
    assert any(message.value.startswith("Significantly better than base rates") for message in at.success)
    assert not at.exception and not at.error

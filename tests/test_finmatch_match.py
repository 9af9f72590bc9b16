"""Match: products a customer has not been offered, ranked by what similar customers accepted.

Estimates are checked against the shrinkage formula written here in SQL; the holdout check is
shown to find no signal in the random synthetic data and to find one that is planted.
"""

import shutil

import duckdb
import pytest
from finmatch_data import DuckDBBackend
from finmatch_match import Matcher
from finmatch_settings import PRIOR_STRENGTH
from test_finmatch_app import LIVE, dataframe_with, sql

BAND = (
    "CASE WHEN {0} IS NULL THEN NULL WHEN {0} < 0.25 THEN 'Low' WHEN {0} < 0.5 THEN 'Medium-Low' "
    "WHEN {0} < 0.75 THEN 'Medium-High' ELSE 'High' END"
)
DECIDED_ONLY = "AND product_recommendation_status IN ('Accepted', 'Declined')"
PLANTED_TAKERS = ("Retail", "Small Business")
PLANTED_PRODUCTS = ("Insurance", "Loan", "Mortgage")


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
    """The ranking as SQL written here computes it: (similar accepted + K × base) / (similar decided + K)."""
    segment, stage = sql(
        warehouse,
        f"SELECT customer_segment, customer_lifecycle_stage {LIVE} AND customer_id = '{customer}' "
        "ORDER BY last_updated_epoch DESC, record_id LIMIT 1",
    )[0]
    (band,) = sql(
        warehouse, f"SELECT {BAND.format('avg(customer_product_affinity)')} {LIVE} AND customer_id = '{customer}'"
    )[0]
    offered = {p for (p,) in sql(warehouse, f"SELECT product_recommendation {LIVE} AND customer_id = '{customer}'")}
    accepted = "sum(CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END)"
    base = {
        product: (decided, took / decided)
        for product, decided, took in sql(
            warehouse, f"SELECT product_recommendation, count(*), {accepted} {LIVE} {DECIDED_ONLY} GROUP BY 1"
        )
    }
    similar = {
        product: (decided, took)
        for product, decided, took in sql(
            warehouse,
            f"SELECT product_recommendation, count(*), {accepted} {LIVE} {DECIDED_ONLY} "
            f"AND customer_segment = '{segment}' AND customer_lifecycle_stage = '{stage}' "
            f"AND {BAND.format('customer_product_affinity')} = '{band}' GROUP BY 1",
        )
    }
    rows = []
    for product, (decided, rate) in base.items():
        if product in offered:
            continue
        n, took = similar.get(product, (0, 0))
        rows.append((product, n, took, decided, (took + PRIOR_STRENGTH * rate) / (n + PRIOR_STRENGTH)))
    return {"segment": segment, "stage": stage, "band": band}, sorted(rows, key=lambda row: (-row[-1], row[0]))


@pytest.mark.parametrize("customer", ["CUST_000010", "CUST_000321", "CUST_000749"])
def test_the_ranking_is_the_shrunk_estimate_over_products_not_yet_offered(finmatch_warehouse, customer):
    matcher = Matcher(DuckDBBackend(finmatch_warehouse))
    profile, expected = expected_ranking(finmatch_warehouse, customer)

    assert matcher.profile(customer) == profile
    ranking = matcher.ranking(customer, profile)
    actual = list(
        ranking[["product", "similar_decided", "similar_accepted", "product_decided", "estimate"]].itertuples(
            index=False, name=None
        )
    )
    assert [row[:4] for row in actual] == [row[:4] for row in expected]
    assert [row[4] for row in actual] == pytest.approx([row[4] for row in expected])
    offered = {
        p for (p,) in sql(finmatch_warehouse, f"SELECT product_recommendation {LIVE} AND customer_id = '{customer}'")
    }
    assert offered.isdisjoint(ranking["product"])


def test_an_unknown_customer_has_no_profile(finmatch_warehouse):
    assert Matcher(DuckDBBackend(finmatch_warehouse)).profile("CUST_999999") is None


def test_the_holdout_finds_no_signal_in_random_data_and_says_so(finmatch_warehouse):
    holdout = Matcher(DuckDBBackend(finmatch_warehouse)).holdout()

    (held_out,) = sql(
        finmatch_warehouse, f"SELECT count(*) {LIVE} {DECIDED_ONLY} AND substr(md5(record_id), 1, 1) IN ('0', '1', '2')"
    )[0]
    assert holdout.held_out == held_out >= 30
    assert not holdout.has_signal
    assert holdout.verdict().startswith("No signal: on")


def test_the_holdout_finds_a_planted_signal(planted_warehouse):
    holdout = Matcher(DuckDBBackend(planted_warehouse)).holdout()

    assert holdout.has_signal
    assert holdout.estimate_error < holdout.base_error
    assert holdout.verdict().startswith("Signal: on")


def test_the_match_tab_shows_the_ranking_its_sample_sizes_and_the_holdout_verdict(app_on, planted_warehouse):
    at = app_on(planted_warehouse).run()

    ranking = dataframe_with(at, "Estimated acceptance")
    assert list(ranking.columns) == [
        "Product",
        "Estimated acceptance",
        "Similar customers: decided",
        "Similar customers: accepted",
        "Product base rate",
        "Product: decided",
    ]
    assert any(message.value.startswith("Signal: on") for message in at.success)
    assert not at.exception and not at.error

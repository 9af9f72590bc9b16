"""No group is named, and no held-out check is trusted, below 30 decided recommendations (accepted or declined).

The boundary is pinned on both sides and on the count it is taken over: a group of exactly 30 decided
recommendations is named, one of 29 is not, and neither is one of 30 records of which only 29 are decided.
The groups are planted in a copy of the test warehouse under names and values of their own, so that what
the insights say about them can be written out here literally.
"""

import shutil
from datetime import date

import duckdb
import pytest

from finmatch.analysis.holdout import Holdout
from finmatch.analysis.insights import FOCUS_AREAS, computed_insight, cortex_prompt, gather_statistics
from finmatch.data.backends import DuckDBBackend
from finmatch.data.filters import Filters
from finmatch.data.fpr_data import FprData

TODAY = date(2025, 7, 1)
LIVE_IDS = "SELECT record_id FROM tester.fpr_records WHERE NOT coalesce(_fivetran_deleted, false)"

# Three planted groups, each with a product recommended, a segment and a lifecycle stage of its own, dated on one
# day before any other record, with every record's churn probability above every existing stage's average (~0.5).
# (group, first and last of the live records in record_id order, the day, the churn probability, the status)
AT_30_DECIDED = {"product": "Annuity", "segment": "Wealth", "stage": "Prospect"}  # 30 decided, all accepted
AT_29_DECIDED = {"product": "Pension", "segment": "Student", "stage": "Dormant"}  # 29 decided, all declined
AT_30_RECORDS_29_DECIDED = {"product": "Bond", "segment": "Startup", "stage": "Frozen"}  # 29 declined + 1 pending
PLANTED = [
    (AT_30_DECIDED, 1, 30, "2023-03-15", 0.95, "'Accepted'"),
    (AT_29_DECIDED, 31, 59, "2023-01-15", 0.99, "'Declined'"),
    (AT_30_RECORDS_29_DECIDED, 60, 89, "2023-02-15", 0.98, "CASE WHEN r.n = 89 THEN 'Pending' ELSE 'Declined' END"),
]


def plant_groups_at_the_minimum(warehouse, folder):
    """A copy of `warehouse` with the three groups above planted in its first 89 live records."""
    path = folder / "warehouse.db"
    shutil.copy(warehouse, path)
    with duckdb.connect(str(path)) as db:
        db.execute(
            "CREATE TEMP TABLE numbered AS "
            f"SELECT record_id, row_number() OVER (ORDER BY record_id) AS n FROM ({LIVE_IDS})"
        )
        for group, first, last, day, churn, status in PLANTED:
            db.execute(
                f"""
                UPDATE tester.fpr_records AS f SET product_recommendation = '{group["product"]}',
                  customer_segment = '{group["segment"]}', customer_lifecycle_stage = '{group["stage"]}',
                  product_recommendation_status = {status}, product_recommendation_date = DATE '{day}',
                  customer_churn_probability = {churn}
                FROM numbered AS r WHERE f.record_id = r.record_id AND r.n BETWEEN {first} AND {last}
                """
            )
        counts = db.execute(
            "SELECT product_recommendation, count(*), "
            "sum(CASE WHEN product_recommendation_status IN ('Accepted', 'Declined') THEN 1 ELSE 0 END) "
            "FROM tester.fpr_records WHERE NOT coalesce(_fivetran_deleted, false) "
            "AND product_recommendation IN ('Annuity', 'Pension', 'Bond') GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert counts == [("Annuity", 30, 30), ("Bond", 30, 29), ("Pension", 29, 29)]  # the fixture is what it says
    return path


@pytest.fixture(scope="module")
def warehouse_at_the_minimum(finmatch_warehouse, tmp_path_factory):
    return plant_groups_at_the_minimum(finmatch_warehouse, tmp_path_factory.mktemp("at-the-minimum"))


@pytest.fixture(scope="module")
def written(warehouse_at_the_minimum):
    """Every section of the computed insights and the Cortex prompt, over the whole table."""
    stats = gather_statistics(FprData(DuckDBBackend(warehouse_at_the_minimum)), Filters(), TODAY)
    texts = {focus: computed_insight(focus, stats) for focus in FOCUS_AREAS}
    return texts, cortex_prompt(FOCUS_AREAS[0], stats)


def everything(written):
    texts, prompt = written
    return "\n".join([*texts.values(), prompt])


def test_a_group_of_exactly_30_decided_recommendations_is_named(written):
    texts, prompt = written

    assert "By product recommended, best acceptance: Annuity 100.0% accepted of 30 decided" in texts[FOCUS_AREAS[0]]
    by_product = next(line for line in prompt.splitlines() if line.startswith("Acceptance by product recommended: "))
    by_segment = next(line for line in prompt.splitlines() if line.startswith("Acceptance by segment: "))
    assert "Annuity 100.0% accepted of 30 decided" in by_product
    assert "Wealth 100.0% accepted of 30 decided" in by_segment
    strategic = texts["Strategic recommendations"]
    assert (
        "By lifecycle stage, Prospect has the highest average churn (0.950 over 30 records; Welch's t test against "
        "the other stages together, p < 0.001" in strategic
    )
    assert (
        "lead marketing with Annuity, the product accepted most when recommended (100.0% accepted of 30 decided; "
        "Pearson's chi-square test, p < 0.001" in strategic
    )


def test_a_group_of_29_decided_recommendations_is_never_named(written):
    text = everything(written)

    for name in AT_29_DECIDED.values():
        assert name not in text


def test_insight_needs_30_decided_recommendations_not_30_records(written):
    text = everything(written)

    for name in AT_30_RECORDS_29_DECIDED.values():
        assert name not in text


def holdout(held_out, gain=0.05, gain_sd=0.01):
    """A holdout whose improvement is far beyond its noise: only its size can make it untrustworthy."""
    return Holdout(
        held_out=held_out, learned_from=400, base_error=0.25, estimate_error=0.25 - gain, gain=gain, gain_sd=gain_sd
    )


def test_the_holdout_check_is_trusted_from_30_held_out_decided_recommendations():
    at_minimum = holdout(30)

    assert at_minimum.enough and at_minimum.has_signal
    assert at_minimum.verdict().startswith(
        "Significantly better than base rates: mean squared error 0.2000 against 0.2500 for each product's base "
        "rate alone, on 30 decided recommendations it did not learn from."
    )


def test_the_holdout_check_is_not_trusted_with_29_held_out_decided_recommendations():
    below = holdout(29)

    assert not below.enough and not below.has_signal
    assert below.verdict() == (
        "Only 29 decided recommendations were held out for checking (fewer than 30): too few to test whether "
        "similar customers predict better than base rates."
    )

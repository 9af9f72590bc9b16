"""High affinity starts at exactly 0.75, on every tab: the affinity bands, Who to act on and the insights.

The bands are Low below 0.25, Medium-Low from 0.25, Medium-High from 0.5 and High from 0.75; a record
without an affinity has no band.
"""

from datetime import date

import duckdb
import pytest
from test_finmatch_figures_as_printed import forty_known_records

from finmatch.analysis.holdout import Holdout
from finmatch.analysis.insights import comparable, computed_insight, cortex_prompt, gather_statistics
from finmatch.data.backends import DuckDBBackend
from finmatch.data.filters import Filters
from finmatch.data.fpr_data import FprData
from finmatch.data.sql import affinity_band_sql

TODAY = date(2025, 7, 1)


def test_the_affinity_bands_start_at_0_25_0_5_and_0_75():
    values = [None, 0.0, 0.2499, 0.25, 0.4999, 0.5, 0.7499, 0.75, 1.0]

    with duckdb.connect() as db:
        bands = db.execute(
            f"SELECT {affinity_band_sql('affinity')} FROM unnest(?::DOUBLE[]) WITH ORDINALITY AS t(affinity, n) "
            "ORDER BY n",
            [values],
        ).fetchall()
    assert [band for (band,) in bands] == [
        None,
        "Low",
        "Low",
        "Medium-Low",
        "Medium-Low",
        "Medium-High",
        "Medium-High",
        "High",
        "High",
    ]


@pytest.fixture(scope="module")
def open_at_the_threshold(finmatch_warehouse, tmp_path_factory):
    """The 40 known records, with the 16 open ones' affinities: 0.75, 0.7499, 0.8, 0.8 and 0.5 for the rest."""
    path = forty_known_records(finmatch_warehouse, tmp_path_factory.mktemp("threshold"))
    with duckdb.connect(str(path)) as db:
        db.execute(
            "UPDATE tester.fpr_records AS f SET customer_product_affinity = "
            "CASE n WHEN 25 THEN 0.75 WHEN 26 THEN 0.7499 ELSE f.customer_product_affinity END "
            "FROM (SELECT record_id, row_number() OVER (ORDER BY record_id) AS n "
            "FROM tester.fpr_records WHERE NOT _fivetran_deleted) AS r WHERE f.record_id = r.record_id"
        )
    return path


def test_the_high_affinity_count_follows_the_filters(open_at_the_threshold):
    """Corporate holds records 1 to 10 and 31 to 40: its open ones (31 to 40) all have an affinity of 0.5."""
    stats = gather_statistics(FprData(DuckDBBackend(open_at_the_threshold)), Filters(segments=("Corporate",)), TODAY)

    assert (stats["open_high_affinity"], stats["top_actions"], stats["top_actions_high_affinity"]) == (0, 10, 0)


def test_open_recommendations_count_as_high_affinity_from_exactly_0_75(open_at_the_threshold):
    stats = gather_statistics(FprData(DuckDBBackend(open_at_the_threshold)), Filters(), TODAY)

    assert (stats["open_high_affinity"], stats["top_actions"], stats["top_actions_high_affinity"]) == (3, 16, 3)
    text = computed_insight("Optimisation opportunities", stats)
    assert text.startswith("**3** open recommendations are for customers whose product affinity is 0.75 or more")
    assert "3 of its top 16 have that affinity" in text
    assert "Open recommendations with affinity >= 0.75: 3" in cortex_prompt("Optimisation opportunities", stats)


def test_an_improvement_within_two_standard_errors_is_not_significant():
    """Gain 0.0065 with a spread of 0.036 over 100: the standard error is 0.0036, two of them 0.0072."""
    holdout = Holdout(
        held_out=100, learned_from=400, base_error=0.2553, estimate_error=0.2488, gain=0.0065, gain_sd=0.036
    )

    assert holdout.standard_error == pytest.approx(0.0036)
    assert not holdout.has_signal
    assert holdout.verdict() == (
        "Not significantly better than base rates: mean squared error 0.2488 against 0.2553 for each product's base "
        "rate alone, on 100 decided recommendations it did not learn from. The estimates' error is lower by 0.0065, "
        "which is within 2 standard errors (0.0072): this test cannot tell them apart from the base rates. Treat the "
        "ranking as the products' overall acceptance, and the intervals as the uncertainty around it."
    )


def test_an_improvement_beyond_two_standard_errors_is_significant():
    holdout = Holdout(held_out=1000, learned_from=4000, base_error=0.25, estimate_error=0.24, gain=0.01, gain_sd=0.1)

    assert holdout.standard_error == pytest.approx(0.1 / 1000**0.5)
    assert holdout.has_signal
    assert holdout.verdict() == (
        "Significantly better than base rates: mean squared error 0.2400 against 0.2500 for each product's base rate "
        "alone, on 1,000 decided recommendations it did not learn from. The improvement, 0.0100, is more than "
        "2 standard errors (0.0063). The ranking is worth following."
    )


@pytest.mark.parametrize("gain", [0.0, -0.01])
def test_estimates_no_better_than_the_base_rates_are_said_to_be_so(gain):
    holdout = Holdout(
        held_out=100, learned_from=400, base_error=0.25, estimate_error=0.25 - gain, gain=gain, gain_sd=0.01
    )

    assert not holdout.has_signal
    verdict = holdout.verdict()
    assert verdict.startswith("Not significantly better than base rates: ")
    assert "The estimates' error is not lower than the base rates'. Treat the ranking" in verdict


def test_exactly_two_standard_errors_is_not_enough():
    holdout = Holdout(held_out=100, learned_from=400, base_error=0.25, estimate_error=0.248, gain=0.002, gain_sd=0.01)

    assert not holdout.has_signal


def group(value, decided, rate=0.5):
    return {
        "value": value,
        "records": decided + 5,
        "decided": decided,
        "acceptance_rate": rate,
        "avg_churn_probability": 0.5,
    }


def statistics(fixed=(), **dimensions):
    return {"fixed": list(fixed), "by_product": [], "by_segment": [], "by_stage": [], **dimensions}


def test_two_groups_of_30_decided_are_compared_and_one_alone_is_not():
    two = [group("Loan", 30), group("Mortgage", 31)]

    assert comparable(statistics(by_product=two), "by_product") == two
    assert comparable(statistics(by_product=[*two, group("Bond", 29)]), "by_product") == two
    assert comparable(statistics(by_product=[group("Loan", 30), group("Bond", 29)]), "by_product") == []
    assert comparable(statistics(by_product=[group("Loan", 30, rate=None), group("Mortgage", 31)]), "by_product") == []


def test_a_dimension_fixed_by_the_filters_is_not_compared_and_the_others_still_are():
    segments = [group("Retail", 40), group("Corporate", 40)]
    products = [group("Loan", 40), group("Mortgage", 40)]
    stages = [group("Lead", 40), group("Engaged", 40)]
    stats = statistics(["customer_segment"], by_product=products, by_segment=segments, by_stage=stages)

    assert comparable(stats, "by_segment") == []
    assert comparable(stats, "by_product") == products
    assert comparable(stats, "by_stage") == stages
    assert comparable(statistics(["customer_lifecycle_stage"], by_stage=stages, by_product=products), "by_stage") == []

"""FinMatch's insights say only what the figures support.

They never compare a dimension filtered to one value, never name a group with fewer than
MIN_GROUP_RECORDS decided recommendations, agree with the lists they point to, and call sales an
uplift only from accepted recommendations sold on or after the recommendation date.
"""

import shutil
from datetime import date

import duckdb
import pytest
from test_finmatch_app import ACCEPTED, DECIDED, LIVE, SALE_AFTER_ACCEPTANCE, sql

from finmatch.analysis.insights import FOCUS_AREAS, computed_insight, cortex_prompt, gather_statistics
from finmatch.data.backends import DuckDBBackend
from finmatch.data.filters import Filters
from finmatch.data.fpr_data import FprData

MIN_GROUP_RECORDS = 30  # as documented
TODAY = date(2025, 7, 1)

SMALL_GROUP = "Annuity"
SMALL_GROUP_SIZE = 11


@pytest.fixture(scope="module")
def warehouse_with_a_small_group(finmatch_warehouse, tmp_path_factory):
    """A copy where 11 decided recommendations, all accepted, recommend a product of their own."""
    path = tmp_path_factory.mktemp("small-group") / "warehouse.db"
    shutil.copy(finmatch_warehouse, path)
    with duckdb.connect(str(path)) as db:
        db.execute(
            f"UPDATE tester.fpr_records SET product_recommendation = '{SMALL_GROUP}', "
            "product_recommendation_status = 'Accepted' "
            f"WHERE record_id IN (SELECT record_id {LIVE} "
            "AND product_recommendation_status IN ('Accepted', 'Declined') "
            f"ORDER BY record_id LIMIT {SMALL_GROUP_SIZE})"
        )
    return path


def insights(warehouse, filters=None):
    stats = gather_statistics(FprData(DuckDBBackend(warehouse)), filters or Filters(), TODAY)
    return stats, {focus: computed_insight(focus, stats) for focus in FOCUS_AREAS}


def test_a_dimension_filtered_to_one_value_is_never_compared(finmatch_warehouse):
    stats, texts = insights(finmatch_warehouse, Filters(segments=("Retail",)))

    everything = "\n".join(texts.values())
    assert "Retail segment" not in everything and "accepts least" not in everything
    assert "Segments are not compared: the filters select only one." in texts["Optimisation opportunities"]
    assert "Acceptance by segment" not in cortex_prompt("Optimisation opportunities", stats)


def test_a_group_below_the_minimum_is_never_named(warehouse_with_a_small_group):
    stats, texts = insights(warehouse_with_a_small_group)

    everything = "\n".join(texts.values())
    assert SMALL_GROUP not in everything
    assert SMALL_GROUP not in cortex_prompt("Overall performance", stats)
    named = sql(
        warehouse_with_a_small_group,
        f"SELECT product_recommendation, sum({ACCEPTED}) / sum({DECIDED}) AS rate, sum({DECIDED}) AS decided {LIVE} "
        f"GROUP BY 1 HAVING sum({DECIDED}) >= {MIN_GROUP_RECORDS} ORDER BY rate DESC, product_recommendation DESC",
    )
    best, worst = named[0], named[-1]
    p_value = chi_square_p_written_here(warehouse_with_a_small_group)
    assert p_value > 0.05  # the named products differ by no more than chance: none is called best
    assert (
        f"By product recommended, acceptance ranges from {worst[1]:.1%} accepted of {worst[2]} decided to "
        f"{best[1]:.1%} accepted of {best[2]} decided, a spread chance alone explains (Pearson's chi-square test "
        f"across the {len(named)} products recommended, p = {p_value:.3f}" in everything
    )
    assert "best acceptance" not in everything
    assert f"Groups with fewer than {MIN_GROUP_RECORDS} decided recommendations are not named." in everything


def test_with_too_few_decided_in_every_group_nothing_is_named(finmatch_warehouse):
    _, texts = insights(finmatch_warehouse, Filters(segments=("Retail",), stages=("Lead",)))

    assert (
        "Products recommended are not compared: fewer than two have 30 or more decided" in texts["Overall performance"]
    )
    assert "Lead marketing with" not in texts["Strategic recommendations"]


def test_what_the_insights_say_about_who_to_act_on_matches_that_list(finmatch_warehouse):
    data = FprData(DuckDBBackend(finmatch_warehouse))
    _, texts = insights(finmatch_warehouse)

    score = (
        "round(100 * (0.5 * customer_churn_probability + 0.3 * customer_product_affinity "
        "+ 0.2 * recommendation_score), 1)"
    )
    (high,) = sql(  # each customer's most urgent open recommendation, the 50 most urgent customers
        finmatch_warehouse,
        f"""
        SELECT count(*) FILTER (WHERE affinity >= 0.75) FROM (
          SELECT affinity FROM (
            SELECT record_id, customer_product_affinity AS affinity, {score} AS s,
                   row_number() OVER (PARTITION BY customer_id ORDER BY {score} DESC, record_id) AS nth
            {LIVE} AND product_recommendation_status IN ('Pending', 'In Progress')
          ) WHERE nth = 1 ORDER BY s DESC, record_id LIMIT 50
        )
        """,
    )[0]
    top = data.action_list(Filters(), TODAY, 50)
    assert int((top["customer_product_affinity"] >= 0.75).sum()) == high  # the list the insights point to
    (open_high,) = sql(
        finmatch_warehouse,
        f"SELECT count(*) {LIVE} AND product_recommendation_status IN ('Pending', 'In Progress') "
        "AND customer_product_affinity >= 0.75",
    )[0]
    text = texts["Optimisation opportunities"]
    assert f"**{open_high:,}** open recommendations" in text
    assert (
        "ranks customers by the action score of their most urgent open recommendation, churn risk first: "
        f"{high} of its top 50 have that affinity" in text
    )
    assert "listed first" not in text


def test_sales_are_counted_only_after_acceptance(finmatch_warehouse):
    _, texts = insights(finmatch_warehouse)

    total, count, every_sale = sql(
        finmatch_warehouse,
        f"SELECT sum(CASE WHEN {SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END), "
        f"sum(CASE WHEN {SALE_AFTER_ACCEPTANCE} THEN 1 ELSE 0 END), sum(product_sales_amount) {LIVE}",
    )[0]
    text = texts["Financial impact"]
    assert f"Sales after acceptance total **${total:,.2f}** over {count:,} sales" in text
    assert f"${every_sale:,.2f}" not in text
    (stale, recent) = sql(
        finmatch_warehouse,
        f"SELECT count(*) FILTER (WHERE product_recommendation_date < DATE '{TODAY}' - 90), "
        f"count(*) FILTER (WHERE product_recommendation_date >= DATE '{TODAY}' - 90) "
        + f"{LIVE} AND product_recommendation_status IN ('Pending', 'In Progress') "
        "AND customer_product_affinity >= 0.75",
    )[0]
    assert recent and stale  # the projection counts only the recent ones, from measured rates
    assert f"If the {recent:,} open high-affinity recommendations younger than 90 days are accepted as" in text
    assert text.endswith(
        f"{stale:,} open high-affinity recommendations are older than 90 days and count as not accepted."
    )


def test_acceptance_claims_are_by_product_recommended_as_match_ranks_them(finmatch_warehouse):
    """The product the insights lead with is the one Match's base rates rank first, never one by product held."""
    _, texts = insights(finmatch_warehouse)

    p_value = chi_square_p_written_here(finmatch_warehouse)
    strategic = texts["Strategic recommendations"]
    assert (
        "By product recommended, no product is accepted more often than chance explains (Pearson's chi-square test, "
        f"p = {p_value:.3f}: chance alone would show a difference this large about once in {round(1 / p_value)})"
    ) in strategic
    assert "lead marketing with" not in strategic
    everything = "\n".join(texts.values())
    assert "product type" not in everything
    for sentence in everything.replace("**", "").split(". "):
        if "accept" in sentence and any(name in sentence for name in ("Insurance", "Mortgage", "Loan")):
            assert "product recommended" in sentence or "recommended" in sentence, sentence


def chi_square_p_written_here(warehouse):
    """Pearson's chi-square over the products with 30 or more decided recommendations: sum of (observed - expected)^2
    / expected over accepted and declined, on (products - 1) degrees of freedom."""
    from scipy.stats import chi2

    rows = sql(
        warehouse,
        f"SELECT sum({ACCEPTED}), sum({DECIDED}) - sum({ACCEPTED}) {LIVE} GROUP BY product_recommendation "
        f"HAVING sum({DECIDED}) >= {MIN_GROUP_RECORDS}",
    )
    total = sum(a + d for a, d in rows)
    accepted, declined = sum(a for a, _ in rows), sum(d for _, d in rows)
    statistic = 0.0
    for a, d in rows:
        for observed, column in ((a, accepted), (d, declined)):
            expected = (a + d) * column / total
            statistic += (observed - expected) ** 2 / expected
    return chi2.sf(statistic, len(rows) - 1)


def test_dollar_amounts_in_the_insights_are_shown_as_text_not_read_as_formulas(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    next(element for element in at.button if element.label == "Generate insights").click().run()

    (financial,) = [block.value for block in at.markdown if block.value.startswith("#### Financial impact")]
    assert "\\$" in financial
    assert "$" not in financial.replace("\\$", "")

"""Sums per day of every filter column at once: a derived table the cards and charts are added up from.

One row per recommendation date, status, segment, product recommended, product held and lifecycle stage (the
columns the sidebar filters, so that any choice of filters is a WHERE on it), with the cards' sums and moments
(KPI_MEASURES), and the records per affinity band and per tenth of recommendation score, so that every chart is a
sum over its rows too; and the latest change and sync, for the freshness line. Its size is bounded by the days and
the filter values, not by the records: about 2.2 million rows at 10 million records of the benchmark's data, and
378,000 in its second form, without the product recommended (COARSE_GRAIN), which the page reads while no product
recommended is chosen. Too costly to build when a page opens (7 to 9 s of processor time at 10 million records), it
is built when a sync ends (derived.py) and read only then.
"""

from finmatch.data.filters import FILTER_COLUMNS
from finmatch.data.kpis import AVERAGED, KPI_MEASURES
from finmatch.data.sql import AFFINITY_BANDS, affinity_band_sql

GRAIN = ("product_recommendation_date", *(column for _, column, _ in FILTER_COLUMNS))
# Without the product recommended, a filter most pages leave empty: a table several times smaller, read whenever
# no product recommended is chosen.
COARSE_GRAIN = tuple(column for column in GRAIN if column != "product_recommendation")
SCORE_TENTHS = range(10)
SUMMED = ("sales_after_acceptance", "sales_after_acceptance_squares", "sales_after_acceptance_count")


def band_column(band):
    return "band_" + band.lower().replace("-", "_")


def daily_sums_sql(table, live, grain=GRAIN):
    """(SQL, parameters) of the table of sums per day and filter values (those of `grain`)."""
    band = affinity_band_sql("customer_product_affinity")
    tenth = "LEAST(FLOOR(recommendation_score * 10), 9)"
    counted = [f"count(CASE WHEN {band} = '{name}' THEN 1 END) AS {band_column(name)}" for name in AFFINITY_BANDS]
    counted += [f"count(CASE WHEN {tenth} = {tenth_} THEN 1 END) AS score_{tenth_}" for tenth_ in SCORE_TENTHS]
    sql = f"""
        SELECT {", ".join(grain)}, count(*) AS records, {", ".join(map(_whole, KPI_MEASURES))}, {", ".join(counted)},
               max(last_updated_epoch) AS latest_epoch, max(_fivetran_synced) AS latest_synced
        FROM {table} WHERE {live}
        GROUP BY {", ".join(grain)}
    """
    return sql, []


def _whole(measure):
    """A count among the cards' measures as a BIGINT: DuckDB sums a sum of integers as a 128-bit integer, which the
    page's every reading of this table would then add up about ten times slower."""
    expression, _, name = measure.rpartition(" AS ")
    return f"CAST({expression} AS BIGINT) AS {name}" if name.endswith("_count") else measure


def day_sums_sql(daily, where):
    """DAY_SUMS_SQL's answer (local.py) from the table of sums per day: the rows of the filters added up per day and
    status, each average's spread combined from its parts' means and squared deviations (never two large sums
    subtracted)."""
    means = ", ".join(
        f"CAST(sum(n_{name} * mean_{name}) AS DOUBLE) / NULLIF(sum(n_{name}), 0) AS mean_{name}" for name in AVERAGED
    )
    sums = ", ".join(f"sum(p.{name}) AS {name}" for name in SUMMED)
    moments = ", ".join(
        f"sum(p.n_{name}) AS n_{name}, max(m.mean_{name}) AS mean_{name}, "
        f"sum(COALESCE(p.m2_{name}, 0) + COALESCE(p.n_{name} * (p.mean_{name} - m.mean_{name}) "
        f"* (p.mean_{name} - m.mean_{name}), 0)) AS m2_{name}"
        for name in AVERAGED
    )
    same_day = (
        "m.day IS NOT DISTINCT FROM p.product_recommendation_date "
        "AND m.status IS NOT DISTINCT FROM p.product_recommendation_status"
    )
    return f"""
        WITH parts AS (SELECT * FROM {daily} AS daily WHERE {where}),
        means AS (
          SELECT product_recommendation_date AS day, product_recommendation_status AS status, {means}
          FROM parts GROUP BY product_recommendation_date, product_recommendation_status
        )
        SELECT p.product_recommendation_date AS day, p.product_recommendation_status AS status,
               sum(p.records) AS records, {sums}, {moments}
        FROM parts AS p JOIN means AS m ON {same_day}
        GROUP BY p.product_recommendation_date, p.product_recommendation_status
    """  # noqa: S608


def counts_sql(daily, where):
    """Records per status, stage, product held and segment of the filters' rows (dates included)."""
    return f"""
        SELECT product_recommendation_status AS status, customer_lifecycle_stage AS stage, product_type,
               customer_segment AS segment, sum(records) AS records
        FROM {daily} AS daily WHERE {where}
        GROUP BY product_recommendation_status, customer_lifecycle_stage, product_type, customer_segment
    """  # noqa: S608


def bands_and_scores_sql(daily, where):
    """Records per status in each affinity band and tenth of score, of the filters' rows (dates included)."""
    columns = [band_column(name) for name in AFFINITY_BANDS] + [f"score_{tenth}" for tenth in SCORE_TENTHS]
    return f"""
        SELECT product_recommendation_status AS status, {", ".join(f"sum({name}) AS {name}" for name in columns)}
        FROM {daily} AS daily WHERE {where}
        GROUP BY product_recommendation_status
    """  # noqa: S608

"""Each product's outcomes in SQL: what its honest rates and its average sale are figured from.

Per product recommended: decided and accepted recommendations, open ones (Pending, In Progress) and those of them
older than STALE_OPEN_DAYS on the day asked, and the count, mean and squared deviations of its sales after
acceptance (the average sale's interval needs its spread); added up from the same per recommendation date, which
does not change with the day asked and is derived when a sync lands.
"""

from finmatch.data.sql import IS_ACCEPTED, IS_DECIDED, IS_OPEN, IS_SALE_AFTER_ACCEPTANCE
from finmatch.settings import STALE_OPEN_DAYS


def outcomes_by_day_sql(table, live):
    """SQL of each product's outcomes per recommendation date: decided, accepted and open recommendations, and the
    count, mean and squared deviations of the sales after acceptance. A derived table (derived.py): a few thousand
    rows, from which a day's rates are added up without reading the records."""
    sale = f"CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END"
    return f"""
        SELECT product_recommendation AS product, product_recommendation_date AS day,
               sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided,
               sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted,
               sum(CASE WHEN {IS_OPEN} THEN 1 ELSE 0 END) AS still_open,
               count({sale}) AS sales, avg({sale}) AS average_sale, var_pop({sale}) * count({sale}) AS sale_m2
        FROM {table}
        WHERE {live} AND product_recommendation IS NOT NULL
        GROUP BY product_recommendation, product_recommendation_date
    """  # noqa: S608


def product_outcomes_sql(by_day, dialect):
    """SQL of each product's outcomes from its outcomes per day (outcomes_by_day_sql); its one parameter is the day
    open recommendations are aged on. The average sale's spread is combined from each day's mean and squared
    deviations, never from two large sums subtracted."""
    stale = f"DATEDIFF('day', p.day, {dialect.date()}) > {int(STALE_OPEN_DAYS)}"
    return f"""
        WITH parts AS (SELECT * FROM {by_day} AS by_day),
        means AS (
          SELECT product, CAST(sum(sales * average_sale) AS DOUBLE) / NULLIF(sum(sales), 0) AS mean
          FROM parts GROUP BY product
        )
        SELECT p.product, sum(p.decided) AS decided, sum(p.accepted) AS accepted, sum(p.still_open) AS still_open,
               sum(CASE WHEN {stale} THEN p.still_open ELSE 0 END) AS stale_open,
               sum(p.sales) AS sales, max(m.mean) AS average_sale,
               sum(COALESCE(p.sale_m2, 0)
                   + COALESCE(p.sales * (p.average_sale - m.mean) * (p.average_sale - m.mean), 0)) AS sale_m2
        FROM parts AS p JOIN means AS m ON m.product = p.product
        GROUP BY p.product
        ORDER BY product ASC NULLS LAST
    """  # noqa: S608

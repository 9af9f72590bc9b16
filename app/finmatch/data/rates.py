"""Each product's outcomes in SQL: what its honest rates and its average sale are figured from.

Per product recommended: decided and accepted recommendations, open ones (Pending, In Progress) and those of them
older than STALE_OPEN_DAYS on the day asked, and the count, mean and squared deviations of its sales after
acceptance (the average sale's interval needs its spread).
"""

from finmatch.data.sql import IS_ACCEPTED, IS_DECIDED, IS_OPEN, IS_SALE_AFTER_ACCEPTANCE
from finmatch.settings import STALE_OPEN_DAYS


def product_outcomes_sql(table, live, dialect):
    """SQL of each product's outcomes; its one parameter is the day open recommendations are aged on."""
    stale = f"{IS_OPEN} AND DATEDIFF('day', product_recommendation_date, {dialect.date()}) > {int(STALE_OPEN_DAYS)}"
    sale = f"CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END"
    return f"""
        SELECT product_recommendation AS product,
               sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided,
               sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted,
               sum(CASE WHEN {IS_OPEN} THEN 1 ELSE 0 END) AS still_open,
               sum(CASE WHEN {stale} THEN 1 ELSE 0 END) AS stale_open,
               count({sale}) AS sales, avg({sale}) AS average_sale, var_pop({sale}) * count({sale}) AS sale_m2
        FROM {table}
        WHERE {live} AND product_recommendation IS NOT NULL
        GROUP BY product_recommendation
        ORDER BY product ASC NULLS LAST
    """  # noqa: S608

"""Who to act on, in SQL: the action score, the recommendations it ranks, and the statement of the most urgent.

FprData.action_list reads that statement from fpr_records; locally it may read it from the most urgent
recommendations kept per warehouse version instead (local.py), with the same columns and order.
"""

from finmatch.data.sql import IS_OPEN

# The action score: churn risk weighs most (a customer about to leave), then how much the
# customer likes the product, then how strongly it was recommended. Only recommendations
# not yet decided (Pending, In Progress) are ranked: those are the ones a banker can act on.
ACTION_WEIGHTS = {"customer_churn_probability": 0.5, "customer_product_affinity": 0.3, "recommendation_score": 0.2}

# An open recommendation a banker can act on, its action score (see ACTION_WEIGHTS) and the list's order.
RANKABLE = (
    f"{IS_OPEN} AND customer_churn_probability IS NOT NULL "
    "AND customer_product_affinity IS NOT NULL AND recommendation_score IS NOT NULL"
)
ACTION_SCORE = f"ROUND(100 * ({' + '.join(f'{weight} * {column}' for column, weight in ACTION_WEIGHTS.items())}), 1)"
ACTION_ORDER = "action_score DESC NULLS LAST, record_id ASC NULLS LAST"


def open_recommendations_sql(source, where, counted_source, counted_where, rows, dialect):
    """The `rows` most urgent rows of `source` that satisfy `where`, each with its age and the number of rows of its
    customer in `counted_source` that satisfy `counted_where` (parameters: where's, counted_where's, today)."""
    return f"""
            WITH urgent AS (
              SELECT record_id, customer_id, customer_name, customer_email, customer_segment, product_type,
                     product_recommendation, product_recommendation_status, product_recommendation_date,
                     customer_churn_probability, customer_product_affinity, recommendation_score,
                     {ACTION_SCORE} AS action_score
              FROM {source} WHERE {where}
              ORDER BY {ACTION_ORDER} LIMIT {int(rows)}
            ),
            per_customer AS (
              SELECT customer_id, count(*) AS open_for_customer FROM {counted_source}
              WHERE {counted_where} AND customer_id IN (SELECT customer_id FROM urgent) GROUP BY customer_id
            )
            SELECT urgent.*, DATEDIFF('day', urgent.product_recommendation_date, {dialect.date()}) AS age_days,
                   per_customer.open_for_customer
            FROM urgent JOIN per_customer ON per_customer.customer_id = urgent.customer_id
            ORDER BY {ACTION_ORDER}
        """


# How many of the most urgent open recommendations are kept locally (more when the last score is tied).
URGENT_ROWS = 5000
URGENT_COLUMNS = (
    "record_id, customer_id, customer_name, customer_email, customer_segment, customer_lifecycle_stage, product_type, "
    "product_recommendation, product_recommendation_status, product_recommendation_date, customer_churn_probability, "
    "customer_product_affinity, recommendation_score"
)
FILTERED_COLUMNS = (
    "customer_id, customer_segment, product_type, customer_lifecycle_stage, product_recommendation_status, "
    "product_recommendation_date"
)


def urgent_relations(table, live, rows=URGENT_ROWS):
    """(name, SQL, parameters) of the `rows` most urgent open recommendations (every one tied with the last) and of
    every open recommendation of their customers: what the local Who to act on reads (DuckDB only: it reads by rowid).

    The first finds the rows-th highest score from the scores alone, then reads the other columns of the rows that
    reach it only (by rowid), rather than every column of every open recommendation."""
    rankable = f"{live} AND {RANKABLE}"
    urgent = f"""
        WITH cut AS (
          SELECT {ACTION_SCORE} AS action_score FROM {table} WHERE {rankable}
          ORDER BY action_score DESC NULLS LAST LIMIT {int(rows)}
        )
        SELECT {URGENT_COLUMNS} FROM {table}
        WHERE rowid IN (
          SELECT rowid FROM {table} WHERE {rankable} AND {ACTION_SCORE} >= (SELECT min(action_score) FROM cut)
        )
    """
    customers = f"""
        SELECT {FILTERED_COLUMNS} FROM {table}
        WHERE {rankable} AND customer_id IN (SELECT customer_id FROM urgent_recommendations)
    """
    return [("urgent_recommendations", urgent, []), ("urgent_customers_open", customers, [])]

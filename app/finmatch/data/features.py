"""Each customer's own features in SQL: what the propensity model learns from and scores, and the retention list ranks.

One row per customer over their live records: the profile code of their latest record (segment and lifecycle
stage, profiles.ProfileCodes, with its tie rule), their averages of balance, transaction value and count,
affinity, satisfaction and churn probability, how many products they hold, and how long they had been in their
stage: days from their latest stage change to their latest recommendation. Averages over the customer's records
never depend on which record is read first, so the relation is the same on either engine.
"""

from finmatch.data.cells import HELD_OUT_DIGITS
from finmatch.data.sql import IS_ACCEPTED, IS_DECIDED

# Numeric features, by the column of the relation that holds them.
NUMERIC_FEATURES = (
    "balance",
    "transaction_value",
    "transaction_count",
    "products_held",
    "stage_age_days",
    "affinity",
    "satisfaction",
    "churn",
)
# In words, for reasons and captions.
FEATURE_WORDS = {
    "balance": "balance",
    "transaction_value": "transaction value",
    "transaction_count": "transactions",
    "products_held": "products held",
    "stage_age_days": "time in stage",
    "affinity": "affinity",
    "satisfaction": "satisfaction",
    "churn": "churn risk",
    "segment": "segment",
    "stage": "lifecycle stage",
}


def customer_features_sql(table, live, codes, dialect, held_types=()):
    """(SQL, parameters): one row per customer with their profile code and NUMERIC_FEATURES.

    `held_types` are the products held the table holds (the filters' values): where the engine has lists (DuckDB),
    the number of distinct ones a customer holds is counted as the bits of their positions, OR-ed together, which
    costs a fraction of a COUNT(DISTINCT) over millions of customers; the same count, as NULL is no product.
    """
    code, params = codes.code_sql(dialect)
    held, held_params = _products_held_sql(dialect, held_types)
    latest = codes.latest_sql()
    if dialect.packs_masks:  # the greatest MAX_BY key itself, whose remainder is the code: cheaper than MAX_BY
        stride = codes.key_stride
        key = f"max(COALESCE(last_updated_epoch, -1) * {stride} + profile_code)"
        latest = f"CAST((({key} % {stride}) + {stride}) % {stride} AS INTEGER)"
    sql = f"""
        SELECT customer_id, {latest} AS profile_code,
               AVG(account_balance) AS balance,
               AVG(customer_transaction_value) AS transaction_value,
               AVG(CAST(customer_transaction_count AS DOUBLE)) AS transaction_count,
               {held} AS products_held,
               DATEDIFF('day', MAX(customer_lifecycle_stage_transition_date), MAX(product_recommendation_date))
                 AS stage_age_days,
               AVG(customer_product_affinity) AS affinity,
               AVG(customer_satisfaction_score) AS satisfaction,
               AVG(customer_churn_probability) AS churn
        FROM (SELECT customer_id, last_updated_epoch, account_balance, customer_transaction_value,
                     customer_transaction_count, product_type, customer_lifecycle_stage_transition_date,
                     product_recommendation_date, customer_product_affinity, customer_satisfaction_score,
                     customer_churn_probability, {code} AS profile_code
              FROM {table} WHERE {live}) AS coded
        GROUP BY customer_id
    """
    return sql, [*held_params, *params]


def _products_held_sql(dialect, held_types):
    if not (dialect.has_lists and 0 < len(held_types) < 63):
        return "COUNT(DISTINCT product_type)", []
    position = "COALESCE(list_position(?, product_type), 0)"
    bit = f"CASE WHEN {position} > 0 THEN CAST(1 AS BIGINT) << {position} ELSE CAST(0 AS BIGINT) END"
    return f"CAST(bit_count(bit_or({bit})) AS BIGINT)", [list(held_types), list(held_types)]


def training_draws_sql(table, live, dialect, size):
    """SQL of the decided recommendations each product's model learns from and is checked on: per product, at most
    `size` of them, those first by MD5 of the record id after its first digit, each with whether it was accepted and
    whether it is held out (first digit of the MD5 below 3, as Match's holdout check chooses). Drawn once for every
    product, so that choosing a product reads a few thousand rows rather than every record."""
    held_out = dialect.md5_first_digit_below("record_id", HELD_OUT_DIGITS)
    return f"""
        SELECT product, customer_id, record_hash, accepted, held_out
        FROM (SELECT product_recommendation AS product, customer_id, MD5(record_id) AS record_hash,
                     CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END AS accepted,
                     CASE WHEN {held_out} THEN 1 ELSE 0 END AS held_out,
                     ROW_NUMBER() OVER (PARTITION BY product_recommendation
                                        ORDER BY SUBSTR(MD5(record_id), 2) ASC NULLS LAST, record_id ASC NULLS LAST)
                       AS draw
              FROM {table}
              WHERE {live} AND {IS_DECIDED} AND product_recommendation IS NOT NULL) AS numbered
        WHERE draw <= {int(size)}
    """  # noqa: S608


def training_sample_sql(draws, features):
    """SQL of one product's training sample (parameter: the product): its draws (training_draws_sql), each with its
    customer's features."""
    return f"""
        SELECT drawn.record_hash, drawn.accepted, drawn.held_out, f.*
        FROM (SELECT * FROM {draws} AS draws WHERE product = ?) AS drawn
        JOIN {features} AS f ON f.customer_id = drawn.customer_id
        ORDER BY drawn.record_hash ASC NULLS LAST
    """  # noqa: S608

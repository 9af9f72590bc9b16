"""Decided recommendations counted per product and per profile cell: what Match learns from.

A cell is a product with a profile code (segment and lifecycle stage, profiles.py) and an affinity band.
Match's estimates and its holdout check are arithmetic on the outcome cells.
"""

from finmatch.data.sql import IS_ACCEPTED, IS_DECIDED, affinity_band_sql

# Records whose MD5 starts with 0, 1 or 2 (3 of 16, about 19 %) are held out of the learning: in Snowflake
# SUBSTR(MD5(record_id), 1, 1) IN ('0', '1', '2'), written by each engine's dialect (md5_first_digit_below).
HELD_OUT_DIGITS = 3


def outcome_cells_sql(table, live, codes, dialect):
    """(SQL, parameters): decided recommendations per product, record profile code, affinity band, holdout and outcome.

    Match's estimates (all decided records) and the holdout check (learned from some, scored on the rest)
    are both arithmetic on these counts.
    """
    code, params = codes.code_sql(dialect)
    held_out = dialect.md5_first_digit_below("record_id", HELD_OUT_DIGITS)
    sql = f"""
        SELECT product_recommendation AS product, {code} AS profile_code,
               {affinity_band_sql("customer_product_affinity")} AS band,
               CASE WHEN {held_out} THEN 1 ELSE 0 END AS held_out,
               CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END AS accepted,
               count(*) AS records
        FROM {table}
        WHERE {live} AND {IS_DECIDED} AND product_recommendation IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
    """
    return sql, params


def cells_from(outcomes):
    """Decided and accepted recommendations per product, profile code and affinity band."""
    frame = outcomes.assign(accepted=outcomes["accepted"] * outcomes["records"])
    cells = frame.groupby(["product", "profile_code", "band"], dropna=False, sort=True)[["records", "accepted"]].sum()
    return cells.reset_index().rename(columns={"records": "decided"})

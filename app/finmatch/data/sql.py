"""What a record means, in SQL: the statuses, the affinity bands, the ages of open recommendations, live rows.

Every statement of FinMatch builds on these fragments, so that a word means the same thing on every tab
and on both engines.
"""

from finmatch.settings import HIGH_AFFINITY

ACCEPTED, DECLINED = "Accepted", "Declined"
OPEN_STATUSES = ("Pending", "In Progress")
AFFINITY_BANDS = ("Low", "Medium-Low", "Medium-High", "High")
IS_DECIDED = "product_recommendation_status IN ('Accepted', 'Declined')"
IS_ACCEPTED = "product_recommendation_status = 'Accepted'"
IS_OPEN = "product_recommendation_status IN ('Pending', 'In Progress')"
# A sale counts towards uplift only when its recommendation was accepted and it is dated on or
# after the recommendation: a sale before the recommendation cannot be its result.
IS_SALE_AFTER_ACCEPTANCE = (
    f"{IS_ACCEPTED} AND product_sales_amount IS NOT NULL AND product_sales_date >= product_recommendation_date"
)
# Age of an open recommendation in days; the upper bound of each bucket (None: no upper bound).
AGE_BUCKETS = (
    ("0–30 days", 30),
    ("31–90 days", 90),
    ("91–180 days", 180),
    ("181–365 days", 365),
    ("over a year", None),
)
NO_DATE = "no date"


def affinity_band_sql(column):
    """The four affinity bands: Low < 0.25 <= Medium-Low < 0.5 <= Medium-High < 0.75 <= High."""
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} < 0.25 THEN 'Low' WHEN {column} < 0.5 THEN 'Medium-Low' "
        f"WHEN {column} < {HIGH_AFFINITY} THEN 'Medium-High' ELSE 'High' END"
    )


def ratio_sql(part, whole):
    """part / whole as a DOUBLE in both engines (NULL when whole is 0)."""
    return f"CAST({part} AS DOUBLE) / NULLIF({whole}, 0)"


def age_bucket_sql(age):
    cases = " ".join(f"WHEN {age} <= {upper} THEN '{label}'" for label, upper in AGE_BUCKETS if upper is not None)
    return f"CASE WHEN {age} IS NULL THEN '{NO_DATE}' {cases} ELSE '{AGE_BUCKETS[-1][0]}' END"


def live_condition(columns):
    """Rows that count: not soft-deleted, and in history mode only each record's active version.

    With Fivetran's history mode the table keeps every version of a record; counting them all would
    count a record once per change. Without either column every row counts.
    """
    clauses = []
    if "_fivetran_deleted" in columns:
        clauses.append("COALESCE(_fivetran_deleted, FALSE) = FALSE")
    if "_fivetran_active" in columns:
        clauses.append("_fivetran_active = TRUE")
    return " AND ".join(clauses) or "TRUE"

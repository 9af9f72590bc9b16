"""A campaign list in SQL: who is considered, who is left out and why, and the eligible customers ranked.

One statement per target on either engine. Its parts, each a CTE:

- candidates: every customer's profile (profiles.py), limited to the target's profiles, with whether they hold
  the product and the furthest status of their recommendations of it;
- declines: each customer's latest declined recommendation of the product (its recommendation date: the records
  hold no date of the decline itself), from customer_declines_sql;
- classified: one class per customer, the first that applies: holds it; accepted it; has it open; declined it
  within the cool-off; another status; at high churn risk (when that rule is on); eligible;
- the counts of each class, and the eligible customers scored and ranked (by id: a list for a CRM, which holds
  the names, and one that shows no one's name or email).
"""

from finmatch.data.features import NUMERIC_FEATURES, customer_features_sql, training_draws_sql
from finmatch.settings import TRAINING_SAMPLE

CLASSES = ("hold", "accepted", "open", "cool_off", "other", "high_churn", "eligible")


def campaign_sql(sources, bit, dialect, rules, ranking):
    """(SQL, parameters after the relations' own): one statement for the counts and the ranked list.

    Args:
        sources: {"profiles", "features", "declines", "targeting"}: the relations to read (already as SQL, with no
            parameters but the profiles' own) and the AND-clause limiting the profiles.
        bit: the product's bit in the profiles' masks.
        rules: {"product", "cool_off_from" (ISO date: declines on or after it are in cool-off),
            "high_churn" (a threshold, or None when the rule is off)}.
        ranking: {"score" (SQL over alias f), "order", "size"}.
    """
    has = dialect.has_bit
    churn = "FALSE" if rules["high_churn"] is None else f"f.churn >= {float(rules['high_churn'])!r}"
    features = ", ".join(f"f.{name}" for name in NUMERIC_FEATURES)
    counts = ", ".join(f"sum(CASE WHEN decision = '{name}' THEN 1 ELSE 0 END) AS {name}" for name in CLASSES)
    sql = f"""
    WITH candidates AS (
      SELECT customer_id, profile_code,
             CASE WHEN {has("held_mask", bit)} THEN 1 ELSE 0 END AS holds,
             CASE WHEN {has("accepted_mask", bit)} THEN 3 WHEN {has("open_mask", bit)} THEN 2
                  WHEN {has("declined_mask", bit)} THEN 1 WHEN {has("recommended_mask", bit)} THEN 0
                  ELSE -1 END AS furthest_status
      FROM {sources["profiles"]} AS profiles WHERE TRUE {sources["targeting"]}
    ),
    declines AS (SELECT customer_id, last_declined FROM {sources["declines"]} AS every_decline WHERE product = ?),
    classified AS (
      SELECT c.customer_id, c.profile_code, {features},
             CASE WHEN c.holds = 1 THEN 'hold' WHEN c.furthest_status = 3 THEN 'accepted'
                  WHEN c.furthest_status = 2 THEN 'open'
                  WHEN c.furthest_status = 1 AND (d.last_declined IS NULL OR d.last_declined >= {dialect.date()})
                    THEN 'cool_off'
                  WHEN c.furthest_status = 0 THEN 'other'
                  WHEN {churn} THEN 'high_churn'
                  ELSE 'eligible' END AS decision,
             CASE WHEN c.furthest_status = 1 THEN 1 ELSE 0 END AS declined_before
      FROM candidates AS c
      LEFT JOIN {sources["features"]} AS f ON f.customer_id = c.customer_id
      LEFT JOIN declines AS d ON d.customer_id = c.customer_id
    ),
    counted AS (
      SELECT count(*) AS customers, {counts},
             sum(CASE WHEN decision = 'eligible' AND declined_before = 1 THEN 1 ELSE 0 END) AS declined_again
      FROM classified
    ),
    scored AS (SELECT f.*, {ranking["score"]} AS score FROM classified AS f WHERE f.decision = 'eligible'),
    listed AS (SELECT * FROM scored ORDER BY {ranking["order"]} LIMIT {int(ranking["size"])})
    SELECT counted.*, listed.customer_id, listed.profile_code, {", ".join(f"listed.{n}" for n in NUMERIC_FEATURES)},
           listed.declined_before, listed.score
    FROM counted
    LEFT JOIN listed ON TRUE
    ORDER BY {ranking["order"]}
    """  # noqa: S608
    return sql, [rules["product"], rules["cool_off_from"]]


def customer_declines_sql(table, live):
    """SQL of each customer's latest declined recommendation of each product (its recommendation date)."""
    return f"""
        SELECT customer_id, product_recommendation AS product, max(product_recommendation_date) AS last_declined
        FROM {table}
        WHERE {live} AND product_recommendation_status = 'Declined' AND product_recommendation IS NOT NULL
        GROUP BY customer_id, product_recommendation
    """  # noqa: S608


def campaign_relations(table, live, codes, dialect, held_types=()):
    """(name, SQL, parameters) of every relation the campaigns and the retention list read beyond the profiles: one
    line each, built wherever the other derived tables are built (derived.py)."""
    return (
        ("customer_features", *customer_features_sql(table, live, codes, dialect, held_types)),
        ("training_draws", training_draws_sql(table, live, dialect, TRAINING_SAMPLE), []),
        ("customer_declines", customer_declines_sql(table, live), []),
    )


def order_by_score():
    return "score DESC NULLS LAST, balance DESC NULLS LAST, customer_id ASC NULLS LAST"


def order_by_balance():
    return "balance DESC NULLS LAST, customer_id ASC NULLS LAST"

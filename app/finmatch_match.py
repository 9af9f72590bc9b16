"""Match: which products to offer a customer next, learned from decided recommendations.

For a customer, every product they have not been offered is scored by how often similar customers
(same segment, lifecycle stage and affinity band) accepted it, shrunk toward the product's base
rate (empirical Bayes):

    estimate = (accepted by similar customers + PRIOR_STRENGTH × base rate)
               / (decided by similar customers + PRIOR_STRENGTH)

so a handful of similar records moves the estimate a little and many move it a lot. A holdout
check scores decided records left out of the learning (a fixed share chosen by the MD5 of their
record_id, the same on DuckDB and Snowflake) and asks whether the estimates predict their outcome
better than the base rates alone. All of it is SQL both engines run.
"""

from dataclasses import dataclass

import pandas as pd
from finmatch_data import IS_ACCEPTED, IS_DECIDED, NOT_DELETED, affinity_band_sql
from finmatch_settings import MIN_GROUP_RECORDS, PRIOR_STRENGTH

# Records whose MD5 starts with 0, 1 or 2 (3 of 16, about 19 %) are held out of the learning.
HELD_OUT = "SUBSTR(MD5(record_id), 1, 1) IN ('0', '1', '2')"
# The improvement must exceed this many standard errors to count as a signal (about 97.5 % one-sided).
SIGNAL_STANDARD_ERRORS = 2.0

# SQL text is built from constants of this app; the customer and profile values are bound parameters.
PROFILE_SQL = f"""
WITH live AS (SELECT * FROM {{table}} WHERE {NOT_DELETED} AND customer_id = ?),
latest AS (
  SELECT customer_segment AS segment, customer_lifecycle_stage AS stage
  FROM live ORDER BY last_updated_epoch DESC, record_id LIMIT 1
),
band AS (SELECT {affinity_band_sql("avg(customer_product_affinity)")} AS band FROM live)
SELECT latest.segment, latest.stage, band.band,
       (SELECT count(*) FROM live) AS records
FROM latest CROSS JOIN band
"""  # noqa: S608

RANKING_SQL = f"""
WITH decided AS (
  SELECT product_recommendation AS product, customer_segment AS segment, customer_lifecycle_stage AS stage,
         {affinity_band_sql("customer_product_affinity")} AS band,
         CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END AS accepted
  FROM {{table}}
  WHERE {NOT_DELETED} AND {IS_DECIDED} AND product_recommendation IS NOT NULL
),
offered AS (
  SELECT DISTINCT product_recommendation AS product FROM {{table}}
  WHERE {NOT_DELETED} AND customer_id = ? AND product_recommendation IS NOT NULL
),
products AS (
  SELECT product, count(*) AS product_decided, sum(accepted) AS product_accepted,
         sum(accepted) * 1.0 / count(*) AS base_rate
  FROM decided GROUP BY product
),
peers AS (
  SELECT product, count(*) AS similar_decided, sum(accepted) AS similar_accepted
  FROM decided WHERE segment = ? AND stage = ? AND band = ?
  GROUP BY product
)
SELECT p.product, p.product_decided, p.product_accepted, p.base_rate,
       COALESCE(s.similar_decided, 0) AS similar_decided, COALESCE(s.similar_accepted, 0) AS similar_accepted,
       (COALESCE(s.similar_accepted, 0) + {PRIOR_STRENGTH} * p.base_rate)
         / (COALESCE(s.similar_decided, 0) + {PRIOR_STRENGTH}) AS estimate
FROM products p LEFT JOIN peers s ON s.product = p.product
WHERE p.product NOT IN (SELECT product FROM offered)
ORDER BY estimate DESC, p.product
"""  # noqa: S608

HOLDOUT_SQL = f"""
WITH decided AS (
  SELECT product_recommendation AS product, customer_segment AS segment, customer_lifecycle_stage AS stage,
         {affinity_band_sql("customer_product_affinity")} AS band,
         CASE WHEN {IS_ACCEPTED} THEN 1.0 ELSE 0.0 END AS outcome,
         CASE WHEN {HELD_OUT} THEN 1 ELSE 0 END AS held_out
  FROM {{table}}
  WHERE {NOT_DELETED} AND {IS_DECIDED} AND product_recommendation IS NOT NULL
),
products AS (
  SELECT product, sum(outcome) / count(*) AS base_rate FROM decided WHERE held_out = 0 GROUP BY product
),
cells AS (
  SELECT product, segment, stage, band, count(*) AS n, sum(outcome) AS accepted
  FROM decided WHERE held_out = 0 GROUP BY product, segment, stage, band
),
scored AS (
  SELECT d.outcome, p.base_rate AS base,
         (COALESCE(c.accepted, 0) + {PRIOR_STRENGTH} * p.base_rate) / (COALESCE(c.n, 0) + {PRIOR_STRENGTH}) AS estimate
  FROM decided d
  JOIN products p ON p.product = d.product
  LEFT JOIN cells c ON c.product = d.product AND c.segment = d.segment AND c.stage = d.stage AND c.band = d.band
  WHERE d.held_out = 1
),
gains AS (
  SELECT (base - outcome) * (base - outcome) AS base_error,
         (estimate - outcome) * (estimate - outcome) AS estimate_error,
         (base - outcome) * (base - outcome) - (estimate - outcome) * (estimate - outcome) AS gain
  FROM scored
)
SELECT count(*) AS held_out, avg(base_error) AS base_error, avg(estimate_error) AS estimate_error,
       avg(gain) AS gain, stddev_samp(gain) AS gain_sd,
       (SELECT count(*) FROM decided WHERE held_out = 0) AS learned_from
FROM gains
"""  # noqa: S608


@dataclass(frozen=True)
class Holdout:
    """How the estimates did on decided records they were not learned from."""

    held_out: int
    learned_from: int
    base_error: float
    estimate_error: float
    gain: float
    gain_sd: float

    @property
    def enough(self):
        return self.held_out >= MIN_GROUP_RECORDS

    @property
    def has_signal(self):
        """True when the estimates beat the base rates by more than chance would explain."""
        if not self.enough or self.gain is None or self.gain <= 0:
            return False
        standard_error = (self.gain_sd or 0.0) / self.held_out**0.5
        return self.gain > SIGNAL_STANDARD_ERRORS * standard_error

    def verdict(self):
        """The finding in plain words."""
        if not self.enough:
            return (
                f"Only {self.held_out} decided recommendations were held out for checking (fewer than "
                f"{MIN_GROUP_RECORDS}): too few to tell whether similar customers predict better than base rates."
            )
        errors = f"(mean squared error {self.estimate_error:.4f} against {self.base_error:.4f} for base rates alone)"
        if self.has_signal:
            return (
                f"Signal: on {self.held_out:,} decided recommendations it did not learn from, the estimates predicted "
                f"the outcome better than each product's base rate {errors}. The ranking is worth following."
            )
        return (
            f"No signal: on {self.held_out:,} decided recommendations it did not learn from, the estimates predicted "
            f"no better than each product's base rate {errors}. In this data, similar customers do not tell us "
            "more than the products' overall acceptance: treat the ranking as the products' base rates."
        )


class Matcher:
    """Product ranking for one customer and the holdout check, on the backend of an FprData."""

    def __init__(self, backend):
        self.backend = backend

    def _run(self, sql, params):
        return self.backend.query(sql.format(table=self.backend.table), params)

    def profile(self, customer_id):
        """The customer's segment and lifecycle stage (latest record) and affinity band (average)."""
        frame = self._run(PROFILE_SQL, [customer_id])
        if frame.empty or not int(frame["records"][0]):
            return None
        row = frame.iloc[0]
        return {"segment": row["segment"], "stage": row["stage"], "band": row["band"]}

    def ranking(self, customer_id, profile):
        """Products not yet offered to the customer, best estimate first, with the counts behind it."""
        params = [customer_id, profile["segment"], profile["stage"], profile["band"]]
        frame = self._run(RANKING_SQL, params)
        for column in ("base_rate", "estimate"):
            frame[column] = frame[column].astype(float)
        return frame

    def holdout(self):
        row = self._run(HOLDOUT_SQL, []).iloc[0]
        return Holdout(
            held_out=int(row["held_out"]),
            learned_from=int(row["learned_from"]),
            base_error=_float(row["base_error"]),
            estimate_error=_float(row["estimate_error"]),
            gain=_float(row["gain"]),
            gain_sd=_float(row["gain_sd"]),
        )


def _float(value):
    return None if value is None or pd.isna(value) else float(value)

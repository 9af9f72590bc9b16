"""The charts' counts: the statement that counts them, and Breakdowns, the answer whichever engine counted it."""

import pandas as pd

from finmatch.data.answers import as_date, with_acceptance
from finmatch.data.sql import (
    AFFINITY_BANDS,
    AGE_BUCKETS,
    IS_ACCEPTED,
    IS_DECIDED,
    IS_OPEN,
    NO_DATE,
    affinity_band_sql,
    age_bucket_sql,
    ratio_sql,
)

# The keys of a record the charts count by (all but months and ages), grouped together in `fine`.
FINE_KEYS = ("status", "stage", "product_type", "segment", "band", "score_from")


class Breakdowns:
    """The answer of FprData.breakdowns: each chart's rows, and the selection's size and date range.

    `fine` has records, decided and accepted per combination of FINE_KEYS; `months` per month (a date, the
    first of the month) and `ages` the open records per age_bucket. Each may hold a row without a value.
    `by_key` may hold a key's rows apart (key, records, decided, accepted), for a `fine` counted without it.
    """

    def __init__(self, fine, months, ages, first_date, last_date, by_key=None):
        self.fine, self.months, self.ages = fine, months, ages
        self.by_key = by_key or {}
        self.records = int(self.fine["records"].sum())
        self.first_date = as_date(first_date) if self.records else None
        self.last_date = as_date(last_date) if self.records else None

    @classmethod
    def from_frame(cls, frame):
        """From the one statement of FprData.breakdowns: its grouping sets apart."""
        fine = frame[(frame["by_month"] == 1) & (frame["by_age"] == 1)]
        return cls(
            fine,
            frame[frame["by_month"] == 0],
            frame[frame["by_age"] == 0],
            fine["first_date"].min() if len(fine) else None,
            fine["last_date"].max() if len(fine) else None,
        )

    def _rows(self, key, keep_null=True):
        """Records, decided and accepted per value of one key (NULL a value of its own unless dropped)."""
        source = (
            self.months if key == "month" else self.ages if key == "age_bucket" else self.by_key.get(key, self.fine)
        )
        rows = source.groupby(key, dropna=not keep_null, sort=False)[["records", "decided", "accepted"]].sum()
        rows = rows.reset_index().rename(columns={key: "value"})
        return rows if keep_null else rows[rows["value"].notna()]

    def counts(self, key, limit=None):
        """Records per value, most first (ties alphabetically, no value last)."""
        rows = self._rows(key)[["value", "records"]]
        rows = rows.assign(_missing=rows["value"].isna())
        rows = rows.sort_values(["records", "_missing", "value"], ascending=[False, True, True], kind="stable")
        rows = rows.drop(columns="_missing").reset_index(drop=True)
        return rows.head(limit) if limit else rows

    def values(self, key):
        """Every value present, alphabetically."""
        return sorted(self._rows(key, keep_null=False)["value"])

    def _counted(self, key, labels):
        rows = self._rows(key, keep_null=False)
        counts = dict(zip(rows["value"], rows["records"], strict=True))
        return [int(counts.get(label, 0)) for label in labels]

    def affinity_bands(self):
        return pd.DataFrame({"band": AFFINITY_BANDS, "records": self._counted("band", AFFINITY_BANDS)})

    def _by(self, key):
        rows = self._rows(key, keep_null=False).sort_values("value").rename(columns={"value": key})
        rows = rows.astype({"records": int, "decided": int, "accepted": int})
        return with_acceptance(rows[[key, "records", "decided", "accepted"]].reset_index(drop=True))

    def acceptance_by_score(self):
        return self._by("score_from")

    def monthly(self):
        return self._by("month")

    def open_ages(self):
        labels = [label for label, _ in AGE_BUCKETS] + [NO_DATE]
        return pd.DataFrame({"bucket": labels, "records": self._counted("age_bucket", labels)})


def breakdowns(data, filters, today):
    """FprData.breakdowns in one statement.

    The record-level keys are grouped together (a few thousand groups at most, summed per key
    afterwards); months and ages have grouping sets of their own. Locally the months and ages come
    from the sums per day instead (local.py).
    """
    age = f"DATEDIFF('day', product_recommendation_date, {data.dialect.date()})"
    fine = ", ".join(FINE_KEYS)
    frame = data.run(
        f"""
        SELECT {fine}, month, age_bucket, GROUPING(month) AS by_month, GROUPING(age_bucket) AS by_age,
               count(*) AS records, sum(decided) AS decided, sum(accepted) AS accepted,
               min(recommended_on) AS first_date, max(recommended_on) AS last_date
        FROM (
          SELECT {fine}, month, recommended_on, decided, accepted,
                 CASE WHEN is_open = 1 THEN {age_bucket_sql("age_days")} END AS age_bucket
          FROM (
            SELECT product_recommendation_status AS status, customer_lifecycle_stage AS stage, product_type,
                   customer_segment AS segment, {affinity_band_sql("customer_product_affinity")} AS band,
                   {ratio_sql("LEAST(FLOOR(recommendation_score * 10), 9)", "10")} AS score_from,
                   CAST(DATE_TRUNC('MONTH', product_recommendation_date) AS DATE) AS month,
                   product_recommendation_date AS recommended_on, {age} AS age_days,
                   CASE WHEN {IS_OPEN} THEN 1 ELSE 0 END AS is_open,
                   CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END AS decided,
                   CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END AS accepted
            FROM {{table}} WHERE {{where}}
          ) AS selected
        ) AS described
        GROUP BY GROUPING SETS (({fine}), (month), (age_bucket))
        """,
        filters,
        leading_params=[today.isoformat()],
    )
    return Breakdowns.from_frame(frame)

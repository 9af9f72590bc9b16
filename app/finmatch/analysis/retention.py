"""Retention: the customers most worth keeping, ranked by value at risk (data/retention.py), with why."""

from dataclasses import dataclass

import pandas as pd

from finmatch.analysis.export import now_utc
from finmatch.data.retention import RetentionFilters, retention_sql


@dataclass(frozen=True)
class RetentionList:
    matching: int
    total_at_risk: float
    ranked: pd.DataFrame
    created_at: object


class Retention:
    """The retention list on the features the campaigns read (Campaigns.relations)."""

    def __init__(self, campaigns):
        self.campaigns = campaigns
        self.backend = campaigns.backend

    def codes_for(self, segments, stages):
        """The profile codes of the chosen segments and stages; None when neither is chosen."""
        if not (segments or stages):
            return None
        return tuple(self.campaigns.codes.codes_for(segments, stages))

    def build(self, filters: RetentionFilters):
        features, params = self.campaigns.relations()[1]
        sql, own = retention_sql(features, filters)
        frame = self.backend.query(sql, [*params, *own])
        first = frame.iloc[0]
        ranked = frame[frame["customer_id"].notna()].reset_index(drop=True)
        decoded = [self.campaigns.codes.decode(code) for code in ranked["profile_code"]]
        ranked["segment"] = [segment for segment, _ in decoded]
        ranked["stage"] = [stage for _, stage in decoded]
        ranked["score"] = ranked["churn"].astype(float)
        ranked["expected_value"] = ranked["value_at_risk"].astype(float)
        ranked["reason"] = [reason(row) for _, row in ranked.iterrows()]
        total = None if pd.isna(first["total_at_risk"]) else float(first["total_at_risk"])
        return RetentionList(int(first["matching"] or 0), total, ranked, now_utc())


def reason(row):
    satisfaction = "n/a" if pd.isna(row["satisfaction"]) else f"{row['satisfaction']:.2f}"
    return (
        f"churn {row['churn']:.2f} × balance ${row['balance']:,.0f} · satisfaction {satisfaction} · "
        f"{'n/a' if pd.isna(row['stage_age_days']) else int(row['stage_age_days'])} days in stage"
    )

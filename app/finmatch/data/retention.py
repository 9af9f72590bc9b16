"""The retention list in SQL: customers ranked by value at risk, from their features (features.py).

Value at risk = churn probability × balance, each the customer's average over their records: what the bank stands
to lose if the customer leaves, weighted by how likely that is. The viewer narrows the customers by satisfaction,
churn, segment, lifecycle stage (of their latest record) and how long they have been in it.
"""

from dataclasses import dataclass

from finmatch.data.features import NUMERIC_FEATURES

VALUE_AT_RISK = "COALESCE(churn, 0) * COALESCE(balance, 0)"
ORDER = "value_at_risk DESC NULLS LAST, customer_id ASC NULLS LAST"


@dataclass(frozen=True)
class RetentionFilters:
    """Who the list is about; None or an empty choice means no limit."""

    min_churn: float = 0.0
    max_satisfaction: float = 1.0
    codes: tuple = None  # profile codes of the chosen segments and stages; None: every profile
    min_stage_days: int = None
    max_stage_days: int = None
    size: int = 200

    def where(self):
        """(AND-clauses, parameters) over the features relation."""
        clauses = ["COALESCE(churn, 0) >= ?", "(satisfaction IS NULL OR satisfaction <= ?)"]
        params = [float(self.min_churn), float(self.max_satisfaction)]
        if self.codes is not None:
            clauses.append(f"profile_code IN ({', '.join('?' for _ in self.codes)})" if self.codes else "FALSE")
            params += list(self.codes)
        for bound, operator in ((self.min_stage_days, ">="), (self.max_stage_days, "<=")):
            if bound is not None:
                clauses.append(f"stage_age_days {operator} ?")
                params.append(int(bound))
        return " AND ".join(clauses), params


def retention_sql(features, filters):
    """(SQL, parameters after the features relation's own): the listed customers (by id, as a CRM matches them), and
    on every row how many customers match and their total value at risk."""
    where, params = filters.where()
    columns = ", ".join(f"listed.{name}" for name in NUMERIC_FEATURES)
    sql = f"""
    WITH matching AS (
      SELECT customer_id, profile_code, {", ".join(NUMERIC_FEATURES)}, {VALUE_AT_RISK} AS value_at_risk
      FROM {features} AS features WHERE {where}
    ),
    counted AS (SELECT count(*) AS matching, sum(value_at_risk) AS total_at_risk FROM matching),
    listed AS (SELECT * FROM matching ORDER BY {ORDER} LIMIT {int(filters.size)})
    SELECT counted.*, listed.customer_id, listed.profile_code, {columns}, listed.value_at_risk
    FROM counted
    LEFT JOIN listed ON TRUE
    ORDER BY {ORDER}
    """  # noqa: S608
    return sql, params

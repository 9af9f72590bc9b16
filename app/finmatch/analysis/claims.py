"""Which differences the insights may state: only those a test finds larger than chance, each with its p-value.

- Acceptance across the groups of a dimension (products recommended, segments): Pearson's chi-square test of
  independence of group and outcome (accepted, declined), over the groups the insights may name.
- The average churn of one lifecycle stage against the other stages together: Welch's t test.
- A projection: open high-affinity recommendations young enough to be answered (STALE_OPEN_DAYS) × the measured
  acceptance of decided high-affinity recommendations (Beta posterior, uniform prior) × the average sale after
  acceptance (t interval), with the ends of both intervals carried through.
"""

import math

from finmatch.inference import beta_interval, chi_square_p, mean_interval, welch_p
from finmatch.stats import combined_moments


def acceptance_difference(rows):
    """(p-value, best group, weakest group) of the groups' acceptance; p None when it cannot be tested."""
    table = [[row["accepted"], row["decided"] - row["accepted"]] for row in rows]
    ranked = sorted(rows, key=lambda row: (row["acceptance_rate"], str(row["value"])))
    return chi_square_p(table), ranked[-1], ranked[0]


def churn_difference(rows):
    """(p-value, riskiest group): the group with the highest average churn against all the others together."""
    riskiest = max(rows, key=lambda row: (row["avg_churn_probability"], str(row["value"])))
    others = [row for row in rows if row is not riskiest]
    count, mean, m2 = combined_moments(
        [row["n_churn"] for row in others],
        [row["avg_churn_probability"] for row in others],
        [(row["sd_churn"] or 0.0) ** 2 * (row["n_churn"] - 1) for row in others],
    )
    spread = math.sqrt(m2 / (count - 1)) if count > 1 else None
    p_value = welch_p(riskiest["avg_churn_probability"], riskiest["sd_churn"], riskiest["n_churn"], mean, spread, count)
    return p_value, riskiest


def projection(open_recent, accepted, decided, sales, average_sale, sale_sd):
    """(estimate, low, high) of sales from the open recommendations if they are accepted as decided ones were; None
    without a measured rate or average sale."""
    if not decided or not sales or average_sale is None:
        return None
    rate, rate_low, rate_high = beta_interval(accepted, decided - accepted)
    sale_low, sale_high = mean_interval(average_sale, sale_sd, sales)
    if sale_low is None:
        sale_low = sale_high = average_sale
    return (
        open_recent * rate * average_sale,
        open_recent * rate_low * max(sale_low, 0.0),
        open_recent * rate_high * sale_high,
    )

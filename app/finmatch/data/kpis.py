"""The eight cards' figures in SQL: counts, sums and moments, and the figures that follow from them.

One statement (KPI_SQL, or grouped by period in FprData.kpis_with_periods) sums what the cards need;
locally the same sums come per day (local.py). Either way `kpi_figures` turns the sums into rates,
averages and the spreads the noise test needs.
"""

from finmatch.data.answers import integer, number, ratio
from finmatch.data.sql import IS_ACCEPTED, IS_DECIDED, IS_OPEN, IS_SALE_AFTER_ACCEPTANCE
from finmatch.stats import combined_moments

# Averages shown on the cards, by the column they average.
AVERAGED = {
    "recommendation_score": "recommendation_score",
    "satisfaction": "customer_satisfaction_score",
    "churn_probability": "customer_churn_probability",
    "transaction_value": "customer_transaction_value",
    "balance": "account_balance",
}
# Counts, sums and, for each average, its count, mean and sum of squared deviations: they add up across groups
# (the moments by Chan's formula, which never subtracts two large sums), so one GROUP BY serves the selection and
# both compared periods, and a change can be tested against its noise. The measures beyond the counts by status
# (which a GROUP BY of the status gives as well).
KPI_MEASURES = [
    f"sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END) AS sales_after_acceptance",
    f"sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount * product_sales_amount END)"
    " AS sales_after_acceptance_squares",
    f"sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN 1 ELSE 0 END) AS sales_after_acceptance_count",
    *(
        f"count({column}) AS n_{name}, avg({column}) AS mean_{name}, var_pop({column}) * count({column}) AS m2_{name}"
        for name, column in AVERAGED.items()
    ),
]
KPI_AGGREGATES = ",\n".join(
    [
        "count(*) AS records",
        f"sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided",
        f"sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted",
        f"sum(CASE WHEN {IS_OPEN} THEN 1 ELSE 0 END) AS still_open",
        *KPI_MEASURES,
    ]
)
KPI_SQL = f"SELECT {KPI_AGGREGATES} FROM {{table}} WHERE {{where}}"
KPI_SUMS = (
    "records",
    "decided",
    "accepted",
    "still_open",
    "sales_after_acceptance",
    "sales_after_acceptance_squares",
    "sales_after_acceptance_count",
)


def added(groups):
    """Several groups of KPI_SQL's figures as one: sums added, moments combined (None where no group has any)."""
    total = {name: groups[name].sum(min_count=1) for name in KPI_SUMS}
    for name in AVERAGED:
        counts, means, m2s = (groups[f"{kind}_{name}"].fillna(0) for kind in ("n", "mean", "m2"))
        count, mean, m2 = combined_moments(counts, means, m2s)
        total[f"n_{name}"], total[f"mean_{name}"], total[f"m2_{name}"] = count, mean, m2
    return total


def kpi_figures(row):
    """The cards' figures from KPI_SQL's sums: rates, averages and the spreads the noise test needs."""
    figures = {name: integer(row[name]) or 0 for name in ("records", "decided", "accepted", "still_open")}
    figures["sales_after_acceptance_count"] = integer(row["sales_after_acceptance_count"]) or 0
    figures["sales_after_acceptance"] = number(row["sales_after_acceptance"])
    figures["sales_after_acceptance_squares"] = number(row["sales_after_acceptance_squares"])
    for name in AVERAGED:
        count, mean, m2 = integer(row[f"n_{name}"]), number(row[f"mean_{name}"]), number(row[f"m2_{name}"])
        mean = mean if count else None
        spread = None
        if count and count > 1:  # the sample standard deviation, as stddev_samp
            spread = (max(m2 or 0.0, 0.0) / (count - 1)) ** 0.5
        figures[f"avg_{name}"], figures[f"sd_{name}"], figures[f"n_{name}"] = mean, spread, count or 0
    figures["acceptance_rate"] = ratio(figures["accepted"], figures["decided"])
    figures["open_share"] = ratio(figures["still_open"], figures["records"])
    return figures


def kpis_with_periods(data, filters, recent=None, before=None):
    """FprData.kpis_with_periods in one statement: the rows are grouped by selection and period, and each set of
    KPIs adds up its groups."""
    undated = filters.without_dates()
    date = data.dialect.date()
    selected, selected_params = ["TRUE"], []
    if filters.date_from:
        selected.append(f"product_recommendation_date >= {date}")
        selected_params.append(filters.date_from.isoformat())
    if filters.date_to:
        selected.append(f"product_recommendation_date <= {date}")
        selected_params.append(filters.date_to.isoformat())
    periods, period_params = "NULL", []
    if recent and before:
        within = f"product_recommendation_date > {date} AND product_recommendation_date <= {date}"
        periods = f"CASE WHEN {within} THEN 'recent' WHEN {within} THEN 'before' END"
        period_params = [day.isoformat() for day in (*recent, *before)]
    frame = data.run(
        f"""
        SELECT in_selection, period, {KPI_AGGREGATES}
        FROM (SELECT *, CASE WHEN {" AND ".join(selected)} THEN 1 ELSE 0 END AS in_selection,
                     {periods} AS period
              FROM {{table}} WHERE {{where}}) AS dated
        GROUP BY in_selection, period
        """,
        undated,
        leading_params=[*selected_params, *period_params],
    )
    selection = kpi_figures(added(frame[frame["in_selection"] == 1]))
    if not (recent and before):
        return selection, None, None
    compared = [kpi_figures(added(frame[frame["period"] == name])) for name in ("recent", "before")]
    return (selection, *compared)

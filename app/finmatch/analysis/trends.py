"""The Overview's changes: which two periods the cards compare, and whether a card's change exceeds its noise.

By default the last TREND_DAYS days of recommendation dates are compared with the TREND_DAYS before;
with a date filter, the selected days with as many days before them. A period with fewer than
MIN_GROUP_RECORDS records gives no comparison at all.
"""

from datetime import timedelta

from finmatch.settings import MIN_GROUP_RECORDS
from finmatch.stats import mean_change_z, proportion_change_z, total_change_z

TREND_DAYS = 90
# For each card: the column of the sample spread and size behind an average (see kpis.KPI_SQL).
AVERAGE_SPREADS = {
    "avg_recommendation_score": ("sd_recommendation_score", "n_recommendation_score"),
    "avg_satisfaction": ("sd_satisfaction", "n_satisfaction"),
    "avg_churn_probability": ("sd_churn_probability", "n_churn_probability"),
    "avg_transaction_value": ("sd_transaction_value", "n_transaction_value"),
    "avg_balance": ("sd_balance", "n_balance"),
}


def trend_periods(filters, anchor):
    """The two periods the card deltas compare, as (after, up_to) pairs, and both in words; None without dates.

    `anchor` is the selection's last recommendation date, where the default comparison ends.
    """
    if filters.date_from and filters.date_to:
        days = (filters.date_to - filters.date_from).days + 1
        start = filters.date_from - timedelta(days=1)
        recent, before = (start, filters.date_to), (start - timedelta(days=days), start)
        words = f"the selected {days} days ({filters.date_from} to {filters.date_to})"
    else:
        if anchor is None:
            return None
        days = TREND_DAYS
        recent = (anchor - timedelta(days=days), anchor)
        before = (recent[0] - timedelta(days=days), recent[0])
        words = f"the last {days} days of recommendations ({recent[0] + timedelta(days=1)} to {anchor})"
    earlier = f"the {days} days before ({before[0] + timedelta(days=1)} to {before[1]})"
    return recent, before, words, earlier


def figures_and_trends(data, filters, breakdowns):
    """(selection KPIs, recent KPIs, earlier KPIs, a note saying which periods): the comparison is None when
    either period has too few records to compare.

    `data` answers as an FprData does (the page passes its cached answers); `breakdowns` are the selection's.
    """
    periods = trend_periods(filters, breakdowns.last_date)
    if periods is None:
        return data.kpis_with_periods(filters)[0], None, None, "No recommendation dates to compare periods."
    recent_period, before_period, words, earlier = periods
    kpis, recent, before = data.kpis_with_periods(filters, recent_period, before_period)
    smallest = min(recent["records"], before["records"])
    if smallest < MIN_GROUP_RECORDS:
        note = (
            f"No changes shown: comparing {words} with {earlier} needs {MIN_GROUP_RECORDS} records in each, "
            f"and one has only {smallest}."
        )
        return kpis, None, None, note
    return kpis, recent, before, f"Changes compare {words} with {earlier}, same filters otherwise."


def change_z(recent, before, key):
    """z of the change of one card between the two periods; None when it cannot be tested.

    A two-proportion z-test (pooled) for the acceptance rate and the open share, a compound-Poisson z for
    the sales total (its variance is the sum of the squared sales), Welch's z for averages.
    """
    if key == "acceptance_rate":
        return proportion_change_z(recent["accepted"], recent["decided"], before["accepted"], before["decided"])
    if key == "open_share":
        return proportion_change_z(recent["still_open"], recent["records"], before["still_open"], before["records"])
    if key == "sales_after_acceptance":
        return total_change_z(
            recent[key], recent["sales_after_acceptance_squares"], before[key], before["sales_after_acceptance_squares"]
        )
    sd, n = AVERAGE_SPREADS[key]
    return mean_change_z(recent[key], recent[sd], recent[n], before[key], before[sd], before[n])

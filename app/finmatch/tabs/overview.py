"""Overview: eight cards, each with its definition and its change against an earlier period, the monthly trend
of recommendations and acceptance, and how fresh the data is."""

from datetime import datetime, timezone

import altair as alt
import pandas as pd
import streamlit as st

from finmatch.analysis.trends import change_z
from finmatch.data.cache import ask
from finmatch.formats import compact_money, money, score, share
from finmatch.settings import CACHE_TTL_SECONDS, CHANGE_Z, MIN_GROUP_RECORDS
from finmatch.stats import exceeds_noise

# label, KPI key, how to show the value, definition shown on the card
KPI_CARDS = [
    (
        "Acceptance rate",
        "acceptance_rate",
        share,
        lambda k: f"Accepted ÷ answered (accepted or declined): {k['accepted']:,} of {k['decided']:,}.",
    ),
    (
        "Still open",
        "open_share",
        share,
        lambda k: f"{k['still_open']:,} of {k['records']:,} are Pending or In Progress.",
    ),
    (
        "Sales after acceptance",
        "sales_after_acceptance",
        compact_money,
        lambda k: f"{k['sales_after_acceptance_count']:,} accepted, sold on or after the recommendation date.",
    ),
    ("Avg recommendation score", "avg_recommendation_score", score, lambda k: "Strength of the recommendation, 0–1."),
    ("Avg satisfaction", "avg_satisfaction", score, lambda k: "Customer satisfaction score, 0–1."),
    (
        "Avg churn probability",
        "avg_churn_probability",
        score,
        lambda k: "Chance the customer leaves, 0–1; lower is better.",
    ),
    ("Avg account balance", "avg_balance", money, lambda k: "Mean balance over the selected records."),
    ("Avg transaction value", "avg_transaction_value", money, lambda k: "Mean value of recent transactions."),
]


# Less churn is good; more or fewer open recommendations is neither good nor bad by itself.
DELTA_COLORS = {"avg_churn_probability": "inverse", "open_share": "off"}
NOISE_RULE = (
    f"A change is coloured only when it exceeds its noise, |z| ≥ {CHANGE_Z} (two-sided 95 %): a two-proportion "
    "z-test for the acceptance rate and the open share, Welch's z for averages, and for the sales total a "
    "compound-Poisson z (its variance is the sum of the squared sales); smaller changes are shown grey, marked "
    "within noise."
)


def draw(page):
    kpis, recent, before = page.kpis, page.recent, page.before
    st.caption(f"{kpis['records']:,} records selected ({page.filters.describe()}). {page.trend_note}")
    cards(kpis, recent, before)
    if recent is not None:
        st.caption(NOISE_RULE)
    monthly_chart(page.breakdowns.monthly())
    freshness(page.data)


def cards(kpis, recent, before):
    """The eight cards in two rows, each with its definition and its change (none without a comparison)."""
    for row_start in (0, 4):
        for column, (label, key, show, define) in zip(st.columns(4), KPI_CARDS[row_start : row_start + 4], strict=True):
            with column.container(border=True):
                delta, colour = card_change(recent, before, key)
                st.metric(label, show(kpis[key]), delta=delta, delta_color=colour)
                st.caption(define(kpis))


def freshness(data):
    """The latest change and the last sync, both in UTC, and how long figures are reused."""
    found = ask(data, "freshness")
    latest = found["latest_epoch"]
    latest_text = datetime.fromtimestamp(latest, timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if latest else "n/a"
    synced = f"{found['last_synced']} UTC" if found["last_synced"] else "n/a"
    st.caption(
        f"Data freshness: latest change {latest_text} · last synced {synced} · "
        f"figures reused for up to {CACHE_TTL_SECONDS // 60} minutes "
        "(Reload data in the sidebar reads the table again)."
    )


def card_change(recent, before, key):
    """(delta text or None, colour): coloured only when the change exceeds its noise."""
    if recent is None or recent[key] is None or before[key] is None:
        return None, "off"
    if key == "acceptance_rate" and min(recent["decided"], before["decided"]) < MIN_GROUP_RECORDS:
        return None, "off"
    change = recent[key] - before[key]
    if key in ("acceptance_rate", "open_share"):
        text = f"{change * 100:+.1f} pts"
    elif key in ("sales_after_acceptance", "avg_transaction_value", "avg_balance"):
        text = f"{'+' if change >= 0 else '-'}${abs(change):,.0f}"
    else:
        text = f"{change:+.3f}"
    if not exceeds_noise(change_z(recent, before, key)):
        return f"{text} · within noise", "off"
    return text, DELTA_COLORS.get(key, "normal")


def trend_runs(reliable):
    """A number per month that changes at every unreliable month, so a line joins only consecutive reliable months."""
    runs, run = [], 0
    for is_reliable in reliable:
        if not is_reliable:
            run += 1
        runs.append(run)
    return runs


def monthly_chart(monthly):
    if monthly.empty:
        return
    frame = monthly.assign(
        month=pd.to_datetime(monthly["month"]),
        reliable=monthly["decided"] >= MIN_GROUP_RECORDS,
        acceptance_rate=monthly["acceptance_rate"].astype(float),
    )
    frame["run"] = trend_runs(frame["reliable"])
    axis = alt.Axis(format="%b %Y", labelAngle=0, labelOverlap=True, title=None)
    x = alt.X("yearmonth(month):T", axis=axis)
    centred = alt.X("yearmonth(month):T", axis=axis, bandPosition=0.5)
    tooltip = [
        alt.Tooltip("month:T", format="%B %Y", title="Month"),
        alt.Tooltip("records:Q", title="Recommendations"),
        alt.Tooltip("decided:Q", title="Answered (accepted or declined)"),
        alt.Tooltip("acceptance_rate:Q", format=".1%", title="Accepted of answered"),
    ]
    bars = (
        alt.Chart(frame)
        .mark_bar(color="#9ecae9", opacity=0.8, width=alt.RelativeBandSize(0.8))
        .encode(x=x, y=alt.Y("records:Q", title="Recommendations"), tooltip=tooltip)
    )
    # The trend line joins only months with enough decided recommendations, and only consecutive ones.
    line = (
        alt.Chart(frame[frame["reliable"]])
        .mark_line(color="#d62728")
        .encode(x=centred, y=alt.Y("acceptance_rate:Q"), detail="run:N")
    )
    points = (
        alt.Chart(frame)
        .mark_point(color="#d62728", size=60)
        .encode(
            x=centred,
            y=alt.Y("acceptance_rate:Q", title="Accepted of answered", axis=alt.Axis(format="%")),
            fill=alt.condition("datum.reliable", alt.value("#d62728"), alt.value("white")),
            tooltip=tooltip,
        )
    )
    chart = alt.layer(bars, line + points).resolve_scale(y="independent")
    st.altair_chart(chart.properties(title="Recommendations and acceptance by month", height=280), width="stretch")
    sparse = int((~frame["reliable"]).sum())
    if sparse:
        st.caption(
            f"Hollow points: {sparse} of {len(frame)} months have fewer than {MIN_GROUP_RECORDS} answered "
            "recommendations (accepted or declined), so their acceptance rate can swing by chance: they are drawn "
            "alone, not joined into the trend line."
        )

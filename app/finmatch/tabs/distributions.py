"""Distributions: the selection by recommendation status, affinity band, lifecycle stage, product held and
segment, and acceptance by tenth of recommendation score; a small selection is flagged."""

import altair as alt
import streamlit as st

from finmatch.settings import MIN_GROUP_RECORDS


def draw(page):
    breakdowns = page.breakdowns
    if page.kpis["records"] < MIN_GROUP_RECORDS:
        st.warning(
            f"Only {page.kpis['records']} records match the filters: these shapes can change a lot with a few "
            "records more or less."
        )
    left, right = st.columns(2)
    charts = [
        (left, breakdowns.counts("status"), "value", "Recommendation status", True),
        (right, breakdowns.affinity_bands(), "band", "Product affinity", False),
        (left, breakdowns.counts("stage"), "value", "Lifecycle stage", True),
        (right, breakdowns.counts("product_type", 10), "value", "Products held (top 10)", True),
        (left, breakdowns.counts("segment", 10), "value", "Segments (top 10)", True),
    ]
    for column, frame, category, title, horizontal in charts:
        column.altair_chart(bar_chart(frame, category, title, horizontal), width="stretch")
    with right:
        acceptance_by_score_chart(breakdowns.acceptance_by_score())


def bar_chart(frame, category, title, horizontal):
    """Horizontal bars sorted by size, or vertical bars in the frame's own order (for ordered bands)."""
    tooltip = [alt.Tooltip(f"{category}:N", title=title), alt.Tooltip("records:Q", title="Records")]
    if horizontal:
        x, y = alt.X("records:Q", title="Records"), alt.Y(f"{category}:N", title=None, sort="-x")
    else:
        x = alt.X(f"{category}:N", title=None, sort=None, axis=alt.Axis(labelAngle=0))
        y = alt.Y("records:Q", title="Records")
    return alt.Chart(frame, title=title).mark_bar().encode(x=x, y=y, tooltip=tooltip)


def acceptance_by_score_chart(by_score):
    frame = by_score.assign(
        reliable=by_score["decided"] >= MIN_GROUP_RECORDS, acceptance_rate=by_score["acceptance_rate"].astype(float)
    )
    x = alt.X("score_from:Q", title="Recommendation score (from)", scale=alt.Scale(domain=[0, 1]))
    y = alt.Y("acceptance_rate:Q", title="Accepted of answered", axis=alt.Axis(format="%"))
    tooltip = [
        alt.Tooltip("score_from:Q", title="Score from"),
        alt.Tooltip("decided:Q", title="Answered (accepted or declined)"),
        alt.Tooltip("acceptance_rate:Q", format=".1%", title="Accepted of answered"),
    ]
    base = alt.Chart(frame, title="Acceptance by recommendation score")
    line = base.mark_line().encode(x=x, y=y)
    points = base.mark_point(size=60, color="#0068c9").encode(
        x=x,
        y=y,
        fill=alt.condition("datum.reliable", alt.value("#0068c9"), alt.value("white")),
        tooltip=tooltip,
    )
    chart = line + points
    st.altair_chart(chart, width="stretch")
    sparse = int((~frame["reliable"]).sum())
    if sparse:
        st.caption(
            f"Hollow points: {sparse} of {len(frame)} score bands have fewer than {MIN_GROUP_RECORDS} answered "
            "recommendations (accepted or declined), so their acceptance can swing by chance."
        )

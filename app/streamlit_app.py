"""FinMatch: which recommendations work, and whom to call next, from the fpr_records table.

Runs locally on the warehouse `make sync` writes (`make app`) and unchanged as Streamlit in
Snowflake, on FPR_RECORDS. Every figure is computed by SQL over the whole table.
"""

from datetime import datetime, timedelta, timezone

import altair as alt
import streamlit as st
from finmatch_data import (
    ACTION_WEIGHTS,
    Filters,
    FprData,
    WarehouseMissing,
    mask_personal,
    open_backend,
)
from finmatch_insights import (
    COMPUTED_LABEL,
    CORTEX_MODELS,
    FOCUS_AREAS,
    compact_money,
    computed_insight,
    cortex_prompt,
    gather_statistics,
    money,
    score,
    share,
)

TREND_DAYS = 90
NO_MATCH = "No records match the filters. Clear a filter in the sidebar to see more."
EXPLORER_DEFAULT_COLUMNS = [
    "record_id",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_segment",
    "product_type",
    "product_recommendation",
    "product_recommendation_status",
    "recommendation_score",
    "account_balance",
    "last_updated_epoch",
]

# label, KPI key, how to show the value
KPI_CARDS = [
    ("Avg recommendation score", "avg_recommendation_score", score),
    ("Avg satisfaction", "avg_satisfaction", score),
    ("Avg churn probability", "avg_churn_probability", score),
    ("Acceptance rate", "acceptance_rate", share),
    ("Total product sales", "total_sales", compact_money),
    ("Avg transaction value", "avg_transaction_value", money),
    ("Avg account balance", "avg_balance", money),
    ("Avg transaction count", "avg_transaction_count", lambda value: "n/a" if value is None else f"{value:.1f}"),
]


def sidebar(data):
    """The filters (empty = all) and whether personal data is shown."""
    options = data.filter_options()
    st.sidebar.header("Filters")
    segments = st.sidebar.multiselect("Customer segment", options["segments"], placeholder="All segments")
    product_types = st.sidebar.multiselect("Product type", options["product_types"], placeholder="All product types")
    stages = st.sidebar.multiselect("Lifecycle stage", options["stages"], placeholder="All stages")
    statuses = st.sidebar.multiselect("Recommendation status", options["statuses"], placeholder="All statuses")
    first, last = options["dates"]
    date_from = date_to = None
    if first and last:
        chosen = st.sidebar.date_input("Recommendation date", value=(first, last), min_value=first, max_value=last)
        if isinstance(chosen, tuple | list) and len(chosen) == 2 and tuple(chosen) != (first, last):
            date_from, date_to = chosen
    st.sidebar.divider()
    show_personal = st.sidebar.toggle("Show customer names and emails", value=False)
    filters = Filters(tuple(segments), tuple(product_types), tuple(stages), tuple(statuses), date_from, date_to)
    return filters, show_personal, last


def overview(data, filters, kpis, anchor):
    st.subheader("Overview")
    recent_start = anchor - timedelta(days=TREND_DAYS)
    recent = data.kpis(filters, (recent_start, anchor))
    before = data.kpis(filters, (recent_start - timedelta(days=TREND_DAYS), recent_start))
    st.caption(
        f"{kpis['records']:,} records. Each card compares the last {TREND_DAYS} days of recommendations "
        f"(to {anchor}) with the {TREND_DAYS} days before."
    )
    for row_start in (0, 4):
        for column, (label, key, show) in zip(st.columns(4), KPI_CARDS[row_start : row_start + 4], strict=True):
            column.metric(
                label,
                show(kpis[key]),
                delta=_trend(recent[key], before[key], key),
                delta_color="inverse" if key == "avg_churn_probability" else "normal",
                border=True,
            )
    freshness = data.freshness()
    latest = freshness["latest_epoch"]
    latest_text = datetime.fromtimestamp(latest, timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if latest else "n/a"
    synced = (freshness["last_synced"] or "n/a")[:19]
    st.caption(f"Data freshness: latest change {latest_text} · last synced {synced} UTC")


def _trend(recent, before, key):
    if recent is None or before is None:
        return None
    change = recent - before
    if key == "acceptance_rate":
        return f"{change * 100:+.1f} pts"
    if key in ("total_sales", "avg_transaction_value", "avg_balance"):
        return f"{'+' if change >= 0 else '-'}${abs(change):,.2f}"
    return f"{change:+.3f}"


def bar_chart(frame, category, value, title, horizontal):
    """Horizontal bars sorted by size, or vertical bars in the frame's own order (for ordered bands)."""
    if horizontal:
        x, y = alt.X(f"{value}:Q", title="Records"), alt.Y(f"{category}:N", title=None, sort="-x")
    else:
        x, y = alt.X(f"{category}:N", title=None, sort=None), alt.Y(f"{value}:Q", title="Records")
    return alt.Chart(frame, title=title).mark_bar().encode(x=x, y=y, tooltip=[category, value])


def distributions(data, filters):
    st.subheader("Distributions")
    left, right = st.columns(2)
    charts = [
        (left, data.counts_by("product_recommendation_status", filters), "value", "Recommendation status", True),
        (right, data.affinity_bands(filters), "band", "Product affinity", False),
        (left, data.counts_by("customer_lifecycle_stage", filters), "value", "Lifecycle stage", True),
        (right, data.counts_by("product_type", filters, limit=10), "value", "Top product types", True),
        (left, data.counts_by("customer_segment", filters, limit=10), "value", "Top segments", True),
    ]
    for column, frame, category, title, horizontal in charts:
        column.altair_chart(bar_chart(frame, category, "records", title, horizontal), width="stretch")
    by_score = data.acceptance_by_score(filters)
    chart = (
        alt.Chart(by_score, title="Acceptance rate by recommendation score")
        .mark_line(point=True)
        .encode(
            x=alt.X("score_from:Q", title="Recommendation score (from)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("acceptance_rate:Q", title="Accepted", axis=alt.Axis(format="%")),
            tooltip=["score_from", "records", alt.Tooltip("acceptance_rate:Q", format=".1%")],
        )
    )
    right.altair_chart(chart, width="stretch")


def level(value):
    return "high" if value >= 0.7 else "medium" if value >= 0.4 else "low"


def reason(row):
    return (
        f"churn {row['customer_churn_probability']:.2f} ({level(row['customer_churn_probability'])}) · "
        f"affinity {row['customer_product_affinity']:.2f} ({level(row['customer_product_affinity'])}) · "
        f"recommendation score {row['recommendation_score']:.2f} · still {row['product_recommendation_status']}"
    )


def action_view(data, filters, show_personal):
    st.subheader("Who to act on")
    weights = " + ".join(f"{weight:g} × {column.replace('_', ' ')}" for column, weight in ACTION_WEIGHTS.items())
    st.caption(
        f"Action score = 100 × ({weights}), for recommendations not yet accepted (Pending or In Progress). "
        "High churn risk comes first, then how much the customer likes the product, then the recommendation's strength."
    )
    limit = st.number_input("Customers to list", min_value=10, max_value=500, value=50, step=10)
    actions = data.action_list(filters, limit)
    if actions.empty:
        st.info("No open recommendations match the filters.")
        return
    actions.insert(0, "rank", range(1, len(actions) + 1))
    actions["reason"] = actions.apply(reason, axis=1)
    shown = actions if show_personal else mask_personal(actions)
    columns = [
        "rank",
        "action_score",
        "reason",
        "customer_id",
        "customer_name",
        "customer_email",
        "customer_segment",
        "product_recommendation",
        "product_type",
        "product_recommendation_date",
        "record_id",
    ]
    st.dataframe(shown[columns], hide_index=True, width="stretch")
    st.download_button(
        "Download as CSV", shown[columns].to_csv(index=False), file_name="finmatch_actions.csv", mime="text/csv"
    )


def insights_view(data, filters):
    st.subheader("Insights")
    if data.backend.has_cortex:
        model = st.selectbox("Cortex model", CORTEX_MODELS)
        st.caption("Written by Snowflake Cortex from the figures computed over the table.")
    else:
        model = None
        st.caption(COMPUTED_LABEL + " Cortex is available when the app runs in Snowflake.")
    history = st.session_state.setdefault("insights_history", [])
    if st.button("Generate insights", type="primary"):
        stats = gather_statistics(data, filters)
        sections = {}
        for focus in FOCUS_AREAS:
            if model:
                sections[focus] = data.complete(model, cortex_prompt(focus, stats))
            else:
                sections[focus] = computed_insight(focus, stats)
        history.append(
            {
                "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "source": f"Snowflake Cortex ({model})" if model else "computed by FinMatch",
                "filters": repr(filters),
                "sections": sections,
            }
        )
    if not history:
        st.info("Press *Generate insights* to write the four sections for the current selection.")
        return
    latest = history[-1]
    st.caption(f"Generated {latest['generated']}, {latest['source']}.")
    for focus, text in latest["sections"].items():
        st.markdown(f"#### {focus}\n{text}")
    with st.expander(f"History ({len(history)})"):
        for entry in reversed(history):
            st.markdown(f"**{entry['generated']}**, {entry['source']}")
    st.download_button(
        "Download insights history", history_markdown(history), file_name="finmatch_insights.md", mime="text/markdown"
    )


def history_markdown(history):
    parts = []
    for entry in history:
        parts.append(f"# Insights, {entry['generated']} ({entry['source']})\n\nFilters: {entry['filters']}\n")
        parts += [f"## {focus}\n\n{text}\n" for focus, text in entry["sections"].items()]
    return "\n".join(parts)


def explorer(data, filters, show_personal):
    st.subheader("Data explorer")
    search = st.text_input("Search customer or product (id, name or email)")
    page_size = st.selectbox("Rows per page", [25, 50, 100])
    total = data.match_count(filters, search)
    pages = max((total + page_size - 1) // page_size, 1)
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1)
    frame = data.explore(filters, search, page, page_size)
    columns = st.multiselect("Columns", list(frame.columns), default=EXPLORER_DEFAULT_COLUMNS)
    if total == 0:
        st.info("No records match the search and filters.")
        return
    shown = frame if show_personal else mask_personal(frame)
    first = (page - 1) * page_size + 1
    st.caption(f"Rows {first:,}–{first + len(frame) - 1:,} of {total:,}, most recently changed first.")
    st.dataframe(shown[columns or list(frame.columns)], hide_index=True, width="stretch")


def main():
    st.set_page_config(page_title="FinMatch", page_icon="🏦", layout="wide")
    st.title("FinMatch")
    st.caption("Financial product recommendations: how they perform and whom to act on.")
    try:
        backend = open_backend()
    except WarehouseMissing as missing:
        st.info(str(missing))
        return
    data = FprData(backend)
    if data.kpis(Filters())["records"] == 0:
        st.info("fpr_records has no rows yet. Run a sync (`make sync` locally) and reload.")
        return
    filters, show_personal, anchor = sidebar(data)
    kpis = data.kpis(filters)
    st.sidebar.caption(f"Source: {backend.name} · {kpis['records']:,} records selected")
    tabs = st.tabs(["Overview", "Distributions", "Who to act on", "Insights", "Data explorer"])
    if kpis["records"] == 0:
        for tab in tabs:
            tab.warning(NO_MATCH)
        return
    with tabs[0]:
        overview(data, filters, kpis, anchor)
    with tabs[1]:
        distributions(data, filters)
    with tabs[2]:
        action_view(data, filters, show_personal)
    with tabs[3]:
        insights_view(data, filters)
    with tabs[4]:
        explorer(data, filters, show_personal)


main()

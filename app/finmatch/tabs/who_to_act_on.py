"""Who to act on: customers with an open recommendation, each once, most urgent first, each with why and for how
long it has been open; the open recommendations of the selection by age; the list as CSV."""

import altair as alt
import pandas as pd
import streamlit as st

from finmatch.data.actions import ACTION_WEIGHTS
from finmatch.data.cache import ask
from finmatch.settings import ACTION_LIST_SIZE, HIGH_AFFINITY
from finmatch.tabs.widgets import csv_download, shown, table

ACTION_COLUMNS = [
    "rank",
    "action_score",
    "reason",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_segment",
    "product_type",
    "product_recommendation",
    "product_recommendation_status",
    "product_recommendation_date",
    "age_days",
    "open_for_customer",
    "record_id",
]


@st.fragment
def draw(page):
    weights = " + ".join(f"{weight:g} × {column.replace('_', ' ')}" for column, weight in ACTION_WEIGHTS.items())
    st.caption(
        "Customers with an open recommendation (Pending or In Progress), each once, ranked by the action score of "
        f"their most urgent one: 100 × ({weights}). A customer likely to leave who likes the product comes first. "
        f"Ages are counted to {page.today} (UTC)."
    )
    ageing_chart(page.breakdowns.open_ages())
    limit = st.columns([1, 3])[0].number_input(
        "Customers to list", min_value=10, max_value=500, value=ACTION_LIST_SIZE, step=10
    )
    actions = ask(page.data, "action_list", page.filters, page.today, int(limit))
    if actions.empty:
        st.info("No open recommendations match the filters.")
        return
    actions = actions.assign(rank=range(1, len(actions) + 1), reason=actions.apply(reason, axis=1))
    listed = shown(actions[ACTION_COLUMNS], page.access)
    table(listed, column_config={"Why": st.column_config.TextColumn("Why", width="large")})
    csv_download("Download as CSV", listed, "finmatch_actions.csv")


def level(value):
    """Words for a 0–1 figure; "high" starts at the one affinity threshold every tab uses."""
    return "high" if value >= HIGH_AFFINITY else "medium" if value >= 0.4 else "low"


def reason(row):
    age = "" if pd.isna(row["age_days"]) else f" · open {int(row['age_days'])} days"
    return (
        f"churn {row['customer_churn_probability']:.2f} ({level(row['customer_churn_probability'])}) · "
        f"affinity {row['customer_product_affinity']:.2f} ({level(row['customer_product_affinity'])}) · "
        f"score {row['recommendation_score']:.2f} · {row['product_recommendation_status']}{age}"
    )


def ageing_chart(ages):
    """Open recommendations by age: the older, the likelier the customer has moved on."""
    total = int(ages["records"].sum())
    if not total:
        return
    chart = (
        alt.Chart(ages, title=alt.Title(f"Open recommendations by age ({total:,})", anchor="start"))
        .mark_bar()
        .encode(
            x=alt.X("bucket:N", title=None, sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("records:Q", title="Open recommendations"),
            tooltip=[alt.Tooltip("bucket:N", title="Open for"), alt.Tooltip("records:Q", title="Recommendations")],
        )
        .properties(height=200, padding={"top": 8, "left": 5, "right": 5, "bottom": 5})
    )
    st.altair_chart(chart, width="stretch")

"""Retention: customers ranked by value at risk (churn probability × balance), narrowed by satisfaction, churn,
segment, lifecycle stage and time in it, and exportable as the campaign lists are. Nothing is computed until the
viewer asks for the list."""

import pandas as pd
import streamlit as st

from finmatch.analysis.export import campaign_id
from finmatch.analysis.retention import Retention
from finmatch.data.cache import ask
from finmatch.data.retention import RetentionFilters
from finmatch.formats import compact_money
from finmatch.settings import RETENTION_LIST_SIZE
from finmatch.tabs.exports import export_section, listed_ids
from finmatch.tabs.widgets import table

RETENTION_COLUMNS = {
    "rank": "Rank",
    "customer_id": "Customer ID",
    "segment": "Segment",
    "stage": "Stage",
    "stage_age_days": "Days in stage",
    "churn": "Churn probability",
    "satisfaction": "Satisfaction",
    "balance": "Balance",
    "value_at_risk": "Value at risk",
}


@st.fragment
def draw(page):
    st.caption(
        "Customers most worth keeping: ranked by value at risk = churn probability × balance (each the customer's "
        "average over their records), what the bank stands to lose weighted by how likely it is. Days in stage: from "
        "the customer's latest lifecycle change to their latest recommendation. The sidebar filters do not apply."
    )
    filters = choose_filters(page)
    if filters is None:
        st.info("Switch on *Build the retention list* to rank the customers the filters above describe.")
        return
    listed = ask(Retention(page.campaigns), "build", filters)
    st.markdown(
        f"**{listed.matching:,}** customers match · value at risk among them "
        f"**{compact_money(listed.total_at_risk)}** · the top {len(listed.ranked):,} listed"
    )
    if listed.ranked.empty:
        st.info("No customer matches these filters.")
        return
    table(retention_table(listed.ranked, listed_ids(page, listed.ranked)))
    header = {
        "campaign_id": campaign_id("retention", "retention", listed.created_at, filters),
        "kind": "retention",
        "product": None,
        "created_at": listed.created_at,
        "model_version": "churn probability x balance",
    }
    control = st.number_input("Control group, % of the retention list", min_value=0, max_value=50, value=10, step=5)
    export_section(page, listed.ranked, header, control / 100, "retention")


def choose_filters(page):
    """The viewer's filters, or None until the list is asked for."""
    churn, satisfaction, size = st.columns(3)
    min_churn = churn.slider("Churn probability at least", 0.0, 1.0, 0.5, 0.05)
    max_satisfaction = satisfaction.slider("Satisfaction at most", 0.0, 1.0, 1.0, 0.05)
    count = size.number_input("Customers in the list", min_value=10, max_value=5000, value=RETENTION_LIST_SIZE, step=50)
    segments_column, stages_column, shortest, longest = st.columns([2, 2, 1, 1])
    segments = segments_column.multiselect("Segments", page.options["segments"], placeholder="All segments")
    stages = stages_column.multiselect("Lifecycle stages", page.options["stages"], placeholder="All stages")
    at_least = shortest.number_input("Days in stage, at least", value=None, step=30)
    at_most = longest.number_input("Days in stage, at most", value=None, step=30)
    if not st.toggle("Build the retention list"):
        return None
    return RetentionFilters(
        min_churn=float(min_churn),
        max_satisfaction=float(max_satisfaction),
        codes=Retention(page.campaigns).codes_for(tuple(segments), tuple(stages)),
        min_stage_days=None if at_least is None else int(at_least),
        max_stage_days=None if at_most is None else int(at_most),
        size=int(count),
    )


def retention_table(ranked, ids):
    return pd.DataFrame(
        {
            "rank": range(1, len(ranked) + 1),
            "customer_id": ids,
            "segment": ranked["segment"],
            "stage": ranked["stage"],
            "stage_age_days": ranked["stage_age_days"],
            "churn": ranked["churn"].map(lambda value: f"{value:.2f}"),
            "satisfaction": ranked["satisfaction"].map(lambda value: "n/a" if pd.isna(value) else f"{value:.2f}"),
            "balance": ranked["balance"].map(lambda value: f"${value:,.0f}"),
            "value_at_risk": ranked["value_at_risk"].map(lambda value: f"${value:,.0f}"),
        }
    ).rename(columns=RETENTION_COLUMNS)

"""Data explorer: the selected records themselves, searchable and paged, most recently changed first."""

import pandas as pd
import streamlit as st

from finmatch.data.cache import ask
from finmatch.tabs.widgets import LABELS, shown, table

EXPLORER_DEFAULT = [
    "record_id",
    "customer_id",
    "customer_name",
    "customer_segment",
    "product_recommendation",
    "product_recommendation_status",
    "product_recommendation_date",
    "recommendation_score",
    "account_balance",
    "last_updated_epoch",
]


@st.fragment
def draw(page):
    personal = page.access.personal
    if personal:
        search = st.text_input("Search customer, product or record (id, name or email)")
    else:
        search = st.text_input("Search product or record (id or product name)")
        st.caption("Customer names, emails and ids are masked for you, so they cannot be searched.")
    size_column, page_column, _ = st.columns([1, 1, 2])
    page_size = size_column.selectbox("Rows per page", [25, 50, 100])
    # Without a search the explorer shows the whole selection, already counted for the cards.
    total = ask(page.data, "match_count", page.filters, search, personal) if search.strip() else page.kpis["records"]
    pages = max((total + page_size - 1) // page_size, 1)
    number = page_column.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1)
    frame = ask(page.data, "explore", page.filters, search, int(number), page_size, personal)
    columns = st.multiselect(
        "Columns", list(frame.columns), default=EXPLORER_DEFAULT, format_func=lambda name: LABELS.get(name, name)
    )
    if total == 0:
        st.info("No records match the search and filters.")
        return
    frame = frame.assign(last_updated_epoch=pd.to_datetime(frame["last_updated_epoch"], unit="s"))
    first = (number - 1) * page_size + 1
    st.caption(f"Rows {first:,}–{first + len(frame) - 1:,} of {total:,}, most recently changed first.")
    table(shown(frame[columns or list(frame.columns)], page.access))

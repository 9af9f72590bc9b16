"""FinMatch: which recommendations work, whom to call next, and which product to offer them.

Runs locally on the warehouse `make sync` writes (`make app`) and unchanged as Streamlit in
Snowflake, on FPR_RECORDS. Every figure is computed by SQL over the whole table; answers are
cached per filter choice for CACHE_TTL_SECONDS.

This file is one page run, top to bottom: open the data, start building what Match and the
campaigns read, the sidebar, the figures every tab shares, then each tab, drawn by its module in
finmatch/tabs/. Beneath the tabs, finmatch/analysis/ holds what they compute and finmatch/data/
the SQL they compute it with.
"""

from datetime import datetime, timezone

import streamlit as st

from finmatch.analysis.campaign import campaigns_for
from finmatch.analysis.match import Matcher
from finmatch.analysis.trends import figures_and_trends
from finmatch.data.backends import WarehouseMissing, open_backend
from finmatch.data.cache import Cached, ask, forget_everything
from finmatch.data.filters import Filters
from finmatch.data.fpr_data import FprData
from finmatch.privacy import decide_access
from finmatch.settings import CACHE_TTL_SECONDS
from finmatch.tabs import campaigns, distributions, explorer, insights, match, overview, retention, who_to_act_on
from finmatch.tabs.page import Page
from finmatch.tabs.widgets import short_error

TABS = {
    "Overview": overview.draw,
    "Distributions": distributions.draw,
    "Who to act on": who_to_act_on.draw,
    "Campaigns": campaigns.draw,
    "Retention": retention.draw,
    "Match": match.draw,
    "Insights": insights.draw,
    "Data explorer": explorer.draw,
}
NO_ROWS = "fpr_records has no rows yet. Run a sync (`make sync` locally) and reload."
NO_MATCH = "No records match the filters. Clear a filter in the sidebar to see more."


def main():
    st.set_page_config(page_title="FinMatch", page_icon="🏦", layout="wide")
    st.title("FinMatch")
    st.caption("Financial product recommendations: how they perform, whom to act on, and what to offer next.")
    try:
        backend = open_backend()
    except WarehouseMissing as missing:
        st.info(str(missing))
        return
    with backend.reading():  # locally: the warehouse stays attached for this run only
        show_page(FprData(backend))


def show_page(data):
    today = utc_today()
    options = ask(data, "vocabulary")
    if options["dates"][1] is None and not options["statuses"]:
        st.info(NO_ROWS)
        return
    campaign_lists, matcher = start_building(data, options)
    everything = ask(data, "breakdowns", Filters(), today)
    if everything.records == 0:
        st.info(NO_ROWS)
        return
    access = viewer_access(data)
    filters = sidebar(options, access)
    breakdowns = everything if filters == Filters() else ask(data, "breakdowns", filters, today)
    kpis, recent, before, trend_note = figures_and_trends(Cached(data), filters, breakdowns)
    st.sidebar.caption(f"Source: {data.backend.name} · {kpis['records']:,} records selected")
    tabs = st.tabs(list(TABS))
    if kpis["records"] == 0:
        for tab in tabs:
            tab.warning(NO_MATCH)
        return
    page = Page(
        data=data,
        matcher=matcher,
        campaigns=campaign_lists,
        filters=filters,
        kpis=kpis,
        access=access,
        today=today,
        options=options,
        breakdowns=breakdowns,
        recent=recent,
        before=before,
        trend_note=trend_note,
    )
    for tab, draw in zip(tabs, TABS.values(), strict=True):
        with tab:
            guarded(draw, page)
    tables_for_a_first_campaign(campaign_lists)
    st.sidebar.caption(data.backend.derived_note())  # last: it says which relations this run read derived


def start_building(data, options):
    """The page's campaign lists and Match, with the tables they read set to be built."""
    campaign_lists = campaigns_for(data, options, options["products"])
    matcher = Matcher(data, campaign_lists.codes, campaign_lists.bits)
    # Locally, the tables the page reads from are built in the background, one after the other, while the page is
    # computed: first the kept urgent recommendations the first load needs (Who to act on, Match's picker), then the
    # per-customer tables a first campaign or Match customer reads (neither is computed before a choice), Match's
    # outcomes last. In Snowflake each statement computes what it reads.
    data.backend.prefetch([*data.builds(), *campaign_lists.builds(), *matcher.builds()])
    return campaign_lists, matcher


def sidebar(options, access):
    """The filters (empty = all) and the viewer's access to customer data."""
    st.sidebar.header("Filters")
    segments = st.sidebar.multiselect("Customer segment", options["segments"], placeholder="All segments")
    products = st.sidebar.multiselect(
        "Product recommended",
        options["products"],
        placeholder="All products",
        help="The product offered to the customer: what they accepted or declined.",
    )
    product_types = st.sidebar.multiselect(
        "Product held",
        options["product_types"],
        placeholder="All products",
        help="The product the customer already has, a different thing from the product recommended.",
    )
    stages = st.sidebar.multiselect("Lifecycle stage", options["stages"], placeholder="All stages")
    statuses = st.sidebar.multiselect("Recommendation status", options["statuses"], placeholder="All statuses")
    first, last = options["dates"]
    date_from = date_to = None
    if first and last:
        chosen = st.sidebar.date_input("Recommendation date", value=(first, last), min_value=first, max_value=last)
        if isinstance(chosen, tuple | list) and len(chosen) == 2 and tuple(chosen) != (first, last):
            date_from, date_to = chosen
    st.sidebar.divider()
    st.sidebar.caption(("🔓 " if access.personal else "🔒 ") + access.reason)
    if st.sidebar.button("Reload data", help=f"Figures are reused for up to {CACHE_TTL_SECONDS // 60} minutes."):
        forget_everything()
    return Filters(
        tuple(segments), tuple(product_types), tuple(stages), tuple(statuses), date_from, date_to, tuple(products)
    )


def viewer_access(data):
    """Decided once per session (one query in Snowflake), never by a widget."""
    key = f"finmatch_access:{data.backend.cache_key}"
    if key not in st.session_state:
        st.session_state[key] = decide_access(data)
    return st.session_state[key]


def guarded(draw, page):
    """Draws one tab; an unexpected failure is shown in that tab only, so the others still render."""
    try:
        draw(page)
    except Exception as error:
        st.error(f"This section could not be shown: {short_error(error)}")


def tables_for_a_first_campaign(campaign_lists):
    """Waits, once the page is drawn, for the customers' profiles (locally; in Snowflake there is nothing to wait
    for), which a campaign and Match's first customer both read. The run ends a little later, but the viewer already
    sees every tab meanwhile. The customers' features (campaigns, retention) and Match's outcomes go on being built
    in the background: a first product chosen at once waits for the features."""
    try:
        campaign_lists.backend.relation(*campaign_lists.builds()[0])
    except Exception:  # noqa: BLE001, S110 - the Campaigns tab shows the error once a product is chosen
        pass


def utc_today():
    return datetime.now(timezone.utc).date()


main()

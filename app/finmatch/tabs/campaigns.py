"""Campaigns: for a product the viewer chooses, the customers most worth offering it to, those left out and why,
whether the propensity model can be trusted to rank them, and the list as a CSV and as campaign members for the
CRM. Until a product is chosen nothing is computed."""

import streamlit as st

from finmatch.analysis.campaign import Target
from finmatch.analysis.export import campaign_id
from finmatch.data.cache import ask
from finmatch.formats import share
from finmatch.settings import CAMPAIGN_LIST_SIZE, COOL_OFF_DAYS, HIGH_CHURN
from finmatch.tabs.exports import export_section, listed_ids
from finmatch.tabs.verdicts import model_verdict, rates_line
from finmatch.tabs.widgets import table

CHOOSE_PRODUCT = (
    "Choose a product to offer: FinMatch then lists the customers most worth offering it to, and counts those left "
    "out because they already hold it, were already offered it, or are at high risk of leaving."
)
CAMPAIGN_COLUMNS = {
    "rank": "Rank",
    "customer_id": "Customer ID",
    "profile": "Segment · stage",
    "chance": "Chance of yes (range)",
    "value": "Value per offer (range)",
    "reason": "Why",
}
# Widths in pixels: the table fits beside the sidebar on a 1,400-pixel screen without scrolling sideways.
COLUMN_WIDTHS = {
    "Rank": 45,
    "Customer ID": 150,
    "Segment · stage": 150,
    "Chance of yes (range)": 160,
    "Value per offer (range)": 175,
    "Why": 250,
}


@st.fragment
def draw(page):
    products = page.campaigns.bits.products
    if not products:
        st.info("No product has been recommended yet, so there is nothing to build a campaign for.")
        return
    target, control_share = choose_target(products, page.options)
    if target is None:
        st.info(CHOOSE_PRODUCT)
        return
    rates = ask(page.campaigns, "rates", page.today)
    model = ask(page.campaigns, "model", target.product)
    listed = ask(page.campaigns, "build", target, page.today, rates, model)
    suppression_summary(page, target, listed.counts)
    product_rates = rates.get(target.product)
    if product_rates is None or not product_rates.answered.out_of:
        st.info(f"No decided recommendation of {target.product} yet: there is no acceptance to estimate from.")
        return
    st.markdown(rates_line(target.product, product_rates))
    model_verdict(target.product, model, listed.model_ranks)
    if listed.ranked.empty:
        st.info("Every customer in the target was left out: see the counts above.")
        return
    widths = {name: st.column_config.Column(width=width) for name, width in COLUMN_WIDTHS.items()}
    table(campaign_table(listed.ranked, listed_ids(page, listed.ranked)), column_config=widths)
    header = {
        "campaign_id": campaign_id("cross-sell", target.product, listed.created_at, target, control_share),
        "kind": "cross-sell",
        "product": target.product,
        "created_at": listed.created_at,
        "model_version": model.version if listed.model_ranks else "base rate",
    }
    export_section(page, listed.ranked, header, control_share, "campaign")


def choose_target(products, options):
    """The target the viewer chose and the control group's share; (None, share) until a product is chosen."""
    left, middle, right, size_column = st.columns([2, 2, 2, 1])
    # No product until the viewer picks one: nothing is computed for a campaign nobody asked for.
    product = left.selectbox("Product to offer", products, index=None, placeholder="Choose a product")
    segments = middle.multiselect("Target segments", options["segments"], placeholder="All segments")
    stages = right.multiselect("Target lifecycle stages", options["stages"], placeholder="All stages")
    size = size_column.number_input(
        "Customers in the list", min_value=10, max_value=5000, value=CAMPAIGN_LIST_SIZE, step=50
    )
    cool_column, churn_column, control_column = st.columns([1, 2, 1])
    cool_off = cool_column.number_input(
        "Days before offering again after a no", min_value=0, max_value=3650, value=COOL_OFF_DAYS, step=30
    )
    exclude = churn_column.checkbox(
        f"Leave out customers likely to leave (churn {HIGH_CHURN} or more)",
        value=True,
        help="They belong on the Retention tab's list first: a cross-sell offer is not what keeps them.",
    )
    control = control_column.number_input("Control group, % of the list", min_value=0, max_value=50, value=10, step=5)
    if product is None:
        return None, control / 100
    return Target(product, tuple(segments), tuple(stages), int(size), int(cool_off), bool(exclude)), control / 100


def suppression_summary(page, target, counts):
    """Who was left out and why, as counts that add up to the customers considered."""
    held = page.campaigns.held_names(target.product)
    held_words = ", ".join(f"“{name}”" for name in held) if held else "no product held matches it"
    other = f", {counts['other']:,} other status" if counts["other"] else ""
    churn = f" · **{counts['high_churn']:,}** likely to leave (retention first)" if target.exclude_high_churn else ""
    st.markdown(
        f"**{counts['customers']:,}** customers considered ({aimed_at(target)}) · "
        f"**{counts['hold']:,}** already hold {target.product} · "
        f"**{counts['recommended']:,}** already offered it ({counts['open']:,} still open, "
        f"{counts['accepted']:,} accepted, {counts['cool_off']:,} said no in the last {target.cool_off_days} days"
        f"{other}){churn} · **{counts['eligible']:,}** eligible"
    )
    st.caption(
        f"Held products counted as {target.product}: {held_words} (names compared ignoring case and a trailing "
        "“Account”). Each customer left out is counted once, for the first reason that applies in this order. "
        f"{counts['declined_again']:,} eligible customers said no over {target.cool_off_days} days ago and are "
        "offered again (the date of a no is its recommendation's date). The sidebar filters do not apply: a "
        "campaign looks at every customer's records."
    )


def aimed_at(target):
    """The customers a campaign considers, in words."""
    if not (target.segments or target.stages):
        return "every customer"
    chosen = [", ".join(values) for values in (target.segments, target.stages) if values]
    return "customers whose latest profile is in " + " and ".join(chosen)


def campaign_table(ranked, ids):
    """The ranked customers with readable figures, each under the id the viewer may see (listed_ids)."""
    frame = ranked.assign(
        rank=range(1, len(ranked) + 1),
        customer_id=ids,
        profile=[f"{segment} · {stage}" for segment, stage in zip(ranked["segment"], ranked["stage"], strict=True)],
        chance=[
            f"{share(score)} ({share(low)}–{share(high)})"
            for score, low, high in zip(ranked["score"], ranked["low"], ranked["high"], strict=True)
        ],
        value=[
            f"{_money(value)} ({_money(low)}–{_money(high)})"
            for value, low, high in zip(
                ranked["expected_value"], ranked["value_low"], ranked["value_high"], strict=True
            )
        ],
    )[list(CAMPAIGN_COLUMNS)]
    return frame.rename(columns=CAMPAIGN_COLUMNS)


def _money(value):
    """Whole dollars: a value per offer is an estimate, and cents would claim a precision it does not have."""
    return "n/a" if value is None or value != value else f"${value:,.0f}"

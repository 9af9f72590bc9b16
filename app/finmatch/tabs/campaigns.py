"""Campaigns: for a product the viewer chooses, the customers most worth offering it to, those left out and why,
and the list as CSV. Until a product is chosen nothing is computed."""

import streamlit as st

from finmatch.analysis.campaign import Target
from finmatch.data.cache import ask
from finmatch.formats import compact_money, money, share
from finmatch.settings import CAMPAIGN_LIST_SIZE, INTERVAL_LEVEL, PRIOR_STRENGTH
from finmatch.tabs.widgets import csv_download, masked_unless_allowed, table

CHOOSE_PRODUCT = (
    "Choose a product to offer: FinMatch then lists the customers most worth offering it to, and counts those left "
    "out because they already hold it or were already recommended it."
)
CAMPAIGN_COLUMNS = {
    "rank": "Rank",
    "customer_id": "Customer ID",
    "customer_name": "Customer",
    "expected_value": "Expected value",
    "value_interval": "Expected value, 90% interval",
    "estimate": "Estimated acceptance",
    "interval": "Estimated acceptance, 90% interval",
    "similar_decided": "Decided recommendations behind it",
    "segment": "Segment",
    "stage": "Lifecycle stage",
    "band": "Affinity band",
    "customer_email": "Email",
}


@st.fragment
def draw(page):
    products = page.campaigns.bits.products
    if not products:
        st.info("No product has been recommended yet, so there is nothing to build a campaign for.")
        return
    target = choose_target(products, page.options)
    if target is None:
        st.info(CHOOSE_PRODUCT)
        return
    counts, ranked = ask(page.campaigns, "build", target)
    suppression_summary(page, target, counts)
    if counts["base_rate"] is None:
        st.info(f"No decided recommendation of {target.product} yet: there is no acceptance to estimate from.")
        return
    if ranked.empty:
        st.info("Every customer in the target already holds this product or has been recommended it.")
        return
    listed = campaign_table(ranked, page.access)
    table(listed)
    csv_download(
        "Download the campaign list as CSV", listed, f"finmatch_campaign_{target.product.lower().replace(' ', '_')}.csv"
    )
    if not page.access.personal:
        st.caption("Names, emails and customer ids are masked for you, in the table and in the download.")


def choose_target(products, options):
    """The product, target profiles and list size the viewer chose; None until a product is chosen."""
    left, middle, right, size_column = st.columns([2, 2, 2, 1])
    # No product until the viewer picks one: nothing is computed for a campaign nobody asked for.
    product = left.selectbox("Product to offer", products, index=None, placeholder="Choose a product")
    segments = middle.multiselect("Target segments", options["segments"], placeholder="All segments")
    stages = right.multiselect("Target lifecycle stages", options["stages"], placeholder="All stages")
    size = size_column.number_input(
        "Customers in the list", min_value=10, max_value=5000, value=CAMPAIGN_LIST_SIZE, step=50
    )
    if product is None:
        return None
    return Target(product, tuple(segments), tuple(stages), int(size))


def suppression_summary(page, target, counts):
    """Who was left out and why, as counts that add up to the customers considered."""
    held = page.campaigns.held_names(target.product)
    held_words = ", ".join(f"“{name}”" for name in held) if held else "no product held matches it"
    st.markdown(
        f"**{counts['customers']:,}** customers considered ({aimed_at(target)}) · "
        f"**{counts['already_hold']:,}** already hold {target.product} · "
        f"**{counts['already_recommended']:,}** already recommended it "
        f"({counts['already_open']:,} still open, {counts['already_accepted']:,} accepted, "
        f"{counts['already_declined']:,} declined"
        + (f", {counts['already_other']:,} other status" if counts["already_other"] else "")
        + f") · **{counts['eligible']:,}** eligible"
    )
    sale = compact_money(counts["average_sale"]) if counts["average_sale"] is not None else "n/a"
    st.caption(
        f"Held products counted as {target.product}: {held_words} (names compared ignoring case and a trailing "
        "“Account”). Suppressed customers are counted once: holding comes first, then the furthest status of their "
        f"recommendations of {target.product} (accepted, else still open, else declined). Ranked by expected value = "
        f"estimated acceptance × {target.product}'s average sale after acceptance ({sale} over {counts['sales']:,} "
        f"sales). Estimated acceptance is Match's: (similar customers' accepted + {PRIOR_STRENGTH} × base rate) ÷ "
        f"(their decided + {PRIOR_STRENGTH}), base rate {share(counts['base_rate'])} of "
        f"{counts['product_decided']:,} decided; the {INTERVAL_LEVEL:.0%} interval is the Wilson interval of those "
        "counts. The sidebar filters do not apply: a campaign looks at every customer's records."
    )


def aimed_at(target):
    """The customers a campaign considers, in words."""
    if not (target.segments or target.stages):
        return "every customer"
    chosen = [", ".join(values) for values in (target.segments, target.stages) if values]
    return "customers whose latest profile is in " + " and ".join(chosen)


def campaign_table(ranked, access):
    """The ranked customers with readable figures, masked unless the viewer may see customer data."""
    frame = ranked.assign(
        rank=range(1, len(ranked) + 1),
        expected_value=ranked["expected_value"].map(money),
        value_interval=[
            f"{money(low)} – {money(high)}" for low, high in zip(ranked["value_low"], ranked["value_high"], strict=True)
        ],
        estimate=ranked["estimate"].map(share),
        interval=[f"{share(low)} – {share(high)}" for low, high in zip(ranked["low"], ranked["high"], strict=True)],
        similar_decided=ranked["similar_decided"].astype(int),
    )[list(CAMPAIGN_COLUMNS)]
    return masked_unless_allowed(frame, access).rename(columns=CAMPAIGN_COLUMNS)

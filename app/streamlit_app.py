"""FinMatch: which recommendations work, whom to call next, and which product to offer them.

Runs locally on the warehouse `make sync` writes (`make app`) and unchanged as Streamlit in
Snowflake, on FPR_RECORDS. Every figure is computed by SQL over the whole table; answers are
cached per filter choice for CACHE_TTL_SECONDS.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import altair as alt
import pandas as pd
import streamlit as st
from finmatch_campaign import Target, campaigns_for
from finmatch_data import (
    ACTION_WEIGHTS,
    Filters,
    FprData,
    WarehouseMissing,
    forget_derived_data,
    open_backend,
)
from finmatch_history import Entry, history_for, history_markdown
from finmatch_insights import (
    ACTION_LIST_SIZE,
    COMPUTED_LABEL,
    FOCUS_AREAS,
    compact_money,
    computed_insight,
    cortex_prompt,
    gather_statistics,
    money,
    score,
    share,
)
from finmatch_match import Matcher, cells_from, holdout_from, rank_products
from finmatch_privacy import decide_access, mask_id, mask_personal, redact
from finmatch_settings import (
    CACHE_TTL_SECONDS,
    CAMPAIGN_LIST_SIZE,
    CHANGE_Z,
    HIGH_AFFINITY,
    INTERVAL_LEVEL,
    MIN_GROUP_RECORDS,
    PRIOR_STRENGTH,
    cortex_models,
)
from finmatch_stats import exceeds_noise, mean_change_z, proportion_change_z, total_change_z

TREND_DAYS = 90
TABS = ["Overview", "Distributions", "Who to act on", "Campaigns", "Match", "Insights", "Data explorer"]
NO_MATCH = "No records match the filters. Clear a filter in the sidebar to see more."
LABELS = {
    "rank": "Rank",
    "action_score": "Action score",
    "reason": "Why",
    "record_id": "Record ID",
    "customer_id": "Customer ID",
    "customer_name": "Customer",
    "customer_email": "Email",
    "customer_segment": "Segment",
    "customer_lifecycle_stage": "Lifecycle stage",
    "product_type": "Product held",
    "product_recommendation": "Recommended product",
    "product_recommendation_status": "Status",
    "product_recommendation_date": "Recommended on",
    "recommendation_score": "Recommendation score",
    "customer_product_affinity": "Affinity",
    "customer_churn_probability": "Churn probability",
    "customer_satisfaction_score": "Satisfaction",
    "account_balance": "Balance",
    "product_sales_amount": "Sale amount",
    "product_sales_date": "Sold on",
    "product_id": "Product ID",
    "product_name": "Product name",
    "last_updated_epoch": "Last updated (UTC)",
    "age_days": "Open for (days)",
    "open_for_customer": "Open recommendations",
}
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


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=500)
def _cached(_source, source_key, question, *args):
    return getattr(_source, question)(*args)


def ask(source, question, *args):
    """One answer of an FprData or Matcher, reused per source, question and arguments (filters included)."""
    return _cached(source, f"{type(source).__name__}:{source.backend.cache_key}", question, *args)


class Cached:
    """An FprData whose questions go through the cache, for code written against FprData."""

    def __init__(self, data):
        self._data = data

    def __getattr__(self, question):
        return lambda *args: ask(self._data, question, *args)


@dataclass(frozen=True)
class Page:
    data: FprData
    matcher: Matcher
    campaigns: object
    filters: Filters
    kpis: dict
    access: object
    today: date
    options: dict
    breakdowns: object  # FprData.breakdowns of the filters
    recent: dict = None  # KPIs of the two compared periods, None when there is no comparison
    before: dict = None
    trend_note: str = ""


# ---------- sidebar ----------


def sidebar(options, access):
    """The filters (empty = all) and the viewer's access to customer data."""
    st.sidebar.header("Filters")
    segments = st.sidebar.multiselect("Customer segment", options["segments"], placeholder="All segments")
    product_types = st.sidebar.multiselect("Product held", options["product_types"], placeholder="All products")
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
        _cached.clear()
        forget_derived_data()
    return Filters(tuple(segments), tuple(product_types), tuple(stages), tuple(statuses), date_from, date_to)


def viewer_access(data):
    """Decided once per session (one query in Snowflake), never by a widget."""
    key = f"finmatch_access:{data.backend.cache_key}"
    if key not in st.session_state:
        st.session_state[key] = decide_access(data)
    return st.session_state[key]


# ---------- overview ----------

# label, KPI key, how to show the value, definition shown on the card
KPI_CARDS = [
    (
        "Acceptance rate",
        "acceptance_rate",
        share,
        lambda k: f"Accepted ÷ decided: {k['accepted']:,} of {k['decided']:,}.",
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
# For each card: the column of the sample spread and size behind an average (see KPI_SQL).
AVERAGE_SPREADS = {
    "avg_recommendation_score": ("sd_recommendation_score", "n_recommendation_score"),
    "avg_satisfaction": ("sd_satisfaction", "n_satisfaction"),
    "avg_churn_probability": ("sd_churn_probability", "n_churn_probability"),
    "avg_transaction_value": ("sd_transaction_value", "n_transaction_value"),
    "avg_balance": ("sd_balance", "n_balance"),
}
NOISE_RULE = (
    f"A change is coloured only when it exceeds its noise, |z| ≥ {CHANGE_Z} (two-sided 95 %): a two-proportion "
    "z-test for the acceptance rate and the open share, Welch's z for averages, and for the sales total a "
    "compound-Poisson z (its variance is the sum of the squared sales); smaller changes are shown grey, marked "
    "within noise."
)


def overview(page):
    kpis, recent, before, trend_note = page.kpis, page.recent, page.before, page.trend_note
    st.caption(f"{kpis['records']:,} records selected ({page.filters.describe()}). {trend_note}")
    for row_start in (0, 4):
        for column, (label, key, show, define) in zip(st.columns(4), KPI_CARDS[row_start : row_start + 4], strict=True):
            with column.container(border=True):
                delta, colour = card_change(recent, before, key)
                st.metric(label, show(kpis[key]), delta=delta, delta_color=colour)
                st.caption(define(kpis))
    if recent is not None:
        st.caption(NOISE_RULE)
    monthly_chart(page.breakdowns.monthly())
    freshness = ask(page.data, "freshness")
    latest = freshness["latest_epoch"]
    latest_text = datetime.fromtimestamp(latest, timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if latest else "n/a"
    synced = f"{freshness['last_synced']} UTC" if freshness["last_synced"] else "n/a"
    st.caption(
        f"Data freshness: latest change {latest_text} · last synced {synced} · "
        f"figures reused for up to {CACHE_TTL_SECONDS // 60} minutes "
        "(Reload data in the sidebar reads the table again)."
    )


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
    either period has too few records to compare."""
    periods = trend_periods(filters, breakdowns.last_date)
    if periods is None:
        return ask(data, "kpis_with_periods", filters)[0], None, None, "No recommendation dates to compare periods."
    recent_period, before_period, words, earlier = periods
    kpis, recent, before = ask(data, "kpis_with_periods", filters, recent_period, before_period)
    smallest = min(recent["records"], before["records"])
    if smallest < MIN_GROUP_RECORDS:
        note = (
            f"No changes shown: comparing {words} with {earlier} needs {MIN_GROUP_RECORDS} records in each, "
            f"and one has only {smallest}."
        )
        return kpis, None, None, note
    return kpis, recent, before, f"Changes compare {words} with {earlier}, same filters otherwise."


def change_z(recent, before, key):
    """z of the change of one card between the two periods (see NOISE_RULE); None when it cannot be tested."""
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
        alt.Tooltip("decided:Q", title="Decided"),
        alt.Tooltip("acceptance_rate:Q", format=".1%", title="Accepted of decided"),
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
            y=alt.Y("acceptance_rate:Q", title="Accepted of decided", axis=alt.Axis(format="%")),
            fill=alt.condition("datum.reliable", alt.value("#d62728"), alt.value("white")),
            tooltip=tooltip,
        )
    )
    chart = alt.layer(bars, line + points).resolve_scale(y="independent")
    st.altair_chart(chart.properties(title="Recommendations and acceptance by month", height=280), width="stretch")
    sparse = int((~frame["reliable"]).sum())
    if sparse:
        st.caption(
            f"Hollow points: {sparse} of {len(frame)} months have fewer than {MIN_GROUP_RECORDS} decided "
            "recommendations, so their acceptance rate can swing by chance: they are drawn alone, not joined into "
            "the trend line."
        )


# ---------- distributions ----------


def bar_chart(frame, category, title, horizontal):
    """Horizontal bars sorted by size, or vertical bars in the frame's own order (for ordered bands)."""
    tooltip = [alt.Tooltip(f"{category}:N", title=title), alt.Tooltip("records:Q", title="Records")]
    if horizontal:
        x, y = alt.X("records:Q", title="Records"), alt.Y(f"{category}:N", title=None, sort="-x")
    else:
        x = alt.X(f"{category}:N", title=None, sort=None, axis=alt.Axis(labelAngle=0))
        y = alt.Y("records:Q", title="Records")
    return alt.Chart(frame, title=title).mark_bar().encode(x=x, y=y, tooltip=tooltip)


def distributions(page):
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


def acceptance_by_score_chart(by_score):
    frame = by_score.assign(
        reliable=by_score["decided"] >= MIN_GROUP_RECORDS, acceptance_rate=by_score["acceptance_rate"].astype(float)
    )
    x = alt.X("score_from:Q", title="Recommendation score (from)", scale=alt.Scale(domain=[0, 1]))
    y = alt.Y("acceptance_rate:Q", title="Accepted of decided", axis=alt.Axis(format="%"))
    tooltip = [
        alt.Tooltip("score_from:Q", title="Score from"),
        alt.Tooltip("decided:Q", title="Decided"),
        alt.Tooltip("acceptance_rate:Q", format=".1%", title="Accepted of decided"),
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
            f"Hollow points: {sparse} of {len(frame)} score bands have fewer than {MIN_GROUP_RECORDS} decided "
            "recommendations, so their acceptance can swing by chance."
        )


# ---------- who to act on ----------


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


def shown(frame, access):
    """The frame as the viewer may see it: masked unless allowed, with readable headers."""
    visible = frame if access.personal else mask_personal(frame)
    return visible.rename(columns=LABELS)


@st.fragment
def action_view(page):
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
    table = shown(actions[ACTION_COLUMNS], page.access)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={"Why": st.column_config.TextColumn("Why", width="large")},
    )
    st.download_button("Download as CSV", table.to_csv(index=False), file_name="finmatch_actions.csv", mime="text/csv")


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


# ---------- campaigns ----------

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
def campaign_view(page):
    products = page.campaigns.bits.products
    if not products:
        st.info("No product has been recommended yet, so there is nothing to build a campaign for.")
        return
    options = page.options
    left, middle, right, size_column = st.columns([2, 2, 2, 1])
    # No product until the viewer picks one: nothing is computed for a campaign nobody asked for.
    product = left.selectbox("Product to offer", products, index=None, placeholder="Choose a product")
    segments = middle.multiselect("Target segments", options["segments"], placeholder="All segments")
    stages = right.multiselect("Target lifecycle stages", options["stages"], placeholder="All stages")
    size = size_column.number_input(
        "Customers in the list", min_value=10, max_value=5000, value=CAMPAIGN_LIST_SIZE, step=50
    )
    if product is None:
        st.info(CHOOSE_PRODUCT)
        return
    target = Target(product, tuple(segments), tuple(stages), int(size))
    counts, ranked = ask(page.campaigns, "build", target)
    suppression_summary(page, target, counts)
    if counts["base_rate"] is None:
        st.info(f"No decided recommendation of {product} yet: there is no acceptance to estimate from.")
        return
    if ranked.empty:
        st.info("Every customer in the target already holds this product or has been recommended it.")
        return
    table = campaign_table(ranked, page.access)
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button(
        "Download the campaign list as CSV",
        table.to_csv(index=False),
        file_name=f"finmatch_campaign_{product.lower().replace(' ', '_')}.csv",
        mime="text/csv",
    )
    if not page.access.personal:
        st.caption("Names, emails and customer ids are masked for you, in the table and in the download.")


def suppression_summary(page, target, counts):
    """Who was left out and why, as counts that add up to the customers considered."""
    held = page.campaigns.held_names(target.product)
    held_words = ", ".join(f"“{name}”" for name in held) if held else "no product held matches it"
    aimed = "every customer" if not (target.segments or target.stages) else "customers whose latest profile is in "
    if target.segments or target.stages:
        aimed += " and ".join(
            part
            for part in (
                ", ".join(target.segments) if target.segments else "",
                ", ".join(target.stages) if target.stages else "",
            )
            if part
        )
    st.markdown(
        f"**{counts['customers']:,}** customers considered ({aimed}) · "
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
    visible = frame if access.personal else mask_personal(frame)
    return visible.rename(columns=CAMPAIGN_COLUMNS)


# ---------- match ----------


@st.fragment
def match_view(page):
    st.caption(
        "Products this customer has neither been offered nor already holds, ranked by how often similar customers "
        "(same segment, lifecycle stage and affinity band) accepted them, blended with each product's overall "
        f"acceptance (counted as {PRIOR_STRENGTH} decided recommendations), with the {INTERVAL_LEVEL:.0%} interval "
        "of each estimate. Learned from every decided recommendation in the table, whatever the filters."
    )
    customer = choose_customer(page)
    if customer is None:
        return
    profile = ask(page.matcher, "profile", customer)
    if profile is None:
        st.info("No records for that customer.")
        return
    shown_id = customer if page.access.personal else mask_id(customer)
    st.markdown(
        f"**{shown_id}** · {profile['segment']} · {profile['stage']} · {profile['band'] or 'no'} affinity band "
        "(latest record's segment and stage, average affinity)"
    )
    products = ask(page.matcher, "customer_products", customer)
    outcomes = ask(page.matcher, "outcome_cells")
    ranking, held = rank_products(cells_from(outcomes), profile, products)
    if held:
        st.caption(f"Not suggested because the customer already holds them: {', '.join(held)}.")
    if ranking.empty:
        st.info("This customer has been offered, or already holds, every product that has decided recommendations.")
    else:
        st.dataframe(ranking_table(ranking), hide_index=True, width="stretch")
    holdout = holdout_of(outcomes)
    notice = st.success if holdout.has_signal else st.info if holdout.enough else st.warning
    notice(holdout.verdict())


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=20)
def holdout_of(outcomes):
    """Match's holdout check of the outcome cells, computed once per answer rather than at every rerun."""
    return holdout_from(outcomes)


def choose_customer(page):
    """The customer Match is about: none until the viewer picks one from the top of Who to act on (Match computes
    nothing before); viewers allowed to see customer data may type any id."""
    actions = ask(page.data, "action_list", page.filters, page.today, ACTION_LIST_SIZE)
    candidates = list(dict.fromkeys(actions["customer_id"]))
    show = (lambda value: value) if page.access.personal else mask_id
    if page.access.personal:
        typed = st.text_input("Customer ID", placeholder="Type an id, or pick from the list below").strip()
        if typed:
            return typed
    if not candidates:
        st.info("No open recommendations match the filters, so there is no customer to pick.")
        return None
    index = picker_index(candidates)
    # Each label starts with the customer's rank: masked ids can look alike, and a picker tells its options apart by
    # their labels (the last of two equal labels would win).
    labels = {f"{rank}. {show(customer)}": customer for rank, customer in enumerate(candidates, start=1)}
    label = st.columns([1, 2])[0].selectbox(
        "Customer (from the top of Who to act on)", list(labels), index=index, placeholder="Choose a customer"
    )
    if label is None:
        st.info(CHOOSE_CUSTOMER)
        return None
    chosen = labels[label]
    if index is None:
        st.session_state[PICKED_KEY] = (tuple(candidates), candidates.index(chosen))
    return chosen


CHOOSE_CUSTOMER = "Choose a customer to see the products to offer them next."
PICKED_KEY = "finmatch_match_picked"


def picker_index(candidates):
    """The Match picker's starting position: none before the viewer's first pick; after it, that pick's position while
    the list stays the same, and the top customer of any new list (as Streamlit restarts a picker whose options
    change). The position is part of the picker's identity, so a later pick is kept as long as the list is."""
    picked = st.session_state.get(PICKED_KEY)
    if picked is None:
        return None
    listed, position = picked
    if listed != tuple(candidates):
        st.session_state[PICKED_KEY] = (tuple(candidates), 0)
        return 0
    return position


def ranking_table(ranking):
    return pd.DataFrame(
        {
            "Product": ranking["product"],
            "Estimated acceptance": ranking["estimate"].map(share),
            f"{INTERVAL_LEVEL:.0%} interval": [
                f"{share(low)} – {share(high)}" for low, high in zip(ranking["low"], ranking["high"], strict=True)
            ],
            "Similar customers: decided": ranking["similar_decided"].astype(int),
            "Similar customers: accepted": ranking["similar_accepted"].astype(int),
            "Product base rate": ranking["base_rate"].map(share),
            "Product: decided": ranking["product_decided"].astype(int),
        }
    )


# ---------- insights ----------


@st.fragment
def insights_view(page):
    data = page.data
    history = history_for(data.backend)
    if data.backend.has_cortex:
        model = st.selectbox("Cortex model", cortex_models(), accept_new_options=True)
        st.caption("Written by Snowflake Cortex (AI_COMPLETE) from the figures computed over the table.")
    else:
        model = None
        st.caption(COMPUTED_LABEL + " Cortex writes them when the app runs in Snowflake.")
    if st.button("Generate insights", type="primary"):
        entry, problem = generate(page, model)
        st.session_state["finmatch_latest_insights"] = entry
        if problem:
            st.warning(problem)
        save_history(history, entry)
        st.session_state.pop(HISTORY_KEY, None)
    latest = st.session_state.get("finmatch_latest_insights")
    if latest is None:
        st.info("Press *Generate insights* to write the four sections for the current selection.")
    else:
        show_entry(latest)
    history_section(history, latest)


def generate(page, model):
    """The four sections, step by step in a status box; Cortex failures fall back to computed text.

    Returns:
        (Entry, message or None): the message says, in one line, why Cortex was not used.
    """
    problem = None
    with st.status("Generating insights…", expanded=True) as status:
        status.write("Computing the figures over the table…")
        stats = gather_statistics(Cached(page.data), page.filters, page.today)
        sections = {}
        for focus in FOCUS_AREAS:
            if model and problem is None:
                status.write(f"Asking Cortex ({model}) for {focus.lower()}…")
                try:
                    sections[focus] = page.data.complete(model, cortex_prompt(focus, stats))
                    continue
                except Exception as error:  # any Cortex failure: say so briefly, keep the page working
                    problem = (
                        f"Cortex could not write the insights ({short_error(error)}). Showing the insights FinMatch "
                        "computed from the same figures instead."
                    )
                    status.write("Cortex failed: using the computed insights.")
            status.write(f"Writing {focus.lower()} from the figures…")
            sections[focus] = computed_insight(focus, stats)
        status.update(label="Insights ready", state="complete", expanded=False)
    used_cortex = model is not None and problem is None
    source = "Snowflake Cortex" if used_cortex else "computed by FinMatch"
    generated = datetime.now(timezone.utc).replace(tzinfo=None)
    return Entry(generated, source, model if used_cortex else None, page.filters.describe(), sections), problem


def short_error(error):
    """The first line of an error, short, with anything that looks like customer data removed."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = redact(text)
    return text if len(text) <= 160 else text[:157] + "…"


def save_history(history, entry):
    try:
        history.save(entry)
    except Exception as error:  # the insights are shown anyway; only keeping them failed
        st.warning(f"These insights could not be kept in the history ({short_error(error)}).")


def show_entry(entry):
    st.caption(f"Generated {entry.title()}.")
    for focus, text in entry.sections.items():
        st.markdown(f"#### {focus}\n{as_plain_markdown(text)}")


def as_plain_markdown(text):
    """Dollar amounts as text: Streamlit's markdown reads a pair of $ signs as a formula."""
    return text.replace("$", "\\$")


HISTORY_KEY = "finmatch_history_entries"


def history_section(history, latest):
    """The kept insights, read once per session and again after each generation."""
    try:
        if HISTORY_KEY not in st.session_state:
            st.session_state[HISTORY_KEY] = history.entries()
        entries = st.session_state[HISTORY_KEY]
    except Exception as error:
        st.warning(f"The insights history could not be read ({short_error(error)}).")
        return
    if not entries:
        return
    with st.expander(f"History ({len(entries)}), kept in {history.where}"):
        st.dataframe(
            pd.DataFrame(
                {
                    "Generated (UTC)": [entry.generated_at.strftime("%Y-%m-%d %H:%M:%S") for entry in entries],
                    "Source": [entry.source for entry in entries],
                    "Model": [entry.model or "" for entry in entries],
                    "Filters": [entry.filters for entry in entries],
                }
            ),
            hide_index=True,
            width="stretch",
        )
        earlier = entries[1:] if latest is not None else entries
        if earlier:
            chosen = st.selectbox("Compare with", range(len(earlier)), format_func=lambda i: earlier[i].title())
            left, right = st.columns(2)
            with left:
                st.markdown("**Current**")
                if latest is not None:
                    show_entry(latest)
            with right:
                st.markdown("**Earlier**")
                show_entry(earlier[chosen])
        st.download_button(
            "Download history", history_markdown(entries), file_name="finmatch_insights.md", mime="text/markdown"
        )


# ---------- data explorer ----------


@st.fragment
def explorer(page):
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
    st.dataframe(shown(frame[columns or list(frame.columns)], page.access), hide_index=True, width="stretch")


# ---------- page ----------


def guarded(view, page):
    """Runs one tab; an unexpected failure is shown in that tab only, so the others still render."""
    try:
        view(page)
    except Exception as error:
        st.error(f"This section could not be shown: {short_error(error)}")


VIEWS = [overview, distributions, action_view, campaign_view, match_view, insights_view, explorer]


def utc_today():
    return datetime.now(timezone.utc).date()


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
        st.info("fpr_records has no rows yet. Run a sync (`make sync` locally) and reload.")
        return
    campaigns = campaigns_for(data, options, options["products"])
    matcher = Matcher(data, campaigns.codes, campaigns.bits)
    # Locally, the tables the page reads from are built in the background, one after the other, while the page is
    # computed: first the kept urgent recommendations the first load needs (Who to act on, Match's picker), then the
    # per-customer tables a first campaign or Match customer reads (neither is computed before a choice), Match's
    # outcomes last. In Snowflake each statement computes what it reads.
    data.backend.prefetch([*data.builds(), *campaigns.builds(), *matcher.builds()])
    everything = ask(data, "breakdowns", Filters(), today)
    if everything.records == 0:
        st.info("fpr_records has no rows yet. Run a sync (`make sync` locally) and reload.")
        return
    access = viewer_access(data)
    filters = sidebar(options, access)
    breakdowns = everything if filters == Filters() else ask(data, "breakdowns", filters, today)
    kpis, recent, before, trend_note = figures_and_trends(data, filters, breakdowns)
    st.sidebar.caption(f"Source: {data.backend.name} · {kpis['records']:,} records selected")
    tabs = st.tabs(TABS)
    if kpis["records"] == 0:
        for tab in tabs:
            tab.warning(NO_MATCH)
        return
    page = Page(
        data,
        matcher,
        campaigns,
        filters,
        kpis,
        access,
        today,
        options,
        breakdowns,
        recent,
        before,
        trend_note,
    )
    for tab, view in zip(tabs, VIEWS, strict=True):
        with tab:
            guarded(view, page)
    tables_for_a_first_campaign(campaigns)


def tables_for_a_first_campaign(campaigns):
    """Waits, once the page is drawn, for the tables a campaign reads (locally; in Snowflake there is nothing to wait
    for), so that the first product chosen is answered at once rather than after them. The run ends a little later,
    but the viewer already sees every tab meanwhile. Match's outcomes go on being built in the background."""
    try:
        campaigns.relations()
    except Exception:  # noqa: BLE001, S110 - the Campaigns tab shows the error once a product is chosen
        pass


main()

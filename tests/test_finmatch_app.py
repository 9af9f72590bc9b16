"""FinMatch, run by Streamlit's AppTest on a warehouse the real connector wrote from the local API.

Every figure the app shows is checked against SQL written here, over the whole table
(soft-deleted rows excluded), not against the app's own queries.
"""

import json
import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import pandas as pd
from conftest import SOFT_DELETED

LIVE = "FROM tester.fpr_records WHERE NOT coalesce(_fivetran_deleted, false)"
TABS = ["Overview", "Distributions", "Who to act on", "Campaigns", "Retention", "Match", "Insights", "Data explorer"]
ACCEPTED = "CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END"
DECIDED = "CASE WHEN product_recommendation_status IN ('Accepted', 'Declined') THEN 1 ELSE 0 END"
OPEN = "CASE WHEN product_recommendation_status IN ('Pending', 'In Progress') THEN 1 ELSE 0 END"
SALE_AFTER_ACCEPTANCE = (
    "product_recommendation_status = 'Accepted' AND product_sales_date >= product_recommendation_date "
    "AND product_sales_amount IS NOT NULL"
)


# How the cards print their figures, written out here rather than taken from the app's formatters.
def share(value):
    return f"{value:.1%}"


def score(value):
    return f"{value:.3f}"


def money(value):
    return f"${value:,.2f}"


def compact_money(value):
    """Totals in millions or thousands with two decimals, as the sales card prints them."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"${value / size:,.2f}{unit}"
    return money(value)


def sql(warehouse, query):
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return db.execute(query).fetchall()


def expected_cards(warehouse, where=""):
    """The eight cards as SQL written here computes them over the whole table."""
    (row,) = sql(
        warehouse,
        f"SELECT sum({ACCEPTED}) / sum({DECIDED}), sum({OPEN}) / count(*), "
        f"sum(CASE WHEN {SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END), "
        "avg(recommendation_score), avg(customer_satisfaction_score), avg(customer_churn_probability), "
        f"avg(account_balance), avg(customer_transaction_value) {LIVE} {where}",
    )
    labels = [
        "Acceptance rate",
        "Still open",
        "Sales after acceptance",
        "Avg recommendation score",
        "Avg satisfaction",
        "Avg churn probability",
        "Avg account balance",
        "Avg transaction value",
    ]
    shows = [share, share, compact_money, score, score, score, money, money]
    return {label: show(value) for label, show, value in zip(labels, shows, row, strict=True)}


def cards(at):
    return {metric.label: metric.value for metric in at.metric}


def charts(at):
    """Altair charts, whichever name this Streamlit version gives the element."""
    return at.get("vega_lite_chart") or at.get("arrow_vega_lite_chart")


def captions(at):
    return "\n".join(caption.value for caption in at.caption)


def button(at, label):
    return next(element for element in at.button if element.label == label)


def search_box(at):
    return next(box for box in at.text_input if box.label.startswith("Search"))


def explorer_frame(at):
    return dataframe_with(at, "Last updated (UTC)")


def campaign_frame(at):
    return dataframe_with(at, "Chance of yes (range)")


def retention_frame(at):
    return dataframe_with(at, "Value at risk")


def is_pseudonym(value):
    """A customer id as masked exports and lists show it: FM- and 16 hex digits of its HMAC."""
    return len(value) == 19 and value.startswith("FM-") and all(ch in "0123456789abcdef" for ch in value[3:])


def dataframe_with(at, header):
    return next(frame.value for frame in at.dataframe if header in frame.value.columns)


def choose_product(at, product=None):
    """Chooses a product in Campaigns (the first one unless told), which shows no list before."""
    box = next(box for box in at.selectbox if box.label == "Product to offer")
    (box.select_index(0) if product is None else box.set_value(product)).run()
    return at


def choose_customer(at, position=0):
    """Chooses the customer at `position` of Match's picker, which shows no customer before."""
    next(box for box in at.selectbox if box.label.startswith("Customer")).select_index(position).run()
    return at


def test_every_view_renders_on_first_load(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    assert not at.exception and not at.error
    assert [tab.label for tab in at.tabs] == TABS
    assert len(at.metric) == 8
    assert len(charts(at)) == 8  # the monthly overview, six distributions and the ages of open recommendations
    headers = {header for frame in at.dataframe for header in frame.value.columns}
    assert {"Action score", "Record ID"} <= headers
    # Campaigns, Retention and Match wait for the viewer's choice, and say so.
    assert not {"Estimated acceptance", "Chance of yes (range)", "Value at risk"} & headers
    prompts = [message.value for message in at.info]
    assert any(message.startswith("Choose a product to offer") for message in prompts)
    assert any(message.startswith("Choose a customer") for message in prompts)
    choose_customer(choose_product(at))
    assert not at.exception and not at.error
    assert {"Estimated acceptance", "Chance of yes (range)"} <= {
        header for frame in at.dataframe for header in frame.value.columns
    }
    assert [toggle.label for toggle in at.toggle] == ["Build the retention list"]  # customer data is never a switch
    assert "Hollow points: " in captions(at)  # months with too few decided recommendations are flagged


def test_no_chart_rotates_its_labels(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    category_axes = []
    for chart in charts(at):
        spec = json.loads(chart.proto.spec)
        for layer in [spec, *spec.get("layer", [])]:
            x = layer.get("encoding", {}).get("x", {})
            if x.get("type") in ("nominal", "ordinal", "temporal"):
                category_axes.append(x.get("axis", {}).get("labelAngle"))
    assert category_axes and all(angle == 0 for angle in category_axes)


def test_kpis_equal_sql_over_the_whole_table_with_their_definitions(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    assert cards(at) == expected_cards(finmatch_warehouse)
    (records, decided, accepted, still_open, sold) = sql(
        finmatch_warehouse,
        f"SELECT count(*), sum({DECIDED}), sum({ACCEPTED}), sum({OPEN}), "
        f"sum(CASE WHEN {SALE_AFTER_ACCEPTANCE} THEN 1 ELSE 0 END) {LIVE}",
    )[0]
    assert records == 750 - SOFT_DELETED
    text = captions(at)
    assert f"Accepted ÷ answered (accepted or declined): {accepted:,} of {decided:,}." in text
    assert f"{still_open:,} of {records:,} are Pending or In Progress." in text
    assert f"{sold:,} accepted, sold on or after the recommendation date." in text
    assert f"{records:,} records selected (All records)." in text


def test_filters_change_the_kpis_as_the_sql_says(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    unfiltered = cards(at)

    at.sidebar.multiselect[0].set_value(["Retail"]).run()

    assert cards(at) == expected_cards(finmatch_warehouse, "AND customer_segment = 'Retail'")
    assert cards(at) != unfiltered

    next(box for box in at.sidebar.multiselect if box.label == "Recommendation status").set_value(
        ["Accepted", "Declined"]
    ).run()

    where = "AND customer_segment = 'Retail' AND product_recommendation_status IN ('Accepted', 'Declined')"
    assert cards(at) == expected_cards(finmatch_warehouse, where)
    assert cards(at)["Still open"] == "0.0%"


def period_average(warehouse, low, high):
    """avg(recommendation_score) for low < date <= high, and the record count."""
    return sql(
        warehouse,
        f"SELECT avg(recommendation_score), count(*) {LIVE} AND product_recommendation_date > DATE '{low}' "
        f"AND product_recommendation_date <= DATE '{high}'",
    )[0]


def test_trends_compare_the_last_90_days_with_the_90_before(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    (anchor,) = sql(finmatch_warehouse, f"SELECT max(product_recommendation_date) {LIVE}")[0]
    start = anchor - timedelta(days=90)
    (recent, _), (before, _) = (
        period_average(finmatch_warehouse, low, high)
        for low, high in ((start, anchor), (start - timedelta(days=90), start))
    )
    card = next(metric for metric in at.metric if metric.label == "Avg recommendation score")
    assert card.delta.split(" · ")[0] == f"{recent - before:+.3f}"
    assert f"the last 90 days of recommendations ({start + timedelta(days=1)} to {anchor})" in captions(at)


def test_trends_follow_the_date_filter_and_say_so(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    first, last = pd.Timestamp("2024-07-01").date(), pd.Timestamp("2024-12-31").date()

    at.sidebar.date_input[0].set_value((first, last)).run()

    days = (last - first).days + 1
    start = first - timedelta(days=1)
    (recent, _), (before, _) = (
        period_average(finmatch_warehouse, low, high)
        for low, high in ((start, last), (start - timedelta(days=days), start))
    )
    card = next(metric for metric in at.metric if metric.label == "Avg recommendation score")
    assert card.delta.split(" · ")[0] == f"{recent - before:+.3f}"
    text = captions(at)
    assert f"Changes compare the selected {days} days ({first} to {last}) with the {days} days before" in text
    assert f"Recommended: {first} to {last}" in text


def test_trends_on_too_few_records_are_withheld_with_a_reason(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    day = pd.Timestamp("2024-08-01").date()

    at.sidebar.date_input[0].set_value((day, day + timedelta(days=6))).run()

    assert not any(metric.delta for metric in at.metric)
    assert "No changes shown: comparing the selected 7 days (2024-08-01 to 2024-08-07)" in captions(at)
    (records,) = sql(
        finmatch_warehouse,
        f"SELECT count(*) {LIVE} AND product_recommendation_date BETWEEN '{day}' AND '{day + timedelta(days=6)}'",
    )[0]
    assert any(warning.value.startswith(f"Only {records} records match the filters") for warning in at.warning)


def test_the_action_list_follows_its_score_with_readable_headers(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    actions = dataframe_with(at, "Action score")
    today = datetime.now(timezone.utc).date()
    expected = sql(
        finmatch_warehouse,
        "SELECT record_id, round(100 * (0.5 * customer_churn_probability + 0.3 * customer_product_affinity "
        f"+ 0.2 * recommendation_score), 1) AS s, DATE '{today}' - product_recommendation_date {LIVE} "
        "AND product_recommendation_status IN ('Pending', 'In Progress') ORDER BY s DESC, record_id LIMIT 50",
    )
    assert list(zip(actions["Record ID"], actions["Action score"], actions["Open for (days)"], strict=True)) == expected
    assert all(text.startswith("churn ") and " · affinity " in text for text in actions["Why"])
    assert not any("_" in header for header in actions.columns)


def test_customer_data_is_masked_everywhere_by_default(app_on, finmatch_warehouse, downloads):
    at = choose_product(app_on(finmatch_warehouse).run())

    actions = dataframe_with(at, "Action score")
    for frame in (actions, explorer_frame(at)):
        assert all("•" in value for value in frame["Customer ID"])
        assert all("•" in value for value in frame["Customer"])
    assert all(is_pseudonym(value) for value in campaign_frame(at)["Customer ID"])
    assert all(email.split("@")[0].endswith("•••") for email in actions["Email"])
    assert set(downloads) == {"Download as CSV", "Download the campaign list as CSV"}
    names = {name for (name,) in sql(finmatch_warehouse, f"SELECT DISTINCT customer_name {LIVE}")}
    for csv in downloads.values():
        assert "CUST_0" not in csv
        assert not any(f"customer{number}@" in csv for number in range(1, 751))
        assert not any(name in csv.split(",") for name in names)
    assert "@example.com" in downloads["Download as CSV"]
    picker = next(box for box in at.selectbox if box.label.startswith("Customer"))
    assert all("•" in option for option in picker.options)
    assert "Customer data masked" in "\n".join(caption.value for caption in at.sidebar.caption)


def test_locally_customer_data_shows_only_when_the_machine_says_so(app_on, finmatch_warehouse, monkeypatch):
    at = app_on(finmatch_warehouse)
    monkeypatch.setenv("FINMATCH_SHOW_CUSTOMER_DATA", "1")
    at.run()

    actions = dataframe_with(at, "Action score")
    assert all(name.startswith("Customer ") for name in actions["Customer"])
    assert all(value.startswith("CUST_") and "•" not in value for value in actions["Customer ID"])


def test_a_masked_viewer_cannot_find_a_customer_by_their_data(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    customer, email = sql(
        finmatch_warehouse, f"SELECT customer_id, customer_email {LIVE} ORDER BY customer_id LIMIT 1"
    )[0]

    for term in (email, customer):
        search_box(at).input(term).run()
        assert any(info.value == "No records match the search and filters." for info in at.info)

    (product,) = sql(finmatch_warehouse, f"SELECT product_id {LIVE} ORDER BY product_id LIMIT 1")[0]
    search_box(at).input(product).run()
    (expected,) = sql(finmatch_warehouse, f"SELECT count(*) {LIVE} AND product_id ILIKE '%{product}%'")[0]
    assert len(explorer_frame(at)) == expected


def test_the_explorer_searches_customers_for_allowed_viewers_and_pages(app_on, finmatch_warehouse, monkeypatch):
    at = app_on(finmatch_warehouse)
    monkeypatch.setenv("FINMATCH_SHOW_CUSTOMER_DATA", "1")
    at.run()
    (email, customer) = sql(finmatch_warehouse, f"SELECT customer_email, customer_id {LIVE} ORDER BY 2 DESC LIMIT 1")[0]

    search_box(at).input(email).run()
    assert list(explorer_frame(at)["Customer ID"]) == [customer]

    search_box(at).input("").run()
    next(box for box in at.number_input if box.label.startswith("Page")).set_value(2).run()
    second = explorer_frame(at)
    expected = sql(
        finmatch_warehouse, f"SELECT record_id, last_updated_epoch {LIVE} ORDER BY 2 DESC, 1 LIMIT 25 OFFSET 25"
    )
    assert list(second["Record ID"]) == [record for record, _ in expected]
    assert list(second["Last updated (UTC)"]) == [pd.Timestamp(epoch, unit="s") for _, epoch in expected]


def test_a_missing_warehouse_says_what_to_run(app_on, tmp_path):
    at = app_on(tmp_path / "nothing-here.db").run()

    assert not at.exception
    assert "Run `make sync` first" in at.info[0].value


def test_an_empty_table_says_so(app_on, finmatch_warehouse, tmp_path):
    empty = tmp_path / "empty.db"
    shutil.copy(finmatch_warehouse, empty)
    with duckdb.connect(str(empty)) as db:
        db.execute("UPDATE tester.fpr_records SET _fivetran_deleted = TRUE")

    at = app_on(empty).run()

    assert not at.exception
    assert "fpr_records has no rows yet" in at.info[0].value


def test_a_filter_that_matches_nothing_says_so(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    days = {day for (day,) in sql(finmatch_warehouse, f"SELECT DISTINCT product_recommendation_date {LIVE}")}
    first = min(days)
    empty_day = next(
        first + timedelta(days=offset) for offset in range(1, 600) if first + timedelta(days=offset) not in days
    )

    at.sidebar.date_input[0].set_value((empty_day, empty_day)).run()

    assert not at.exception
    assert len(at.warning) == len(TABS)
    assert "No records match the filters" in at.warning[0].value


def test_the_overview_filters_by_product_recommended_and_by_product_held_each_labelled(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    recommended = next(box for box in at.sidebar.multiselect if box.label == "Product recommended")
    held = next(box for box in at.sidebar.multiselect if box.label == "Product held")
    assert "accepted or declined" in recommended.help and "already has" in held.help

    recommended.set_value(["Insurance"]).run()
    assert cards(at) == expected_cards(finmatch_warehouse, "AND product_recommendation = 'Insurance'")
    assert "Product recommended: Insurance" in captions(at)

    next(box for box in at.sidebar.multiselect if box.label == "Product recommended").set_value([]).run()
    next(box for box in at.sidebar.multiselect if box.label == "Product held").set_value(["Insurance"]).run()
    assert cards(at) == expected_cards(finmatch_warehouse, "AND product_type = 'Insurance'")
    assert "Product held: Insurance" in captions(at)

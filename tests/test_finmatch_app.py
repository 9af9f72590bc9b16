"""FinMatch, run by Streamlit's AppTest on a warehouse the real connector wrote from the local API.

Every figure the app shows is checked against SQL written here, over the whole table
(soft-deleted rows excluded), not against the app's own queries.
"""

import shutil
from datetime import timedelta

import duckdb
from conftest import SOFT_DELETED
from finmatch_insights import compact_money, money, score, share

LIVE = "FROM tester.fpr_records WHERE NOT coalesce(_fivetran_deleted, false)"
TABS = ["Overview", "Distributions", "Who to act on", "Insights", "Data explorer"]


def sql(warehouse, query):
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return db.execute(query).fetchall()


def expected_cards(warehouse, where=""):
    (row,) = sql(
        warehouse,
        "SELECT avg(recommendation_score), avg(customer_satisfaction_score), avg(customer_churn_probability), "
        "avg(CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END), sum(product_sales_amount), "
        f"avg(customer_transaction_value), avg(account_balance), avg(customer_transaction_count) {LIVE} {where}",
    )
    labels = [
        "Avg recommendation score",
        "Avg satisfaction",
        "Avg churn probability",
        "Acceptance rate",
        "Total product sales",
        "Avg transaction value",
        "Avg account balance",
        "Avg transaction count",
    ]
    shows = [score, score, score, share, compact_money, money, money, lambda value: f"{value:.1f}"]
    return {label: show(value) for label, show, value in zip(labels, shows, row, strict=True)}


def cards(at):
    return {metric.label: metric.value for metric in at.metric}


def test_every_view_renders_without_exception(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    assert not at.exception
    assert [tab.label for tab in at.tabs] == TABS
    assert len(at.metric) == 8
    assert len(at.get("vega_lite_chart")) == 6
    assert len(at.dataframe) == 2  # the action list and the explorer
    at.button[0].click().run()  # Generate insights
    assert not at.exception
    headings = [block.value.split("\n")[0] for block in at.markdown if block.value.startswith("####")]
    assert len(headings) == 4


def test_kpis_equal_sql_over_the_whole_table(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    assert cards(at) == expected_cards(finmatch_warehouse)
    live = sql(finmatch_warehouse, f"SELECT count(*) {LIVE}")[0][0]
    assert live == 750 - SOFT_DELETED
    assert any(f"{live:,} records." in caption.value for caption in at.caption)


def test_each_card_compares_the_last_90_days_with_the_90_before(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    (anchor,) = sql(finmatch_warehouse, f"SELECT max(product_recommendation_date) {LIVE}")[0]
    start = anchor - timedelta(days=90)
    recent, before = (
        sql(
            finmatch_warehouse,
            f"SELECT avg(recommendation_score) {LIVE} AND product_recommendation_date > DATE '{low}' "
            f"AND product_recommendation_date <= DATE '{high}'",
        )[0][0]
        for low, high in ((start, anchor), (start - timedelta(days=90), start))
    )
    card = next(metric for metric in at.metric if metric.label == "Avg recommendation score")
    assert card.delta == f"{recent - before:+.3f}"


def test_filters_change_the_kpis_as_expected(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    unfiltered = cards(at)

    at.sidebar.multiselect[0].set_value(["Retail"]).run()

    assert cards(at) == expected_cards(finmatch_warehouse, "AND customer_segment = 'Retail'")
    assert cards(at) != unfiltered

    at.sidebar.multiselect[3].set_value(["Accepted"]).run()

    assert cards(at)["Acceptance rate"] == "100.0%"
    where = "AND customer_segment = 'Retail' AND product_recommendation_status = 'Accepted'"
    assert cards(at) == expected_cards(finmatch_warehouse, where)


def test_the_action_list_follows_its_score(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    actions = at.dataframe[0].value
    scores = list(actions["action_score"])
    assert scores == sorted(scores, reverse=True)
    expected = sql(
        finmatch_warehouse,
        "SELECT record_id, round(100 * (0.5 * customer_churn_probability + 0.3 * customer_product_affinity "
        f"+ 0.2 * recommendation_score), 1) AS s {LIVE} "
        "AND product_recommendation_status IN ('Pending', 'In Progress') ORDER BY s DESC, record_id LIMIT 50",
    )
    assert list(zip(actions["record_id"], actions["action_score"], strict=True)) == expected
    assert all(text.startswith("churn ") and "still " in text for text in actions["reason"])


def test_personal_data_is_masked_until_unmasked(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    masked = at.dataframe[0].value
    assert all("•" in name for name in masked["customer_name"])
    assert all(email.split("@")[0].endswith("•••") for email in masked["customer_email"])

    at.sidebar.toggle[0].set_value(True).run()

    shown = at.dataframe[0].value
    assert all(name.startswith("Customer ") for name in shown["customer_name"])


def test_insights_are_computed_locally_and_labelled_so(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    at.button[0].click().run()
    at.button[0].click().run()

    text = "\n".join(block.value for block in at.markdown)
    for focus in ("Overall performance", "Optimisation opportunities", "Financial impact", "Strategic recommendations"):
        assert f"#### {focus}" in text
    (acceptance,) = sql(
        finmatch_warehouse, f"SELECT avg(CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END) {LIVE}"
    )[0]
    assert f"**{share(acceptance)}** were accepted" in text
    assert any("no AI model was used" in caption.value for caption in at.caption)
    assert any(expander.label == "History (2)" for expander in at.expander)


def test_the_explorer_searches_and_pages(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()
    (customer,) = sql(finmatch_warehouse, f"SELECT customer_id {LIVE} ORDER BY customer_id DESC LIMIT 1")[0]

    at.text_input[0].input(customer).run()

    assert list(at.dataframe[1].value["customer_id"]) == [customer]

    at.text_input[0].input("").run()
    at.number_input[1].set_value(2).run()
    second_page = at.dataframe[1].value
    (expected_ids,) = zip(
        *sql(
            finmatch_warehouse,
            f"SELECT record_id {LIVE} ORDER BY last_updated_epoch DESC, record_id LIMIT 25 OFFSET 25",
        ),
        strict=True,
    )
    assert tuple(second_page["record_id"]) == expected_ids


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

"""Figures that mean the same on every engine and every kind of table: noise, trends, ages, history mode, NULLs.

Each expected figure is computed here, in SQL or plain arithmetic written for the test.
"""

import json
import math
import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pytest
from streamlit.proto import Metric_pb2
from test_finmatch_app import (
    LIVE,
    campaign_frame,
    cards,
    charts,
    choose_product,
    dataframe_with,
    expected_cards,
    explorer_frame,
    sql,
)
from test_finmatch_exports import key_in, pseudonym
from test_finmatch_in_snowflake import StandInSession, install_stand_in

GRAY = Metric_pb2.Metric.MetricColor.GRAY
MIN_DECIDED = 30
ACCEPTED = "sum(CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END)"
DECIDED = "sum(CASE WHEN product_recommendation_status IN ('Accepted', 'Declined') THEN 1 ELSE 0 END)"


def copy_of(warehouse, folder, statements):
    path = folder / "warehouse.db"
    shutil.copy(warehouse, path)
    with duckdb.connect(str(path)) as db:
        for statement in statements:
            db.execute(statement)
    return path


def acceptance_z(warehouse):
    """The two-proportion z of acceptance, last 90 days of recommendations against the 90 before."""
    (anchor,) = sql(warehouse, f"SELECT max(product_recommendation_date) {LIVE}")[0]
    start = anchor - timedelta(days=90)
    periods = [(start, anchor), (start - timedelta(days=90), start)]
    counts = [
        sql(
            warehouse,
            f"SELECT {ACCEPTED}, {DECIDED} {LIVE} AND product_recommendation_date > DATE '{low}' "
            f"AND product_recommendation_date <= DATE '{high}'",
        )[0]
        for low, high in periods
    ]
    (a1, n1), (a2, n2) = counts
    pooled = (a1 + a2) / (n1 + n2)
    z = (a1 / n1 - a2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return a1 / n1 - a2 / n2, z


def acceptance_card(at):
    return next(metric for metric in at.metric if metric.label == "Acceptance rate")


def test_a_change_within_its_noise_is_shown_grey_and_said_to_be_so(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    change, z = acceptance_z(finmatch_warehouse)
    card = acceptance_card(at)
    assert abs(z) < 1.96
    assert card.delta == f"{change * 100:+.1f} pts · within noise"
    assert card.proto.color == GRAY
    assert "|z| ≥ 1.96" in "\n".join(caption.value for caption in at.caption)


def test_a_change_larger_than_its_noise_is_called_out(app_on, finmatch_warehouse, tmp_path):
    (anchor,) = sql(finmatch_warehouse, f"SELECT max(product_recommendation_date) {LIVE}")[0]
    recent = anchor - timedelta(days=90)
    warehouse = copy_of(
        finmatch_warehouse,
        tmp_path,
        [
            "UPDATE tester.fpr_records SET product_recommendation_status = 'Accepted' "
            f"WHERE product_recommendation_status = 'Declined' AND product_recommendation_date > DATE '{recent}'"
        ],
    )
    at = app_on(warehouse).run()

    change, z = acceptance_z(warehouse)
    card = acceptance_card(at)
    assert z >= 1.96
    assert card.delta == f"{change * 100:+.1f} pts"
    assert card.proto.color != GRAY


def chart_data(chart):
    """The rows Streamlit sends with a chart, by dataset name (Arrow streams beside the spec)."""
    return {
        dataset.name: pa.ipc.open_stream(dataset.data.data).read_all().to_pylist() for dataset in chart.proto.datasets
    }


def chart_titled(at, title):
    return next(chart for chart in charts(at) if title in chart.proto.spec)


def monthly_layers(at):
    """The rows of each layer of the monthly chart, by mark."""
    chart = chart_titled(at, "Recommendations and acceptance by month")
    spec = json.loads(chart.proto.spec)
    datasets = chart_data(chart)
    layers = {}

    def walk(node):
        for child in node.get("layer", []):
            walk(child)
        mark = node.get("mark")
        if mark:
            kind = mark["type"] if isinstance(mark, dict) else mark
            layers[kind] = datasets[node["data"]["name"]] if "data" in node else None

    walk(spec)
    return layers


def test_months_below_the_sample_minimum_are_not_joined_into_the_trend_line(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    months = sql(
        finmatch_warehouse,
        f"SELECT date_trunc('month', product_recommendation_date) AS m, {DECIDED} {LIVE} GROUP BY 1 ORDER BY 1",
    )
    reliable = [month for month, decided in months if decided >= MIN_DECIDED]
    layers = monthly_layers(at)
    line = layers["line"]
    assert len(layers["point"]) == len(months)  # every month is drawn as a point
    assert len(line) == len(reliable) < len(months)  # only the reliable ones are joined
    assert all(row["decided"] >= MIN_DECIDED for row in line)


def test_a_trend_line_breaks_where_a_month_falls_below_the_minimum(app_on, finmatch_warehouse, tmp_path):
    """Decided recommendations in every month but one, so the line must stop there and start again."""
    warehouse = copy_of(
        finmatch_warehouse,
        tmp_path,
        [
            "INSERT INTO tester.fpr_records SELECT f.* REPLACE (md5(f.record_id || r.n) AS record_id, "
            "'Accepted' AS product_recommendation_status) FROM tester.fpr_records AS f, range(3) AS r(n) "
            "WHERE product_recommendation_date NOT BETWEEN DATE '2024-08-01' AND DATE '2024-08-31'"
        ],
    )
    at = app_on(warehouse).run()

    line = monthly_layers(at)["line"]
    runs = {}
    for row in line:
        runs.setdefault(row["run"], []).append(row["month"])
    assert len(runs) == 2  # before and after the sparse month
    assert all(row["decided"] >= MIN_DECIDED for row in line)


def test_open_recommendations_show_their_age_and_the_ageing_buckets_equal_sql(app_on, finmatch_warehouse):
    at = app_on(finmatch_warehouse).run()

    today = datetime.now(timezone.utc).date()
    buckets = dict(
        sql(
            finmatch_warehouse,
            f"""
            SELECT CASE WHEN age IS NULL THEN 'no date' WHEN age <= 30 THEN '0–30 days' WHEN age <= 90 THEN '31–90 days'
                        WHEN age <= 180 THEN '91–180 days' WHEN age <= 365 THEN '181–365 days' ELSE 'over a year' END,
                   count(*)
            FROM (SELECT DATE '{today}' - product_recommendation_date AS age {LIVE}
                  AND product_recommendation_status IN ('Pending', 'In Progress'))
            GROUP BY 1
            """,
        )
    )
    chart = chart_titled(at, "Open recommendations by age")
    (rows,) = chart_data(chart).values()
    assert {row["bucket"]: row["records"] for row in rows if row["records"]} == buckets
    assert f"Open recommendations by age ({sum(buckets.values()):,})" in chart.proto.spec


def test_who_to_act_on_lists_each_customer_once_with_their_most_urgent_open_recommendation(
    app_on, finmatch_warehouse, tmp_path
):
    warehouse = copy_of(
        finmatch_warehouse,
        tmp_path,
        [  # customers 400 and above become customers 100 to 449: two records each
            "UPDATE tester.fpr_records SET customer_id = 'CUST_' || lpad(CAST(CAST(substr(customer_id, 6) AS INTEGER) "
            "- 300 AS VARCHAR), 6, '0') WHERE CAST(substr(customer_id, 6) AS INTEGER) >= 400"
        ],
    )
    at = app_on(warehouse).run()

    score = (
        "round(100 * (0.5 * customer_churn_probability + 0.3 * customer_product_affinity "
        "+ 0.2 * recommendation_score), 1)"
    )
    expected = sql(
        warehouse,
        f"""
        SELECT customer_id, record_id, s, n FROM (
          SELECT customer_id, record_id, {score} AS s, count(*) OVER (PARTITION BY customer_id) AS n,
                 row_number() OVER (PARTITION BY customer_id ORDER BY {score} DESC, record_id) AS nth
          {LIVE} AND product_recommendation_status IN ('Pending', 'In Progress')
        ) WHERE nth = 1 ORDER BY s DESC, record_id LIMIT 50
        """,
    )
    actions = dataframe_with(at, "Action score")
    assert list(zip(actions["Record ID"], actions["Action score"], actions["Open recommendations"], strict=True)) == [
        (record, score_, count) for _, record, score_, count in expected
    ]
    assert any(count == 2 for *_, count in expected)


# ---------- history mode ----------


@pytest.fixture
def history_mode_warehouse(finmatch_warehouse, tmp_path):
    """The same records kept in Fivetran's history mode: each with an older, inactive version, and no _fivetran_deleted.

    A soft-deleted record's last version is inactive too, as history mode keeps it.
    """
    return copy_of(
        finmatch_warehouse,
        tmp_path,
        [
            # History mode keys the table by record and version, so record_id alone repeats.
            "CREATE TABLE tester.versions AS SELECT *, NOT coalesce(_fivetran_deleted, false) AS _fivetran_active "
            "FROM tester.fpr_records",
            "INSERT INTO tester.versions SELECT * REPLACE (FALSE AS _fivetran_active, 'Accepted' AS "
            "product_recommendation_status, 'Investment Account' AS product_type, last_updated_epoch - 86400 AS "
            "last_updated_epoch) FROM tester.versions",
            "DROP TABLE tester.fpr_records",
            "ALTER TABLE tester.versions RENAME TO fpr_records",
            "ALTER TABLE tester.fpr_records DROP COLUMN _fivetran_deleted",
        ],
    )


def test_in_history_mode_only_the_active_version_of_each_record_counts(
    app_on, finmatch_warehouse, history_mode_warehouse
):
    at = app_on(history_mode_warehouse).run()

    assert not at.exception and not at.error
    assert cards(at) == expected_cards(finmatch_warehouse)  # the figures of the table without history
    (records,) = sql(finmatch_warehouse, f"SELECT count(*) {LIVE}")[0]
    assert f"{records:,} records selected" in "\n".join(caption.value for caption in at.caption)
    (holders,) = sql(
        finmatch_warehouse, f"SELECT count(DISTINCT customer_id) {LIVE} AND product_type = 'Investment Account'"
    )[0]
    next(box for box in at.selectbox if box.label == "Product to offer").set_value("Investment").run()
    text = "\n".join(block.value for block in at.markdown)
    assert f"**{holders:,}** already hold Investment" in text


def test_in_history_mode_the_snowflake_path_counts_only_active_versions(
    app_on, finmatch_warehouse, history_mode_warehouse, monkeypatch, tmp_path
):
    install_stand_in(StandInSession(history_mode_warehouse), monkeypatch)
    at = app_on(tmp_path / "not-used.db").run()

    assert cards(at) == expected_cards(finmatch_warehouse)


# ---------- NULL placement ----------


@pytest.fixture
def warehouse_with_unknown_change_times(finmatch_warehouse, tmp_path):
    """A copy where 30 records have no last_updated_epoch: Snowflake would sort them first in a descending order."""
    return copy_of(
        finmatch_warehouse,
        tmp_path,
        [
            "UPDATE tester.fpr_records SET last_updated_epoch = NULL WHERE record_id IN "
            "(SELECT record_id FROM tester.fpr_records ORDER BY md5(record_id) LIMIT 30)"
        ],
    )


def expected_first_page(warehouse):
    return [
        record
        for (record,) in sql(
            warehouse, f"SELECT record_id {LIVE} ORDER BY last_updated_epoch DESC NULLS LAST, record_id LIMIT 25"
        )
    ]


def test_records_without_a_change_time_come_last_in_the_explorer_locally(app_on, warehouse_with_unknown_change_times):
    at = app_on(warehouse_with_unknown_change_times).run()

    assert list(explorer_frame(at)["Record ID"]) == expected_first_page(warehouse_with_unknown_change_times)


def test_records_without_a_change_time_come_last_in_the_explorer_in_snowflake(
    app_on, warehouse_with_unknown_change_times, monkeypatch, tmp_path
):
    install_stand_in(StandInSession(warehouse_with_unknown_change_times), monkeypatch)
    at = app_on(tmp_path / "not-used.db").run()

    assert list(explorer_frame(at)["Record ID"]) == expected_first_page(warehouse_with_unknown_change_times)


def customer_ids(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return [
            customer for (customer,) in db.execute("SELECT DISTINCT customer_id FROM tester.fpr_records").fetchall()
        ]


def test_the_campaign_list_is_the_same_on_both_engines(
    app_on, warehouse_with_unknown_change_times, monkeypatch, tmp_path
):
    local = choose_product(app_on(warehouse_with_unknown_change_times).run())
    listed_locally = campaign_frame(local)
    session = StandInSession(warehouse_with_unknown_change_times)
    install_stand_in(session, monkeypatch)
    in_snowflake = choose_product(app_on(tmp_path / "not-used.db").run())
    listed_there = campaign_frame(in_snowflake)

    # Each engine keeps its own pseudonym key, so the ids differ as text but name the same customers.
    assert listed_there.drop(columns="Customer ID").equals(listed_locally.drop(columns="Customer ID"))
    [(local_key,)] = key_in(tmp_path / "finmatch_app.db")
    [(key_there,)] = session.connection.execute("SELECT pseudonym_key FROM FINMATCH_PSEUDONYM_KEY").fetchall()
    customers = {
        pseudonym(local_key, customer): customer for customer in customer_ids(warehouse_with_unknown_change_times)
    }
    assert [pseudonym(key_there, customers[shown]) for shown in listed_locally["Customer ID"]] == list(
        listed_there["Customer ID"]
    )
    assert dataframe_with(in_snowflake, "Action score").equals(dataframe_with(local, "Action score"))

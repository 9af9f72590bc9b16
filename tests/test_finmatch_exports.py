"""A campaign list and a retention list as a CRM receives them: a CSV Excel and pandas read with numbers as numbers,
the same rows kept in FINMATCH_CAMPAIGN_MEMBERS (the app's own DuckDB file locally), a random control group at the
chosen share, and masked ids that are the same pseudonym for the same customer in every list.

One AppTest drives it all, as a marketer would: the Insurance list of 200, saved; the control share changed; a Loan
list; the retention list, saved. Expected rows are SQL written in test_finmatch_campaign.py, and each pseudonym is
HMAC-SHA256 of the customer id under the key the app keeps, computed here.
"""

import csv
import hashlib
import hmac
import io

import duckdb
import pandas as pd
import pytest
from test_finmatch_app import campaign_frame, retention_frame, sql
from test_finmatch_campaign import FEATURES, expected_by_balance

NUMERIC = ("rank", "score", "score_low", "score_high", "expected_value", "expected_value_low", "expected_value_high")


def read_csv(text):
    """What pandas reads from the downloaded bytes, and the raw rows as a spreadsheet would split them."""
    assert text.startswith("\ufeff")  # the byte order mark that makes Excel read UTF-8
    raw = text.encode("utf-8")
    frame = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    return frame, rows


def pseudonym(key, customer):
    return "FM-" + hmac.new(key.encode(), customer.encode(), hashlib.sha256).hexdigest()[:16]


def members_in(app_db, campaign):
    with duckdb.connect(str(app_db), read_only=True) as db:
        return db.execute(
            "SELECT * FROM FINMATCH_CAMPAIGN_MEMBERS WHERE campaign_id = ? ORDER BY rank", [campaign]
        ).df()


def key_in(app_db):
    with duckdb.connect(str(app_db), read_only=True) as db:
        return db.execute("SELECT pseudonym_key FROM FINMATCH_PSEUDONYM_KEY").fetchall()


def button(at, label):
    return next(element for element in at.button if element.label == label)


@pytest.fixture
def marketer(app_on, finmatch_warehouse, downloads, tmp_path):
    """The Insurance list of 200, downloaded and saved, then the same with a 25 % control group."""
    at = app_on(finmatch_warehouse).run()
    next(box for box in at.selectbox if box.label == "Product to offer").set_value("Insurance").run()
    next(box for box in at.number_input if box.label == "Customers in the list").set_value(200).run()
    return at


def test_the_insurance_list_of_200_exports_as_csv_and_as_members_with_a_control_group_and_stable_pseudonyms(
    marketer, finmatch_warehouse, downloads, tmp_path
):
    at, app_db = marketer, tmp_path / "finmatch_app.db"
    first, rows = read_csv(downloads["Download the campaign list as CSV"])

    # pandas reads every number as a number; no number is quoted; times are ISO 8601 in UTC.
    assert len(first) == 200 and list(first["rank"]) == list(range(1, 201))
    assert all(pd.api.types.is_numeric_dtype(first[name]) for name in (*NUMERIC, "control_group", "pseudonymous"))
    header = rows[0]
    for row in rows[1:]:
        for name in NUMERIC:
            float(row[header.index(name)])  # a plain number as Excel reads it
    assert '"0' not in downloads["Download the campaign list as CSV"]
    assert first["created_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert set(first["kind"]) == {"cross-sell"} and set(first["product"]) == {"Insurance"}
    assert first["model_version"].iloc[0] == "base rate"  # the model does not beat the base rate on this data

    # The same customers as the SQL's list, each under the pseudonym of the app's key, shown so on screen too.
    [(key,)] = key_in(app_db)
    expected = [customer for customer, _ in expected_by_balance(finmatch_warehouse, "Insurance", 200)]
    assert list(first["customer_id"]) == [pseudonym(key, customer) for customer in expected]
    assert list(campaign_frame(at)["Customer ID"]) == list(first["customer_id"])
    assert first["pseudonymous"].all() and len(set(first["customer_id"])) == 200

    # Exactly 10 % in the control group; the members table holds the same rows once saved.
    assert int(first["control_group"].sum()) == 20
    button(at, "Save the campaign members for the CRM").click().run()
    [campaign] = set(first["campaign_id"])
    kept = members_in(app_db, campaign)
    assert len(kept) == 200
    assert list(kept["customer_id"]) == list(first["customer_id"])
    assert list(kept["control_group"].astype(int)) == list(first["control_group"])
    for name in NUMERIC:
        assert list(kept[name]) == pytest.approx(list(first[name]), rel=1e-12)
    button(at, "Save the campaign members for the CRM").click().run()
    assert len(members_in(app_db, campaign)) == 200  # saving again replaces, never duplicates

    # Another share: exactly 25 %; the list itself unchanged.
    next(box for box in at.number_input if box.label == "Control group, % of the list").set_value(25).run()
    quarter, _ = read_csv(downloads["Download the campaign list as CSV"])
    assert int(quarter["control_group"].sum()) == 50
    assert list(quarter["customer_id"]) == list(first["customer_id"])

    # A Loan list: every customer in both lists has one pseudonym.
    next(box for box in at.selectbox if box.label == "Product to offer").set_value("Loan").run()
    loan, _ = read_csv(downloads["Download the campaign list as CSV"])
    shared = set(loan["customer_id"]) & set(first["customer_id"])
    assert shared
    expected_loan = [customer for customer, _ in expected_by_balance(finmatch_warehouse, "Loan", 200)]
    assert list(loan["customer_id"]) == [pseudonym(key, customer) for customer in expected_loan]


def test_the_retention_list_ranks_by_value_at_risk_and_exports_the_same_way(
    app_on, finmatch_warehouse, downloads, tmp_path
):
    at = app_on(finmatch_warehouse).run()
    next(toggle for toggle in at.toggle if toggle.label == "Build the retention list").set_value(True).run()
    next(box for box in at.multiselect if box.label == "Segments").set_value(["Retail", "Corporate"]).run()

    expected = sql(
        finmatch_warehouse,
        FEATURES + " SELECT c.customer_id, c.churn * c.balance AS at_risk FROM customers c "
        "WHERE c.churn >= 0.5 AND (c.satisfaction IS NULL OR c.satisfaction <= 1.0) "
        "AND c.segment IN ('Retail', 'Corporate') ORDER BY at_risk DESC, customer_id LIMIT 200",
    )
    (matching,) = sql(
        finmatch_warehouse,
        FEATURES + " SELECT count(*) FROM customers WHERE churn >= 0.5 AND segment IN ('Retail', 'Corporate')",
    )[0]
    assert f"**{matching:,}** customers match" in "\n".join(block.value for block in at.markdown)
    exported, _ = read_csv(downloads["Download the retention list as CSV"])
    [(key,)] = key_in(tmp_path / "finmatch_app.db")
    assert list(exported["customer_id"]) == [pseudonym(key, customer) for customer, _ in expected]
    assert list(exported["expected_value"]) == pytest.approx([value for _, value in expected], rel=1e-12)
    assert list(retention_frame(at)["Value at risk"]) == [f"${value:,.0f}" for _, value in expected]
    assert set(exported["kind"]) == {"retention"} and int(exported["control_group"].sum()) == round(0.1 * len(expected))

    button(at, "Save the retention members for the CRM").click().run()
    kept = members_in(tmp_path / "finmatch_app.db", exported["campaign_id"].iloc[0])
    assert list(kept["customer_id"]) == list(exported["customer_id"])
    assert not any(f"CUST_{number:06d}" in str(kept.values) for number in range(750))
    written = sql(
        finmatch_warehouse, "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'FINMATCH%'"
    )
    assert written == [(0,)]  # the connector's warehouse is never written to

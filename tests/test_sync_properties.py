"""Property: whatever pages the API sends, the sync loads exactly the valid records or fails clearly, and never loops.

Hypothesis generates page sequences (cursors drawn from a small set, so that repeats and
cycles are common; has_more true, false or absent; empty pages; bodies of the wrong shape)
and records (duplicated record_ids across pages, missing ids, "N/A" money, malformed dates).
A scripted /fpr_data on loopback serves them in order; the outcome is compared with a model of the rules
in the README's Pagination and Data handling sections.
"""

import tempfile
from pathlib import Path

import pytest
from conftest import Project, sample_record, scripted_configuration
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scripted_api import ScriptedApi

CURSORS = ["gAAAAA1=", "gAAAAA2==", "c3"]
END_PAGE = {"fpr_records": [], "next_cursor": "end=", "has_more": False}
HAS_MORE_ABSENT = "absent"

record_specs = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["r1", "r2", "r3", "r4", "r5", "r6"]),
        "defect": st.sampled_from([None, None, None, "missing_id", "bad_balance", "bad_date"]),
    }
)
page_specs = st.fixed_dictionaries(
    {
        "shape": st.sampled_from(["ok"] * 8 + ["not_object", "no_records"]),
        "records": st.lists(record_specs, max_size=4),  # empty pages too
        "next_cursor": st.sampled_from([*CURSORS, None]),
        "has_more": st.sampled_from([True, True, True, False, HAS_MORE_ABSENT]),
    }
)


def build_bodies(pages):
    """The JSON bodies for the page specs; each record carries its position in the stream."""
    bodies, position = [], 0
    for page in pages:
        records = []
        for spec in page["records"]:
            position += 1
            record = {**sample_record(1), "record_id": spec["id"], "customer_transaction_count": position}
            if spec["defect"] == "missing_id":
                del record["record_id"]
            elif spec["defect"] == "bad_balance":
                record["account_balance"] = "N/A"
            elif spec["defect"] == "bad_date":
                record["product_sales_date"] = "2024-13-45"
            records.append(record)
        body = {"fpr_records": records, "next_cursor": page["next_cursor"]}
        if page["has_more"] != HAS_MORE_ABSENT:
            body["has_more"] = page["has_more"]
        if page["shape"] == "not_object":
            body = records
        elif page["shape"] == "no_records":
            body = {"data": records}
        bodies.append(body)
    return bodies + [END_PAGE]


def expected_outcome(bodies):
    """(rows by record_id, error fragment or None, pages requested) under the documented rules."""
    rows, seen, cursor = {}, set(), None
    for number, body in enumerate(bodies, start=1):
        if not isinstance(body, dict):
            return rows, f"page {number}: the response is a JSON list", number
        if "fpr_records" not in body:
            return rows, f"page {number}: the response has no 'fpr_records' list", number
        records, next_cursor = body["fpr_records"], body.get("next_cursor")
        has_more = body.get("has_more", bool(next_cursor))
        last = not records or not has_more
        if not last and not next_cursor:
            return rows, f"page {number} says has_more: true but gives no next_cursor", number
        if not last and (next_cursor in seen or next_cursor == cursor):
            return rows, f"page {number} returned a cursor already seen in this sync", number
        for record in records:
            if "record_id" in record:
                rows[record["record_id"]] = record
        if last:
            return rows, None, number
        seen.add(next_cursor)
        cursor = next_cursor
    raise AssertionError("the model ran past the end page")


def landed_value(record, name):
    value = record[name]
    return None if value in ("N/A", "2024-13-45") else value


@pytest.fixture(scope="module")
def server():
    with ScriptedApi() as api:
        yield api


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: HYPOTHESIS_PROFILE (conftest.py)
@given(pages=st.lists(page_specs, min_size=1, max_size=7))
def test_a_sync_loads_exactly_the_valid_records_or_fails_clearly_and_never_loops(server, pages):
    bodies = build_bodies(pages)
    expected_rows, expected_error, expected_requests = expected_outcome(bodies)
    server.reset()
    server.serve(*bodies)

    with tempfile.TemporaryDirectory() as folder:
        project = Project(Path(folder) / "project")
        result = project.sync(scripted_configuration(server))
        requests_made = len(server.calls)
        landed = {}
        if project.warehouse.exists() and project.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'fpr_records'"
        ) == [(1,)]:
            landed = {row["record_id"]: row for row in project.rows()}

    assert requests_made == expected_requests <= len(bodies)  # never loops, never reads past the end
    if expected_error is None:
        assert result.ok, result.output
    else:
        assert not result.ok
        assert expected_error in result.output
    assert set(landed) == set(expected_rows)
    for record_id, record in expected_rows.items():
        row = landed[record_id]
        assert row["customer_transaction_count"] == record["customer_transaction_count"]  # the latest version
        assert row["account_balance"] == landed_value(record, "account_balance")
        sales_date = row["product_sales_date"]
        assert (sales_date.isoformat() if sales_date else None) == landed_value(record, "product_sales_date")

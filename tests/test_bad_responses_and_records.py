"""Responses of the wrong shape fail naming the page; bad records never fail a sync or vanish silently."""

import pytest
from conftest import configuration_for


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("not_object", "page 2: the response is a JSON list, not an object"),
        ("no_records_key", "page 2: the response has no 'fpr_records' list; is base_url an FPR API?"),
        ("non_object_record", "page 2: 1 of 101 items in 'fpr_records' are not JSON objects"),
    ],
)
def test_a_response_of_the_wrong_shape_fails_naming_the_page(make_api, project, fault, message):
    server = make_api(size=500, faults=f"2={fault}")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert message in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(100,)]
    assert result.state["next_cursor"]


def test_bad_records_are_loaded_as_well_as_they_can_be_and_reported_once(make_api, project):
    server = make_api(size=300, faults="2=bad_records")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(299,)]  # the record without record_id
    assert result.output.count("1 records had no usable record_id and were skipped") == 1
    assert "1 records had a value in 'account_balance' that is not a valid DOUBLE; loaded as NULL" in result.output
    assert "1 records had a value in 'product_sales_date' that is not a valid NAIVE_DATE" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records WHERE account_balance IS NULL") == [(1,)]
    assert project.query("SELECT count(*) FROM tester.fpr_records WHERE product_sales_date IS NULL") == [(1,)]
    assert "N/A" not in result.output and "31/01/2024" not in result.output


def test_fields_the_schema_does_not_know_still_land_with_exact_values(make_api, project):
    server = make_api(size=150, faults="1=bad_records")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    types = project.column_types()
    assert types["loyalty_tier"] == "VARCHAR"
    assert types["loyalty_points_value"] == "DOUBLE"
    assert project.query(
        "SELECT loyalty_tier, loyalty_points_value FROM tester.fpr_records WHERE loyalty_tier IS NOT NULL"
    ) == [("Gold", 1234.5678901234)]

"""normalise_record(): every value fits its declared type, or becomes NULL and is counted."""

import pytest
from conftest import sample_record

from connector import RecordIssues, normalise_record


def normalise(record):
    issues = RecordIssues()
    return normalise_record(record, issues), issues


def test_a_well_formed_record_passes_unchanged():
    record = sample_record(1)

    row, issues = normalise(record)

    assert row == record
    assert issues.skipped == 0 and issues.bad_values == {}


@pytest.mark.parametrize("record_id", [None, "", "   ", 3.5, True, ["x"]])
def test_a_record_without_a_usable_record_id_is_skipped_and_counted(record_id):
    record = {**sample_record(1), "record_id": record_id}

    row, issues = normalise(record)

    assert row is None
    assert issues.skipped == 1


def test_an_integer_record_id_is_kept_as_text():
    row, _ = normalise({**sample_record(1), "record_id": 981})

    assert row["record_id"] == "981"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("account_balance", "N/A"),
        ("account_balance", True),
        ("account_balance", float("nan")),
        ("customer_transaction_count", 12.5),
        ("customer_transaction_count", 2**31),
        ("customer_transaction_count", "many"),
        ("last_updated_epoch", "yesterday"),
        ("product_sales_date", "31/01/2024"),
        ("product_sales_date", "2024-02-30"),
        ("product_sales_date", "2024-01-31T10:00:00"),
        ("product_sales_date", ""),
    ],
)
def test_a_value_that_does_not_fit_its_type_becomes_null_and_is_counted(name, value):
    row, issues = normalise({**sample_record(7), name: value})

    assert row[name] is None
    assert issues.bad_values == {name: [1, ["rec-0007"]]}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("account_balance", 100, 100.0),
        ("account_balance", "635821.07", 635821.07),
        ("customer_transaction_count", 48.0, 48),
        ("customer_transaction_count", "48", 48),
        ("last_updated_epoch", 4102444800, 4102444800),
        ("customer_segment", 7, "7"),
        ("customer_segment", None, None),
    ],
)
def test_values_of_a_compatible_type_are_converted(name, value, expected):
    row, issues = normalise({**sample_record(1), name: value})

    assert row[name] == expected
    assert issues.bad_values == {}


def test_undeclared_fields_are_kept_with_decimals_as_exact_text():
    row, _ = normalise({**sample_record(1), "loyalty_tier": "Gold", "loyalty_value": 635821.07, "flags": [1, 2]})

    assert row["loyalty_tier"] == "Gold"
    assert row["loyalty_value"] == "635821.07"
    assert row["flags"] == [1, 2]


def test_issue_samples_are_capped_at_five_record_ids():
    issues = RecordIssues()
    for number in range(8):
        normalise_record({**sample_record(number), "account_balance": "N/A"}, issues)

    assert issues.bad_values["account_balance"][0] == 8
    assert len(issues.bad_values["account_balance"][1]) == 5

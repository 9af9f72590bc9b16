"""RecordNormaliser: every value fits its column, every name is one a destination can take, or it is counted."""

from datetime import date

import pytest
from conftest import sample_record

from connector import COLUMNS, PRIMARY_KEY
from fpr.issues import RecordIssues
from fpr.records import RecordNormaliser, double_text
from fpr.safe_log import printable
from fpr.text import repair_text

MAX_EXTRA_COLUMNS = 100  # fpr/field_names.py: new columns taken per sync


def normaliser_with(issues):
    return RecordNormaliser(COLUMNS, PRIMARY_KEY, issues)


def normalise(record):
    issues = RecordIssues()
    return normaliser_with(issues)(record), issues


DATES = ["customer_lifecycle_stage_transition_date", "product_sales_date", "product_recommendation_date"]


def test_a_well_formed_record_passes_unchanged_but_its_dates_become_date_objects():
    record = sample_record(1)

    row, issues = normalise(record)

    assert {name: value for name, value in row.items() if name not in DATES} == {
        name: value for name, value in record.items() if name not in DATES
    }
    assert {name: row[name] for name in DATES} == {name: date.fromisoformat(record[name]) for name in DATES}
    assert issues.skipped == 0 and issues.bad_values == {} and issues.repaired == {}


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
    ("name", "value", "column_type"),
    [
        ("account_balance", "N/A", "DOUBLE"),
        ("account_balance", True, "DOUBLE"),
        ("account_balance", float("nan"), "DOUBLE"),
        ("account_balance", 10**400, "DOUBLE"),
        ("customer_transaction_count", 12.5, "INT"),
        ("customer_transaction_count", 2**31, "INT"),
        ("customer_transaction_count", "many", "INT"),
        ("customer_transaction_count", "9" * 5000, "INT"),
        ("last_updated_epoch", "yesterday", "LONG"),
        ("product_sales_date", "31/01/2024", "NAIVE_DATE"),
        ("product_sales_date", "2024-02-30", "NAIVE_DATE"),
        ("product_sales_date", "2024-01-31T10:00:00", "NAIVE_DATE"),
        ("product_sales_date", "", "NAIVE_DATE"),
    ],
)
def test_a_value_that_does_not_fit_its_type_becomes_null_and_is_counted(name, value, column_type):
    row, issues = normalise({**sample_record(7), name: value})

    assert row[name] is None
    assert issues.bad_values == {name: [1, ["rec-0007"], column_type]}


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


def test_undeclared_fields_are_kept_decimals_as_exact_text_with_a_decimal_point():
    row, _ = normalise({**sample_record(1), "loyalty_tier": "Gold", "loyalty_value": 635821.07, "flags": [1, 2]})

    assert row["loyalty_tier"] == "Gold"
    assert row["loyalty_value"] == "635821.07"
    assert row["flags"] == [1, 2]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-05, "1.0e-05"),
        (1e16, "1.0e+16"),
        (5e-324, "5.0e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-2.5e-308, "-2.5e-308"),
        (0.1, "0.1"),
        (3.0, "3.0"),
    ],
)
def test_an_undeclared_decimal_is_text_that_reads_back_exactly_and_has_a_decimal_point(value, text):
    assert double_text(value) == text
    assert float(text) == value


def test_undeclared_whole_numbers_stay_numbers_within_64_bits_and_are_counted_beyond():
    row, issues = normalise({**sample_record(3), "points": 2**40, "huge_points": 2**70, "ratio": float("inf")})

    assert row["points"] == 2**40
    assert row["huge_points"] is None and row["ratio"] is None
    assert issues.bad_values == {"huge_points": [1, ["rec-0003"], "LONG"], "ratio": [1, ["rec-0003"], "DOUBLE"]}


@pytest.mark.parametrize(
    ("value", "repaired"),
    [
        ("Jos\ud800", "Jos\ufffd"),
        ("\udfff leading", "\ufffd leading"),
        ("a\x00b", "ab"),
        ("caf\u00e9\x00\ud83d", "caf\u00e9\ufffd"),
    ],
)
def test_text_no_destination_can_store_is_repaired(value, repaired):
    assert repair_text(value) == repaired


def test_text_that_needs_no_repair_is_returned_as_the_same_object():
    for text in ["plain", "caf\u00e9 \U0001f600", ""]:
        assert repair_text(text) is text


def test_repaired_values_are_counted_per_field_and_the_record_lands():
    record = {**sample_record(4), "customer_name": "Jos\ud800", "product_terms": "x\x00y", "notes": {"k": "v\ud800"}}

    row, issues = normalise(record)

    assert row["customer_name"] == "Jos\ufffd" and row["product_terms"] == "xy" and row["notes"] == {"k": "v\ufffd"}
    assert {name: entry[0] for name, entry in issues.repaired.items()} == {
        "customer_name": 1,
        "product_terms": 1,
        "notes": 1,
    }


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "no letter or digit"),
        ("   ", "no letter or digit"),
        ("\u540d\u524d", "no letter or digit"),
        ("Record ID", "same column as 'record_id'"),
        ("customerName", "same column as 'customer_name'"),
        ("_fivetran_synced", "reserved for Fivetran"),
        ("Fivetran Deleted", "reserved for Fivetran"),
        ("n" * 300, "longer than 255 characters"),
        ("tab\tname", "unprintable characters"),
        ("person@example.com", "looks like an email address"),
    ],
)
def test_a_field_whose_name_no_column_can_take_is_dropped_and_counted(name, reason):
    row, issues = normalise({**sample_record(5), name: "value"})

    assert name not in row
    assert row["record_id"] == "rec-0005" and row["customer_name"] == "Customer 5"
    [(shown, (count, ids, why))] = issues.dropped_fields.items()
    assert (count, ids, why) == (1, ["rec-0005"], reason)
    assert "@" not in shown


def test_a_field_name_with_a_lone_surrogate_is_repaired_and_kept():
    row, issues = normalise({**sample_record(6), "bad\ud800name": 1})

    assert row["bad\ufffdname"] == 1
    assert issues.repaired["field names"][0] == 1


def test_two_undeclared_names_for_one_column_keep_the_first():
    normaliser = normaliser_with(RecordIssues())

    first = normaliser({**sample_record(1), "Loyalty Tier": "Gold"})
    second = normaliser({**sample_record(2), "loyalty_tier": "Silver"})

    assert first["Loyalty Tier"] == "Gold"
    assert "loyalty_tier" not in second and "Loyalty Tier" not in second
    assert normaliser.issues.dropped_fields["loyalty_tier"][2] == "same column as 'Loyalty Tier'"


def test_new_columns_per_sync_are_capped():
    normaliser = normaliser_with(RecordIssues())
    fields = {f"extra_{number}": number for number in range(MAX_EXTRA_COLUMNS + 5)}

    row = normaliser({**sample_record(1), **fields})

    assert sum(name.startswith("extra_") for name in row) == MAX_EXTRA_COLUMNS
    assert len(normaliser.issues.dropped_fields) == 5


def test_names_and_ids_in_messages_hide_emails_and_unprintable_characters():
    assert printable("jane.doe@bank.example") == "<email>"
    assert printable("id\ud800\x00") == "id\\ud800\\x00"
    assert len(printable("x" * 500)) == 60


def test_issue_samples_are_capped_at_five_record_ids():
    issues = RecordIssues()
    normaliser = normaliser_with(issues)
    for number in range(8):
        normaliser({**sample_record(number), "account_balance": "N/A"})

    assert issues.bad_values["account_balance"][0] == 8
    assert len(issues.bad_values["account_balance"][1]) == 5

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


@pytest.mark.parametrize(
    ("name", "value", "kept"),
    [
        ("customer_transaction_count", 2**31 - 1, True),
        ("customer_transaction_count", -(2**31), True),
        ("customer_transaction_count", -(2**31) - 1, False),
        ("customer_transaction_count", " 48 ", True),
        ("customer_transaction_count", "-7", True),
        ("customer_transaction_count", 7.5, False),
        ("customer_transaction_count", True, False),
        ("last_updated_epoch", 2**63 - 1, True),
        ("last_updated_epoch", -(2**63), True),
        ("last_updated_epoch", 2**63, False),
        ("last_updated_epoch", "1" * 21, False),
    ],
)
def test_whole_numbers_are_kept_up_to_the_last_value_their_column_holds(name, value, kept):
    row, issues = normalise({**sample_record(2), name: value})

    assert (row[name] is not None) == kept
    if kept:
        assert row[name] == int(str(value).strip())
    assert bool(issues.bad_values) != kept


@pytest.mark.parametrize(
    ("value", "kept_as"),
    [(2**63 - 1, 2**63 - 1), (-(2**63), -(2**63)), (2**63, None), (-(2**63) - 1, None)],
)
def test_an_undeclared_whole_number_is_kept_up_to_64_bits_exactly(value, kept_as):
    row, issues = normalise({**sample_record(2), "points": value})

    assert row["points"] == kept_as
    assert issues.bad_values == ({} if kept_as is not None else {"points": [1, ["rec-0002"], "LONG"]})


@pytest.mark.parametrize("value", [20240131, 2024.0131, ["2024-01-31"], {"date": "2024-01-31"}])
def test_a_date_that_is_not_text_becomes_null_and_is_counted(value):
    row, issues = normalise({**sample_record(9), "product_sales_date": value})

    assert row["product_sales_date"] is None
    assert issues.bad_values == {"product_sales_date": [1, ["rec-0009"], "NAIVE_DATE"]}


def test_an_undeclared_object_holding_a_non_finite_number_becomes_null_and_is_counted():
    row, issues = normalise({**sample_record(3), "scores": {"a": float("nan")}, "limits": [1.0, float("inf")]})

    assert row["scores"] is None and row["limits"] is None
    assert issues.bad_values == {"limits": [1, ["rec-0003"], "JSON"], "scores": [1, ["rec-0003"], "JSON"]}


def test_an_undeclared_object_that_needs_no_repair_is_passed_on_as_the_same_object():
    notes = {"tier": "Gold", "tags": ["a", "b"], "caf\u00e9": 1}

    row, issues = normalise({**sample_record(3), "notes": notes})

    assert row["notes"] is notes
    assert issues.repaired == {} and issues.bad_values == {}


@pytest.mark.parametrize(
    ("value", "kind"),
    [("Gold", "STRING"), (True, "STRING"), ({"a": 1}, "JSON"), ([1], "JSON"), (7, "LONG"), (1.5, "DOUBLE")],
)
def test_an_undeclared_value_is_typed_as_it_will_land(value, kind):
    from fpr.records import undeclared_value

    assert undeclared_value(value)[1] == kind


def test_text_beyond_ascii_loses_its_nul_characters_and_keeps_everything_else():
    assert repair_text("Jos\u00e9\x00 M\u00fcller") == "Jos\u00e9 M\u00fcller"


def test_booleans_in_a_text_column_are_written_as_json_writes_them():
    row, _ = normalise({**sample_record(1), "customer_segment": True, "product_terms": False})

    assert (row["customer_segment"], row["product_terms"]) == ("true", "false")


def test_an_object_in_a_text_column_is_written_as_json_with_its_keys_sorted():
    row, _ = normalise({**sample_record(1), "product_terms": {"rate": 0.05, "collateral": None}})

    assert row["product_terms"] == '{"collateral": null, "rate": 0.05}'


def test_a_repaired_record_id_is_counted_under_record_id_with_the_repaired_id():
    row, issues = normalise({**sample_record(1), "record_id": "rec-\ud800"})

    assert row["record_id"] == "rec-\ufffd"
    assert issues.repaired == {"record_id": [1, ["rec-\\ufffd"], None]}


@pytest.mark.parametrize(("length", "kept"), [(255, True), (256, False)])
def test_a_field_name_may_be_255_characters_long(length, kept):
    name = "n" * length

    row, issues = normalise({**sample_record(1), name: 1})

    assert (name in row) == kept
    assert bool(issues.dropped_fields) != kept


def test_the_verdicts_kept_on_field_names_are_bounded_whatever_a_server_invents():
    from fpr.field_names import MAX_REMEMBERED_NAMES

    normaliser = normaliser_with(RecordIssues())
    for number in range(MAX_REMEMBERED_NAMES + 50):
        normaliser({**sample_record(1), f"@{number}": 1})

    assert len(normaliser.extra_names.verdicts) == 10_000


def test_each_kind_of_defect_is_reported_once_with_counts_fields_and_ids(monkeypatch):
    from fpr import safe_log

    said = []
    monkeypatch.setattr(safe_log, "sync_warning", said.append)
    issues = RecordIssues()
    normaliser = normaliser_with(issues)
    normaliser({**sample_record(1), "account_balance": "N/A", "product_terms": "a\x00b", "Record ID": "x"})
    normaliser({**sample_record(2), "account_balance": "N/A"})
    normaliser({**sample_record(3), "record_id": "  "})

    issues.report()

    assert said == [
        "1 records had no usable record_id and were skipped",
        "2 records had a value in 'account_balance' that is not a valid DOUBLE; loaded as NULL "
        "(e.g. record_id rec-0001, rec-0002)",
        "text that no destination can store was repaired in 'product_terms' (1): lone UTF-16 surrogates became "
        "U+FFFD and NUL characters were removed; the records loaded (e.g. record_id rec-0001)",
        "fields whose names no destination column can take were dropped: 'Record ID' (1, same column as "
        "'record_id'); the rest of each record loaded (e.g. record_id rec-0001)",
    ]


def test_a_report_names_every_field_and_sample_id_separated_by_commas(monkeypatch):
    from fpr import safe_log

    said = []
    monkeypatch.setattr(safe_log, "sync_warning", said.append)
    issues = RecordIssues()
    normaliser = normaliser_with(issues)
    normaliser({**sample_record(1), "product_terms": "a\x00b", "bad\ud800name": 1, "Record ID": "x"})
    normaliser({**sample_record(2), "customer_name": "Jo\x00", "_fivetran_id": 2})
    normaliser({**sample_record(3), "record_id": None})
    normaliser({**sample_record(4), "record_id": ""})

    issues.report()

    assert said == [
        "2 records had no usable record_id and were skipped",
        "text that no destination can store was repaired in 'customer_name' (1), field names (1), "
        "'product_terms' (1): lone UTF-16 surrogates became U+FFFD and NUL characters were removed; the records "
        "loaded (e.g. record_id rec-0001, rec-0002)",
        "fields whose names no destination column can take were dropped: 'Record ID' (1, same column as "
        "'record_id'), '_fivetran_id' (1, reserved for Fivetran); the rest of each record loaded "
        "(e.g. record_id rec-0001, rec-0002)",
    ]


def test_an_undeclared_whole_number_too_long_to_read_is_a_bad_long():
    from fpr.body import HugeInteger

    row, issues = normalise({**sample_record(5), "points": HugeInteger("9" * 5000)})

    assert row["points"] is None
    assert issues.bad_values == {"points": [1, ["rec-0005"], "LONG"]}

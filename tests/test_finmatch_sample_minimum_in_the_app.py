"""On the page, the sample minimum at its boundary: trend points, compared periods and the few-records warning.

The warehouse is the one of test_finmatch_sample_minimum.py: before every other record, 29 decided
recommendations on 2023-01-15, 30 records of which 29 are decided on 2023-02-15, and 30 decided (all
accepted) on 2023-03-15. Each expectation is written out here from those counts.
"""

from datetime import date

import pytest
from test_finmatch_sample_minimum import plant_groups_at_the_minimum
from test_finmatch_semantics import monthly_layers


@pytest.fixture(scope="module")
def warehouse_at_the_minimum(finmatch_warehouse, tmp_path_factory):
    return plant_groups_at_the_minimum(finmatch_warehouse, tmp_path_factory.mktemp("at-the-minimum-in-the-app"))


def choose_dates(at, first, last):
    at.sidebar.date_input[0].set_value((first, last)).run()
    assert not at.exception and not at.error
    return at


def deltas(at):
    return {metric.label: metric.delta for metric in at.metric}


def captions(at):
    return "\n".join(caption.value for caption in at.caption)


def planted_months(rows):
    """{(year, month): decided} of the planted months (2023) among a chart layer's rows."""
    months = {}
    for row in rows:
        month = row["month"]
        if month.year == 2023:
            months[(month.year, month.month)] = row["decided"]
    return months


def test_a_month_joins_the_trend_line_from_30_decided_recommendations_not_30_records(app_on, warehouse_at_the_minimum):
    at = app_on(warehouse_at_the_minimum).run()

    layers = monthly_layers(at)
    assert planted_months(layers["point"]) == {(2023, 1): 29, (2023, 2): 29, (2023, 3): 30}  # every month is drawn
    assert planted_months(layers["line"]) == {(2023, 3): 30}  # only the month of 30 decided is joined


def test_changes_are_withheld_when_a_compared_period_has_29_records(app_on, warehouse_at_the_minimum):
    at = choose_dates(app_on(warehouse_at_the_minimum).run(), date(2023, 2, 1), date(2023, 2, 28))

    assert not any(deltas(at).values())
    assert (
        "No changes shown: comparing the selected 28 days (2023-02-01 to 2023-02-28) with the 28 days before "
        "(2023-01-04 to 2023-01-31) needs 30 records in each, and one has only 29."
    ) in captions(at)


def test_changes_are_shown_with_30_records_in_each_period_but_acceptance_needs_30_decided(
    app_on, warehouse_at_the_minimum
):
    """March (30 records, 30 decided) against the 31 days before: February's 30 records, of which 29 are decided."""
    at = choose_dates(app_on(warehouse_at_the_minimum).run(), date(2023, 3, 1), date(2023, 3, 31))

    shown = deltas(at)
    assert "Changes compare the selected 31 days (2023-03-01 to 2023-03-31) with the 31 days before" in captions(at)
    assert shown["Avg churn probability"] == "-0.030"  # 0.95 against 0.98, every record alike: beyond any noise
    assert not shown["Acceptance rate"]


def test_the_acceptance_change_is_shown_with_30_decided_in_each_period(app_on, warehouse_at_the_minimum):
    """March (30 accepted of 30) against the 61 days before: January's and February's 58 decided, none accepted."""
    at = choose_dates(app_on(warehouse_at_the_minimum).run(), date(2023, 3, 1), date(2023, 4, 30))

    assert deltas(at)["Acceptance rate"] == "+100.0 pts"


def test_the_few_records_warning_is_shown_below_30_records_only(app_on, warehouse_at_the_minimum):
    at = app_on(warehouse_at_the_minimum).run()

    choose_dates(at, date(2023, 1, 15), date(2023, 1, 15))
    assert any(warning.value.startswith("Only 29 records match the filters") for warning in at.warning)

    choose_dates(at, date(2023, 2, 15), date(2023, 2, 15))
    assert not any(warning.value.startswith("Only ") for warning in at.warning)

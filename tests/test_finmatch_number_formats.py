"""How FinMatch prints money, shares and scores, everywhere it prints them (cards, tables, insights).

Money in dollars with thousands separators and cents, rounded to the nearest cent; large totals on a card in
thousands, millions or billions from exactly 1,000, 1,000,000 and 1,000,000,000; shares to a tenth of a
percent; scores to three decimals; a missing figure as "n/a".
"""

import pytest

from finmatch.formats import compact_money, money, score, share


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (0, "$0.00"),
        (0.005001, "$0.01"),
        (12345.678, "$12,345.68"),
        (12345.674, "$12,345.67"),
        (1234567.5, "$1,234,567.50"),
        (-2500.4, "$-2,500.40"),
        (None, "n/a"),
    ],
)
def test_money_is_dollars_with_separators_and_cents(value, printed):
    assert money(value) == printed


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (999.99, "$999.99"),
        (1000, "$1.00K"),
        (250_000, "$250.00K"),
        (999_000, "$999.00K"),
        (1_000_000, "$1.00M"),
        (1_250_000, "$1.25M"),
        (999_000_000, "$999.00M"),
        (1_000_000_000, "$1.00B"),
        (12_345_000_000, "$12.35B"),
        (-1000, "$-1.00K"),
        (-2_500_000, "$-2.50M"),
        (-999.5, "$-999.50"),
        (None, "n/a"),
    ],
)
def test_large_totals_are_printed_in_thousands_millions_or_billions(value, printed):
    assert compact_money(value) == printed


@pytest.mark.parametrize(
    ("value", "printed"),
    [(0, "0.0%"), (0.625, "62.5%"), (5 / 14, "35.7%"), (0.99951, "100.0%"), (1, "100.0%"), (None, "n/a")],
)
def test_shares_are_percentages_to_a_tenth(value, printed):
    assert share(value) == printed


@pytest.mark.parametrize(
    ("value", "printed"), [(0, "0.000"), (0.65, "0.650"), (0.24449, "0.244"), (1, "1.000"), (None, "n/a")]
)
def test_scores_have_three_decimals(value, printed):
    assert score(value) == printed

"""The Overview cards as a viewer reads them, on the 40 records of test_finmatch_figures_as_printed.py.

Every card's text is written out here literally: money with its cents and thousands separators (and in
thousands or millions on the sales card), shares to a tenth of a percent, scores to three decimals.
"""

import pytest
from test_finmatch_app import captions, cards
from test_finmatch_figures_as_printed import forty_known_records


@pytest.fixture(scope="module")
def known_records(finmatch_warehouse, tmp_path_factory):
    return forty_known_records(finmatch_warehouse, tmp_path_factory.mktemp("known-cards"))


def test_the_cards_print_each_figure_exactly(app_on, known_records):
    at = app_on(known_records).run()

    assert cards(at) == {
        "Acceptance rate": "62.5%",
        "Still open": "40.0%",
        "Sales after acceptance": "$1.25M",
        "Avg recommendation score": "0.650",
        "Avg satisfaction": "0.450",
        "Avg churn probability": "0.240",
        "Avg account balance": "$2,000.40",
        "Avg transaction value": "$12,345.68",
    }
    text = captions(at)
    assert "Accepted ÷ answered (accepted or declined): 15 of 24." in text
    assert "16 of 40 are Pending or In Progress." in text
    assert "12 accepted, sold on or after the recommendation date." in text
    assert "40 records selected (All records)." in text


def test_a_sales_total_under_a_million_is_printed_in_thousands(app_on, known_records):
    at = app_on(known_records).run()

    at.sidebar.multiselect[0].set_value(["Retail"]).run()

    assert cards(at) == {
        "Acceptance rate": "35.7%",  # 5 of 14
        "Still open": "30.0%",  # 6 of 20
        "Sales after acceptance": "$250.00K",
        "Avg recommendation score": "0.800",
        "Avg satisfaction": "0.300",
        "Avg churn probability": "0.200",
        "Avg account balance": "$2,000.40",
        "Avg transaction value": "$12,345.68",
    }
    assert "Accepted ÷ answered (accepted or declined): 5 of 14." in captions(at)

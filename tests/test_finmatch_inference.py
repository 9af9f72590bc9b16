"""The statistics behind FinMatch's claims, each against an answer known without the library that computes it.

Closed forms (a Beta posterior after no success under a uniform prior; a method-of-moments fit of three rates;
Student's t with one degree of freedom; Pearson's chi-square on a 2 x 2 table; Welch's t and its degrees of
freedom), DeLong's variance worked out by hand on five scores, and lifts on constructed sets.
"""

import math

import numpy as np
import pytest

from finmatch.inference import (
    auc_with_interval,
    beta_interval,
    chi_square_p,
    delong_variance,
    lift_with_interval,
    mean_interval,
    p_in_words,
    prior_from_groups,
    significant,
    top_tenth,
    welch_p,
)


def test_a_beta_interval_after_no_success_in_nine_is_the_closed_form():
    """Beta(1, 10): its quantile q is 1 - (1 - q)^(1/10), so the 90 % interval is 1 - 0.95^0.1 to 1 - 0.05^0.1."""
    mean, low, high = beta_interval(0, 9, prior=(1.0, 1.0), level=0.90)

    assert mean == pytest.approx(1 / 11)
    assert low == pytest.approx(1 - 0.95**0.1, rel=1e-9)  # 0.005116
    assert high == pytest.approx(1 - 0.05**0.1, rel=1e-9)  # 0.258866


def test_a_beta_interval_after_every_success_mirrors_it():
    mean, low, high = beta_interval(9, 0, prior=(1.0, 1.0), level=0.90)

    assert (mean, low, high) == pytest.approx((10 / 11, 0.05**0.1, 0.95**0.1), rel=1e-9)


def test_the_prior_is_the_method_of_moments_fit_of_the_groups_rates():
    """Rates 0.2, 0.4, 0.6: mean 0.4, sample variance 0.04, strength 0.4 x 0.6 / 0.04 - 1 = 5: Beta(2, 3)."""
    a, b = prior_from_groups([20, 40, 60], [100, 100, 100])

    assert (a, b) == pytest.approx((2.0, 3.0))


def test_rates_that_agree_exactly_give_a_prior_as_strong_as_all_the_data_and_no_stronger():
    a, b = prior_from_groups([10, 20, 30], [20, 40, 60])  # every rate 0.5

    assert (a, b) == pytest.approx((60.0, 60.0))


def test_widely_spread_rates_give_the_weakest_prior_and_too_little_gives_jeffreys():
    assert sum(prior_from_groups([0, 10], [10, 10])) == pytest.approx(0.5 + 0.5)  # rates 0 and 1: m = 0.5, v = 0.5
    assert prior_from_groups([1, 1], [3, 1]) == pytest.approx((2 / 3, 1 / 3))  # rates 1/3, 1: strength floored at 1
    assert prior_from_groups([5], [10]) == (0.5, 0.5)
    assert prior_from_groups([0, 0], [10, 10]) == (0.5, 0.5)
    assert prior_from_groups([3, 7], [0, 10]) == (0.5, 0.5)  # a group without trials is left out


def test_the_average_sale_interval_is_students_t():
    """Values 1 and 3: mean 2, sample sd sqrt(2), standard error 1; t(0.975, 1 df) = tan(0.475 pi) = 12.7062."""
    low, high = mean_interval(2.0, math.sqrt(2), 2, level=0.95)

    half = math.tan(0.475 * math.pi)
    assert (low, high) == pytest.approx((2 - half, 2 + half), rel=1e-9)
    assert mean_interval(2.0, None, 1) == (None, None)


def test_a_chi_square_on_a_known_table():
    """[[10, 20], [20, 10]]: every expected count 15, chi-square 4 x 25 / 15 = 6.667 on 1 degree of freedom, whose
    upper tail is erfc(sqrt(x / 2))."""
    p_value = chi_square_p([[10, 20], [20, 10]])

    assert p_value == pytest.approx(math.erfc(math.sqrt(20 / 3 / 2)), rel=1e-9)  # 0.00982
    assert significant(p_value)
    assert chi_square_p([[10, 10], [20, 20]]) == pytest.approx(1.0)
    assert not significant(chi_square_p([[10, 10], [20, 20]]))
    assert chi_square_p([[10, 10]]) is None and chi_square_p([[0, 0], [3, 4]]) is None


def test_welchs_t_uses_the_welch_satterthwaite_degrees_of_freedom():
    """Means 10 and 12, sd 2 and 4, 10 and 20 values: t = -2 / sqrt(0.4 + 0.8), df = 1.2^2 / (0.4^2/9 + 0.8^2/19)."""
    from scipy import stats

    t = -2 / math.sqrt(0.4 + 0.8)
    df = 1.2**2 / (0.4**2 / 9 + 0.8**2 / 19)
    assert df == pytest.approx(27.98, abs=0.01)

    assert welch_p(10, 2, 10, 12, 4, 20) == pytest.approx(2 * stats.t.cdf(t, df), rel=1e-9)
    assert welch_p(10, 2, 1, 12, 4, 20) is None and welch_p(1, 0, 5, 1, 0, 5) is None


def test_a_p_value_in_words():
    assert p_in_words(0.25) == "p = 0.250: chance alone would show a difference this large about once in 4"
    assert p_in_words(0.0004).startswith("p < 0.001")
    assert p_in_words(None) == "not testable"


def test_delong_variance_worked_out_by_hand():
    """Positives 0.9, 0.8, 0.4; negatives 0.7, 0.3. Each positive's share of negatives below it: 1, 1, 1/2 (spread
    1/12); each negative's share of positives above it: 2/3, 1 (spread 1/18); variance 1/12 / 3 + 1/18 / 2 = 1/18."""
    assert delong_variance(np.array([0.9, 0.8, 0.4]), np.array([0.7, 0.3])) == pytest.approx(1 / 18)


def test_an_auc_on_a_constructed_set_with_its_interval():
    outcomes, scores = [1, 1, 1, 0, 0], [0.9, 0.8, 0.4, 0.7, 0.3]

    auc, low, high = auc_with_interval(outcomes, scores, level=0.90)

    assert auc == pytest.approx(5 / 6)  # 5 of the 6 (positive, negative) pairs in order
    assert (low, high) == pytest.approx((5 / 6 - 1.6448536269514722 * math.sqrt(1 / 18), 1.0))
    assert auc_with_interval([1, 1], [0.2, 0.3]) == (None, None, None)


def test_ties_count_half_in_the_auc():
    auc, _, _ = auc_with_interval([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])

    assert auc == pytest.approx(0.5)


def test_the_top_tenth_is_the_highest_scores_rounded_up():
    assert list(np.flatnonzero(top_tenth([0.1, 0.9, 0.5, 0.7, 0.2, 0.3, 0.4, 0.6, 0.8, 0.05, 0.95]))) == [1, 10]


def test_a_lift_on_a_constructed_set():
    """100 records scored 1 to 100; the 10 highest all accepted and 10 of the other 90: lift = 1 / 0.2 = 5."""
    scores = np.arange(1, 101)
    outcomes = np.zeros(100, dtype=int)
    outcomes[90:] = 1
    outcomes[:10] = 1

    lift, low, high = lift_with_interval(outcomes, scores)

    assert lift == pytest.approx(5.0)
    assert 1 < low < lift < high
    assert lift_with_interval(outcomes, scores) == (lift, low, high)  # the same resamples every time


def test_a_lift_with_no_signal_and_with_every_record_accepted():
    ones = np.ones(50)
    assert lift_with_interval(ones, np.arange(50)) == pytest.approx((1.0, 1.0, 1.0))
    assert lift_with_interval(np.zeros(50), np.arange(50)) == (None, None, None)


def test_the_riskiest_stage_is_tested_against_the_others_pooled():
    """Stages A (mean 0.6, sd 0.1, 10), B (0.4, 0.1, 10), C (0.4, 0.3, 20): A against B and C pooled, whose mean is
    0.4 and whose squared deviations add up to 9 x 0.01 + 19 x 0.09 = 1.8 over 30 values (sd sqrt(1.8 / 29))."""
    from finmatch.analysis.claims import churn_difference

    rows = [
        {"value": "A", "avg_churn_probability": 0.6, "sd_churn": 0.1, "n_churn": 10},
        {"value": "B", "avg_churn_probability": 0.4, "sd_churn": 0.1, "n_churn": 10},
        {"value": "C", "avg_churn_probability": 0.4, "sd_churn": 0.3, "n_churn": 20},
    ]

    p_value, riskiest = churn_difference(rows)

    assert riskiest["value"] == "A"
    assert p_value == pytest.approx(welch_p(0.6, 0.1, 10, 0.4, math.sqrt(1.8 / 29), 30), rel=1e-12)
    tied = [dict(row, avg_churn_probability=0.5) for row in rows]
    assert churn_difference(tied)[1]["value"] == "C"  # equal averages: the alphabetically last


def test_a_projection_multiplies_the_ends_of_both_intervals():
    from scipy import stats

    from finmatch.analysis.claims import projection

    estimate, low, high = projection(10, 3, 8, 5, 1000.0, 100.0)

    half = stats.t.ppf(0.95, 4) * 100 / math.sqrt(5)
    assert estimate == pytest.approx(10 * 0.4 * 1000)
    assert low == pytest.approx(10 * stats.beta.ppf(0.05, 4, 6) * (1000 - half))
    assert high == pytest.approx(10 * stats.beta.ppf(0.95, 4, 6) * (1000 + half))
    one_sale = projection(10, 3, 8, 1, 1000.0, None)
    assert one_sale == pytest.approx(
        (4000, 10 * stats.beta.ppf(0.05, 4, 6) * 1000, 10 * stats.beta.ppf(0.95, 4, 6) * 1000)
    )
    assert projection(10, 0, 0, 5, 1000.0, 100.0) is None and projection(10, 3, 8, 0, None, None) is None

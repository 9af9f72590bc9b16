"""The statistics behind FinMatch's intervals and its "within noise" calls, against values worked by hand.

Wilson intervals are checked against the bounds found by solving |p - p̂| = z·√(p(1-p)/n) for p (the
definition of the Wilson interval), and against the textbook 95 % interval of 5 in 10; each z against
arithmetic written out in the test.
"""

import math

import pytest

from finmatch.stats import (
    combined_moments,
    exceeds_noise,
    mean_change_z,
    proportion_change_z,
    total_change_z,
    wilson_interval,
)

Z90 = 1.6448536269514722  # the normal's 95th percentile: a two-sided 90 % interval


def wilson_by_definition(successes, trials, z):
    """The two p with (p̂ - p)² = z² p (1 - p) / n: the roots of a quadratic in p."""
    observed = successes / trials
    a = 1 + z * z / trials
    b = -(2 * observed + z * z / trials)
    c = observed * observed
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def test_the_95_percent_wilson_interval_of_5_in_10_is_the_textbook_one():
    low, high = wilson_interval(5, 10, z=1.959964)

    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)


@pytest.mark.parametrize(("successes", "trials"), [(1, 10), (7, 12), (30, 40), (0.5, 3), (13.2, 20)])
def test_intervals_are_90_percent_wilson_intervals_by_default(successes, trials):
    assert wilson_interval(successes, trials) == pytest.approx(wilson_by_definition(successes, trials, Z90), abs=1e-12)


def test_intervals_stay_within_0_and_1():
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    low, high = wilson_interval(0, 10)
    assert high == pytest.approx(wilson_by_definition(0, 10, Z90)[1])
    assert wilson_interval(10, 10)[0] == pytest.approx(wilson_by_definition(10, 10, Z90)[0])


def test_intervals_never_leave_0_and_1_even_by_rounding():
    """All or none of n: the bounds are exactly 1 and 0, where the arithmetic can land a hair outside."""
    for trials in range(1, 200):
        assert wilson_interval(trials, trials)[1] <= 1.0
        assert wilson_interval(0, trials)[0] >= 0.0


def test_without_trials_there_is_no_interval():
    assert wilson_interval(0, 0) == (None, None)


def test_the_change_of_a_proportion_is_the_pooled_two_proportion_z():
    # 30 of 50 against 20 of 50: pooled 0.5, variance 0.25 × (1/50 + 1/50) = 0.01, difference 0.2.
    assert proportion_change_z(30, 50, 20, 50) == pytest.approx(2.0)
    assert proportion_change_z(20, 50, 30, 50) == pytest.approx(-2.0)
    # 9 of 10 against 30 of 60: pooled 39/70.
    pooled = 39 / 70
    assert proportion_change_z(9, 10, 30, 60) == pytest.approx(
        0.4 / math.sqrt(pooled * (1 - pooled) * (1 / 10 + 1 / 60))
    )


def test_a_proportion_without_trials_on_either_side_has_no_z():
    assert proportion_change_z(1, 0, 1, 10) is None
    assert proportion_change_z(1, 10, 1, 0) is None


def test_equal_proportions_of_all_or_nothing_have_no_change_and_unequal_ones_an_infinite_one():
    assert proportion_change_z(10, 10, 20, 20) is None  # no spread and no difference: nothing to call
    assert proportion_change_z(0, 10, 0, 20) is None


def test_the_change_of_an_average_is_welchs_z():
    # 0.6 ± 0.2 over 100 against 0.5 ± 0.3 over 100: variance 0.04/100 + 0.09/100.
    assert mean_change_z(0.6, 0.2, 100, 0.5, 0.3, 100) == pytest.approx(0.1 / math.sqrt(0.0013))
    assert mean_change_z(1.0, 1.0, 2, 0.0, 2.0, 8) == pytest.approx(1.0 / math.sqrt(1 / 2 + 4 / 8))
    assert mean_change_z(0.0, 2.0, 8, 1.0, 1.0, 2) == pytest.approx(-1.0 / math.sqrt(1 / 2 + 4 / 8))


@pytest.mark.parametrize(
    "arguments",
    [
        (None, 0.1, 10, 0.5, 0.1, 10),
        (0.5, 0.1, 10, None, 0.1, 10),
        (0.5, None, 10, 0.5, 0.1, 10),
        (0.5, 0.1, 10, 0.5, None, 10),
        (0.5, 0.1, 1, 0.5, 0.1, 10),
        (0.5, 0.1, 10, 0.5, 0.1, 1),
    ],
)
def test_an_average_without_a_spread_or_of_one_value_has_no_z(arguments):
    assert mean_change_z(*arguments) is None


def test_averages_without_spread_that_differ_are_infinitely_far_apart():
    assert mean_change_z(0.95, 0.0, 30, 0.98, 0.0, 30) == -math.inf
    assert mean_change_z(0.98, 0.0, 30, 0.95, 0.0, 30) == math.inf
    assert mean_change_z(0.5, 0.0, 30, 0.5, 0.0, 30) is None


def test_the_change_of_a_total_is_a_compound_poisson_z():
    # 300 against 100, the sums of squared amounts 500 and 400: variance 900.
    assert total_change_z(300, 500, 100, 400) == pytest.approx(200 / 30)
    assert total_change_z(10, None, 4, 9) == pytest.approx(2.0)  # no amounts on one side: no variance from it
    assert total_change_z(4, 9, 10, None) == pytest.approx(-2.0)
    assert total_change_z(None, 1, 4, 9) is None
    assert total_change_z(4, 9, None, 1) is None


@pytest.mark.parametrize(
    ("z", "called"),
    [(1.96, True), (-1.96, True), (1.9599, False), (-1.9599, False), (0.0, False), (math.inf, True), (None, False)],
)
def test_a_change_exceeds_its_noise_from_a_z_of_1_96_either_way(z, called):
    assert exceeds_noise(z) is called


def test_the_noise_threshold_can_be_given():
    assert exceeds_noise(2.5, threshold=2.58) is False
    assert exceeds_noise(2.58, threshold=2.58) is True


def test_moments_of_groups_combine_to_those_of_all_their_values():
    # [1, 2] and [3, 4, 5]: means 1.5 and 4, squared deviations 0.5 and 2; together mean 3, squared deviations 10.
    assert combined_moments([2, 3], [1.5, 4.0], [0.5, 2.0]) == (5, 3.0, 10.0)
    assert combined_moments([2, 0, 3], [1.5, 0.0, 4.0], [0.5, 0.0, 2.0]) == (5, 3.0, 10.0)  # an empty group: nothing
    assert combined_moments([], [], []) == (0, None, None)


@pytest.mark.parametrize("split", [(40,), (1, 39), (7, 13, 20), (3,) * 13 + (1,), (1,) * 40])
def test_alike_values_have_no_spread_however_they_are_grouped(split):
    """Forty transaction values of 12345.678: sums of squares less n x mean^2 would leave about 2e-4 of noise."""
    value = 12345.678
    means = [sum([value] * size) / size for size in split]  # each group's mean as a database sums and divides it
    count, mean, m2 = combined_moments(split, means, [0.0] * len(split))

    assert count == 40 and mean == pytest.approx(value, rel=1e-15)
    assert math.sqrt(m2 / 39) < 1e-9

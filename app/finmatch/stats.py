"""The little statistics FinMatch needs: intervals around estimates and whether a change exceeds its noise.

Plain arithmetic on counts, sums and moments the SQL returns, so that both engines feed the same
formulas.
"""

import math

from finmatch.settings import CHANGE_Z, INTERVAL_Z


def wilson_interval(successes, trials, z=INTERVAL_Z):
    """The Wilson score interval of a proportion, (low, high); (None, None) without trials.

    It stays inside [0, 1] and behaves at small counts, where the normal approximation does not.
    `successes` may be fractional: Match and campaign estimates count the product's base rate as
    PRIOR_STRENGTH pseudo-records.
    """
    if not trials:
        return None, None
    rate = successes / trials
    spread = z * z / trials
    centre = (rate + spread / 2) / (1 + spread)
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / (1 + spread)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def proportion_change_z(successes_a, trials_a, successes_b, trials_b):
    """z of the two-proportion test (pooled) for a - b; None when either side has no trials."""
    if not trials_a or not trials_b:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    difference = successes_a / trials_a - successes_b / trials_b
    return _z(difference, variance)


def mean_change_z(mean_a, sd_a, n_a, mean_b, sd_b, n_b):
    """Welch's z for mean_a - mean_b (normal, as both samples hold at least MIN_GROUP_RECORDS)."""
    if None in (mean_a, mean_b, sd_a, sd_b) or n_a < 2 or n_b < 2:
        return None
    return _z(mean_a - mean_b, sd_a * sd_a / n_a + sd_b * sd_b / n_b)


def total_change_z(total_a, squares_a, total_b, squares_b):
    """z for total_a - total_b of amounts arriving at random (compound Poisson: variance = sum of squares)."""
    if total_a is None or total_b is None:
        return None
    return _z(total_a - total_b, (squares_a or 0.0) + (squares_b or 0.0))


def _z(difference, variance):
    if variance <= 0:
        return None if difference == 0 else math.copysign(math.inf, difference)
    return difference / math.sqrt(variance)


def exceeds_noise(z, threshold=CHANGE_Z):
    return z is not None and abs(z) >= threshold


def combined_moments(counts, means, m2s):
    """(count, mean, sum of squared deviations) of groups taken together, each group given by its own three.

    The groups' own spreads plus the spread of their means around the whole mean: no step subtracts two
    large, nearly equal sums, as sum of squares - n x mean^2 does, which loses every digit when the values
    are alike. (0, None, None) without values.
    """
    groups = [(int(n), float(mean), float(m2 or 0.0)) for n, mean, m2 in zip(counts, means, m2s, strict=True) if n]
    count = sum(n for n, _, _ in groups)
    if not count:
        return 0, None, None
    mean = math.fsum(n * group_mean for n, group_mean, _ in groups) / count
    m2 = math.fsum(m2 + n * (group_mean - mean) ** 2 for n, group_mean, m2 in groups)
    return count, mean, m2

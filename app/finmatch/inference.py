"""The statistics behind FinMatch's claims, each from scipy or scikit-learn and pinned by tests with known answers.

- Rates: a Beta posterior whose prior is estimated from the data (empirical Bayes, method of moments over the
  products), with its equal-tailed interval.
- An average: Student's t interval.
- A difference: Pearson's chi-square test of independence for acceptance across groups; Welch's t for two means.
- A ranking: AUC with DeLong's standard error; lift in the top tenth with a percentile bootstrap.
"""

import math

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from finmatch.settings import BOOTSTRAP_RESAMPLES, INTERVAL_LEVEL, SIGNIFICANCE

# The weakest prior the method of moments may return: as much as one record.
WEAKEST_PRIOR = 1.0


def beta_interval(successes, failures, prior=(1.0, 1.0), level=INTERVAL_LEVEL):
    """(posterior mean, low, high) of a rate whose prior is Beta(prior) after `successes` and `failures`."""
    a, b = prior[0] + successes, prior[1] + failures
    tail = (1 - level) / 2
    return a / (a + b), float(stats.beta.ppf(tail, a, b)), float(stats.beta.ppf(1 - tail, a, b))


def prior_from_groups(successes, trials):
    """Beta(a, b) fitted to the groups' rates by the method of moments: mean m, sample variance v, strength
    a + b = m(1 - m) / v - 1.

    Groups without trials are left out. The strength is kept between one record and every trial there is: rates
    that agree exactly would otherwise make it infinite, and the prior never outweighs all the data together.
    Fewer than two groups, or rates all 0 or all 1, give Jeffreys' Beta(1/2, 1/2).
    """
    rates = np.array([s / n for s, n in zip(successes, trials, strict=True) if n], dtype=float)
    total = float(sum(n for n in trials if n))
    if len(rates) < 2:
        return 0.5, 0.5
    mean, variance = float(rates.mean()), float(rates.var(ddof=1))
    if mean in (0.0, 1.0):
        return 0.5, 0.5
    strength = mean * (1 - mean) / variance - 1 if variance > 0 else math.inf
    strength = min(max(strength, WEAKEST_PRIOR), max(total, WEAKEST_PRIOR))
    return mean * strength, (1 - mean) * strength


def mean_interval(mean, sd, count, level=INTERVAL_LEVEL):
    """(low, high): Student's t interval of a mean from its sample standard deviation; (None, None) below 2 values."""
    if mean is None or sd is None or not count or count < 2:
        return None, None
    half = float(stats.t.ppf((1 + level) / 2, count - 1)) * sd / math.sqrt(count)
    return mean - half, mean + half


def chi_square_p(table):
    """p-value of Pearson's chi-square test of independence (no continuity correction) of a table of counts, rows
    the groups and columns the outcomes; None when a row or column is empty or there is one group."""
    counts = np.asarray(table, dtype=float)
    if counts.shape[0] < 2 or (counts.sum(axis=0) == 0).any() or (counts.sum(axis=1) == 0).any():
        return None
    return float(stats.chi2_contingency(counts, correction=False).pvalue)


def welch_p(mean_a, sd_a, count_a, mean_b, sd_b, count_b):
    """Two-sided p-value of Welch's t test of two means from their summaries; None without two values each."""
    if None in (mean_a, sd_a, mean_b, sd_b) or count_a < 2 or count_b < 2:
        return None
    if sd_a == 0 and sd_b == 0:
        return None
    result = stats.ttest_ind_from_stats(mean_a, sd_a, count_a, mean_b, sd_b, count_b, equal_var=False)
    return float(result.pvalue)


def significant(p_value, alpha=SIGNIFICANCE):
    return p_value is not None and p_value < alpha


def p_in_words(p_value):
    """A p-value as a marketer reads it: how often chance alone would show a difference this large."""
    if p_value is None:
        return "not testable"
    if p_value < 0.001:
        return "p < 0.001: chance alone would show this less than once in a thousand"
    times = max(round(1 / p_value), 1)
    return f"p = {p_value:.3f}: chance alone would show a difference this large about once in {times:,}"


def auc_with_interval(outcomes, scores, level=INTERVAL_LEVEL):
    """(AUC, low, high): the area under the ROC curve, and its normal interval from DeLong's variance, kept in [0, 1].
    None for all three without both outcomes."""
    outcomes, scores = np.asarray(outcomes, dtype=int), np.asarray(scores, dtype=float)
    positives, negatives = scores[outcomes == 1], scores[outcomes == 0]
    if not len(positives) or not len(negatives):
        return None, None, None
    auc = float(roc_auc_score(outcomes, scores))
    half = float(stats.norm.ppf((1 + level) / 2)) * math.sqrt(delong_variance(positives, negatives))
    return auc, max(auc - half, 0.0), min(auc + half, 1.0)


def delong_variance(positives, negatives):
    """DeLong's variance of the AUC: the spreads of each positive's share of negatives ranked below it and each
    negative's share of positives ranked above it (ties count half), from mid-ranks."""
    m, n = len(positives), len(negatives)
    every = stats.rankdata(np.concatenate([positives, negatives]))
    above = (every[:m] - stats.rankdata(positives)) / n  # each positive: share of negatives below it
    below = 1 - (every[m:] - stats.rankdata(negatives)) / m  # each negative: share of positives above it
    spread_positive = float(np.var(above, ddof=1)) if m > 1 else 0.0
    spread_negative = float(np.var(below, ddof=1)) if n > 1 else 0.0
    return spread_positive / m + spread_negative / n


def top_tenth(scores):
    """Which records are in the top tenth by score (ceil(n / 10) of them; equal scores keep their order)."""
    scores = np.asarray(scores, dtype=float)
    chosen = np.zeros(len(scores), dtype=bool)
    chosen[np.argsort(-scores, kind="stable")[: math.ceil(len(scores) / 10)]] = True
    return chosen


def lift_with_interval(outcomes, scores, level=INTERVAL_LEVEL, resamples=BOOTSTRAP_RESAMPLES, seed=20):
    """(lift, low, high): acceptance in the top tenth by score ÷ acceptance of all, and its percentile bootstrap
    interval (the records resampled with replacement, the top tenth kept as the scores chose it, a fixed seed).
    None for all three without an acceptance."""
    outcomes = np.asarray(outcomes, dtype=float)
    if not len(outcomes) or not outcomes.sum():
        return None, None, None
    top = top_tenth(scores)
    lift = float(outcomes[top].mean() / outcomes.mean())
    drawn = np.random.default_rng(seed).integers(0, len(outcomes), size=(resamples, len(outcomes)))
    taken, in_top = outcomes[drawn], top[drawn]
    with np.errstate(invalid="ignore", divide="ignore"):
        lifts = ((taken * in_top).sum(axis=1) / in_top.sum(axis=1)) / taken.mean(axis=1)
    lifts = lifts[np.isfinite(lifts)]
    tail = (1 - level) / 2
    return lift, float(np.quantile(lifts, tail)), float(np.quantile(lifts, 1 - tail))

"""Match's holdout check: do the estimates predict the outcome of decided recommendations better than base rates?

It scores decided records left out of the learning (a fixed share chosen by the MD5 of their record_id,
the same on DuckDB and Snowflake: data/cells.py) and tests whether Match's estimates, learned from the
rest, predict their outcome better than each product's base rate alone.
"""

from dataclasses import dataclass

import pandas as pd

from finmatch.data.cells import cells_from
from finmatch.settings import MIN_GROUP_RECORDS, PRIOR_STRENGTH

# The improvement must exceed this many standard errors to count as a signal (about 97.5 % one-sided).
SIGNAL_STANDARD_ERRORS = 2.0


def holdout_from(outcomes):
    """The holdout check: learn base rates and cells from the records not held out, score the held-out ones.

    A held-out record's estimate is Match's, from the learned counts of its product, profile code and
    band (none for a record without a band); squared errors are averaged over the held-out records.
    """
    learned = outcomes[outcomes["held_out"] == 0]
    scored = outcomes[outcomes["held_out"] == 1]
    by_product = learned.assign(took=learned["accepted"] * learned["records"]).groupby("product")[["records", "took"]]
    totals = by_product.sum()
    base = {product: float(row["took"]) / float(row["records"]) for product, row in totals.iterrows()}
    cells = cells_from(learned).set_index(["product", "profile_code", "band"])
    count = total_base = total_estimate = total_gain = total_squares = 0.0
    for row in scored.itertuples(index=False):
        if row.product not in base:
            continue
        rate, outcome, weight = base[row.product], float(row.accepted), int(row.records)
        key = (row.product, row.profile_code, row.band)
        decided, accepted = (0, 0) if pd.isna(row.band) or key not in cells.index else cells.loc[key]
        estimate = (float(accepted) + PRIOR_STRENGTH * rate) / (float(decided) + PRIOR_STRENGTH)
        base_error, estimate_error = (rate - outcome) ** 2, (estimate - outcome) ** 2
        gain = base_error - estimate_error
        count += weight
        total_base += weight * base_error
        total_estimate += weight * estimate_error
        total_gain += weight * gain
        total_squares += weight * gain * gain
    held_out = int(count)
    gain = total_gain / count if count else None
    gain_sd = None
    if held_out > 1:  # the sample standard deviation, as stddev_samp
        gain_sd = (max(total_squares - count * gain * gain, 0.0) / (count - 1)) ** 0.5
    return Holdout(
        held_out=held_out,
        learned_from=int(learned["records"].sum()),
        base_error=total_base / count if count else None,
        estimate_error=total_estimate / count if count else None,
        gain=gain,
        gain_sd=gain_sd,
    )


@dataclass(frozen=True)
class Holdout:
    """How the estimates did on decided records they were not learned from."""

    held_out: int
    learned_from: int
    base_error: float
    estimate_error: float
    gain: float
    gain_sd: float

    @property
    def enough(self):
        return self.held_out >= MIN_GROUP_RECORDS

    @property
    def standard_error(self):
        return (self.gain_sd or 0.0) / self.held_out**0.5 if self.held_out else None

    @property
    def has_signal(self):
        """True when the estimates beat the base rates by more than chance would explain."""
        if not self.enough or self.gain is None or self.gain <= 0:
            return False
        return self.gain > SIGNAL_STANDARD_ERRORS * self.standard_error

    def verdict(self):
        """What the check tested and what it found, in plain words."""
        if not self.enough:
            return (
                f"Only {self.held_out} decided recommendations were held out for checking (fewer than "
                f"{MIN_GROUP_RECORDS}): too few to test whether similar customers predict better than base rates."
            )
        errors = (
            f"mean squared error {self.estimate_error:.4f} against {self.base_error:.4f} for each product's "
            f"base rate alone, on {self.held_out:,} decided recommendations it did not learn from"
        )
        threshold = f"{SIGNAL_STANDARD_ERRORS:g} standard errors ({SIGNAL_STANDARD_ERRORS * self.standard_error:.4f})"
        if self.has_signal:
            return (
                f"Significantly better than base rates: {errors}. The improvement, {self.gain:.4f}, is more than "
                f"{threshold}. The ranking is worth following."
            )
        if self.gain is not None and self.gain > 0:
            comparison = (
                f"The estimates' error is lower by {self.gain:.4f}, which is within {threshold}: "
                "this test cannot tell them apart from the base rates."
            )
        else:
            comparison = "The estimates' error is not lower than the base rates'."
        return (
            f"Not significantly better than base rates: {errors}. {comparison} Treat the ranking as the "
            "products' overall acceptance, and the intervals as the uncertainty around it."
        )

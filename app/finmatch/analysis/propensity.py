"""A propensity model per product: who is likely to accept it, from each customer's own features.

scikit-learn's LogisticRegression (L2, C = 1) learns, in the app's process, from a bounded sample of the
product's decided recommendations (data/features.py: at most TRAINING_SAMPLE, chosen by MD5 of the record id,
about 81 % learned from and 19 % held out), each with its customer's features (data/features.py) standardised.
The fitted model is a linear predictor, so it is folded back to the raw features and scored in SQL on either
engine, over every customer at once: scoring costs one expression per customer, whatever the table's size.

It is checked on the held-out records: the AUC with DeLong's interval and the lift in the top tenth with a
bootstrap interval (inference.py). It beats the product's base rate only when both intervals clear it: the AUC's
above 0.5 and the lift's above 1. Otherwise its scores are not used to rank anyone.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression

from finmatch.data.features import FEATURE_WORDS, NUMERIC_FEATURES
from finmatch.inference import auc_with_interval, lift_with_interval
from finmatch.settings import INTERVAL_LEVEL, MIN_GROUP_RECORDS

# Digits kept of each coefficient: the SQL, the version and the Python scores all read the same rounded numbers.
DIGITS = 12
# scikit-learn's default L2 penalty (C = 1 on standardised features): on random data it keeps the weights near 0.
PENALTY_C = 1.0


@dataclass(frozen=True)
class Check:
    """How the model did on held-out decided recommendations it did not learn from."""

    held_out: int
    accepted: int
    auc: float = None
    auc_low: float = None
    auc_high: float = None
    lift: float = None
    lift_low: float = None
    lift_high: float = None

    @property
    def enough(self):
        return self.held_out >= MIN_GROUP_RECORDS and 0 < self.accepted < self.held_out

    @property
    def beats_base_rate(self):
        """Both intervals clear what ranking at random gives: the AUC's above 0.5, the lift's above 1."""
        return self.enough and self.auc_low > 0.5 and self.lift_low > 1.0


@dataclass(frozen=True)
class Model:
    """A fitted model on the raw features: intercept, a weight per numeric feature, a weight per profile code."""

    product: str
    intercept: float
    weights: dict  # numeric feature -> weight
    code_weights: dict  # profile code -> its segment's weight plus its stage's
    fill: dict  # numeric feature -> the learned mean, used where a customer's value is missing
    learned_from: int
    data_version: str
    # What the intervals need: the standardisation, the design's columns and the coefficients' covariance.
    centre: tuple = ()
    scale: tuple = ()
    columns: tuple = ()
    covariance: tuple = ()
    check: Check = field(default=None)

    @property
    def version(self):
        """A digest of the coefficients and of the records they were learned from: equal only for the same model."""
        content = json.dumps(
            [self.product, self.intercept, self.weights, sorted(self.code_weights.items()), self.fill],
            sort_keys=True,
        )
        return hashlib.sha256((content + self.data_version).encode()).hexdigest()[:12]

    def linear_sql(self, alias="f"):
        """The linear predictor as SQL over a features relation called `alias`."""
        terms = [as_double(self.intercept)]
        for name in NUMERIC_FEATURES:
            terms.append(f"{as_double(self.weights[name])} * COALESCE({alias}.{name}, {as_double(self.fill[name])})")
        cases = " ".join(f"WHEN {int(code)} THEN {as_double(w)}" for code, w in sorted(self.code_weights.items()))
        if cases:
            terms.append(f"CASE {alias}.profile_code {cases} ELSE 0 END")
        return " + ".join(terms)

    def score_sql(self, alias="f"):
        """The estimated acceptance as SQL: the logistic of the linear predictor, a DOUBLE on both engines."""
        return f"CAST(1 AS DOUBLE) / (1 + EXP(-({self.linear_sql(alias)})))"

    def linear(self, frame):
        """The linear predictor of each row of a features frame, as the SQL computes it."""
        total = np.full(len(frame), self.intercept)
        for name in NUMERIC_FEATURES:
            total += self.weights[name] * frame[name].astype(float).fillna(self.fill[name]).to_numpy()
        codes = frame["profile_code"].to_numpy()
        total += np.array([self.code_weights.get(int(code), 0.0) if code == code else 0.0 for code in codes])
        return total

    def scores(self, frame):
        return 1 / (1 + np.exp(-self.linear(frame)))

    def intervals(self, frame, codes, level=INTERVAL_LEVEL):
        """(low, high) arrays of each row's estimate: the linear predictor plus or minus z standard errors from the
        coefficients' covariance (the Laplace approximation of the penalised fit), mapped through the logistic."""
        matrix, _ = _design(frame, self.fill, codes)
        standardised = np.column_stack([np.ones(len(frame)), (matrix - np.array(self.centre)) / np.array(self.scale)])
        spread = np.sqrt(np.einsum("ij,jk,ik->i", standardised, np.array(self.covariance), standardised))
        linear, z = self.linear(frame), float(stats.norm.ppf((1 + level) / 2))
        return 1 / (1 + np.exp(-(linear - z * spread))), 1 / (1 + np.exp(-(linear + z * spread)))

    def reasons(self, row, count=2):
        """The features that raise this customer's score most against an average customer, in words."""
        lifts = {name: self.weights[name] * (_value(row, name, self.fill) - self.fill[name]) for name in self.weights}
        ranked = sorted(lifts.items(), key=lambda item: (-item[1], item[0]))
        words = [f"{FEATURE_WORDS[name]} {'high' if self.weights[name] > 0 else 'low'}" for name, v in ranked if v > 0]
        return ", ".join(words[:count]) or "close to the average customer"


def fit(product, sample, codes):
    """The model of one product from its training sample (data/features.training_sample_sql); None when the learned
    records do not hold both outcomes."""
    learned = sample[sample["held_out"] == 0]
    outcomes = learned["accepted"].astype(int).to_numpy()
    if len(set(outcomes)) < 2:
        return None
    fill = {name: _mean(learned[name]) for name in NUMERIC_FEATURES}
    matrix, columns = _design(learned, fill, codes)
    centre, scale = matrix.mean(axis=0), matrix.std(axis=0)
    scale[scale == 0] = 1.0
    standardised = (matrix - centre) / scale
    fitted = LogisticRegression(C=PENALTY_C, max_iter=1000).fit(standardised, outcomes)
    raw = fitted.coef_[0] / scale
    intercept = float(fitted.intercept_[0] - (raw * centre).sum())
    weights = {name: round(float(w), DIGITS) for name, w in zip(columns, raw, strict=True)}
    model = Model(
        product=product,
        intercept=round(intercept, DIGITS),
        weights={name: weights[name] for name in NUMERIC_FEATURES},
        code_weights=_code_weights(weights, codes),
        fill={name: round(value, DIGITS) for name, value in fill.items()},
        learned_from=len(learned),
        data_version=_data_version(sample),
        centre=tuple(centre),
        scale=tuple(scale),
        columns=tuple(columns),
        covariance=_covariance(fitted, standardised),
    )
    return _checked(model, sample[sample["held_out"] == 1])


def _covariance(fitted, standardised):
    """The inverse of the penalised log-likelihood's curvature at the fit: X'WX plus 1/C on every weight but the
    intercept, which scikit-learn does not penalise."""
    chance = fitted.predict_proba(standardised)[:, 1]
    design = np.column_stack([np.ones(len(standardised)), standardised])
    curvature = design.T @ (design * (chance * (1 - chance))[:, None])
    curvature[1:, 1:] += np.eye(standardised.shape[1]) / PENALTY_C
    return tuple(map(tuple, np.linalg.pinv(curvature)))


def _design(frame, fill, codes):
    """The numeric features (missing values filled) and one column per segment and per stage of the profile code."""
    columns = list(NUMERIC_FEATURES)
    blocks = [frame[name].astype(float).fillna(fill[name]).to_numpy() for name in NUMERIC_FEATURES]
    decoded = [codes.decode(code) for code in frame["profile_code"]]
    for kind, values, position in (("segment", codes.segments, 0), ("stage", codes.stages, 1)):
        for value in values:
            columns.append(f"{kind}:{value}")
            blocks.append(np.array([1.0 if parts[position] == value else 0.0 for parts in decoded]))
    return np.column_stack(blocks), columns


def _code_weights(weights, codes):
    """Each profile code's weight: its segment's plus its stage's (0 for a part the lists lack)."""
    every = {}
    for code in codes.codes_for():
        segment, stage = codes.decode(code)
        every[code] = round(weights.get(f"segment:{segment}", 0.0) + weights.get(f"stage:{stage}", 0.0), DIGITS)
    return every


def _checked(model, held_out):
    outcomes = held_out["accepted"].astype(int).to_numpy()
    check = Check(held_out=len(outcomes), accepted=int(outcomes.sum()))
    if 0 < check.accepted < check.held_out:  # figures even on a few records; the verdict asks for enough of them
        scores = model.scores(held_out)
        auc = auc_with_interval(outcomes, scores, INTERVAL_LEVEL)
        lift = lift_with_interval(outcomes, scores, INTERVAL_LEVEL)
        check = Check(check.held_out, check.accepted, *auc, *lift)
    return Model(**{**model.__dict__, "check": check})


def _data_version(sample):
    """A digest of the records learned from and checked on, and their outcomes."""
    rows = sorted(zip(sample["record_hash"], sample["accepted"].astype(int), strict=True))
    return hashlib.sha256("".join(f"{h}{a}" for h, a in rows).encode()).hexdigest()


def _mean(column):
    values = column.astype(float).dropna()
    return float(values.mean()) if len(values) else 0.0


def _value(row, name, fill):
    value = row[name]
    return fill[name] if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def as_double(value):
    """A float as SQL both engines read exactly, as a DOUBLE: a bare 0.25 is a fixed-point number in both."""
    return f"CAST({float(value)!r} AS DOUBLE)"

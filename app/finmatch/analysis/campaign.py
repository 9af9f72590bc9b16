"""Campaign lists: for one recommended product, the customers most worth offering it to, and those left out and why.

Every customer with a live record is considered (profiles.py), optionally only those of chosen profiles. Left
out, and counted: those who already hold the product; those who accepted it or have it open; those who declined
it within the cool-off (COOL_OFF_DAYS, the viewer may change it); those with another status; and, for
cross-sell, those at high churn risk (HIGH_CHURN, on unless the viewer turns it off). Customers who declined
before the cool-off are offered again, and counted.

The rest are ranked by the product's propensity model (propensity.py) when its holdout check shows that it beats
the product's base rate. Otherwise every eligible customer's estimate is the base rate, and the list says so and
goes to the customers with the most at stake: the largest balances first. Each customer's expected value per
offer = estimated acceptance if answered × share of offers answered × average sale after acceptance (rates.py),
with the ends of each interval multiplied together.
"""

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from finmatch.analysis.export import now_utc
from finmatch.analysis.propensity import as_double, fit
from finmatch.analysis.rates import product_rates
from finmatch.data.campaign_list import CLASSES, campaign_relations, campaign_sql, order_by_balance, order_by_score
from finmatch.data.features import training_sample_sql
from finmatch.data.profiles import ProductBits, ProfileCodes, held_names_for, profiles_sql
from finmatch.settings import CAMPAIGN_LIST_SIZE, COOL_OFF_DAYS, HIGH_CHURN


@dataclass(frozen=True)
class Target:
    """What a campaign list is for: a recommended product, the profiles it aims at, its size and its rules."""

    product: str
    segments: tuple = ()
    stages: tuple = ()
    size: int = CAMPAIGN_LIST_SIZE
    cool_off_days: int = COOL_OFF_DAYS
    exclude_high_churn: bool = True


@dataclass(frozen=True)
class CampaignList:
    """A target's counts, ranked customers, the product's rates and the model that ranked them (None when the
    model could not be fitted; `model_ranks` says whether its scores were used)."""

    target: Target
    counts: dict
    ranked: pd.DataFrame
    rates: object
    model: object
    created_at: object = None  # when the list was computed (UTC): its export's time

    @property
    def model_ranks(self):
        return self.model is not None and self.model.check.beats_base_rate


class Campaigns:
    """Campaign lists, their models and the products' rates, on the backend of an FprData."""

    def __init__(self, data, codes, bits, held_products):
        self.data = data
        self.backend = data.backend
        self.codes = codes
        self.bits = bits
        self.held_products = tuple(held_products)

    def held_names(self, product):
        return held_names_for(product, self.held_products)

    def builds(self):
        """(name, SQL, parameters) of every relation a campaign reads: per-customer profiles and features, and the
        draws its model learns from."""
        table, live, dialect = self.backend.table, self.data.live, self.backend.dialect
        return [
            ("customer_profiles", *profiles_sql(table, live, self.codes, self.bits, dialect)),
            *campaign_relations(table, live, self.codes, dialect, self.held_products),
        ]

    def relations(self):
        """(SQL, parameters) of the profiles, features and draws to read from; locally the tables, built now unless
        they are built or being built already."""
        return [self.backend.relation(*build) for build in self.builds()]

    def rates(self, today):
        """{product: ProductRates} (rates.py)."""
        return product_rates(self.data, today)

    def model(self, product):
        """The product's propensity model, fitted on its training sample and checked on its held-out records."""
        _, (features, feature_params), (draws, draw_params), _ = self.relations()
        sample = self.backend.query(training_sample_sql(draws, features), [*draw_params, product, *feature_params])
        return fit(product, sample, self.codes) if len(sample) else None

    def build(self, target, today, rates=None, model=None):
        """The CampaignList of a target, from one statement. `rates` and `model` are passed when the caller has them
        (the page reads them through its cache); otherwise they are computed here."""
        rates = (rates or self.rates(today)).get(target.product)
        model = model if model is not None else self.model(target.product)
        (profiles, profile_params), (features, feature_params), _, (declines, decline_params) = self.relations()
        wanted = self.codes.codes_for(target.segments, target.stages) if target.segments or target.stages else None
        ranks = model is not None and model.check.beats_base_rate
        base = rates.answered.estimate if rates is not None else None
        sql, params = campaign_sql(
            {
                "profiles": profiles,
                "features": features,
                "declines": declines,
                "targeting": _targeting(wanted),
            },
            self.bits.bit(target.product),
            self.backend.dialect,
            {
                "product": target.product,
                "cool_off_from": (today - timedelta(days=target.cool_off_days)).isoformat(),
                "high_churn": HIGH_CHURN if target.exclude_high_churn else None,
            },
            {
                "score": model.score_sql("f") if ranks else as_double(base or 0.0),
                "order": order_by_score() if ranks else order_by_balance(),
                "size": target.size,
            },
        )
        frame = self.backend.query(sql, [*profile_params, *(wanted or []), *decline_params, *params, *feature_params])
        ranked = frame[frame["customer_id"].notna()].reset_index(drop=True)
        listed = CampaignList(target, _counts(frame.iloc[0]), ranked, rates, model, now_utc())
        return _with_intervals(listed, self.codes)


def _targeting(wanted):
    if wanted is None:
        return ""
    if not wanted:
        return "AND FALSE"
    return f"AND profile_code IN ({', '.join('?' for _ in wanted)})"


def _counts(row):
    counts = {name: 0 if pd.isna(row[name]) else int(row[name]) for name in (*CLASSES, "customers", "declined_again")}
    counts["recommended"] = sum(counts[name] for name in ("accepted", "open", "cool_off", "other"))
    return counts


def _with_intervals(listed, codes):
    """The ranked customers with segment and stage in words, each estimate's interval, the expected value per offer
    with its ends, and the reason for their place."""
    frame, rates, model = listed.ranked, listed.rates, listed.model
    decoded = [codes.decode(code) for code in frame["profile_code"]]
    frame["segment"] = [segment for segment, _ in decoded]
    frame["stage"] = [stage for _, stage in decoded]
    if listed.model_ranks and len(frame):
        low, high = model.intervals(frame, codes)
        frame["low"], frame["high"] = low, high
        frame["reason"] = [f"model: {model.reasons(row)}" for _, row in frame.iterrows()]
    else:
        frame["low"] = rates.answered.low if rates else None
        frame["high"] = rates.answered.high if rates else None
        frame["reason"] = [_balance_reason(row) for _, row in frame.iterrows()]
    share = rates.answered_share if rates and rates.answered_share is not None else None
    sale, sale_low, sale_high = (rates.average_sale, rates.sale_low, rates.sale_high) if rates else (None,) * 3
    frame["expected_value"] = _product(frame["score"], share, sale)
    frame["value_low"] = _product(frame["low"], share, sale_low if sale_low is not None else sale)
    frame["value_high"] = _product(frame["high"], share, sale_high if sale_high is not None else sale)
    return listed


def _balance_reason(row):
    again = "; said no before the cool-off" if row.get("declined_before") == 1 else ""
    return f"balance ${row['balance']:,.0f}, most at stake{again}"


def _product(chance, share, sale):
    if share is None or sale is None:
        return pd.Series([None] * len(chance), index=chance.index, dtype=object)
    return pd.Series(chance, index=chance.index).astype(float) * share * max(sale, 0.0)


def campaigns_for(data, options, products):
    """A Campaigns on the filter options' segments, stages and held products, and the recommended products."""
    codes = ProfileCodes(options["segments"], options["stages"])
    return Campaigns(data, codes, ProductBits(products, options["product_types"]), options["product_types"])

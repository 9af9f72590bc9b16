"""Match: which products to offer a customer next, learned from decided recommendations.

A customer's profile (data/profiles.py) is the segment and lifecycle stage of their latest record and
the band of their average product affinity. For a customer, every product they have neither been
offered nor already hold is scored by how often similar customers (decided recommendations of that
product whose record has the same segment, lifecycle stage and affinity band) accepted it, shrunk
toward the product's base rate (empirical Bayes):

    estimate = (accepted by similar customers + PRIOR_STRENGTH × base rate)
               / (decided by similar customers + PRIOR_STRENGTH)

so a handful of similar records moves the estimate a little and many move it a lot. Its 90 %
interval is the Wilson interval of those blended counts. Campaign lists (campaign.py) use the same
profile and the same estimate, so a customer's figure is the same in both places. Whether the
estimates predict better than the base rates alone is the holdout check's question (holdout.py).
"""

import pandas as pd

from finmatch.analysis.holdout import holdout_from
from finmatch.data.cells import cells_from, outcome_cells_sql
from finmatch.data.profiles import held_key, profiles_sql
from finmatch.settings import INTERVAL_Z, PRIOR_STRENGTH
from finmatch.stats import wilson_interval

CUSTOMER_PRODUCTS_SQL = """
SELECT 'recommended' AS kind, product_recommendation AS product FROM {table}
WHERE {live} AND customer_id = ? AND product_recommendation IS NOT NULL
UNION
SELECT 'held' AS kind, product_type AS product FROM {table}
WHERE {live} AND customer_id = ? AND product_type IS NOT NULL
"""


class Matcher:
    """Product ranking for one customer and the holdout check, on the backend of an FprData."""

    def __init__(self, data, codes, bits):
        self.data = data
        self.backend = data.backend
        self.codes = codes
        self.bits = bits

    def _run(self, sql, params):
        return self.backend.query(sql.format(table=self.backend.table, live=self.data.live), params)

    def profile(self, customer_id):
        """The customer's segment and lifecycle stage (latest record) and affinity band (average), or None."""
        source, source_params = self.backend.relation(*self.builds()[0])
        frame = self.backend.query(
            f"SELECT * FROM {source} AS profiles WHERE customer_id = ?",  # noqa: S608
            [*source_params, customer_id],
        )
        if frame.empty:
            return None
        code = int(frame["profile_code"][0])
        segment, stage = self.codes.decode(code)
        band = frame["band"][0]
        return {"segment": segment, "stage": stage, "band": None if pd.isna(band) else band, "code": code}

    def customer_products(self, customer_id):
        """{"recommended": [...], "held": [...]}: what the customer has been offered and what they hold.

        Where the per-customer table is materialised (locally), both are read from its masks, as the recommended
        products offered and the recommended products held (held_key); otherwise from the table's records.
        """
        if not self.backend.materialises:
            frame = self._run(CUSTOMER_PRODUCTS_SQL, [customer_id, customer_id])
            return {kind: sorted(frame.loc[frame["kind"] == kind, "product"]) for kind in ("recommended", "held")}
        source, source_params = self.backend.relation(*self.builds()[0])
        frame = self.backend.query(
            f"SELECT recommended_mask, held_mask FROM {source} AS profiles WHERE customer_id = ?",  # noqa: S608
            [*source_params, customer_id],
        )
        masks = [0, 0] if frame.empty else [int(frame[name][0]) for name in ("recommended_mask", "held_mask")]
        return {
            kind: [product for product in self.bits.products if mask & self.bits.bit(product)]
            for kind, mask in zip(("recommended", "held"), masks, strict=True)
        }

    def builds(self):
        """(name, SQL, parameters) of the relations Match reads, in the order they can be built."""
        table, live, dialect = self.backend.table, self.data.live, self.backend.dialect
        return [
            ("customer_profiles", *profiles_sql(table, live, self.codes, self.bits, dialect)),
            ("outcome_cells", *outcome_cells_sql(table, live, self.codes, dialect)),
        ]

    def outcome_cells(self):
        """Decided recommendations counted by product, profile code, band, holdout and outcome (all records)."""
        source, params = self.backend.relation(*self.builds()[1])
        return self.backend.query(f"SELECT * FROM {source} AS outcomes", params)  # noqa: S608

    def cells(self):
        return cells_from(self.outcome_cells())

    def holdout(self):
        return holdout_from(self.outcome_cells())


def rank_products(cells, profile, products):
    """Products neither offered nor held, best estimate first, with the counts and 90 % interval behind each.

    Args:
        cells: Matcher.cells().
        profile: Matcher.profile() of the customer.
        products: Matcher.customer_products() of the customer.

    Returns:
        (ranking frame, products left out because the customer holds them)
    """
    offered = set(products["recommended"])
    held = {held_key(name) for name in products["held"]}
    totals = cells.groupby("product", sort=True)[["decided", "accepted"]].sum()
    band = profile["band"]
    own = cells[(cells["profile_code"] == profile["code"]) & (cells["band"] == band)] if band else cells.iloc[:0]
    similar = own.set_index("product")[["decided", "accepted"]]
    rows, held_out = [], []
    for product, total in totals.iterrows():
        if product in offered:
            continue
        if held_key(product) in held:
            held_out.append(product)
            continue
        rows.append(_estimate_row(product, total, similar))
    ranking = pd.DataFrame(rows, columns=RANKING_COLUMNS)
    ranking = ranking.sort_values(["estimate", "product"], ascending=[False, True], kind="stable")
    return ranking.reset_index(drop=True), held_out


RANKING_COLUMNS = [
    "product",
    "estimate",
    "low",
    "high",
    "similar_decided",
    "similar_accepted",
    "base_rate",
    "product_decided",
]


def _estimate_row(product, total, similar):
    found = product in similar.index
    decided, accepted = (int(similar.loc[product, column]) if found else 0 for column in ("decided", "accepted"))
    base_rate = float(total["accepted"]) / float(total["decided"])
    estimate, low, high = shrunk_estimate(accepted, decided, base_rate)
    return [product, estimate, low, high, decided, accepted, base_rate, int(total["decided"])]


def shrunk_estimate(similar_accepted, similar_decided, base_rate, z=INTERVAL_Z):
    """(estimate, low, high): the base rate counted as PRIOR_STRENGTH records, then the similar customers' own."""
    successes = similar_accepted + PRIOR_STRENGTH * base_rate
    trials = similar_decided + PRIOR_STRENGTH
    low, high = wilson_interval(successes, trials, z)
    return successes / trials, low, high

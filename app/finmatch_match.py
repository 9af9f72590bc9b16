"""Match: which products to offer a customer next, learned from decided recommendations.

A customer's profile is the segment and lifecycle stage of their latest record (greatest
last_updated_epoch; records without one count as oldest; among records of the same time, the
alphabetically last segment, then stage) and the band of their average product affinity. For a
customer, every product they have neither been offered nor already hold is scored by how often
similar customers (decided recommendations of that product whose record has the same segment,
lifecycle stage and affinity band) accepted it, shrunk toward the product's base rate (empirical
Bayes):

    estimate = (accepted by similar customers + PRIOR_STRENGTH × base rate)
               / (decided by similar customers + PRIOR_STRENGTH)

so a handful of similar records moves the estimate a little and many move it a lot. Its 90 %
interval is the Wilson interval of those blended counts. Campaign lists (finmatch_campaign.py) use
the same profile and the same estimate, so a customer's figure is the same in both places.

A holdout check scores decided records left out of the learning (a fixed share chosen by the MD5
of their record_id, the same on DuckDB and Snowflake) and tests whether the estimates predict
their outcome better than the base rates alone.
"""

from dataclasses import dataclass

import pandas as pd
from finmatch_data import IS_ACCEPTED, IS_DECIDED, IS_OPEN, affinity_band_sql
from finmatch_settings import INTERVAL_Z, MIN_GROUP_RECORDS, PRIOR_STRENGTH
from finmatch_stats import wilson_interval

# Records whose MD5 starts with 0, 1 or 2 (3 of 16, about 19 %) are held out of the learning: in Snowflake
# SUBSTR(MD5(record_id), 1, 1) IN ('0', '1', '2'), written by each engine's dialect (md5_first_digit_below).
HELD_OUT_DIGITS = 3
# The improvement must exceed this many standard errors to count as a signal (about 97.5 % one-sided).
SIGNAL_STANDARD_ERRORS = 2.0
HELD_SUFFIX = " account"


def held_key(name):
    """How a product name is compared across held and recommended products.

    Held products carry a trailing "Account" that recommendations drop ("Investment Account" is held,
    "Investment" recommended); case and surrounding spaces are ignored too.
    """
    key = " ".join(str(name).split()).casefold()
    return key[: -len(HELD_SUFFIX)] if key.endswith(HELD_SUFFIX) and key != HELD_SUFFIX.strip() else key


def held_names_for(product, held_products):
    """The held product names that count as holding `product`."""
    return [held for held in held_products if held_key(held) == held_key(product)]


class ProfileCodes:
    """Segment and lifecycle stage as one small integer, so that "the latest record's profile" is one MAX_BY.

    code = segment's position × (stages + 1) + stage's position (positions from 1, alphabetical; 0 for a
    value the lists lack, such as NULL). The MAX_BY key puts the change time first and the code second,
    which is the documented tie rule.
    """

    def __init__(self, segments, stages):
        self.segments = tuple(sorted(segments))
        self.stages = tuple(sorted(stages))
        self.stride = len(self.stages) + 1
        self.key_stride = (len(self.segments) + 1) * self.stride

    def code_sql(self, dialect):
        """(SQL, parameters) of the code of each record."""
        segment, segment_params = _position_sql("customer_segment", self.segments, dialect)
        stage, stage_params = _position_sql("customer_lifecycle_stage", self.stages, dialect)
        return f"({segment}) * {self.stride} + ({stage})", [*segment_params, *stage_params]

    def latest_sql(self, code="profile_code"):
        """The code of the customer's latest record, as an aggregate over their records."""
        return f"MAX_BY({code}, COALESCE(last_updated_epoch, -1) * {self.key_stride} + {code})"

    def decode(self, code):
        """(segment, stage) of a code; None for a part the lists lack."""
        if code is None or pd.isna(code):
            return None, None
        segment, stage = divmod(int(code), self.stride)
        return (
            self.segments[segment - 1] if segment else None,
            self.stages[stage - 1] if stage else None,
        )

    def codes_for(self, segments=(), stages=()):
        """Every code whose segment and stage are among those chosen (an empty choice means all)."""
        chosen_segments = segments or self.segments
        chosen_stages = stages or self.stages
        return [
            (self.segments.index(segment) + 1) * self.stride + self.stages.index(stage) + 1
            for segment in chosen_segments
            if segment in self.segments
            for stage in chosen_stages
            if stage in self.stages
        ]


def _position_sql(column, values, dialect):
    """The position of the column's value among `values` (from 1), 0 for another value or NULL."""
    if not values:
        return "0", []
    if dialect.has_lists:  # one lookup in a list instead of a comparison per value: about 3 times faster
        return f"COALESCE(list_position(?, {column}), 0)", [list(values)]
    cases = " ".join(f"WHEN ? THEN {position}" for position in range(1, len(values) + 1))
    return f"CASE {column} {cases} ELSE 0 END", list(values)


class ProductBits:
    """Each recommended product as one bit, so that a customer's products fit in a few integers.

    A held product sets the bits of the recommended products it counts as (held_key).
    """

    def __init__(self, products, held_products):
        self.products = tuple(sorted(products))
        self.held = {
            name: sum(self.bit(product) for product in held_names_products(name, self.products))
            for name in sorted(held_products)
        }

    def bit(self, product):
        return 1 << self.products.index(product) if product in self.products else 0

    def recommended_sql(self, dialect):
        return _bits_sql("product_recommendation", [(product, self.bit(product)) for product in self.products], dialect)

    def held_sql(self, dialect):
        return _bits_sql("product_type", [(name, bits) for name, bits in self.held.items() if bits], dialect)


def held_names_products(held_name, products):
    return [product for product in products if held_key(product) == held_key(held_name)]


def _bits_sql(column, values, dialect):
    """The bits of the column's value, NULL for a value `values` lacks."""
    if not values:
        return "CAST(NULL AS INTEGER)", []
    if dialect.has_lists:
        return f"list_extract(?, list_position(?, {column}))", [[bits for _, bits in values], [v for v, _ in values]]
    cases = " ".join(f"WHEN ? THEN {int(bits)}" for _, bits in values)
    return f"CASE {column} {cases} END", [value for value, _ in values]


def profiles_sql(table, live, codes, bits, dialect):
    """(SQL, parameters): one row per customer: their latest profile code, average affinity and band, and masks
    of the products they hold and were recommended (by how far each recommendation got)."""
    if dialect.packs_masks and len(bits.products) * len(MASKS) < 64:
        return _packed_profiles_sql(table, live, codes, bits, dialect)
    code, params = codes.code_sql(dialect)
    held, held_params = bits.held_sql(dialect)
    recommended, recommended_params = bits.recommended_sql(dialect)
    masks = {
        "held_mask": "held_bit",
        "recommended_mask": "recommended_bit",
        "accepted_mask": f"CASE WHEN {IS_ACCEPTED} THEN recommended_bit END",
        "open_mask": f"CASE WHEN {IS_OPEN} THEN recommended_bit END",
        "declined_mask": "CASE WHEN product_recommendation_status = 'Declined' THEN recommended_bit END",
    }
    sql = f"""
        SELECT customer_id, {codes.latest_sql()} AS profile_code, AVG(customer_product_affinity) AS affinity,
               {affinity_band_sql("AVG(customer_product_affinity)")} AS band,
               {", ".join(f"COALESCE({dialect.bit_or(value)}, 0) AS {name}" for name, value in masks.items())}
        FROM (SELECT customer_id, last_updated_epoch, customer_product_affinity, product_recommendation_status,
                     {code} AS profile_code, {held} AS held_bit, {recommended} AS recommended_bit
              FROM {table} WHERE {live}) AS coded
        GROUP BY customer_id
    """  # noqa: S608
    return sql, [*params, *held_params, *recommended_params]


# The masks of a customer profile, in the order they are packed into one integer locally.
MASKS = ("held_mask", "recommended_mask", "accepted_mask", "open_mask", "declined_mask")


def _packed_profiles_sql(table, live, codes, bits, dialect):
    """profiles_sql's answer computed with less work per record (DuckDB), for tables of millions of customers.

    The five masks are aggregated as one: each record sets its held bit and, shifted into the recommended slot and
    into the slot of its status, its recommended bit; one BIT_OR per customer instead of five. The latest profile
    code is the greatest MAX_BY key itself (change time × key stride + code; last_updated_epoch is a LONG), whose
    remainder is the code. Both are unpacked into profiles_sql's columns."""
    code, params = codes.code_sql(dialect)
    held, held_params = bits.held_sql(dialect)
    recommended, recommended_params = bits.recommended_sql(dialect)
    width = len(bits.products)
    slot = {name: position * width for position, name in enumerate(MASKS)}
    status_slot = (
        f"CASE WHEN {IS_ACCEPTED} THEN {slot['accepted_mask']} WHEN {IS_OPEN} THEN {slot['open_mask']} "
        f"WHEN product_recommendation_status = 'Declined' THEN {slot['declined_mask']} "
        f"ELSE {slot['recommended_mask']} END"
    )
    packed = (
        f"CAST(COALESCE(held_bit, 0) AS BIGINT) | (recommended_bit << {slot['recommended_mask']}) "
        f"| (recommended_bit << ({status_slot}))"
    )
    every = (1 << width) - 1
    unpacked = ", ".join(f"CAST((packed >> {slot[name]}) & {every} AS INTEGER) AS {name}" for name in MASKS)
    stride = codes.key_stride
    sql = f"""
        SELECT customer_id, CAST(((latest_key % {stride}) + {stride}) % {stride} AS INTEGER) AS profile_code,
               affinity, {affinity_band_sql("affinity")} AS band, {unpacked}
        FROM (SELECT customer_id, max(COALESCE(last_updated_epoch, -1) * {stride} + profile_code) AS latest_key,
                     AVG(customer_product_affinity) AS affinity, COALESCE(bit_or({packed}), 0) AS packed
              FROM (SELECT customer_id, last_updated_epoch, customer_product_affinity, product_recommendation_status,
                           {code} AS profile_code, {held} AS held_bit,
                           CAST(COALESCE({recommended}, 0) AS BIGINT) AS recommended_bit
                    FROM {table} WHERE {live}) AS coded
              GROUP BY customer_id) AS aggregated
    """  # noqa: S608
    return sql, [*params, *held_params, *recommended_params]


def outcome_cells_sql(table, live, codes, dialect):
    """(SQL, parameters): decided recommendations per product, record profile code, affinity band, holdout and outcome.

    Match's estimates (all decided records) and the holdout check (learned from some, scored on the rest)
    are both arithmetic on these counts.
    """
    code, params = codes.code_sql(dialect)
    held_out = dialect.md5_first_digit_below("record_id", HELD_OUT_DIGITS)
    sql = f"""
        SELECT product_recommendation AS product, {code} AS profile_code,
               {affinity_band_sql("customer_product_affinity")} AS band,
               CASE WHEN {held_out} THEN 1 ELSE 0 END AS held_out,
               CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END AS accepted,
               count(*) AS records
        FROM {table}
        WHERE {live} AND {IS_DECIDED} AND product_recommendation IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
    """  # noqa: S608
    return sql, params


def cells_from(outcomes):
    """Decided and accepted recommendations per product, profile code and affinity band."""
    frame = outcomes.assign(accepted=outcomes["accepted"] * outcomes["records"])
    cells = frame.groupby(["product", "profile_code", "band"], dropna=False, sort=True)[["records", "accepted"]].sum()
    return cells.reset_index().rename(columns={"records": "decided"})


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


CUSTOMER_PRODUCTS_SQL = """
SELECT 'recommended' AS kind, product_recommendation AS product FROM {table}
WHERE {live} AND customer_id = ? AND product_recommendation IS NOT NULL
UNION
SELECT 'held' AS kind, product_type AS product FROM {table}
WHERE {live} AND customer_id = ? AND product_type IS NOT NULL
"""


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


def _float(value):
    return None if value is None or pd.isna(value) else float(value)

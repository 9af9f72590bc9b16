"""Customer profiles in SQL: one row per customer, as Match and the campaign lists see them.

A customer's profile is the segment and lifecycle stage of their latest record (greatest
last_updated_epoch; records without one count as oldest; among records of the same time, the
alphabetically last segment, then stage) and the band of their average product affinity. Beside it,
masks of the recommended products they hold and were recommended, by how far each recommendation got.
Segments and stages are coded as one small integer (ProfileCodes) and products as bits (ProductBits),
so that the latest profile is one MAX_BY and a customer's products fit in a few integers.
"""

from finmatch.data.answers import missing
from finmatch.data.sql import IS_ACCEPTED, IS_OPEN, affinity_band_sql

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
        if missing(code):
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
    """
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
    """
    return sql, [*params, *held_params, *recommended_params]

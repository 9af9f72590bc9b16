"""Campaign lists: for one recommended product, the customers most worth offering it to.

Every customer with a live record is a candidate, profiled as Match profiles them (data/profiles.py):
the segment and lifecycle stage of their latest record and the band of their average affinity.
Two kinds of customer are suppressed, and counted:

- those who already hold the product: any live record whose product held matches it (held names
  are matched by profiles.held_key: "Investment Account" counts as holding "Investment");
- those already recommended it, whatever the outcome: any live record recommending it (counted by
  their furthest status: accepted, else still open, else declined).

The rest are ranked by expected value = estimated acceptance (Match's shrunk estimate for their
profile) × the product's average sale after acceptance, each with the 90 % interval of the estimate
and the decided recommendations behind it. Ties keep the higher average affinity first, then the
customer id. All of it is one SQL statement per question on either engine.
"""

from dataclasses import dataclass

import pandas as pd

from finmatch.analysis.match import shrunk_estimate
from finmatch.data.cells import PRODUCT_FIGURES_SQL, decided_cells_sql
from finmatch.data.profiles import ProductBits, ProfileCodes, contacts_sql, held_names_for, profiles_sql
from finmatch.settings import INTERVAL_Z, PRIOR_STRENGTH

COUNT_NAMES = (
    "customers",
    "already_hold",
    "already_recommended",
    "already_accepted",
    "already_open",
    "already_declined",
    "already_other",
    "eligible",
    "product_decided",
    "product_accepted",
    "sales",
)
ORDER = "expected_value DESC NULLS LAST, estimate DESC NULLS LAST, affinity DESC NULLS LAST, customer_id ASC NULLS LAST"


@dataclass(frozen=True)
class Target:
    """What a campaign list is for: a recommended product and, optionally, the profiles it aims at."""

    product: str
    segments: tuple = ()
    stages: tuple = ()
    size: int = 100


class Campaigns:
    """A campaign list and its suppression counts, one statement per target."""

    def __init__(self, data, codes, bits, held_products):
        self.data = data
        self.backend = data.backend
        self.codes = codes
        self.bits = bits
        self.held_products = tuple(held_products)

    def held_names(self, product):
        return held_names_for(product, self.held_products)

    def builds(self):
        """(name, SQL, parameters) of every relation a campaign reads: per-customer profiles, per-product figures and
        decided cells."""
        table, live, dialect = self.backend.table, self.data.live, self.backend.dialect
        return [
            ("customer_profiles", *profiles_sql(table, live, self.codes, self.bits, dialect)),
            ("product_figures", PRODUCT_FIGURES_SQL.format(table=table, live=live), []),
            ("decided_cells", *decided_cells_sql(table, live, self.codes, dialect)),
        ]

    def relations(self):
        """(SQL, parameters) of the per-customer profiles, per-product figures and decided cells to read from; locally
        the tables, built now unless they are built or being built already."""
        return [self.backend.relation(*build) for build in self.builds()]

    def build(self, target):
        """(suppression counts, ranked customers) of a target, from one statement."""
        (profiles, profile_params), (figures, figure_params), (cells, cell_params) = self.relations()
        bit = self.bits.bit(target.product)
        has = self.backend.dialect.has_bit
        wanted = self.codes.codes_for(target.segments, target.stages) if target.segments or target.stages else None
        targeting = (
            ""
            if wanted is None
            else "AND FALSE"
            if not wanted
            else (f"AND profile_code IN ({', '.join('?' for _ in wanted)})")
        )
        estimate = (
            f"(COALESCE(c.accepted, 0) + {PRIOR_STRENGTH} * f.base_rate) / (COALESCE(c.decided, 0) + {PRIOR_STRENGTH})"
        )
        already = "holds = 0 AND furthest_status >= 0"
        sql = f"""
        WITH candidates AS (
          SELECT customer_id, profile_code, band, affinity,
                 CASE WHEN {has("held_mask", bit)} THEN 1 ELSE 0 END AS holds,
                 CASE WHEN {has("accepted_mask", bit)} THEN 3 WHEN {has("open_mask", bit)} THEN 2
                      WHEN {has("declined_mask", bit)} THEN 1 WHEN {has("recommended_mask", bit)} THEN 0
                      ELSE -1 END AS furthest_status
          FROM {profiles} AS profiles WHERE TRUE {targeting}
        ),
        figures AS (SELECT * FROM {figures} AS all_figures WHERE product = ?),
        cells AS (SELECT * FROM {cells} AS all_cells WHERE product = ?),
        counted AS (
          SELECT count(*) AS customers, COALESCE(sum(holds), 0) AS already_hold,
                 sum(CASE WHEN {already} THEN 1 ELSE 0 END) AS already_recommended,
                 sum(CASE WHEN {already} AND furthest_status = 3 THEN 1 ELSE 0 END) AS already_accepted,
                 sum(CASE WHEN {already} AND furthest_status = 2 THEN 1 ELSE 0 END) AS already_open,
                 sum(CASE WHEN {already} AND furthest_status = 1 THEN 1 ELSE 0 END) AS already_declined,
                 sum(CASE WHEN {already} AND furthest_status = 0 THEN 1 ELSE 0 END) AS already_other,
                 sum(CASE WHEN holds = 0 AND furthest_status < 0 THEN 1 ELSE 0 END) AS eligible
          FROM candidates
        ),
        scored AS (
          SELECT e.customer_id, e.profile_code, e.band, e.affinity,
                 COALESCE(c.decided, 0) AS similar_decided, COALESCE(c.accepted, 0) AS similar_accepted,
                 {estimate} AS estimate, {estimate} * f.average_sale AS expected_value
          FROM candidates e
          CROSS JOIN figures f
          LEFT JOIN cells c ON c.profile_code = e.profile_code AND c.band = e.band
          WHERE e.holds = 0 AND e.furthest_status < 0 AND f.base_rate IS NOT NULL
        ),
        listed AS (SELECT * FROM scored ORDER BY {ORDER} LIMIT {int(target.size)}),
        contacts AS ({self._contacts_sql()})
        SELECT counted.*, figures.product_decided, figures.product_accepted, figures.base_rate,
               figures.average_sale, figures.sales,
               listed.customer_id, listed.profile_code, listed.band, listed.affinity, listed.similar_decided,
               listed.similar_accepted, listed.estimate, listed.expected_value,
               contacts.customer_name, contacts.customer_email
        FROM counted
        LEFT JOIN figures ON TRUE
        LEFT JOIN listed ON TRUE
        LEFT JOIN contacts ON contacts.customer_id = listed.customer_id
        ORDER BY {ORDER}
        """  # noqa: S608
        params = [*profile_params, *(wanted or []), *figure_params, target.product, *cell_params, target.product]
        frame = self.backend.query(sql, params)
        return self._counts(frame.iloc[0]), self._ranked(frame[frame["customer_id"].notna()].reset_index(drop=True))

    def _contacts_sql(self):
        """The listed customers' names and emails, from their latest record: read from the derived table of every
        customer's where it is current (locally), otherwise from the listed customers' records."""
        every = contacts_sql(self.backend.table, self.data.live)
        derived = self.backend.derived("customer_contacts", every, [])
        listed = "customer_id IN (SELECT customer_id FROM listed)"
        if derived:
            return f"SELECT * FROM {derived} AS every_contact WHERE {listed}"  # noqa: S608
        return contacts_sql(self.backend.table, f"{self.data.live} AND {listed}")

    def counts(self, target):
        """Customers considered, suppressed (holding; already recommended, by furthest status) and eligible."""
        return self.build(target)[0]

    def ranked(self, target):
        """The eligible customers, highest expected value first, at most target.size of them."""
        return self.build(target)[1]

    @staticmethod
    def _counts(row):
        counts = {name: 0 if pd.isna(row[name]) else int(row[name]) for name in COUNT_NAMES}
        for name in ("base_rate", "average_sale"):
            counts[name] = None if pd.isna(row[name]) else float(row[name])
        return counts

    def _ranked(self, frame):
        """Segment and stage in words, and the 90 % interval of each estimate and of its expected value."""
        decoded = [self.codes.decode(code) for code in frame["profile_code"]]
        frame["segment"] = [segment for segment, _ in decoded]
        frame["stage"] = [stage for _, stage in decoded]
        frame["similar_decided"] = frame["similar_decided"].astype(int)
        bounds = [
            shrunk_estimate(int(accepted), int(decided), float(base), INTERVAL_Z)[1:]
            for accepted, decided, base in zip(
                frame["similar_accepted"], frame["similar_decided"], frame["base_rate"], strict=True
            )
        ]
        frame["low"] = [low for low, _ in bounds]
        frame["high"] = [high for _, high in bounds]
        frame["value_low"] = frame["low"] * frame["average_sale"]
        frame["value_high"] = frame["high"] * frame["average_sale"]
        return frame


def campaigns_for(data, options, products):
    """A Campaigns on the filter options' segments, stages and held products, and the recommended products."""
    codes = ProfileCodes(options["segments"], options["stages"])
    return Campaigns(data, codes, ProductBits(products, options["product_types"]), options["product_types"])

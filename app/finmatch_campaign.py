"""Campaign lists: for one recommended product, the customers most worth offering it to.

Every customer with a live record is a candidate, profiled as Match profiles them (finmatch_match.py):
the segment and lifecycle stage of their latest record and the band of their average affinity.
Two kinds of customer are suppressed, and counted:

- those who already hold the product: any live record whose product held matches it (held names
  are matched by finmatch_match.held_key: "Investment Account" counts as holding "Investment");
- those already recommended it, whatever the outcome: any live record recommending it (counted by
  their furthest status: accepted, else still open, else declined).

The rest are ranked by expected value = estimated acceptance (Match's shrunk estimate for their
profile) × the product's average sale after acceptance, each with the 90 % interval of the estimate
and the decided recommendations behind it. Ties keep the higher average affinity first, then the
customer id. All of it is one SQL statement per question on either engine.
"""

from dataclasses import dataclass

import pandas as pd
from finmatch_data import IS_ACCEPTED, IS_DECIDED, IS_OPEN, IS_SALE_AFTER_ACCEPTANCE, affinity_band_sql, ratio_sql
from finmatch_match import ProfileCodes, held_names_for, profiles_sql, shrunk_estimate
from finmatch_settings import INTERVAL_Z, PRIOR_STRENGTH

# The furthest a customer's recommendations of the product got: accepted, else open, else declined.
ACCEPTED_COUNT = f"sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END)"
DECIDED_COUNT = f"sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END)"
STATUS_RANK = (
    f"CASE WHEN {IS_ACCEPTED} THEN 3 WHEN {IS_OPEN} THEN 2 "
    "WHEN product_recommendation_status = 'Declined' THEN 1 ELSE 0 END"
)


@dataclass(frozen=True)
class Target:
    """What a campaign list is for: a recommended product and, optionally, the profiles it aims at."""

    product: str
    segments: tuple = ()
    stages: tuple = ()
    size: int = 100


class Campaigns:
    """The two questions of a campaign list: its suppression counts and its ranked customers."""

    def __init__(self, data, codes, held_products):
        self.data = data
        self.backend = data.backend
        self.codes = codes
        self.held_products = tuple(held_products)

    def held_names(self, product):
        return held_names_for(product, self.held_products)

    def _common(self, target):
        """(SQL of the shared CTEs, their parameters) for a target."""
        table, live = self.backend.table, self.data.live
        profiles, profile_params = profiles_sql(table, live, self.codes)
        held = self.held_names(target.product) or [None]  # IN (NULL) holds nobody
        code, code_params = self.codes.code_sql()
        wanted = self.codes.codes_for(target.segments, target.stages) if target.segments or target.stages else None
        targeting = f"AND p.profile_code IN ({', '.join('?' for _ in wanted)})" if wanted else ""
        if wanted == []:
            targeting = "AND FALSE"
        sql = f"""
        WITH profiles AS ({profiles}),
        holders AS (
          SELECT DISTINCT customer_id FROM {table} WHERE {live} AND product_type IN ({", ".join("?" for _ in held)})
        ),
        offered AS (
          SELECT customer_id, MAX({STATUS_RANK}) AS furthest_status FROM {table}
          WHERE {live} AND product_recommendation = ? GROUP BY customer_id
        ),
        product_figures AS (
          SELECT {DECIDED_COUNT} AS product_decided, {ACCEPTED_COUNT} AS product_accepted,
                 {ratio_sql(ACCEPTED_COUNT, DECIDED_COUNT)} AS base_rate,
                 avg(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END) AS average_sale,
                 sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN 1 ELSE 0 END) AS sales
          FROM {table} WHERE {live} AND product_recommendation = ?
        ),
        cells AS (
          SELECT {code} AS profile_code, {affinity_band_sql("customer_product_affinity")} AS band,
                 count(*) AS similar_decided, sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS similar_accepted
          FROM {table} WHERE {live} AND {IS_DECIDED} AND product_recommendation = ?
          GROUP BY 1, 2
        ),
        candidates AS (
          SELECT p.customer_id, p.profile_code, p.band, p.affinity,
                 CASE WHEN h.customer_id IS NULL THEN 0 ELSE 1 END AS holds,
                 COALESCE(o.furthest_status, -1) AS furthest_status
          FROM profiles p
          LEFT JOIN holders h ON h.customer_id = p.customer_id
          LEFT JOIN offered o ON o.customer_id = p.customer_id
          WHERE TRUE {targeting}
        )
        """  # noqa: S608
        params = [
            *profile_params,
            *held,
            target.product,
            target.product,
            *code_params,
            target.product,
            *(wanted or []),
        ]
        return sql, params

    def counts(self, target):
        """Customers considered, suppressed (holding; already recommended, by furthest status) and eligible."""
        common, params = self._common(target)
        already = "holds = 0 AND furthest_status >= 0"
        sql = f"""{common}
        SELECT count(*) AS customers,
               sum(holds) AS already_hold,
               sum(CASE WHEN {already} THEN 1 ELSE 0 END) AS already_recommended,
               sum(CASE WHEN {already} AND furthest_status = 3 THEN 1 ELSE 0 END) AS already_accepted,
               sum(CASE WHEN {already} AND furthest_status = 2 THEN 1 ELSE 0 END) AS already_open,
               sum(CASE WHEN {already} AND furthest_status = 1 THEN 1 ELSE 0 END) AS already_declined,
               sum(CASE WHEN {already} AND furthest_status = 0 THEN 1 ELSE 0 END) AS already_other,
               sum(CASE WHEN holds = 0 AND furthest_status < 0 THEN 1 ELSE 0 END) AS eligible,
               MAX(f.product_decided) AS product_decided, MAX(f.product_accepted) AS product_accepted,
               MAX(f.base_rate) AS base_rate, MAX(f.average_sale) AS average_sale, MAX(f.sales) AS sales
        FROM product_figures f LEFT JOIN candidates ON TRUE
        """  # noqa: S608
        frame = self.backend.query(sql, params)
        row = frame.iloc[0]
        counts = {name: int(row[name]) if not pd.isna(row[name]) else 0 for name in COUNT_NAMES}
        for name in ("base_rate", "average_sale"):
            counts[name] = None if pd.isna(row[name]) else float(row[name])
        return counts

    def ranked(self, target):
        """The eligible customers, highest expected value first, at most target.size of them."""
        common, params = self._common(target)
        estimate = (
            f"(COALESCE(c.similar_accepted, 0) + {PRIOR_STRENGTH} * f.base_rate) "
            f"/ (COALESCE(c.similar_decided, 0) + {PRIOR_STRENGTH})"
        )
        order = (
            "expected_value DESC NULLS LAST, estimate DESC NULLS LAST, affinity DESC NULLS LAST, "
            "customer_id ASC NULLS LAST"
        )
        sql = f"""{common},
        scored AS (
          SELECT e.customer_id, e.profile_code, e.band, e.affinity,
                 COALESCE(c.similar_decided, 0) AS similar_decided, COALESCE(c.similar_accepted, 0) AS similar_accepted,
                 f.base_rate, f.product_decided, f.average_sale,
                 {estimate} AS estimate, {estimate} * f.average_sale AS expected_value
          FROM candidates e
          CROSS JOIN product_figures f
          LEFT JOIN cells c ON c.profile_code = e.profile_code AND c.band = e.band
          WHERE e.holds = 0 AND e.furthest_status < 0 AND f.base_rate IS NOT NULL
        ),
        listed AS (SELECT * FROM scored ORDER BY {order} LIMIT {int(target.size)}),
        contacts AS (
          SELECT customer_id,
                 MAX_BY(customer_name, COALESCE(last_updated_epoch, -1)) AS customer_name,
                 MAX_BY(customer_email, COALESCE(last_updated_epoch, -1)) AS customer_email
          FROM {self.backend.table}
          WHERE {self.data.live} AND customer_id IN (SELECT customer_id FROM listed)
          GROUP BY customer_id
        )
        SELECT listed.*, contacts.customer_name, contacts.customer_email
        FROM listed LEFT JOIN contacts ON contacts.customer_id = listed.customer_id
        ORDER BY {order}
        """  # noqa: S608
        frame = self.backend.query(sql, params)
        return self._with_intervals(frame)

    def _with_intervals(self, frame):
        """Segment and stage in words, and the 90 % interval of each estimate and of its expected value."""
        decoded = [self.codes.decode(code) for code in frame["profile_code"]]
        frame["segment"] = [segment for segment, _ in decoded]
        frame["stage"] = [stage for _, stage in decoded]
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


def campaigns_for(data, options):
    """A Campaigns on the filter options' segments, stages and held products."""
    codes = ProfileCodes(options["segments"], options["stages"])
    return Campaigns(data, codes, options["product_types"])

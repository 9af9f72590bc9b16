"""Honest rates per product: acceptance over decided recommendations and over every offer that had time to be
answered, each a Beta posterior whose prior is estimated from all the products (empirical Bayes), and the average
sale after acceptance with its t interval.

An open recommendation older than STALE_OPEN_DAYS counts as not accepted in the second rate: offers nobody
answered in three months are, for a campaign's purposes, offers that did not work. Open recommendations younger
than that are left out of both rates (they may still be answered).
"""

from dataclasses import dataclass

from finmatch.data.rates import outcomes_by_day_sql, product_outcomes_sql
from finmatch.inference import beta_interval, mean_interval, prior_from_groups


@dataclass(frozen=True)
class Rate:
    """A rate with its Beta posterior: accepted of `out_of`, the posterior mean and its interval."""

    accepted: int
    out_of: int
    estimate: float
    low: float
    high: float

    @property
    def observed(self):
        return self.accepted / self.out_of if self.out_of else None


@dataclass(frozen=True)
class ProductRates:
    product: str
    answered: Rate  # accepted ÷ decided
    offered: Rate  # accepted ÷ (decided + open past STALE_OPEN_DAYS)
    still_open: int
    stale_open: int
    sales: int
    average_sale: float
    sale_low: float
    sale_high: float

    @property
    def answered_share(self):
        """The share of offers old enough to have been answered that were: decided ÷ (decided + stale open)."""
        return self.answered.out_of / self.offered.out_of if self.offered.out_of else None


def product_rates(data, today):
    """{product: ProductRates} from one statement; the priors are fitted over every product."""
    by_day, params = data.backend.relation("outcomes_by_day", outcomes_by_day_sql(data.backend.table, data.live), [])
    frame = data.backend.query(product_outcomes_sql(by_day, data.dialect), [*params, today.isoformat()])
    rows = [row._asdict() for row in frame.itertuples(index=False)]
    accepted = [int(row["accepted"]) for row in rows]
    decided = [int(row["decided"]) for row in rows]
    offered = [int(row["decided"]) + int(row["stale_open"]) for row in rows]
    answered_prior, offered_prior = prior_from_groups(accepted, decided), prior_from_groups(accepted, offered)
    return {
        row["product"]: _rates(row, answered_prior, offered_prior, offers)
        for row, offers in zip(rows, offered, strict=True)
    }


def _rates(row, answered_prior, offered_prior, offers):
    accepted, decided = int(row["accepted"]), int(row["decided"])
    sales = int(row["sales"])
    average = None if sales == 0 else float(row["average_sale"])
    spread = (float(row["sale_m2"]) / (sales - 1)) ** 0.5 if sales > 1 else None
    low, high = mean_interval(average, spread, sales)
    return ProductRates(
        product=row["product"],
        answered=Rate(accepted, decided, *beta_interval(accepted, decided - accepted, answered_prior)),
        offered=Rate(accepted, offers, *beta_interval(accepted, offers - accepted, offered_prior)),
        still_open=int(row["still_open"]),
        stale_open=int(row["stale_open"]),
        sales=sales,
        average_sale=average,
        sale_low=low,
        sale_high=high,
    )

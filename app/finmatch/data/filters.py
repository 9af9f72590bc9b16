"""The sidebar's filters, and the WHERE clause they make: the same in every statement that follows them."""

from dataclasses import dataclass, replace
from datetime import date

FILTER_COLUMNS = (
    ("segments", "customer_segment", "Segment"),
    ("products", "product_recommendation", "Product recommended"),
    ("product_types", "product_type", "Product held"),
    ("stages", "customer_lifecycle_stage", "Lifecycle stage"),
    ("statuses", "product_recommendation_status", "Status"),
)


@dataclass(frozen=True)
class Filters:
    """The sidebar's filters; an empty choice means no filter on that column."""

    segments: tuple = ()
    product_types: tuple = ()
    stages: tuple = ()
    statuses: tuple = ()
    date_from: date = None
    date_to: date = None
    products: tuple = ()  # products recommended; product_types are the products customers hold

    def where(self, live, dialect):
        """The WHERE clause (live rows only) and its parameters; dates go in as 'YYYY-MM-DD' with that format."""
        clauses, params = [live], []
        for field, column, _ in FILTER_COLUMNS:
            values = getattr(self, field)
            if values:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        dated, dated_params = self.date_range(dialect)
        return " AND ".join(clauses + dated), params + dated_params

    def date_range(self, dialect):
        """The conditions (a list) of the recommendation-date range alone, and their parameters."""
        clauses, params = [], []
        if self.date_from:
            clauses.append(f"product_recommendation_date >= {dialect.date()}")
            params.append(self.date_from.isoformat())
        if self.date_to:
            clauses.append(f"product_recommendation_date <= {dialect.date()}")
            params.append(self.date_to.isoformat())
        return clauses, params

    def without_dates(self):
        return replace(self, date_from=None, date_to=None)

    def fixed_columns(self):
        """Columns filtered to a single value: nothing can be compared across them."""
        return {column for field, column, _ in FILTER_COLUMNS if len(getattr(self, field)) == 1}

    def describe(self):
        """The filters in words, for captions and the insights history."""
        parts = [
            f"{label}: {', '.join(getattr(self, field))}" for field, _, label in FILTER_COLUMNS if getattr(self, field)
        ]
        if self.date_from or self.date_to:
            parts.append(f"Recommended: {self.date_from or 'start'} to {self.date_to or 'end'}")
        return "; ".join(parts) or "All records"

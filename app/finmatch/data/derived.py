"""The tables FinMatch derives from fpr_records, defined once for both engines.

Locally each is a table of the warehouse (schema `finmatch`) that `make sync` builds when the sync ends
(derived_local.py); in Snowflake a dynamic table over FPR_RECORDS that `make deploy-app` creates
(derived_snowflake.py). The app reads one only when it holds what the app would compute now: the same SQL (its
fingerprint) and, locally, the same version of fpr_records; otherwise the app computes the relation from fpr_records
itself, as it always did (backends.py, `relation`).

DERIVED is the list: a name, the SQL builder the app itself calls for that relation, and the engines it is built
for. A relation a new module reads per customer or per cell is one more line. None deployed to Snowflake carries a
customer's name or email: there those are read from FPR_RECORDS when shown, under its masking policy.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field

from finmatch.data.actions import urgent_relations
from finmatch.data.campaign_list import campaign_relations
from finmatch.data.cells import outcome_cells_sql
from finmatch.data.daily import COARSE_GRAIN, daily_sums_sql
from finmatch.data.filters import VOCABULARY_COLUMNS, filter_values_sql, record_ids_sql
from finmatch.data.profiles import ProductBits, ProfileCodes, profiles_sql
from finmatch.data.rates import outcomes_by_day_sql

BOTH = ("duckdb", "snowflake")


@dataclass(frozen=True)
class Source:
    """What a derived table is computed from: the table, its live rows, the engine's dialect and the vocabulary
    (every value of the filter columns and the products recommended) its profile codes and product bits follow."""

    table: str
    live: str
    dialect: object
    vocabulary: dict

    @property
    def codes(self):
        return ProfileCodes(self.vocabulary["segments"], self.vocabulary["stages"])

    @property
    def bits(self):
        return ProductBits(self.vocabulary["products"], self.vocabulary["product_types"])


@dataclass(frozen=True)
class Derived:
    name: str
    sql: object  # Source -> (SQL, parameters), the very call the app makes for this relation
    engines: tuple = BOTH
    per_customer: bool = False  # keyed by customer_id, which Snowflake may mask (derived_snowflake.py)


def _features(position):
    def sql(source):
        vocabulary = source.vocabulary["product_types"]
        return campaign_relations(source.table, source.live, source.codes, source.dialect, vocabulary)[position][1:]

    return sql


def _urgent(position):
    return lambda source: urgent_relations(source.table, source.live)[position][1:]


DERIVED = (
    Derived("filter_values", lambda source: (filter_values_sql(source.table, source.live), [])),
    Derived("daily_sums", lambda source: daily_sums_sql(source.table, source.live, COARSE_GRAIN), engines=("duckdb",)),
    Derived("daily_sums_by_product", lambda source: daily_sums_sql(source.table, source.live), engines=("duckdb",)),
    Derived(
        "customer_profiles",
        lambda source: profiles_sql(source.table, source.live, source.codes, source.bits, source.dialect),
        per_customer=True,
    ),
    # Each product's outcomes per recommendation date: its honest rates and average sale on any day.
    Derived("outcomes_by_day", lambda source: (outcomes_by_day_sql(source.table, source.live), [])),
    # What the campaigns' propensity models and the retention list read of each customer.
    Derived("customer_features", _features(0), per_customer=True),
    # The decided recommendations each product's model learns from (at most TRAINING_SAMPLE per product).
    Derived("training_draws", _features(1), per_customer=True),
    # Each customer's latest decline of each product: the campaigns' cool-off.
    Derived("customer_declines", _features(2), per_customer=True),
    Derived("outcome_cells", lambda source: outcome_cells_sql(source.table, source.live, source.codes, source.dialect)),
    # Whether every record id is hexadecimal, so that a search for other text need not read them (local only: a
    # search in Snowflake reads what its warehouse reads).
    Derived("record_ids", lambda source: record_ids_sql(source.table, source.live), ("duckdb",)),
    # Who to act on's kept recommendations read the table by rowid, which only DuckDB has; in Snowflake the action
    # list is one statement over FPR_RECORDS.
    Derived("urgent_recommendations", _urgent(0), engines=("duckdb",), per_customer=True),
    Derived("urgent_customers_open", _urgent(1), engines=("duckdb",), per_customer=True),
)
# Built first: the codes and bits of the others follow from what it holds.
VOCABULARY = "filter_values"


def for_engine(engine):
    return [derived for derived in DERIVED if engine in derived.engines]


def vocabulary_from(rows):
    """The vocabulary (as FprData.vocabulary gives it, without the dates) from filter_values' (field, value) rows."""
    return {field: sorted(value for kind, value in rows if kind == field) for field, _ in VOCABULARY_COLUMNS}


def inlined(sql, params):
    """The SQL with each ? replaced by its parameter as a literal: what a dynamic table's definition holds, and what a
    fingerprint is taken of."""
    values = iter(params)
    text = re.sub(r"\?", lambda _: _literal(next(values)), sql)
    if next(values, None) is not None:
        raise ValueError("more parameters than placeholders")
    return text


def _literal(value):
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, bool) or value is None:
        raise TypeError(f"no literal for {value!r}")
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def fingerprint(sql, params):
    """What identifies a relation's definition: its SQL and parameters, spacing aside."""
    text = " ".join(sql.split()) + "\n" + json.dumps(list(params), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Catalog:
    """The derived tables current for what the app reads ({name: fingerprint}) and what to say of them; then which
    ones the page read, and which it computed instead because their definition differs from the app's."""

    fingerprints: dict
    note: str
    table_name: object  # a relation's name -> the derived table's
    read: set = field(default_factory=set)
    computed: set = field(default_factory=set)

    def table_for(self, name, sql, params):
        """The derived table to read for this relation, or None when the app must compute it."""
        if name in self.fingerprints and self.fingerprints[name] == fingerprint(sql, params):
            self.read.add(name)
            return self.table_name(name)
        self.computed.add(name)
        return None

    def says(self):
        differing = sorted(name for name in self.computed if name in self.fingerprints)
        if differing:
            return f"{self.note} Computed instead, as defined differently now: {', '.join(differing)}."
        return self.note

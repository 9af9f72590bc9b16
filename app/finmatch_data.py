"""FinMatch's data access: every figure is SQL over the whole fpr_records table.

Two backends run the same SQL: DuckDB on the warehouse `make sync` writes
(build/connector/files/warehouse.db, schema `tester`, opened read-only so a running sync is never
blocked for long), and the active Snowpark session inside Streamlit in Snowflake (FPR_RECORDS in the
current database and schema). Where the engines differ the SQL says so explicitly, never by default:

- every ORDER BY key names its NULL placement (Snowflake sorts NULLs first in a descending order,
  DuckDB last);
- dates are passed as 'YYYY-MM-DD' text with an explicit format, never through the account's input
  format, and timestamps are shown in UTC by a formatted conversion;
- every ratio divides a DOUBLE, so that Snowflake never rounds it to a fixed-point scale;
- only live rows count: not soft-deleted (`_fivetran_deleted`) and, when the table is kept in
  Fivetran's history mode, only the active version of each record (`_fivetran_active`).
"""

import os
import uuid
import weakref
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pandas as pd
from finmatch_settings import HIGH_AFFINITY

DEFAULT_WAREHOUSE = Path(__file__).resolve().parent.parent / "build" / "connector" / "files" / "warehouse.db"
WAREHOUSE_ENV = "FINMATCH_WAREHOUSE"
ACCEPTED, DECLINED = "Accepted", "Declined"
OPEN_STATUSES = ("Pending", "In Progress")
AFFINITY_BANDS = ("Low", "Medium-Low", "Medium-High", "High")
IS_DECIDED = "product_recommendation_status IN ('Accepted', 'Declined')"
IS_ACCEPTED = "product_recommendation_status = 'Accepted'"
IS_OPEN = "product_recommendation_status IN ('Pending', 'In Progress')"
# A sale counts towards uplift only when its recommendation was accepted and it is dated on or
# after the recommendation: a sale before the recommendation cannot be its result.
IS_SALE_AFTER_ACCEPTANCE = (
    f"{IS_ACCEPTED} AND product_sales_amount IS NOT NULL AND product_sales_date >= product_recommendation_date"
)
# Age of an open recommendation in days; the upper bound of each bucket (None: no upper bound).
AGE_BUCKETS = (
    ("0–30 days", 30),
    ("31–90 days", 90),
    ("91–180 days", 180),
    ("181–365 days", 365),
    ("over a year", None),
)
NO_DATE = "no date"


def affinity_band_sql(column):
    """The four affinity bands: Low < 0.25 <= Medium-Low < 0.5 <= Medium-High < 0.75 <= High."""
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} < 0.25 THEN 'Low' WHEN {column} < 0.5 THEN 'Medium-Low' "
        f"WHEN {column} < {HIGH_AFFINITY} THEN 'Medium-High' ELSE 'High' END"
    )


def ratio_sql(part, whole):
    """part / whole as a DOUBLE in both engines (NULL when whole is 0)."""
    return f"CAST({part} AS DOUBLE) / NULLIF({whole}, 0)"


def age_bucket_sql(age):
    cases = " ".join(f"WHEN {age} <= {upper} THEN '{label}'" for label, upper in AGE_BUCKETS if upper is not None)
    return f"CASE WHEN {age} IS NULL THEN '{NO_DATE}' {cases} ELSE '{AGE_BUCKETS[-1][0]}' END"


# The action score: churn risk weighs most (a customer about to leave), then how much the
# customer likes the product, then how strongly it was recommended. Only recommendations
# not yet decided (Pending, In Progress) are ranked: those are the ones a banker can act on.
ACTION_WEIGHTS = {"customer_churn_probability": 0.5, "customer_product_affinity": 0.3, "recommendation_score": 0.2}

EXPLORER_COLUMNS = (
    "record_id",
    "customer_id",
    "customer_name",
    "customer_email",
    "customer_segment",
    "customer_lifecycle_stage",
    "product_type",
    "product_recommendation",
    "product_recommendation_status",
    "product_recommendation_date",
    "recommendation_score",
    "customer_product_affinity",
    "customer_churn_probability",
    "customer_satisfaction_score",
    "account_balance",
    "product_sales_amount",
    "product_sales_date",
    "product_id",
    "product_name",
    "last_updated_epoch",
)
# Searched only while customer data may be shown; masked viewers search records and products only.
PERSONAL_SEARCH_COLUMNS = ("customer_id", "customer_name", "customer_email")
OPEN_SEARCH_COLUMNS = ("record_id", "product_id", "product_name")


class WarehouseMissing(RuntimeError):
    """There is no table to read yet; the message says what to run."""


class DuckDBDialect:
    """SQL that differs in DuckDB, for the local warehouse."""

    def date(self):
        """A 'YYYY-MM-DD' parameter as a DATE, parsed with that format."""
        return "CAST(strptime(?, '%Y-%m-%d') AS DATE)"

    def utc_minute(self, timestamp):
        """A TIMESTAMP WITH TIME ZONE as 'YYYY-MM-DD HH:MM' in UTC, whatever the session's time zone."""
        return f"strftime({timestamp} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')"


class SnowflakeDialect:
    """SQL that differs in Snowflake: formats are written out, never taken from the account's parameters."""

    def date(self):
        return "TO_DATE(?, 'YYYY-MM-DD')"

    def utc_minute(self, timestamp):
        return f"TO_VARCHAR(CONVERT_TIMEZONE('UTC', {timestamp}), 'YYYY-MM-DD HH24:MI')"


class DuckDBBackend:
    """Runs SQL on a local DuckDB warehouse, one short read-only connection per query."""

    table = "tester.fpr_records"
    name = "local DuckDB"
    in_snowflake = False
    has_cortex = False
    dialect = DuckDBDialect()

    def __init__(self, path):
        self.path = Path(path)

    @property
    def cache_key(self):
        """Changes whenever a sync rewrites the warehouse or its write-ahead log: cached figures never outlive it."""
        parts = [str(self.path)]
        for file in (self.path, self.path.with_name(self.path.name + ".wal")):
            if file.exists():
                stat = file.stat()
                parts += [str(stat.st_mtime_ns), str(stat.st_size)]
        return "duckdb:" + ":".join(parts)

    def query(self, sql, params=()):
        import duckdb

        with duckdb.connect(str(self.path), read_only=True) as connection:
            result = connection.execute(sql, list(params))
            names = [column[0] for column in result.description]
            frame = pd.DataFrame.from_records(result.fetchall(), columns=names)
        return _lowercase(frame)

    def table_exists(self):
        import duckdb

        if not self.path.exists():
            return False
        with duckdb.connect(str(self.path), read_only=True) as connection:
            found = connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'tester' "
                "AND table_name = 'fpr_records'"
            ).fetchone()[0]
        return found == 1


class SnowparkBackend:
    """Runs SQL through the active Snowpark session, on FPR_RECORDS in the current database and schema."""

    table = "FPR_RECORDS"
    name = "Snowflake"
    in_snowflake = True
    has_cortex = True
    dialect = SnowflakeDialect()

    def __init__(self, session):
        self.session = session

    @property
    def cache_key(self):
        return f"snowflake:{_session_token(self.session)}"

    def query(self, sql, params=()):
        return _lowercase(self.session.sql(sql, params=list(params)).to_pandas())

    def execute(self, sql, params=()):
        """Runs a statement that returns no rows (DDL, INSERT)."""
        self.session.sql(sql, params=list(params)).collect()

    def table_exists(self):
        return True


_SESSION_TOKENS = weakref.WeakKeyDictionary()


def _session_token(session):
    """A name for the session that no later session can reuse (an id() can be, once the object is gone)."""
    try:
        return _SESSION_TOKENS.setdefault(session, uuid.uuid4().hex)
    except TypeError:  # not weakly referenceable
        return str(id(session))


def _lowercase(frame):
    frame.columns = [str(column).lower() for column in frame.columns]
    return frame


def open_backend():
    """The Snowpark session when running in Snowflake, otherwise the local warehouse.

    Raises:
        WarehouseMissing: locally, when `make sync` has not produced the table yet.
    """
    session = _active_snowpark_session()
    if session is not None:
        return SnowparkBackend(session)
    backend = DuckDBBackend(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)
    if not backend.table_exists():
        raise WarehouseMissing(
            f"No fpr_records table in {backend.path}. Run `make sync` first: it loads the local FPR API "
            "into that warehouse."
        )
    return backend


def _active_snowpark_session():
    try:
        from snowflake.snowpark.context import get_active_session
    except ImportError:
        return None
    try:
        return get_active_session()
    except Exception:  # the package is installed but there is no session: a local run
        return None


# Which columns the table has, per backend version: read once, with a statement that returns no rows.
_TABLE_COLUMNS = {}


def table_columns(backend):
    key = backend.cache_key
    if key not in _TABLE_COLUMNS:
        frame = backend.query(f"SELECT * FROM {backend.table} LIMIT 0")  # noqa: S608
        _TABLE_COLUMNS[key] = frozenset(frame.columns)
    return _TABLE_COLUMNS[key]


def forget_table_columns():
    _TABLE_COLUMNS.clear()


def live_condition(columns):
    """Rows that count: not soft-deleted, and in history mode only each record's active version.

    With Fivetran's history mode the table keeps every version of a record; counting them all would
    count a record once per change. Without either column every row counts.
    """
    clauses = []
    if "_fivetran_deleted" in columns:
        clauses.append("COALESCE(_fivetran_deleted, FALSE) = FALSE")
    if "_fivetran_active" in columns:
        clauses.append("_fivetran_active = TRUE")
    return " AND ".join(clauses) or "TRUE"


FILTER_COLUMNS = (
    ("segments", "customer_segment", "Segment"),
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

    def where(self, live, dialect):
        """The WHERE clause (live rows only) and its parameters; dates go in as 'YYYY-MM-DD' with that format."""
        clauses, params = [live], []
        for field, column, _ in FILTER_COLUMNS:
            values = getattr(self, field)
            if values:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if self.date_from:
            clauses.append(f"product_recommendation_date >= {dialect.date()}")
            params.append(self.date_from.isoformat())
        if self.date_to:
            clauses.append(f"product_recommendation_date <= {dialect.date()}")
            params.append(self.date_to.isoformat())
        return " AND ".join(clauses), params

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


# Counts, sums and sums of squares, so that a change between two periods can be tested against its noise.
KPI_SQL = f"""
SELECT count(*) AS records,
       sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided,
       sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted,
       sum(CASE WHEN {IS_OPEN} THEN 1 ELSE 0 END) AS still_open,
       avg(recommendation_score) AS avg_recommendation_score,
       stddev_samp(recommendation_score) AS sd_recommendation_score,
       count(recommendation_score) AS n_recommendation_score,
       avg(customer_satisfaction_score) AS avg_satisfaction,
       stddev_samp(customer_satisfaction_score) AS sd_satisfaction,
       count(customer_satisfaction_score) AS n_satisfaction,
       avg(customer_churn_probability) AS avg_churn_probability,
       stddev_samp(customer_churn_probability) AS sd_churn_probability,
       count(customer_churn_probability) AS n_churn_probability,
       sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END) AS sales_after_acceptance,
       sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount * product_sales_amount END)
         AS sales_after_acceptance_squares,
       sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN 1 ELSE 0 END) AS sales_after_acceptance_count,
       avg(customer_transaction_value) AS avg_transaction_value,
       stddev_samp(customer_transaction_value) AS sd_transaction_value,
       count(customer_transaction_value) AS n_transaction_value,
       avg(account_balance) AS avg_balance,
       stddev_samp(account_balance) AS sd_balance,
       count(account_balance) AS n_balance
FROM {{table}} WHERE {{where}}
"""
KPI_NUMBERS = (
    "avg_recommendation_score",
    "sd_recommendation_score",
    "avg_satisfaction",
    "sd_satisfaction",
    "avg_churn_probability",
    "sd_churn_probability",
    "sales_after_acceptance",
    "sales_after_acceptance_squares",
    "avg_transaction_value",
    "sd_transaction_value",
    "avg_balance",
    "sd_balance",
)
KPI_COUNTS = (
    "records",
    "decided",
    "accepted",
    "still_open",
    "sales_after_acceptance_count",
    "n_recommendation_score",
    "n_satisfaction",
    "n_churn_probability",
    "n_transaction_value",
    "n_balance",
)


class FprData:
    """The questions FinMatch asks of fpr_records, each answered by one SQL statement."""

    def __init__(self, backend):
        self.backend = backend

    @property
    def live(self):
        return live_condition(table_columns(self.backend))

    @property
    def dialect(self):
        return self.backend.dialect

    def _run(self, sql, filters=None, extra_params=(), leading_params=()):
        """Runs `sql` with the filters' WHERE clause; parameters bind in the order their ? appear:
        `leading_params` before the WHERE clause, `extra_params` after it."""
        where, params = (filters or Filters()).where(self.live, self.dialect)
        return self.backend.query(
            sql.format(table=self.backend.table, where=where, live=self.live),
            [*leading_params, *params, *extra_params],
        )

    def kpis(self, filters, period=None):
        """The KPIs; `period` (after, up_to) limits recommendation dates to after < date <= up_to.

        Acceptance rate is accepted / decided (accepted + declined); the open share is the part of
        all records still Pending or In Progress.
        """
        sql, extra = KPI_SQL, []
        if period:
            sql += (
                f" AND product_recommendation_date > {self.dialect.date()}"
                f" AND product_recommendation_date <= {self.dialect.date()}"
            )
            extra = [period[0].isoformat(), period[1].isoformat()]
        row = self._run(sql, filters, extra).iloc[0]
        figures = {name: _number(row[name]) for name in KPI_NUMBERS}
        figures.update({name: _integer(row[name]) or 0 for name in KPI_COUNTS})
        figures["acceptance_rate"] = _ratio(figures["accepted"], figures["decided"])
        figures["open_share"] = _ratio(figures["still_open"], figures["records"])
        return figures

    def freshness(self):
        """The latest change and the last sync, the latter formatted in UTC by the database."""
        synced = self.dialect.utc_minute("max(_fivetran_synced)")
        row = self._run(
            f"SELECT max(last_updated_epoch) AS latest_epoch, {synced} AS last_synced FROM {{table}} WHERE {{where}}"
        ).iloc[0]
        return {"latest_epoch": _integer(row["latest_epoch"]), "last_synced": row["last_synced"]}

    def filter_options(self):
        """Every value of each filter column and the recommendation date range, in one statement."""
        selects = [
            f"SELECT '{field}' AS field, {column} AS value FROM {{table}} WHERE {{where}} AND {column} IS NOT NULL"
            for field, column, _ in FILTER_COLUMNS
        ]
        values = self._run(" UNION ".join(selects) + " ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST")
        options = {field: list(values.loc[values["field"] == field, "value"]) for field, _, _ in FILTER_COLUMNS}
        dates = self._run(
            "SELECT min(product_recommendation_date) AS first_date, max(product_recommendation_date) AS last_date "
            "FROM {table} WHERE {where}"
        ).iloc[0]
        options["dates"] = (_as_date(dates["first_date"]), _as_date(dates["last_date"]))
        return options

    def recommended_products(self):
        """Every product that has been recommended, alphabetically."""
        frame = self._run(
            "SELECT DISTINCT product_recommendation AS product FROM {table} WHERE {where} "
            "AND product_recommendation IS NOT NULL ORDER BY 1 ASC NULLS LAST"
        )
        return list(frame["product"])

    def last_recommendation_date(self, filters):
        row = self._run("SELECT max(product_recommendation_date) AS last_date FROM {table} WHERE {where}", filters)
        return _as_date(row["last_date"][0])

    def monthly(self, filters):
        """Recommendations, decided and accepted per month of recommendation date."""
        frame = self._run(
            f"""
            SELECT CAST(DATE_TRUNC('MONTH', product_recommendation_date) AS DATE) AS month,
                   count(*) AS records,
                   sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided,
                   sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted
            FROM {{table}} WHERE {{where}} AND product_recommendation_date IS NOT NULL
            GROUP BY 1 ORDER BY 1 ASC NULLS LAST
            """,
            filters,
        )
        return _with_acceptance(frame)

    def counts_by(self, column, filters, limit=None):
        """Records per value of `column`, most first."""
        sql = (
            f"SELECT {column} AS value, count(*) AS records FROM {{table}} WHERE {{where}} "
            f"GROUP BY {column} ORDER BY records DESC NULLS LAST, value ASC NULLS LAST"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._run(sql, filters)

    def affinity_bands(self, filters):
        """Records in four bands of customer_product_affinity, in band order (empty bands included)."""
        frame = self._run(
            f"""
            SELECT {affinity_band_sql("customer_product_affinity")} AS band, count(*) AS records
            FROM {{table}} WHERE {{where}} AND customer_product_affinity IS NOT NULL
            GROUP BY 1
            """,
            filters,
        )
        counts = dict(zip(frame["band"], frame["records"], strict=True))
        return pd.DataFrame({"band": AFFINITY_BANDS, "records": [int(counts.get(band, 0)) for band in AFFINITY_BANDS]})

    def acceptance_by_score(self, filters):
        """Acceptance (accepted / decided) per tenth of recommendation_score."""
        frame = self._run(
            f"""
            SELECT {ratio_sql("LEAST(FLOOR(recommendation_score * 10), 9)", "10")} AS score_from,
                   count(*) AS records,
                   sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided,
                   sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted
            FROM {{table}} WHERE {{where}} AND recommendation_score IS NOT NULL
            GROUP BY 1 ORDER BY 1 ASC NULLS LAST
            """,
            filters,
        )
        return _with_acceptance(frame)

    def acceptance_by(self, column, filters):
        """Per value of `column`: records, decided, accepted, acceptance (accepted / decided), average churn."""
        frame = self._run(
            f"""
            SELECT {column} AS value, count(*) AS records,
                   sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided,
                   sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted,
                   avg(customer_churn_probability) AS avg_churn_probability
            FROM {{table}} WHERE {{where}} AND {column} IS NOT NULL GROUP BY {column} ORDER BY value ASC NULLS LAST
            """,
            filters,
        )
        return _with_acceptance(frame)

    def action_list(self, filters, today, limit=50):
        """Customers with an open recommendation, each once, ranked by their best action score (see ACTION_WEIGHTS).

        Each row is the customer's most urgent open recommendation, with its age in days on `today`
        and how many open recommendations the customer has in the selection.
        """
        score = " + ".join(f"{weight} * {column}" for column, weight in ACTION_WEIGHTS.items())
        return self._run(
            f"""
            WITH open_recommendations AS (
              SELECT record_id, customer_id, customer_name, customer_email, customer_segment, product_type,
                     product_recommendation, product_recommendation_status, product_recommendation_date,
                     customer_churn_probability, customer_product_affinity, recommendation_score,
                     ROUND(100 * ({score}), 1) AS action_score,
                     DATEDIFF('day', product_recommendation_date, {self.dialect.date()}) AS age_days
              FROM {{table}}
              WHERE {{where}} AND {IS_OPEN}
                AND customer_churn_probability IS NOT NULL AND customer_product_affinity IS NOT NULL
                AND recommendation_score IS NOT NULL
            ),
            ranked AS (
              SELECT *,
                     ROW_NUMBER() OVER (PARTITION BY customer_id
                                        ORDER BY action_score DESC NULLS LAST, record_id ASC NULLS LAST) AS nth,
                     COUNT(*) OVER (PARTITION BY customer_id) AS open_for_customer
              FROM open_recommendations
            )
            SELECT * FROM ranked WHERE nth = 1
            ORDER BY action_score DESC NULLS LAST, record_id ASC NULLS LAST
            LIMIT {int(limit)}
            """,
            filters,
            leading_params=[today.isoformat()],
        ).drop(columns=["nth"])

    def open_ages(self, filters, today):
        """Open recommendations per age bucket on `today`, in bucket order (empty buckets included)."""
        age = f"DATEDIFF('day', product_recommendation_date, {self.dialect.date()})"
        frame = self._run(
            f"SELECT {age_bucket_sql('age_days')} AS bucket, count(*) AS records "
            f"FROM (SELECT {age} AS age_days FROM {{table}} WHERE {{where}} AND {IS_OPEN}) AS open_recommendations "
            "GROUP BY 1",
            filters,
            leading_params=[today.isoformat()],
        )
        counts = dict(zip(frame["bucket"], frame["records"], strict=True))
        labels = [label for label, _ in AGE_BUCKETS] + [NO_DATE]
        return pd.DataFrame({"bucket": labels, "records": [int(counts.get(label, 0)) for label in labels]})

    def opportunity_figures(self, filters):
        """Figures the insights need beyond the KPIs."""
        row = self._run(
            f"""
            SELECT
              sum(CASE WHEN {IS_OPEN} AND customer_product_affinity >= {HIGH_AFFINITY} THEN 1 ELSE 0 END)
                AS open_high_affinity,
              count(DISTINCT CASE WHEN customer_churn_probability >= 0.7 AND customer_satisfaction_score < 0.3
                                  THEN customer_id END) AS at_risk,
              avg(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END) AS avg_sale_after_acceptance,
              sum(CASE WHEN product_recommendation_status = 'Declined' THEN 1 ELSE 0 END) AS declined
            FROM {{table}} WHERE {{where}}
            """,
            filters,
        ).iloc[0]
        return {
            "open_high_affinity": _integer(row["open_high_affinity"]) or 0,
            "at_risk": _integer(row["at_risk"]) or 0,
            "avg_sale_after_acceptance": _number(row["avg_sale_after_acceptance"]),
            "declined": _integer(row["declined"]) or 0,
        }

    @staticmethod
    def _search(search, personal):
        if not search.strip():
            return "", []
        columns = (*OPEN_SEARCH_COLUMNS, *PERSONAL_SEARCH_COLUMNS) if personal else OPEN_SEARCH_COLUMNS
        condition = " AND (" + " OR ".join(f"{column} ILIKE ?" for column in columns) + ")"
        return condition, [f"%{search.strip()}%"] * len(columns)

    def match_count(self, filters, search="", personal=False):
        """How many records match the filters and the search.

        The search looks in record and product ids and product names; in customer ids, names and
        emails only when `personal` (the viewer may see customer data).
        """
        condition, params = self._search(search, personal)
        counted = self._run(f"SELECT count(*) AS n FROM {{table}} WHERE {{where}}{condition}", filters, params)
        return int(counted["n"][0])

    def explore(self, filters, search="", page=1, page_size=25, personal=False):
        """One page of the matching records, most recently changed first (records without a change time last)."""
        condition, params = self._search(search, personal)
        offset = (max(int(page), 1) - 1) * int(page_size)
        return self._run(
            f"SELECT {', '.join(EXPLORER_COLUMNS)} FROM {{table}} WHERE {{where}}{condition} "
            "ORDER BY last_updated_epoch DESC NULLS LAST, record_id ASC NULLS LAST "
            f"LIMIT {int(page_size)} OFFSET {offset}",
            filters,
            params,
        )

    def complete(self, model, prompt):
        """Snowflake Cortex text completion through AI_COMPLETE (Snowflake only)."""
        frame = self.backend.query("SELECT AI_COMPLETE(?, ?) AS answer", [model, prompt])
        return str(frame["answer"][0])

    def viewer(self):
        """The Snowflake user viewing the app (Snowflake only).

        Under owner's rights CURRENT_USER reports the viewer once the owner role holds READ SESSION;
        CURRENT_ROLE and IS_ROLE_IN_SESSION would report the owner's role instead.
        """
        frame = self.backend.query("SELECT CURRENT_USER() AS viewer")
        value = frame["viewer"][0]
        return None if value is None or pd.isna(value) else str(value)


def _with_acceptance(frame):
    frame["acceptance_rate"] = [_ratio(a, d) for a, d in zip(frame["accepted"], frame["decided"], strict=True)]
    return frame


def _ratio(part, whole):
    return None if not whole else float(part) / float(whole)


def _number(value):
    return None if value is None or pd.isna(value) else float(value)


def _integer(value):
    return None if value is None or pd.isna(value) else int(value)


def _as_date(value):
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()

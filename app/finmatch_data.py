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
import threading
import uuid
import weakref
from collections import OrderedDict
from contextlib import contextmanager, nullcontext
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

    def bit_or(self, value):
        """The bitwise OR of a column's integers, as an aggregate."""
        return f"bit_or({value})"

    def has_bit(self, mask, bit):
        return f"({mask} & {int(bit)}) <> 0"

    def md5_first_digit_below(self, column, limit):
        """Whether the first hex digit of MD5(column) is below `limit`: the digest's first byte is the lowest byte of
        md5_number, so its first digit is bits 4-7; as SUBSTR(MD5(column), 1, 1) says, without writing out the hex."""
        return f"((md5_number({column}) >> 4) & 15) < {int(limit)}"

    # Customer profiles pack their product masks into one integer (finmatch_match.profiles_sql).
    packs_masks = True
    # A value's position among a list's is one list_position (a parameter may be a list).
    has_lists = True


class SnowflakeDialect:
    """SQL that differs in Snowflake: formats are written out, never taken from the account's parameters."""

    def date(self):
        return "TO_DATE(?, 'YYYY-MM-DD')"

    def utc_minute(self, timestamp):
        return f"TO_VARCHAR(CONVERT_TIMEZONE('UTC', {timestamp}), 'YYYY-MM-DD HH24:MI')"

    def bit_or(self, value):
        return f"BITOR_AGG({value})"

    def has_bit(self, mask, bit):
        return f"BITAND({mask}, {int(bit)}) <> 0"

    def md5_first_digit_below(self, column, limit):
        digits = ", ".join(f"'{digit:x}'" for digit in range(int(limit)))
        return f"SUBSTR(MD5({column}), 1, 1) IN ({digits})"

    packs_masks = False
    has_lists = False


# Versions of local warehouses (DuckDBBackend.cache_key) known to hold the table.
_TABLES_FOUND = set()


class DuckDBBackend:
    """Runs SQL on a local DuckDB warehouse, attached read-only only while a page is being computed.

    Queries run in an in-memory DuckDB database of this version of the warehouse, which attaches the
    warehouse file read-only for one query, or for a whole page run inside `reading()`, and detaches it
    after, so that a sync is never locked out for longer than a page takes. The same in-memory database
    keeps the derived tables the app materialises (see `relation`), until the warehouse changes.
    """

    table = "warehouse.tester.fpr_records"
    name = "local DuckDB"
    in_snowflake = False
    materialises = True  # relations are tables built once per warehouse version
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

    def _store(self):
        return LocalStore.for_version(self.path, self.cache_key)

    def reading(self):
        """Keeps the warehouse attached for the queries inside the block (one page run)."""
        return self._store().attached()

    def query(self, sql, params=()):
        with self._store().attached() as connection:
            result = connection.execute(sql, list(params))
            names = [column[0] for column in result.description]
            frame = pd.DataFrame.from_records(result.fetchall(), columns=names)
        return _lowercase(frame)

    def relation(self, name, sql, params):
        """(SQL, parameters) to read the result of `sql` from: here a table materialised once per warehouse version."""
        return self._store().materialised(name, sql, params), []

    def prefetch(self, builds):
        """Starts materialising relations, (name, SQL, parameters) each, in the background."""
        self._store().prefetch(builds)

    def remembered(self, key, compute):
        """compute(), kept with this version of the warehouse under `key` (a few dozen answers at most)."""
        return self._store().remembered(key, compute)

    def table_exists(self):
        """Whether the warehouse has the table; once found, not asked again of that version (every page run asks)."""
        import duckdb

        if not self.path.exists():
            return False
        key = self.cache_key
        if key in _TABLES_FOUND:
            return True
        with duckdb.connect(str(self.path), read_only=True) as connection:
            found = connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'tester' "
                "AND table_name = 'fpr_records'"
            ).fetchone()[0]
        if found == 1:
            _TABLES_FOUND.add(key)
        return found == 1


# Answers a local store keeps per warehouse version (each is small: sums per day of one choice of filters).
KEPT_ANSWERS = 64


class LocalStore:
    """The in-memory DuckDB database of one version of a local warehouse, and the tables derived from it.

    Each query runs on a cursor of its own, so that a derived table can be built in the background
    while the page's other queries run. The warehouse is attached while any query or build runs.
    """

    _stores = {}  # warehouse path -> its store; a new version replaces the old one
    _guard = threading.Lock()

    def __init__(self, path, version):
        import duckdb

        self.path, self.version = path, version
        # Row order is never relied on (every ordered answer says ORDER BY), so DuckDB need not keep it.
        self.connection = duckdb.connect(config={"preserve_insertion_order": False})
        self.lock = threading.Lock()  # guards the attachment count and the table book-keeping
        self.users = 0
        self.tables = {}  # name -> threading.Event, set once the table exists
        self.failures = {}  # name -> the error that stopped its build
        self.answers = OrderedDict()  # key -> an answer kept for this version (remembered), least recent first

    @classmethod
    def for_version(cls, path, version):
        with cls._guard:
            store = cls._stores.get(str(path))
            if store is None or store.version != version:
                if store is not None:
                    store.close()
                store = cls._stores[str(path)] = cls(path, version)
            return store

    @classmethod
    def forget_all(cls):
        """Drops every derived table (Reload data; a benchmark's first load)."""
        with cls._guard:
            for store in cls._stores.values():
                store.close()
            cls._stores.clear()

    @contextmanager
    def attached(self):
        """A cursor with the warehouse attached as `warehouse`; detached when the last user leaves."""
        with self.lock:
            if self.users == 0:
                quoted = str(self.path).replace("'", "''")
                self.connection.execute(f"ATTACH '{quoted}' AS warehouse (READ_ONLY)")
            self.users += 1
        cursor = self.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    self.connection.execute("DETACH warehouse")

    def materialised(self, name, sql, params):
        """The table `name` holding the result of `sql`, built now unless built or being built already."""
        with self.lock:
            done = self.tables.get(name)
            building = done is None
            if building:
                done = self.tables[name] = threading.Event()
        if building:
            self._build(name, sql, params, done)
        done.wait()
        if name in self.failures:
            raise self.failures[name]
        return name

    def remembered(self, key, compute):
        """The answer kept under `key`, computed now if there is none (at most KEPT_ANSWERS, the least recent go)."""
        with self.lock:
            if key in self.answers:
                self.answers.move_to_end(key)
                return self.answers[key]
        answer = compute()
        with self.lock:
            self.answers[key] = answer
            while len(self.answers) > KEPT_ANSWERS:
                self.answers.popitem(last=False)
        return answer

    def prefetch(self, builds):
        """Starts building tables in the background, one after the other, so that the page's other queries run
        meanwhile. `builds` are (name, SQL, parameters), each reading only the warehouse or tables before it."""
        pending = []
        with self.lock:
            for name, sql, params in builds:
                if name not in self.tables:
                    pending.append((name, sql, params, self.tables.setdefault(name, threading.Event())))
        if pending:
            threading.Thread(target=self._build_all, args=(pending,), daemon=True).start()

    def _build_all(self, pending):
        for build in pending:
            self._build(*build)

    def _build(self, name, sql, params, done):
        try:
            with self.attached() as cursor:
                cursor.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}", list(params))
        except Exception as error:  # the page that reads it says so
            self.failures[name] = error
        finally:
            done.set()

    def close(self):
        self.connection.close()


class SnowparkBackend:
    """Runs SQL through the active Snowpark session, on FPR_RECORDS in the current database and schema."""

    table = "FPR_RECORDS"
    name = "Snowflake"
    in_snowflake = True
    materialises = False  # each statement computes the relations it reads
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

    def reading(self):
        return nullcontext()

    def relation(self, name, sql, params):
        """(SQL, parameters) to read the result of `sql` from: in Snowflake, the query itself."""
        return f"({sql})", list(params)

    def prefetch(self, builds):
        """Nothing to do: Snowflake computes each relation inside the statement that reads it."""

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


def forget_derived_data():
    """Forgets what was read about the table and every table derived from it (Reload data)."""
    _TABLE_COLUMNS.clear()
    _TABLES_FOUND.clear()
    LocalStore.forget_all()


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


# Averages shown on the cards, by the column they average.
AVERAGED = {
    "recommendation_score": "recommendation_score",
    "satisfaction": "customer_satisfaction_score",
    "churn_probability": "customer_churn_probability",
    "transaction_value": "customer_transaction_value",
    "balance": "account_balance",
}
# Counts, sums and sums of squares only: they add up across groups, so one GROUP BY serves the selection and
# both compared periods, and a change can be tested against its noise (averages and spreads follow from them).
# The sums beyond the counts by status (which a GROUP BY of the status gives as well).
KPI_MEASURES = [
    f"sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END) AS sales_after_acceptance",
    f"sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount * product_sales_amount END)"
    " AS sales_after_acceptance_squares",
    f"sum(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN 1 ELSE 0 END) AS sales_after_acceptance_count",
    *(
        f"sum({column}) AS sum_{name}, sum({column} * {column}) AS squares_{name}, count({column}) AS n_{name}"
        for name, column in AVERAGED.items()
    ),
]
KPI_AGGREGATES = ",\n".join(
    [
        "count(*) AS records",
        f"sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided",
        f"sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted",
        f"sum(CASE WHEN {IS_OPEN} THEN 1 ELSE 0 END) AS still_open",
        *KPI_MEASURES,
    ]
)
KPI_SQL = f"SELECT {KPI_AGGREGATES} FROM {{table}} WHERE {{where}}"  # noqa: S608
KPI_SUMS = (
    "records",
    "decided",
    "accepted",
    "still_open",
    "sales_after_acceptance",
    "sales_after_acceptance_squares",
    "sales_after_acceptance_count",
    *(f"{kind}_{name}" for name in AVERAGED for kind in ("sum", "squares", "n")),
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

    def builds(self):
        """(name, SQL, parameters) of relations FprData's answers read, to build ahead (locally: Who to act on's)."""
        return _local().action_relations(self) if self.backend.materialises else []

    def kpis(self, filters):
        """The KPIs of the selection.

        Acceptance rate is accepted / decided (accepted + declined); the open share is the part of
        all records still Pending or In Progress.
        """
        if self.backend.materialises:
            return _local().kpis(self, filters)
        return _kpi_figures(self._run(KPI_SQL, filters).iloc[0])  # noqa: S608

    def kpis_with_periods(self, filters, recent=None, before=None):
        """(selection, recent, before) KPIs in one statement; a period is (after, up_to], None for no comparison.

        The periods ignore the filters' dates (they compare recommendation dates themselves); the
        selection keeps them. The rows are grouped by both, and each set of KPIs adds up its groups.
        """
        if self.backend.materialises:
            return _local().kpis_with_periods(self, filters, recent, before)
        undated = filters.without_dates()
        date = self.dialect.date()
        selected, selected_params = ["TRUE"], []
        if filters.date_from:
            selected.append(f"product_recommendation_date >= {date}")
            selected_params.append(filters.date_from.isoformat())
        if filters.date_to:
            selected.append(f"product_recommendation_date <= {date}")
            selected_params.append(filters.date_to.isoformat())
        periods, period_params = "NULL", []
        if recent and before:
            within = f"product_recommendation_date > {date} AND product_recommendation_date <= {date}"
            periods = f"CASE WHEN {within} THEN 'recent' WHEN {within} THEN 'before' END"
            period_params = [day.isoformat() for day in (*recent, *before)]
        frame = self._run(
            f"""
            SELECT in_selection, period, {KPI_AGGREGATES}
            FROM (SELECT *, CASE WHEN {" AND ".join(selected)} THEN 1 ELSE 0 END AS in_selection,
                         {periods} AS period
                  FROM {{table}} WHERE {{where}}) AS dated
            GROUP BY in_selection, period
            """,
            undated,
            leading_params=[*selected_params, *period_params],
        )
        selection = _kpi_figures(_added(frame[frame["in_selection"] == 1]))
        if not (recent and before):
            return selection, None, None
        compared = [_kpi_figures(_added(frame[frame["period"] == name])) for name in ("recent", "before")]
        return (selection, *compared)

    def freshness(self):
        """The latest change and the last sync, the latter formatted in UTC by the database."""
        synced = self.dialect.utc_minute("max(_fivetran_synced)")
        row = self._run(
            f"SELECT max(last_updated_epoch) AS latest_epoch, {synced} AS last_synced FROM {{table}} WHERE {{where}}"
        ).iloc[0]
        return {"latest_epoch": _integer(row["latest_epoch"]), "last_synced": row["last_synced"]}

    def recommended_products(self):
        """Every product that has been recommended, alphabetically."""
        return self.vocabulary()["products"]

    def vocabulary(self):
        """Every value of each filter column and of the products recommended, and the recommendation date
        range, in one statement: what the sidebar offers and what Match and the campaigns are coded with."""
        # Grouped by the column alone: a DISTINCT over the pair (field name, value) reads the column value by value,
        # where a GROUP BY of the column can use its dictionary (five times faster in DuckDB).
        selects = [
            f"SELECT '{field}' AS field, {column} AS value FROM {{table}} WHERE {{where}} "
            f"AND {column} IS NOT NULL GROUP BY {column}"
            for field, column in VOCABULARY_COLUMNS
        ]
        values = self._run(" UNION ALL ".join(selects) + " ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST")
        vocabulary = {field: list(values.loc[values["field"] == field, "value"]) for field, _ in VOCABULARY_COLUMNS}
        dates = self._run(
            "SELECT min(product_recommendation_date) AS first_date, max(product_recommendation_date) AS last_date "
            "FROM {table} WHERE {where}"
        ).iloc[0]
        vocabulary["dates"] = (_as_date(dates["first_date"]), _as_date(dates["last_date"]))
        return vocabulary

    def breakdowns(self, filters, today):
        """Every chart's counts in one statement (see Breakdowns).

        The record-level keys are grouped together (a few thousand groups at most, summed per key
        afterwards); months and ages have grouping sets of their own. Locally the months and ages come
        from the sums per day instead (finmatch_local.py).
        """
        if self.backend.materialises:
            return _local().breakdowns(self, filters, today)
        age = f"DATEDIFF('day', product_recommendation_date, {self.dialect.date()})"
        fine = ", ".join(FINE_KEYS)
        frame = self._run(
            f"""
            SELECT {fine}, month, age_bucket, GROUPING(month) AS by_month, GROUPING(age_bucket) AS by_age,
                   count(*) AS records, sum(decided) AS decided, sum(accepted) AS accepted,
                   min(recommended_on) AS first_date, max(recommended_on) AS last_date
            FROM (
              SELECT {fine}, month, recommended_on, decided, accepted,
                     CASE WHEN is_open = 1 THEN {age_bucket_sql("age_days")} END AS age_bucket
              FROM (
                SELECT product_recommendation_status AS status, customer_lifecycle_stage AS stage, product_type,
                       customer_segment AS segment, {affinity_band_sql("customer_product_affinity")} AS band,
                       {ratio_sql("LEAST(FLOOR(recommendation_score * 10), 9)", "10")} AS score_from,
                       CAST(DATE_TRUNC('MONTH', product_recommendation_date) AS DATE) AS month,
                       product_recommendation_date AS recommended_on, {age} AS age_days,
                       CASE WHEN {IS_OPEN} THEN 1 ELSE 0 END AS is_open,
                       CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END AS decided,
                       CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END AS accepted
                FROM {{table}} WHERE {{where}}
              ) AS selected
            ) AS described
            GROUP BY GROUPING SETS (({fine}), (month), (age_bucket))
            """,
            filters,
            leading_params=[today.isoformat()],
        )
        return Breakdowns.from_frame(frame)

    def action_list(self, filters, today, limit=50):
        """Customers with an open recommendation, each once, ranked by their best action score (see ACTION_WEIGHTS).

        Each row is the customer's most urgent open recommendation, with its age in days on `today`
        and how many open recommendations the customer has in the selection. The most urgent rows
        come first, so the first row of each customer in them is that customer's best: read enough
        rows to find `limit` customers, more only when customers repeat.
        """
        rows = 3 * int(limit)
        while True:
            frame = self._open_recommendations(filters, today, rows)
            best = frame.drop_duplicates("customer_id", keep="first").head(int(limit))
            if len(best) == int(limit) or len(frame) < rows:
                return best.reset_index(drop=True)
            rows *= 2

    def _open_recommendations(self, filters, today, rows):
        """The `rows` most urgent open recommendations, with how many each customer has in the selection.

        The table is read twice rather than through a shared subquery, which an engine may materialise
        whole (every open recommendation) before taking the top rows. Locally the most urgent few thousand
        are kept instead (finmatch_local.py), and the table is read only for a selection they do not cover.
        """
        if self.backend.materialises:
            kept = _local().open_recommendations(self, filters, today, rows)
            if kept is not None:
                return kept
        where, params = filters.where(self.live, self.dialect)
        rankable = f"{where} AND {RANKABLE}"
        table = self.backend.table
        sql = open_recommendations_sql(table, rankable, table, rankable, rows, self.dialect)
        return self.backend.query(sql, [*params, *params, today.isoformat()])

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
        # The text as typed, case ignored: CONTAINS takes no wildcards (ILIKE would read _ and % as
        # wildcards) and is about twice as fast on a column of unique ids.
        condition = " AND (" + " OR ".join(f"CONTAINS(LOWER({column}), ?)" for column in columns) + ")"
        return condition, [search.strip().lower()] * len(columns)

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


# An open recommendation a banker can act on, its action score (see ACTION_WEIGHTS) and the list's order.
RANKABLE = (
    f"{IS_OPEN} AND customer_churn_probability IS NOT NULL "
    "AND customer_product_affinity IS NOT NULL AND recommendation_score IS NOT NULL"
)
ACTION_SCORE = f"ROUND(100 * ({' + '.join(f'{weight} * {column}' for column, weight in ACTION_WEIGHTS.items())}), 1)"
ACTION_ORDER = "action_score DESC NULLS LAST, record_id ASC NULLS LAST"


def open_recommendations_sql(source, where, counted_source, counted_where, rows, dialect):
    """The `rows` most urgent rows of `source` that satisfy `where`, each with its age and the number of rows of its
    customer in `counted_source` that satisfy `counted_where` (parameters: where's, counted_where's, today)."""
    return f"""
            WITH urgent AS (
              SELECT record_id, customer_id, customer_name, customer_email, customer_segment, product_type,
                     product_recommendation, product_recommendation_status, product_recommendation_date,
                     customer_churn_probability, customer_product_affinity, recommendation_score,
                     {ACTION_SCORE} AS action_score
              FROM {source} WHERE {where}
              ORDER BY {ACTION_ORDER} LIMIT {int(rows)}
            ),
            per_customer AS (
              SELECT customer_id, count(*) AS open_for_customer FROM {counted_source}
              WHERE {counted_where} AND customer_id IN (SELECT customer_id FROM urgent) GROUP BY customer_id
            )
            SELECT urgent.*, DATEDIFF('day', urgent.product_recommendation_date, {dialect.date()}) AS age_days,
                   per_customer.open_for_customer
            FROM urgent JOIN per_customer ON per_customer.customer_id = urgent.customer_id
            ORDER BY {ACTION_ORDER}
        """  # noqa: S608


FINE_KEYS = ("status", "stage", "product_type", "segment", "band", "score_from")
VOCABULARY_COLUMNS = (
    ("segments", "customer_segment"),
    ("product_types", "product_type"),
    ("stages", "customer_lifecycle_stage"),
    ("statuses", "product_recommendation_status"),
    ("products", "product_recommendation"),
)


class Breakdowns:
    """The answer of FprData.breakdowns: each chart's rows, and the selection's size and date range.

    `fine` has records, decided and accepted per combination of FINE_KEYS; `months` per month (a date, the
    first of the month) and `ages` the open records per age_bucket. Each may hold a row without a value.
    """

    def __init__(self, fine, months, ages, first_date, last_date):
        self.fine, self.months, self.ages = fine, months, ages
        self.records = int(self.fine["records"].sum())
        self.first_date = _as_date(first_date) if self.records else None
        self.last_date = _as_date(last_date) if self.records else None

    @classmethod
    def from_frame(cls, frame):
        """From the one statement of FprData.breakdowns: its grouping sets apart."""
        fine = frame[(frame["by_month"] == 1) & (frame["by_age"] == 1)]
        return cls(
            fine,
            frame[frame["by_month"] == 0],
            frame[frame["by_age"] == 0],
            fine["first_date"].min() if len(fine) else None,
            fine["last_date"].max() if len(fine) else None,
        )

    def _rows(self, key, keep_null=True):
        """Records, decided and accepted per value of one key (NULL a value of its own unless dropped)."""
        source = self.months if key == "month" else self.ages if key == "age_bucket" else self.fine
        rows = source.groupby(key, dropna=not keep_null, sort=False)[["records", "decided", "accepted"]].sum()
        rows = rows.reset_index().rename(columns={key: "value"})
        return rows if keep_null else rows[rows["value"].notna()]

    def counts(self, key, limit=None):
        """Records per value, most first (ties alphabetically, no value last)."""
        rows = self._rows(key)[["value", "records"]]
        rows = rows.assign(_missing=rows["value"].isna())
        rows = rows.sort_values(["records", "_missing", "value"], ascending=[False, True, True], kind="stable")
        rows = rows.drop(columns="_missing").reset_index(drop=True)
        return rows.head(limit) if limit else rows

    def values(self, key):
        """Every value present, alphabetically."""
        return sorted(self._rows(key, keep_null=False)["value"])

    def _counted(self, key, labels):
        rows = self._rows(key, keep_null=False)
        counts = dict(zip(rows["value"], rows["records"], strict=True))
        return [int(counts.get(label, 0)) for label in labels]

    def affinity_bands(self):
        return pd.DataFrame({"band": AFFINITY_BANDS, "records": self._counted("band", AFFINITY_BANDS)})

    def _by(self, key):
        rows = self._rows(key, keep_null=False).sort_values("value").rename(columns={"value": key})
        rows = rows.astype({"records": int, "decided": int, "accepted": int})
        return _with_acceptance(rows[[key, "records", "decided", "accepted"]].reset_index(drop=True))

    def acceptance_by_score(self):
        return self._by("score_from")

    def monthly(self):
        return self._by("month")

    def open_ages(self):
        labels = [label for label, _ in AGE_BUCKETS] + [NO_DATE]
        return pd.DataFrame({"bucket": labels, "records": self._counted("age_bucket", labels)})


def _local():
    """The figures answered locally from per-day sums (imported when first needed: that module builds on this one)."""
    import finmatch_local

    return finmatch_local


def _added(groups):
    """The sums of several groups of KPI_SQL's figures (None where every group has none)."""
    return {name: groups[name].sum(min_count=1) for name in KPI_SUMS}


def _kpi_figures(row):
    """The cards' figures from KPI_SQL's sums: rates, averages and the spreads the noise test needs."""
    figures = {name: _integer(row[name]) or 0 for name in ("records", "decided", "accepted", "still_open")}
    figures["sales_after_acceptance_count"] = _integer(row["sales_after_acceptance_count"]) or 0
    figures["sales_after_acceptance"] = _number(row["sales_after_acceptance"])
    figures["sales_after_acceptance_squares"] = _number(row["sales_after_acceptance_squares"])
    for name in AVERAGED:
        total, squares, count = _number(row[f"sum_{name}"]), _number(row[f"squares_{name}"]), _integer(row[f"n_{name}"])
        mean = total / count if count else None
        spread = None
        if count and count > 1:  # the sample standard deviation, as stddev_samp
            spread = (max(squares - count * mean * mean, 0.0) / (count - 1)) ** 0.5
        figures[f"avg_{name}"], figures[f"sd_{name}"], figures[f"n_{name}"] = mean, spread, count or 0
    figures["acceptance_rate"] = _ratio(figures["accepted"], figures["decided"])
    figures["open_share"] = _ratio(figures["still_open"], figures["records"])
    return figures


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

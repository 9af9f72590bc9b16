"""FinMatch's data access: every figure is SQL over the whole fpr_records table.

Two backends run the same SQL: DuckDB on the warehouse `fivetran debug` writes
(files/warehouse.db, schema `tester`, opened read-only per query so a running sync is
never blocked), and the active Snowpark session inside Streamlit in Snowflake
(FPR_RECORDS in the current database and schema). Soft-deleted rows are excluded.
"""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

DEFAULT_WAREHOUSE = Path(__file__).resolve().parent.parent / "files" / "warehouse.db"
WAREHOUSE_ENV = "FINMATCH_WAREHOUSE"
NOT_DELETED = "COALESCE(_fivetran_deleted, FALSE) = FALSE"
NOT_YET_ACCEPTED = ("Pending", "In Progress")
AFFINITY_BANDS = ("Low", "Medium-Low", "Medium-High", "High")

# The action score: churn risk weighs most (a customer about to leave), then how much the
# customer likes the product, then how strongly it was recommended. Only recommendations
# not yet accepted (Pending, In Progress) are ranked: those are the ones a banker can act on.
ACTION_WEIGHTS = {"customer_churn_probability": 0.5, "customer_product_affinity": 0.3, "recommendation_score": 0.2}


class WarehouseMissing(RuntimeError):
    """There is no table to read yet; the message says what to run."""


class DuckDBBackend:
    """Runs SQL on a local DuckDB warehouse, one short read-only connection per query."""

    table = "tester.fpr_records"
    name = "local DuckDB"
    has_cortex = False

    def __init__(self, path):
        self.path = Path(path)

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
    has_cortex = True

    def __init__(self, session):
        self.session = session

    def query(self, sql, params=()):
        return _lowercase(self.session.sql(sql, params=list(params)).to_pandas())

    def table_exists(self):
        return True


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


@dataclass(frozen=True)
class Filters:
    """The sidebar's filters; an empty choice means no filter on that column."""

    segments: tuple = ()
    product_types: tuple = ()
    stages: tuple = ()
    statuses: tuple = ()
    date_from: date = None
    date_to: date = None

    def where(self):
        """The WHERE clause (always excluding soft-deleted rows) and its parameters."""
        clauses, params = [NOT_DELETED], []
        for column, values in (
            ("customer_segment", self.segments),
            ("product_type", self.product_types),
            ("customer_lifecycle_stage", self.stages),
            ("product_recommendation_status", self.statuses),
        ):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if self.date_from:
            clauses.append("product_recommendation_date >= CAST(? AS DATE)")
            params.append(self.date_from.isoformat())
        if self.date_to:
            clauses.append("product_recommendation_date <= CAST(? AS DATE)")
            params.append(self.date_to.isoformat())
        return " AND ".join(clauses), params


KPI_SQL = """
SELECT count(*) AS records,
       avg(recommendation_score) AS avg_recommendation_score,
       avg(customer_satisfaction_score) AS avg_satisfaction,
       avg(customer_churn_probability) AS avg_churn_probability,
       sum(product_sales_amount) AS total_sales,
       avg(CASE WHEN product_recommendation_status = 'Accepted' THEN 1.0 ELSE 0.0 END) AS acceptance_rate,
       avg(customer_transaction_value) AS avg_transaction_value,
       avg(account_balance) AS avg_balance,
       avg(customer_transaction_count) AS avg_transaction_count
FROM {table} WHERE {where}
"""
KPI_NAMES = (
    "avg_recommendation_score",
    "avg_satisfaction",
    "avg_churn_probability",
    "total_sales",
    "acceptance_rate",
    "avg_transaction_value",
    "avg_balance",
    "avg_transaction_count",
)


class FprData:
    """The questions FinMatch asks of fpr_records, each answered by one SQL statement."""

    def __init__(self, backend):
        self.backend = backend

    def _run(self, sql, filters=None, extra_params=()):
        where, params = (filters or Filters()).where()
        return self.backend.query(sql.format(table=self.backend.table, where=where), [*params, *extra_params])

    def kpis(self, filters, period=None):
        """The eight KPIs and the record count; `period` (after, up_to) limits recommendation dates."""
        sql, extra = KPI_SQL, []
        if period:
            sql += (
                " AND product_recommendation_date > CAST(? AS DATE) AND product_recommendation_date <= CAST(? AS DATE)"
            )
            extra = [period[0].isoformat(), period[1].isoformat()]
        row = self._run(sql, filters, extra).iloc[0]
        figures = {name: _number(row[name]) for name in KPI_NAMES}
        figures["records"] = int(row["records"])
        return figures

    def freshness(self):
        row = self._run(
            "SELECT max(last_updated_epoch) AS latest_epoch, CAST(max(_fivetran_synced) AS VARCHAR) AS last_synced "
            "FROM {table} WHERE {where}"
        ).iloc[0]
        return {"latest_epoch": _integer(row["latest_epoch"]), "last_synced": row["last_synced"]}

    def filter_options(self):
        options = {}
        for key, column in (
            ("segments", "customer_segment"),
            ("product_types", "product_type"),
            ("stages", "customer_lifecycle_stage"),
            ("statuses", "product_recommendation_status"),
        ):
            frame = self._run(
                f"SELECT DISTINCT {column} AS value FROM {{table}} WHERE {{where}} AND {column} IS NOT NULL ORDER BY 1"
            )
            options[key] = list(frame["value"])
        dates = self._run(
            "SELECT min(product_recommendation_date) AS first_date, max(product_recommendation_date) AS last_date "
            "FROM {table} WHERE {where}"
        ).iloc[0]
        options["dates"] = (_as_date(dates["first_date"]), _as_date(dates["last_date"]))
        return options

    def counts_by(self, column, filters, limit=None):
        """Records per value of `column`, most first."""
        sql = (
            f"SELECT {column} AS value, count(*) AS records FROM {{table}} WHERE {{where}} "
            f"GROUP BY {column} ORDER BY records DESC, value"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._run(sql, filters)

    def affinity_bands(self, filters):
        """Records in four bands of customer_product_affinity, in band order (empty bands included)."""
        frame = self._run(
            """
            SELECT CASE WHEN customer_product_affinity < 0.25 THEN 'Low'
                        WHEN customer_product_affinity < 0.5 THEN 'Medium-Low'
                        WHEN customer_product_affinity < 0.75 THEN 'Medium-High'
                        ELSE 'High' END AS band,
                   count(*) AS records
            FROM {table} WHERE {where} AND customer_product_affinity IS NOT NULL
            GROUP BY 1
            """,
            filters,
        )
        counts = dict(zip(frame["band"], frame["records"], strict=True))
        return pd.DataFrame({"band": AFFINITY_BANDS, "records": [int(counts.get(band, 0)) for band in AFFINITY_BANDS]})

    def acceptance_by_score(self, filters):
        """Acceptance rate per tenth of recommendation_score."""
        return self._run(
            """
            SELECT LEAST(FLOOR(recommendation_score * 10), 9) / 10.0 AS score_from,
                   count(*) AS records,
                   avg(CASE WHEN product_recommendation_status = 'Accepted' THEN 1.0 ELSE 0.0 END) AS acceptance_rate
            FROM {table} WHERE {where} AND recommendation_score IS NOT NULL
            GROUP BY 1 ORDER BY 1
            """,
            filters,
        )

    def acceptance_by(self, column, filters):
        return self._run(
            f"""
            SELECT {column} AS value, count(*) AS records,
                   avg(CASE WHEN product_recommendation_status = 'Accepted' THEN 1.0 ELSE 0.0 END) AS acceptance_rate,
                   avg(customer_churn_probability) AS avg_churn_probability
            FROM {{table}} WHERE {{where}} GROUP BY {column} ORDER BY acceptance_rate DESC, value
            """,
            filters,
        )

    def action_list(self, filters, limit=50):
        """Recommendations not yet accepted, ranked by the action score (see ACTION_WEIGHTS)."""
        score = " + ".join(f"{weight} * {column}" for column, weight in ACTION_WEIGHTS.items())
        statuses = ", ".join("?" for _ in NOT_YET_ACCEPTED)
        return self._run(
            f"""
            SELECT record_id, customer_id, customer_name, customer_email, customer_segment, product_type,
                   product_recommendation, product_recommendation_status, product_recommendation_date,
                   customer_churn_probability, customer_product_affinity, recommendation_score,
                   ROUND(100 * ({score}), 1) AS action_score
            FROM {{table}}
            WHERE {{where}} AND product_recommendation_status IN ({statuses})
              AND customer_churn_probability IS NOT NULL AND customer_product_affinity IS NOT NULL
              AND recommendation_score IS NOT NULL
            ORDER BY action_score DESC, record_id
            LIMIT {int(limit)}
            """,
            filters,
            NOT_YET_ACCEPTED,
        )

    def opportunity_figures(self, filters):
        """Figures the insights need beyond the KPIs."""
        row = self._run(
            """
            SELECT
              sum(CASE WHEN product_recommendation_status IN ('Pending', 'In Progress')
                        AND customer_product_affinity >= 0.75 THEN 1 ELSE 0 END) AS open_high_affinity,
              sum(CASE WHEN customer_churn_probability >= 0.7 AND customer_satisfaction_score < 0.3
                       THEN 1 ELSE 0 END) AS at_risk,
              avg(CASE WHEN product_recommendation_status = 'Accepted' THEN product_sales_amount END)
                AS avg_sale_accepted,
              sum(CASE WHEN product_recommendation_status = 'Declined' THEN 1 ELSE 0 END) AS declined
            FROM {table} WHERE {where}
            """,
            filters,
        ).iloc[0]
        return {
            "open_high_affinity": _integer(row["open_high_affinity"]) or 0,
            "at_risk": _integer(row["at_risk"]) or 0,
            "avg_sale_accepted": _number(row["avg_sale_accepted"]),
            "declined": _integer(row["declined"]) or 0,
        }

    @staticmethod
    def _search(search):
        if not search.strip():
            return "", []
        condition = (
            " AND (customer_id ILIKE ? OR customer_name ILIKE ? OR customer_email ILIKE ? "
            "OR product_id ILIKE ? OR product_name ILIKE ?)"
        )
        return condition, [f"%{search.strip()}%"] * 5

    def match_count(self, filters, search=""):
        """How many records match the filters and the search (customer or product id, name or email)."""
        condition, params = self._search(search)
        counted = self._run(f"SELECT count(*) AS n FROM {{table}} WHERE {{where}}{condition}", filters, params)
        return int(counted["n"][0])

    def explore(self, filters, search="", page=1, page_size=25):
        """One page of the matching records, most recently changed first."""
        condition, params = self._search(search)
        offset = (max(int(page), 1) - 1) * int(page_size)
        return self._run(
            f"SELECT * EXCLUDE (_fivetran_synced, _fivetran_deleted) FROM {{table}} WHERE {{where}}{condition} "
            f"ORDER BY last_updated_epoch DESC, record_id LIMIT {int(page_size)} OFFSET {offset}",
            filters,
            params,
        )

    def complete(self, model, prompt):
        """Snowflake Cortex text completion (Snowflake only)."""
        frame = self.backend.query("SELECT SNOWFLAKE.CORTEX.COMPLETE(?, ?) AS answer", [model, prompt])
        return str(frame["answer"][0])


def mask_personal(frame):
    """Names and emails reduced to a first letter, so a screen can be shared."""
    masked = frame.copy()
    if "customer_name" in masked:
        masked["customer_name"] = masked["customer_name"].map(_mask_name)
    if "customer_email" in masked:
        masked["customer_email"] = masked["customer_email"].map(_mask_email)
    return masked


def _mask_name(value):
    if not isinstance(value, str) or not value:
        return value
    return " ".join(part[0] + "•" * max(len(part) - 1, 1) for part in value.split())


def _mask_email(value):
    if not isinstance(value, str) or "@" not in value:
        return "•••" if value else value
    local, domain = value.split("@", 1)
    return f"{local[:1]}•••@{domain}"


def _number(value):
    return None if value is None or pd.isna(value) else float(value)


def _integer(value):
    return None if value is None or pd.isna(value) else int(value)


def _as_date(value):
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()

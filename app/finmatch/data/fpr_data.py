"""The questions FinMatch asks of fpr_records: every figure is SQL over the whole table.

Each question is one statement on either engine (backends.py). Locally, where the table may hold
millions of records, the cards, the charts and Who to act on are answered from lighter tables kept
per warehouse version instead (local.py): the same sums, added up in another order.
"""

import pandas as pd

from finmatch.data import breakdowns, kpis, local
from finmatch.data.actions import RANKABLE, open_recommendations_sql
from finmatch.data.answers import as_date, integer, number, with_acceptance
from finmatch.data.backends import table_columns
from finmatch.data.filters import HEXADECIMAL, VOCABULARY_COLUMNS, Filters, filter_values_sql, record_ids_sql
from finmatch.data.sql import IS_ACCEPTED, IS_DECIDED, IS_OPEN, IS_SALE_AFTER_ACCEPTANCE, live_condition
from finmatch.settings import HIGH_AFFINITY, STALE_OPEN_DAYS

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

    def run(self, sql, filters=None, extra_params=(), leading_params=()):
        """Runs `sql` with the filters' WHERE clause; parameters bind in the order their ? appear:
        `leading_params` before the WHERE clause, `extra_params` after it."""
        where, params = (filters or Filters()).where(self.live, self.dialect)
        return self.backend.query(
            sql.format(table=self.backend.table, where=where, live=self.live),
            [*leading_params, *params, *extra_params],
        )

    def builds(self):
        """(name, SQL, parameters) of relations FprData's answers read, to build ahead (locally: Who to act on's)."""
        return local.action_relations(self) if self.backend.materialises else []

    def kpis(self, filters):
        """The KPIs of the selection.

        Acceptance rate is accepted / decided (accepted + declined); the open share is the part of
        all records still Pending or In Progress.
        """
        if self.backend.materialises:
            return local.kpis(self, filters)
        return kpis.kpi_figures(self.run(kpis.KPI_SQL, filters).iloc[0])

    def kpis_with_periods(self, filters, recent=None, before=None):
        """(selection, recent, before) KPIs; a period is (after, up_to], None for no comparison.

        The periods ignore the filters' dates (they compare recommendation dates themselves); the
        selection keeps them.
        """
        if self.backend.materialises:
            return local.kpis_with_periods(self, filters, recent, before)
        return kpis.kpis_with_periods(self, filters, recent, before)

    def _daily(self):
        """Locally, the derived sums per day and filter values when current (local.py): what the freshness line and
        the date range read then, instead of every record."""
        return local.daily_table(self) if self.backend.materialises else None

    def freshness(self):
        """The latest change and the last sync, the latter formatted in UTC by the database."""
        daily = self._daily()
        epoch, synced = ("latest_epoch", "latest_synced") if daily else ("last_updated_epoch", "_fivetran_synced")
        row = self.run(
            f"SELECT max({epoch}) AS latest_epoch, {self.dialect.utc_minute(f'max({synced})')} AS last_synced "
            f"FROM {daily or '{table}'} WHERE {'TRUE' if daily else '{where}'}"
        ).iloc[0]
        return {"latest_epoch": integer(row["latest_epoch"]), "last_synced": row["last_synced"]}

    def vocabulary(self):
        """Every value of each filter column and of the products recommended, and the recommendation date
        range, in one statement: what the sidebar offers and what Match and the campaigns are coded with."""
        source, params = self.backend.relation("filter_values", filter_values_sql(self.backend.table, self.live), [])
        values = self.backend.query(
            f"SELECT * FROM {source} AS filter_values ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST", params
        )  # noqa: S608
        vocabulary = {field: list(values.loc[values["field"] == field, "value"]) for field, _ in VOCABULARY_COLUMNS}
        daily = self._daily()
        dates = self.run(
            "SELECT min(product_recommendation_date) AS first_date, max(product_recommendation_date) AS last_date "
            f"FROM {daily or '{table}'} WHERE {'TRUE' if daily else '{where}'}"
        ).iloc[0]
        vocabulary["dates"] = (as_date(dates["first_date"]), as_date(dates["last_date"]))
        return vocabulary

    def breakdowns(self, filters, today):
        """Every chart's counts (see Breakdowns): one statement, or locally the sums per day."""
        if self.backend.materialises:
            return local.breakdowns(self, filters, today)
        return breakdowns.breakdowns(self, filters, today)

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
        are kept instead (local.py), and the table is read only for a selection they do not cover.
        """
        if self.backend.materialises:
            kept = local.open_recommendations(self, filters, today, rows)
            if kept is not None:
                return kept
        where, params = filters.where(self.live, self.dialect)
        rankable = f"{where} AND {RANKABLE}"
        table = self.backend.table
        sql = open_recommendations_sql(table, rankable, table, rankable, rows, self.dialect)
        return self.backend.query(sql, [*params, *params, today.isoformat()])

    def acceptance_by(self, column, filters):
        """Per value of `column`: records, decided, accepted, acceptance (accepted / decided), average churn."""
        frame = self.run(
            f"""
            SELECT {column} AS value, count(*) AS records,
                   sum(CASE WHEN {IS_DECIDED} THEN 1 ELSE 0 END) AS decided,
                   sum(CASE WHEN {IS_ACCEPTED} THEN 1 ELSE 0 END) AS accepted,
                   avg(customer_churn_probability) AS avg_churn_probability,
                   count(customer_churn_probability) AS n_churn, stddev_samp(customer_churn_probability) AS sd_churn
            FROM {{table}} WHERE {{where}} AND {column} IS NOT NULL GROUP BY {column} ORDER BY value ASC NULLS LAST
            """,
            filters,
        )
        return with_acceptance(frame)

    def opportunity_figures(self, filters, today):
        """Figures the insights need beyond the KPIs; open recommendations are aged on `today`."""
        high = f"customer_product_affinity >= {HIGH_AFFINITY}"
        sale = f"CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END"
        row = self.run(
            f"""
            SELECT
              sum(CASE WHEN {IS_OPEN} AND {high} THEN 1 ELSE 0 END) AS open_high_affinity,
              sum(CASE WHEN {IS_OPEN} AND {high} AND DATEDIFF('day', product_recommendation_date, {self.dialect.date()})
                       <= {STALE_OPEN_DAYS} THEN 1 ELSE 0 END) AS open_high_affinity_recent,
              sum(CASE WHEN {IS_DECIDED} AND {high} THEN 1 ELSE 0 END) AS decided_high_affinity,
              sum(CASE WHEN {IS_ACCEPTED} AND {high} THEN 1 ELSE 0 END) AS accepted_high_affinity,
              count({sale}) AS sales_after_acceptance, stddev_samp({sale}) AS sd_sale_after_acceptance,
              count(DISTINCT CASE WHEN customer_churn_probability >= 0.7 AND customer_satisfaction_score < 0.3
                                  THEN customer_id END) AS at_risk,
              avg(CASE WHEN {IS_SALE_AFTER_ACCEPTANCE} THEN product_sales_amount END) AS avg_sale_after_acceptance,
              sum(CASE WHEN product_recommendation_status = 'Declined' THEN 1 ELSE 0 END) AS declined
            FROM {{table}} WHERE {{where}}
            """,
            filters,
            leading_params=[today.isoformat()],
        ).iloc[0]
        counts = (
            "open_high_affinity_recent",
            "decided_high_affinity",
            "accepted_high_affinity",
            "sales_after_acceptance",
        )
        return {
            **{name: integer(row[name]) or 0 for name in counts},
            "sd_sale_after_acceptance": number(row["sd_sale_after_acceptance"]),
            "open_high_affinity": integer(row["open_high_affinity"]) or 0,
            "at_risk": integer(row["at_risk"]) or 0,
            "avg_sale_after_acceptance": number(row["avg_sale_after_acceptance"]),
            "declined": integer(row["declined"]) or 0,
        }

    def _search(self, search, personal):
        if not search.strip():
            return "", []
        columns = (*OPEN_SEARCH_COLUMNS, *PERSONAL_SEARCH_COLUMNS) if personal else OPEN_SEARCH_COLUMNS
        if self._no_record_id_can_hold(search.strip().lower()):
            columns = tuple(column for column in columns if column != "record_id")
        # The text as typed, case ignored: CONTAINS takes no wildcards (ILIKE would read _ and % as
        # wildcards) and is about twice as fast on a column of unique ids.
        condition = " AND (" + " OR ".join(f"CONTAINS(LOWER({column}), ?)" for column in columns) + ")"
        return condition, [search.strip().lower()] * len(columns)

    def _no_record_id_can_hold(self, text):
        """Locally, whether the text has a character no record id has, when every record id is hexadecimal (a UUID or
        a digest, as derived when the sync ended): lower-casing 100 million record ids to look for it takes seconds."""
        if set(text) <= set(HEXADECIMAL) or not self.backend.materialises:
            return False
        table = self.backend.derived("record_ids", *record_ids_sql(self.backend.table, self.live))
        if table is None:
            return False
        answer = self.backend.remembered(("record_ids",), lambda: self.backend.query(f"SELECT * FROM {table}"))  # noqa: S608
        return bool(answer["hexadecimal"][0])

    def match_count(self, filters, search="", personal=False):
        """How many records match the filters and the search.

        The search looks in record and product ids and product names; in customer ids, names and
        emails only when `personal` (the viewer may see customer data).
        """
        condition, params = self._search(search, personal)
        counted = self.run(f"SELECT count(*) AS n FROM {{table}} WHERE {{where}}{condition}", filters, params)
        return int(counted["n"][0])

    def explore(self, filters, search="", page=1, page_size=25, personal=False):
        """One page of the matching records, most recently changed first (records without a change time last)."""
        condition, params = self._search(search, personal)
        offset = (max(int(page), 1) - 1) * int(page_size)
        return self.run(
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

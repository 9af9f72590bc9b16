"""Campaign members kept for reverse ETL, and the key that makes masked customer ids stable pseudonyms.

In Snowflake both are tables beside FPR_RECORDS, created on first use: FINMATCH_CAMPAIGN_MEMBERS and
FINMATCH_PSEUDONYM_KEY. Locally they are the same tables in the app's own DuckDB file (files/finmatch_app.db),
beside the insights history: the warehouse the connector writes is never written to.

The key is drawn once at random and kept in its table, readable by the app's owner role only (viewers open the
app with its owner's rights and never query the table themselves). A plain hash of a customer id would not do:
ids such as CUST_000123 are guessable, so anyone could hash every candidate and read the list back.
"""

import secrets

import pandas as pd

from finmatch.settings import MEMBERS_TABLE, PSEUDONYM_KEY_TABLE, app_database

# Every column of a members row, in order, with its type here and in Snowflake.
MEMBER_COLUMNS = (
    ("campaign_id", "VARCHAR", "VARCHAR"),
    ("kind", "VARCHAR", "VARCHAR"),
    ("product", "VARCHAR", "VARCHAR"),
    ("created_at", "TIMESTAMP", "TIMESTAMP_NTZ"),
    ("model_version", "VARCHAR", "VARCHAR"),
    ("customer_id", "VARCHAR", "VARCHAR"),
    ("pseudonymous", "BOOLEAN", "BOOLEAN"),
    ("rank", "INTEGER", "INTEGER"),
    ("score", "DOUBLE", "DOUBLE"),
    ("score_low", "DOUBLE", "DOUBLE"),
    ("score_high", "DOUBLE", "DOUBLE"),
    ("expected_value", "DOUBLE", "DOUBLE"),
    ("expected_value_low", "DOUBLE", "DOUBLE"),
    ("expected_value_high", "DOUBLE", "DOUBLE"),
    ("reason", "VARCHAR", "VARCHAR"),
    ("control_group", "BOOLEAN", "BOOLEAN"),
)
NAMES = tuple(name for name, _, _ in MEMBER_COLUMNS)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
SNOWFLAKE_TIME_FORMAT = "YYYY-MM-DD HH24:MI:SS.FF6"
# Rows per INSERT in Snowflake: a list of up to 5,000 customers goes in a few statements.
ROWS_PER_INSERT = 250
KEY_SELECT = f"SELECT pseudonym_key FROM {PSEUDONYM_KEY_TABLE} ORDER BY pseudonym_key ASC NULLS LAST LIMIT 1"


class LocalMembers:
    """The members table and the key in the app's own DuckDB file."""

    where = "this machine's files/finmatch_app.db"

    def __init__(self, path=None):
        self.path = path or app_database()

    def _connect(self):
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(self.path))

    def key(self):
        with self._connect() as connection:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {PSEUDONYM_KEY_TABLE} (pseudonym_key VARCHAR)")
            found = connection.execute(KEY_SELECT).fetchall()
            if not found:
                connection.execute(f"INSERT INTO {PSEUDONYM_KEY_TABLE} VALUES (?)", [secrets.token_hex(32)])
                found = connection.execute(KEY_SELECT).fetchall()
        return found[0][0]

    def save(self, members):
        """Replaces the campaign's rows (one campaign id: saving it twice keeps one copy)."""
        columns = ", ".join(f"{name} {kind}" for name, kind, _ in MEMBER_COLUMNS)
        rows = members[list(NAMES)]
        with self._connect() as connection:
            connection.execute(f"CREATE TABLE IF NOT EXISTS {MEMBERS_TABLE} ({columns})")
            for campaign in rows["campaign_id"].unique():
                connection.execute(f"DELETE FROM {MEMBERS_TABLE} WHERE campaign_id = ?", [campaign])
            connection.register("new_members", rows)
            connection.execute(f"INSERT INTO {MEMBERS_TABLE} SELECT {', '.join(NAMES)} FROM new_members")
            connection.unregister("new_members")

    def read(self, campaign_id):
        with self._connect() as connection:
            return connection.execute(_select(), [campaign_id]).df()


class SnowflakeMembers:
    """The members table and the key beside FPR_RECORDS, through the app's Snowpark session."""

    where = f"the {MEMBERS_TABLE} table beside FPR_RECORDS"

    def __init__(self, backend):
        self.backend = backend

    def key(self):
        self.backend.execute(f"CREATE TABLE IF NOT EXISTS {PSEUDONYM_KEY_TABLE} (pseudonym_key VARCHAR)")
        found = self.backend.query(KEY_SELECT)
        if found.empty:
            # Two first viewers at once may each insert a key: both then read the same one, the first in order.
            self.backend.execute(f"INSERT INTO {PSEUDONYM_KEY_TABLE} SELECT ?", [secrets.token_hex(32)])
            found = self.backend.query(KEY_SELECT)
        return str(found.iloc[0, 0])

    def save(self, members):
        columns = ", ".join(f"{name} {kind}" for name, _, kind in MEMBER_COLUMNS)
        self.backend.execute(f"CREATE TABLE IF NOT EXISTS {MEMBERS_TABLE} ({columns})")
        for campaign in members["campaign_id"].unique():
            self.backend.execute(f"DELETE FROM {MEMBERS_TABLE} WHERE campaign_id = ?", [campaign])
        one = "(" + ", ".join(_placeholder(kind) for _, _, kind in MEMBER_COLUMNS) + ")"
        rows = [_row(row) for row in members[list(NAMES)].itertuples(index=False)]
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            self.backend.execute(
                f"INSERT INTO {MEMBERS_TABLE} ({', '.join(NAMES)}) VALUES {', '.join(one for _ in chunk)}",
                [value for row in chunk for value in row],
            )

    def read(self, campaign_id):
        return self.backend.query(_select(), [campaign_id])


def members_for(backend):
    return SnowflakeMembers(backend) if backend.in_snowflake else LocalMembers()


def _select():
    return f"SELECT {', '.join(NAMES)} FROM {MEMBERS_TABLE} WHERE campaign_id = ? ORDER BY rank ASC NULLS LAST"


def _placeholder(kind):
    return f"TO_TIMESTAMP_NTZ(?, '{SNOWFLAKE_TIME_FORMAT}')" if kind == "TIMESTAMP_NTZ" else "?"


def _row(row):
    """A row's values as parameters: the time as text in TIME_FORMAT, missing numbers as NULL."""
    values = []
    for name, value in zip(NAMES, row, strict=True):
        if name == "created_at":
            value = pd.Timestamp(value).strftime(TIME_FORMAT)
        elif value is not None and pd.isna(value):
            value = None
        elif hasattr(value, "item"):  # numpy scalars as Python numbers
            value = value.item()
        values.append(value)
    return values

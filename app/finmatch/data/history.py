"""The insights history: every generated set of insights, kept with its time, filters and model.

In Snowflake it is a table beside FPR_RECORDS (FINMATCH_INSIGHTS_HISTORY, created on first use);
locally it is a table in a small DuckDB file of the app's own (files/finmatch_app.db), never in
the warehouse the connector writes.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from finmatch.settings import HISTORY_TABLE, app_database

COLUMNS = "generated_at TIMESTAMP, source VARCHAR, model VARCHAR, filters VARCHAR, sections VARCHAR"
# In Snowflake, TIMESTAMP means whatever TIMESTAMP_TYPE_MAPPING says: the time is UTC without a zone, so say so.
SNOWFLAKE_COLUMNS = "generated_at TIMESTAMP_NTZ, source VARCHAR, model VARCHAR, filters VARCHAR, sections VARCHAR"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
SNOWFLAKE_TIME_FORMAT = "YYYY-MM-DD HH24:MI:SS.FF6"


@dataclass(frozen=True)
class Entry:
    generated_at: datetime
    source: str
    model: str
    filters: str
    sections: dict

    def title(self):
        model = f" ({self.model})" if self.model else ""
        return f"{self.generated_at:%Y-%m-%d %H:%M:%S} UTC · {self.source}{model} · {self.filters}"


class LocalHistory:
    """History in the app's own DuckDB file."""

    where = "this machine's files/finmatch_app.db"

    def __init__(self, path=None):
        self.path = path or app_database()

    def _connect(self):
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(self.path))
        connection.execute(f"CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} ({COLUMNS})")
        return connection

    def save(self, entry):
        with self._connect() as connection:
            connection.execute(f"INSERT INTO {HISTORY_TABLE} VALUES (?, ?, ?, ?, ?)", _row(entry))

    def entries(self, limit=50):
        with self._connect() as connection:
            rows = connection.execute(_select(limit)).fetchall()
        return [_entry(row) for row in rows]


class SnowflakeHistory:
    """History in a table beside FPR_RECORDS, through the app's Snowpark session."""

    where = f"the {HISTORY_TABLE} table beside FPR_RECORDS"

    def __init__(self, backend):
        self.backend = backend

    def save(self, entry):
        self.backend.execute(f"CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} ({SNOWFLAKE_COLUMNS})")
        self.backend.execute(
            f"INSERT INTO {HISTORY_TABLE} SELECT TO_TIMESTAMP_NTZ(?, '{SNOWFLAKE_TIME_FORMAT}'), ?, ?, ?, ?",
            _row(entry, as_text=True),
        )

    def entries(self, limit=50):
        """The latest entries; none before the first insights are saved (the table is created then)."""
        try:
            frame = self.backend.query(_select(limit))
        except Exception as error:
            if "does not exist" in str(error).lower():
                return []
            raise
        return [_entry(row) for row in frame.itertuples(index=False, name=None)]


def history_for(backend):
    return SnowflakeHistory(backend) if backend.in_snowflake else LocalHistory()


def _row(entry, as_text=False):
    generated = entry.generated_at.strftime(TIME_FORMAT) if as_text else entry.generated_at
    return [generated, entry.source, entry.model, entry.filters, json.dumps(entry.sections)]


def _select(limit):
    columns = "generated_at, source, model, filters, sections"
    return f"SELECT {columns} FROM {HISTORY_TABLE} ORDER BY generated_at DESC NULLS LAST LIMIT {int(limit)}"


def _entry(row):
    generated_at, source, model, filters, sections = row
    if isinstance(generated_at, str):
        generated_at = datetime.fromisoformat(generated_at)
    if hasattr(generated_at, "to_pydatetime"):
        generated_at = generated_at.to_pydatetime()
    return Entry(generated_at, source, model, filters, json.loads(sections))


def history_markdown(entries):
    """Every entry, oldest first, as one Markdown document."""
    parts = []
    for entry in reversed(entries):
        parts.append(f"# Insights, {entry.title()}\n")
        parts += [f"## {focus}\n\n{text}\n" for focus, text in entry.sections.items()]
    return "\n".join(parts)

"""The two engines FinMatch runs the same SQL on, and how the app finds the one it runs in.

Locally, DuckDB on the warehouse `make sync` writes (build/connector/files/warehouse.db, schema `tester`,
opened read-only so a running sync is never blocked for long); inside Streamlit in Snowflake, the active
Snowpark session on FPR_RECORDS in the current database and schema. Both answer `query`, and both say
where a derived relation is read from (`relation`): the derived table built for it (derived.py) when it is current,
otherwise locally a table built in memory once per warehouse version (local_store.py), in Snowflake the relation's
own query inside each statement. `derived_note` says which.
"""

import os
import uuid
import weakref
from contextlib import nullcontext
from pathlib import Path

import pandas as pd

from finmatch.data import derived_snowflake
from finmatch.data.derived_local import current_catalog
from finmatch.data.dialects import DuckDBDialect, SnowflakeDialect
from finmatch.data.local_store import LocalStore
from finmatch.settings import REPOSITORY

DEFAULT_WAREHOUSE = REPOSITORY / "build" / "connector" / "files" / "warehouse.db"
WAREHOUSE_ENV = "FINMATCH_WAREHOUSE"


class WarehouseMissing(RuntimeError):
    """There is no table to read yet; the message says what to run."""


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
        """(SQL, parameters) to read the result of `sql` from: the derived table built after the sync when it is
        current, otherwise a table materialised in memory once per warehouse version."""
        return self.derived(name, sql, params) or self._store().materialised(name, sql, params), []

    def derived(self, name, sql, params):
        """The derived table holding the result of `sql` when it was built from this very warehouse, else None."""
        return self._catalog().table_for(name, sql, params)

    def derived_note(self):
        return self._catalog().says()

    def _catalog(self):
        def read():
            with self._store().attached() as cursor:
                return current_catalog(cursor)

        return self._store().remembered(("derived tables",), read)

    def prefetch(self, builds):
        """Starts materialising relations, (name, SQL, parameters) each, in the background (those not derived)."""
        self._store().prefetch([build for build in builds if self.derived(*build) is None])

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
        """(SQL, parameters) to read the result of `sql` from: its dynamic table when it is deployed and fresh,
        otherwise the query itself."""
        table = self.derived(name, sql, params)
        return (table, []) if table else (f"({sql})", list(params))

    def derived(self, name, sql, params):
        """The dynamic table holding the result of `sql` when it is deployed with that definition and fresh."""
        return self._dynamic_tables().table_for(name, sql, params)

    def derived_note(self):
        return self._dynamic_tables().says()

    def _dynamic_tables(self):
        """Asked once per session (Reload data asks again): each rerun builds a new backend on the same session."""
        key = self.cache_key
        if key not in _DYNAMIC_TABLES:
            _DYNAMIC_TABLES[key] = derived_snowflake.deployed_tables(self)
        return _DYNAMIC_TABLES[key]

    def prefetch(self, builds):
        """Nothing to do: Snowflake computes each relation inside the statement that reads it."""

    def table_exists(self):
        return True


_SESSION_TOKENS = weakref.WeakKeyDictionary()
# The dynamic tables a session may read (derived_snowflake.deployed_tables), per session.
_DYNAMIC_TABLES = {}


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
        frame = backend.query(f"SELECT * FROM {backend.table} LIMIT 0")
        _TABLE_COLUMNS[key] = frozenset(frame.columns)
    return _TABLE_COLUMNS[key]


def forget_derived_data():
    """Forgets what was read about the table and every table derived from it (Reload data)."""
    _TABLE_COLUMNS.clear()
    _TABLES_FOUND.clear()
    _DYNAMIC_TABLES.clear()
    LocalStore.forget_all()

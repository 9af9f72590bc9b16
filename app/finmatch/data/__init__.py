"""FinMatch's data layer: every figure is SQL over the whole fpr_records table; nothing here draws a page.

Two engines run the same SQL (backends.py): DuckDB on the warehouse `make sync` writes, and the
active Snowpark session inside Streamlit in Snowflake. Where the engines differ the SQL says so
explicitly (dialects.py), never by default:

- every ORDER BY key names its NULL placement (Snowflake sorts NULLs first in a descending order,
  DuckDB last);
- dates are passed as 'YYYY-MM-DD' text with an explicit format, never through the account's input
  format, and timestamps are shown in UTC by a formatted conversion;
- every ratio divides a DOUBLE, so that Snowflake never rounds it to a fixed-point scale;
- only live rows count: not soft-deleted (`_fivetran_deleted`) and, when the table is kept in
  Fivetran's history mode, only the active version of each record (`_fivetran_active`).

fpr_data.FprData asks the questions, one statement each (kpis.py, breakdowns.py, actions.py), or
locally from lighter tables kept per warehouse version (local.py, local_store.py). profiles.py and
cells.py define the per-customer and per-cell relations Match and the campaigns read; history.py
keeps the insights; cache.py reuses answers across reruns.
"""

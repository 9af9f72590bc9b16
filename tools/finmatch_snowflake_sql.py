"""The SQL `make deploy-app` runs in Snowflake before uploading FinMatch: its dynamic tables and the masking policy.

    .venv-snow/bin/python tools/finmatch_snowflake_sql.py VOCABULARY.json COLUMNS.json > deploy.sql

Both are generated here from what FPR_RECORDS holds when it runs (its columns and filter values, which
tools/deploy_app.py reads first) and from FinMatch's own definitions (app/finmatch/data/derived.py), so that the app
recognises each dynamic table as the relation it would compute.

Dynamic tables: one per derived table built for Snowflake (FINMATCH_<NAME>), with the target lag of
FINMATCH_TARGET_LAG (settings.TARGET_LAG by default), refreshed on FINMATCH_DERIVED_WAREHOUSE (by default the app's
query warehouse), and their fingerprints in FINMATCH_DERIVED. The refresh mode is chosen, never left to AUTO:
INCREMENTAL for the per-cell and per-product tables (GROUP BY with COUNT, SUM, AVG, CASE and MD5, all deterministic),
FULL for the per-customer profiles (BITOR_AGG is not among the aggregates documented for incremental refresh, and an
INCREMENTAL definition Snowflake cannot refresh incrementally fails to be created). None reads a customer's name or
email.

Customer data: CUSTOMER_NAME and CUSTOMER_EMAIL get a masking policy that shows them only to the users listed in
FINMATCH_CUSTOMER_DATA_USERS, decided on CURRENT_USER(): inside Streamlit in Snowflake that names the viewer once the
owner role holds READ SESSION, where CURRENT_ROLE() would name the owner for every viewer. With
FINMATCH_PSEUDONYMISE_IDS=1, CUSTOMER_ID gets a policy too: a stable pseudonym ('ANON_' and its SHA-256) for everyone
else. A dynamic table's refresh runs as Snowflake's SYSTEM user, not on the list, so a per-customer dynamic table
would then hold pseudonyms that an allowed viewer's ids never match: with the ids pseudonymised, the per-customer
tables are not deployed, and FinMatch computes them in each statement under the viewer's own policy.
"""

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))

from finmatch.data.derived import Source, fingerprint, for_engine, inlined, vocabulary_from  # noqa: E402, F401
from finmatch.data.derived_snowflake import CATALOG, LAG, dynamic_table_name  # noqa: E402
from finmatch.data.dialects import SnowflakeDialect  # noqa: E402
from finmatch.data.filters import filter_values_sql  # noqa: E402
from finmatch.data.sql import live_condition  # noqa: E402
from finmatch.settings import TARGET_LAG, TARGET_LAG_ENV  # noqa: E402

TABLE = "FPR_RECORDS"
USERS_TABLE = "FINMATCH_CUSTOMER_DATA_USERS"
TEXT_POLICY = "FINMATCH_CUSTOMER_TEXT"
ID_POLICY = "FINMATCH_CUSTOMER_ID"
PSEUDONYMISE_VARIABLE = "FINMATCH_PSEUDONYMISE_IDS"
INCREMENTAL = {"filter_values", "outcome_cells"}


def policy_body(masked):
    """A masking policy's body: the value for the users on the list, `masked` (SQL) for everyone else. The user is
    the one who runs the query (the viewer, in FinMatch), never a role: a role function answers for the app's owner."""
    allowed = f"EXISTS (SELECT 1 FROM {USERS_TABLE} WHERE user_name = CURRENT_USER())"  # noqa: S608
    return f"CASE WHEN value IS NULL THEN NULL WHEN {allowed} THEN value ELSE {masked} END"


def columns_sql():
    where = f"table_schema = CURRENT_SCHEMA() AND table_name = '{TABLE}'"
    return f"SELECT column_name FROM information_schema.columns WHERE {where}"  # noqa: S608 - constants only


def vocabulary_sql(columns):
    return filter_values_sql(TABLE, live_condition(columns))


def derived_statements(vocabulary, columns, warehouse, lag, pseudonymised_ids):
    """The dynamic tables and their catalog, for FPR_RECORDS with these columns and filter values."""
    source = Source(TABLE, live_condition(columns), SnowflakeDialect(), vocabulary)
    statements = [
        f"CREATE TABLE IF NOT EXISTS {CATALOG} (name VARCHAR, fingerprint VARCHAR, target_lag VARCHAR, "
        "refresh_mode VARCHAR, deployed_at TIMESTAMP_NTZ)",
        f"DELETE FROM {CATALOG}",  # noqa: S608 - until each table is recreated below, the app reads none of them
    ]
    for derived in for_engine("snowflake"):
        name = dynamic_table_name(derived.name)
        if derived.per_customer and pseudonymised_ids:
            statements.append(f"DROP DYNAMIC TABLE IF EXISTS {name}")
            continue
        sql, params = derived.sql(source)
        mode = "INCREMENTAL" if derived.name in INCREMENTAL else "FULL"
        statements.append(
            f"CREATE OR REPLACE DYNAMIC TABLE {name} TARGET_LAG = '{lag}' WAREHOUSE = {warehouse} "
            f"REFRESH_MODE = {mode} INITIALIZE = ON_CREATE AS {' '.join(inlined(sql, params).split())}"
        )
        statements.append(
            f"INSERT INTO {CATALOG} SELECT '{derived.name}', '{fingerprint(sql, params)}', '{lag}', '{mode}', "
            "CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP())::TIMESTAMP_NTZ"
        )
    return statements


def masking_statements(pseudonymised_ids):
    """The list of users who may see customer data, the policies, and the columns they protect. Rerunnable: the list
    is kept, each policy's body is set again, FORCE replaces a column's previous policy."""
    statements = [f"CREATE TABLE IF NOT EXISTS {USERS_TABLE} (user_name VARCHAR NOT NULL)"]
    protected = [(TEXT_POLICY, policy_body("'••••••'"), ("CUSTOMER_NAME", "CUSTOMER_EMAIL"))]
    if pseudonymised_ids:  # a stable pseudonym: the same customer, the same id, in every list
        protected.append((ID_POLICY, policy_body("'ANON_' || SHA2(value, 256)"), ("CUSTOMER_ID",)))
    for policy, body, columns in protected:
        statements += [
            f"CREATE MASKING POLICY IF NOT EXISTS {policy} AS (value VARCHAR) RETURNS VARCHAR -> {body}",
            f"ALTER MASKING POLICY {policy} SET BODY -> {body}",
        ]
        statements += [
            f"ALTER TABLE {TABLE} MODIFY COLUMN {column} SET MASKING POLICY {policy} FORCE" for column in columns
        ]
    return statements


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class BadSetting(ValueError):
    """A setting that cannot be written into the SQL as it is; the message names the variable."""


def deploy_statements(vocabulary, columns, warehouse, environ):
    """Everything `make deploy-app` runs before the upload, in order: the policies, then the dynamic tables."""
    pseudonymised = environ.get(PSEUDONYMISE_VARIABLE) == "1"
    lag = environ.get(TARGET_LAG_ENV) or TARGET_LAG
    if not (LAG.match(lag) or lag.strip().upper() == "DOWNSTREAM"):
        raise BadSetting(f"{TARGET_LAG_ENV} must read like '1 hour', '30 minutes' or 'DOWNSTREAM'")
    if not IDENTIFIER.match(warehouse):
        raise BadSetting("the warehouse of the dynamic tables must be a plain identifier (FINMATCH_DERIVED_WAREHOUSE)")
    return masking_statements(pseudonymised) + derived_statements(vocabulary, columns, warehouse, lag, pseudonymised)


def main(argv):
    vocabulary = json.loads(Path(argv[1]).read_text())
    columns = json.loads(Path(argv[2]).read_text())
    warehouse = os.environ.get("FINMATCH_DERIVED_WAREHOUSE") or os.environ.get(
        "FINMATCH_QUERY_WAREHOUSE", "<warehouse>"
    )
    print(";\n".join(deploy_statements(vocabulary, columns, warehouse, os.environ)) + ";")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

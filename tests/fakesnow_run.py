"""Runs `make deploy-app`'s SQL on fakesnow and prints what became of it, as JSON (tests/test_finmatch_on_fakesnow.py).

    .venv-fakesnow/bin/python tests/fakesnow_run.py WAREHOUSE

Run with .venv-fakesnow's Python, where fakesnow and its own DuckDB and sqlglot are installed: FPR_RECORDS is the
warehouse's fpr_records, copied into fakesnow's database; FPR_RECORDS' columns and filter values are read with the
statements tools/deploy_app.py sends, and every statement of the deployment is sent through fakesnow's Snowflake
connector. Prints {"failed": [[statement, error type]], "tables": {dynamic table: its rows, as text}}.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "app")]

import fakesnow  # noqa: E402
import finmatch_snowflake_sql as deploy_sql  # noqa: E402
import snowflake.connector  # noqa: E402


def as_text(value):
    """A value as both emulators can agree on it: floats to 9 significant digits, whatever order they summed in."""
    return f"{value:.9g}" if isinstance(value, float) else str(value)


def main(warehouse):
    with fakesnow.patch():
        connection = snowflake.connector.connect(database="FPR_DB", schema="FPR")
        duck = connection._duck_conn  # fakesnow's own DuckDB: the only way to give it a table of 750 rows at once
        duck.execute(f"ATTACH '{warehouse}' AS source (READ_ONLY)")
        duck.execute("CREATE TABLE FPR_DB.FPR.FPR_RECORDS AS SELECT * FROM source.tester.fpr_records")
        cursor = connection.cursor()
        cursor.execute(deploy_sql.columns_sql())
        columns = {row[0].lower() for row in cursor.fetchall()}
        cursor.execute(deploy_sql.vocabulary_sql(columns))
        vocabulary = deploy_sql.vocabulary_from(cursor.fetchall())
        failed, tables = [], {}
        for statement in deploy_sql.deploy_statements(vocabulary, columns, "BANK_WH", {}):
            try:
                cursor.execute(statement)
            except Exception as error:  # noqa: BLE001 - what it cannot run is the answer
                failed.append([statement, type(error).__name__])
                continue
            if statement.startswith("CREATE OR REPLACE DYNAMIC TABLE"):
                name = statement.split()[5]
                cursor.execute(f"SELECT * FROM {name}")
                tables[name] = sorted([as_text(value) for value in row] for row in cursor.fetchall())
    print(json.dumps({"failed": failed, "tables": tables}))


if __name__ == "__main__":
    main(sys.argv[1])

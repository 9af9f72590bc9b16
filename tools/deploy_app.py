"""Deploys FinMatch to Streamlit in Snowflake: `make deploy-app`.

    export FINMATCH_QUERY_WAREHOUSE=<warehouse>   # the warehouse the app's queries run on
    .venv-snow/bin/python tools/deploy_app.py

First the SQL FinMatch's data needs in Snowflake (tools/finmatch_snowflake_sql.py): it reads FPR_RECORDS' columns
and filter values with `snow sql`, writes build/finmatch/deploy.sql (the masking policy on the customer columns,
then the dynamic tables FinMatch reads) and runs it with `snow sql -f`. Then `snow streamlit deploy --replace` in
app/, on the project definition app/snowflake.yml, with the Snowflake CLI pinned in .venv-snow. The connection is
the CLI's own: its default connection, as the CLI reads it (config.toml or connections.toml under ~/.snowflake or
SNOWFLAKE_HOME, SNOWFLAKE_CONNECTIONS, SNOWFLAKE_DEFAULT_CONNECTION_NAME, SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>) or,
when none is configured and SNOWFLAKE_ACCOUNT is set, a temporary connection of the SNOWFLAKE_* environment
variables. Nothing here reads, passes or prints a credential: the CLI reads them itself, and no value of the
connection is shown. Without a connection or a warehouse it prints one line saying what to set and exits 2.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import finmatch_snowflake_sql as deploy_sql

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
DEFAULT_SQL_FILE = ROOT / "build" / "finmatch" / "deploy.sql"
SQL_FILE_VARIABLE = "FINMATCH_DEPLOY_SQL"  # where the SQL run before the upload is written, to read or keep
WAREHOUSE_VARIABLE = "FINMATCH_QUERY_WAREHOUSE"
NO_CONNECTION = (
    "no Snowflake connection: add one with `.venv-snow/bin/snow connection add --default` (it writes the CLI's "
    "config.toml), or export SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and how to sign in "
    "(SNOWFLAKE_AUTHENTICATOR or SNOWFLAKE_PRIVATE_KEY_FILE)"
)
NO_DEFAULT_CONNECTION = (
    "no default Snowflake connection: set SNOWFLAKE_DEFAULT_CONNECTION_NAME to one of {names} "
    "(or run `.venv-snow/bin/snow connection set-default NAME`)"
)
NO_WAREHOUSE = f"set {WAREHOUSE_VARIABLE} to the warehouse FinMatch's queries run on"
URL = re.compile(r"https?://[^\s\"'<>]+")


def snow() -> str:
    """The `snow` beside the interpreter running this file (.venv-snow/bin/snow)."""
    return str(Path(sys.executable).with_name("snow"))


def cli_environment(environ) -> dict:
    """The environment for `snow`: this one, without the CLI's upgrade banner (its version is pinned on purpose)."""
    return {**environ, "SNOWFLAKE_CLI_IGNORE_NEW_VERSION_WARNING": "true"}


def configured_connections(environ) -> tuple:
    """The names of the connections the CLI has configured, and its default connection if it is among them.

    The CLI reads them itself (`snow connection list`), so every way of configuring a connection counts
    exactly as it does for `snow streamlit deploy`. Its listing masks secrets; nothing of it is printed
    but connection names.
    """
    listed = subprocess.run(
        [snow(), "connection", "list", "--format", "json"],
        capture_output=True,
        text=True,
        # the CLI's error says what Python's warning about the same file would say again
        env={**cli_environment(environ), "PYTHONWARNINGS": "ignore"},
        cwd=APP_DIR,
        check=False,
    )
    if listed.returncode != 0:
        # An unreadable configuration (too wide permissions, not TOML): the CLI's own message says what to do.
        raise SystemExit(f"make deploy-app: the Snowflake CLI cannot read its configuration:\n{listed.stderr.strip()}")
    try:
        entries = [entry for entry in json.loads(listed.stdout or "[]") if isinstance(entry, dict)]
    except json.JSONDecodeError:
        entries = []
    names = [str(entry.get("connection_name")) for entry in entries]
    default = next((str(entry.get("connection_name")) for entry in entries if entry.get("is_default")), None)
    return names, default


def connection_options(environ) -> tuple:
    """The `snow` options that choose the connection and, when there is none, what to set instead.

    The CLI's default connection comes first (no option needed); when no connection is configured,
    SNOWFLAKE_ACCOUNT in the environment makes a temporary connection of the SNOWFLAKE_* variables.
    """
    names, default = configured_connections(environ)
    if default:
        return [], None
    if environ.get("SNOWFLAKE_ACCOUNT", "").strip():
        return ["--temporary-connection"], None
    if names:
        return None, NO_DEFAULT_CONNECTION.format(names=", ".join(names))
    return None, NO_CONNECTION


def snow_sql(arguments, options, environ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [snow(), "sql", *arguments, *options],
        capture_output=True,
        text=True,
        env=cli_environment(environ),
        cwd=APP_DIR,
        check=False,
    )


def query_rows(sql, what, options, environ) -> list:
    """The rows of one query through `snow sql`, as dicts with lower-case keys; SystemExit with the CLI's own
    message (it names no secret) when it fails."""
    print(" ".join(["snow sql --format json -q ...", *options]) + f"   (FPR_RECORDS' {what})", flush=True)
    answered = snow_sql(["--format", "json", "-q", sql], options, environ)
    if answered.returncode != 0:
        print(f"{answered.stdout.strip()}\n{answered.stderr.strip()}".strip())
        raise SystemExit(f"make deploy-app: snow sql failed (exit {answered.returncode}); its message is above")
    rows = json.loads(answered.stdout or "[]")
    if rows and isinstance(rows[0], list):  # one result set per query, when the CLI groups them
        rows = rows[0]
    return [{str(key).lower(): value for key, value in row.items()} for row in rows]


def data_sql(options, environ) -> Path:
    """Writes the statements for FPR_RECORDS as it is now, from its columns and filter values, to the file
    FINMATCH_DEPLOY_SQL names (build/finmatch/deploy.sql by default)."""
    columns = {row["column_name"].lower() for row in query_rows(deploy_sql.columns_sql(), "columns", options, environ)}
    if not columns:
        raise SystemExit("make deploy-app: no FPR_RECORDS in the connection's schema: sync it first (make deploy)")
    rows = query_rows(deploy_sql.vocabulary_sql(columns), "filter values", options, environ)
    vocabulary = deploy_sql.vocabulary_from([(row["field"], row["value"]) for row in rows])
    warehouse = environ.get("FINMATCH_DERIVED_WAREHOUSE") or environ[WAREHOUSE_VARIABLE]
    try:
        statements = deploy_sql.deploy_statements(vocabulary, columns, warehouse.strip(), environ)
    except deploy_sql.BadSetting as bad:
        raise SystemExit(f"make deploy-app: {bad}") from None
    path = Path(environ.get(SQL_FILE_VARIABLE) or DEFAULT_SQL_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(";\n".join(statements) + ";\n", encoding="utf-8")
    return path


def run_data_sql(options, environ) -> int:
    """Runs the statements of data_sql; prints what it ran, and the CLI's answer only when it fails."""
    path = data_sql(options, environ)
    print(" ".join(["snow sql -f", str(path), *options]) + "   (masking policy, dynamic tables)", flush=True)
    ran = snow_sql(["-f", str(path)], options, environ)
    if ran.returncode != 0:
        print(f"{ran.stdout.strip()}\n{ran.stderr.strip()}".strip())
        print(f"make deploy-app: snow sql failed (exit {ran.returncode}); its message is above")
    return ran.returncode


def deploy(options, environ) -> int:
    """Runs `snow streamlit deploy --replace`, showing its output as it comes, then the app's URL on its own line."""
    shown = " ".join(["snow streamlit deploy --replace", *options])
    print(f"{shown}   (in app/, app/snowflake.yml)", flush=True)
    urls = []
    with subprocess.Popen(
        [snow(), "streamlit", "deploy", "--replace", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_environment(environ),
        cwd=APP_DIR,
    ) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            urls += URL.findall(line)
    if process.returncode != 0:
        print(f"make deploy-app: snow streamlit deploy failed (exit {process.returncode}); its message is above")
        return process.returncode
    if urls:
        print(f"FinMatch is deployed: {urls[-1]}")
    return 0


def main(environ=None) -> int:
    environ = dict(os.environ if environ is None else environ)
    options, no_connection = connection_options(environ)
    missing = [no_connection] if no_connection else []
    if not environ.get(WAREHOUSE_VARIABLE, "").strip():
        missing.append(NO_WAREHOUSE)
    if missing:
        print(f"make deploy-app: {'; and '.join(missing)}", file=sys.stderr)
        return 2
    return run_data_sql(options, environ) or deploy(options, environ)


if __name__ == "__main__":
    sys.exit(main())

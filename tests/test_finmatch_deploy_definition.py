"""FinMatch's deployment: app/snowflake.yml ships every module the app imports, and `make deploy-app` speaks plainly.

The definition is loaded and bundled by the Snowflake CLI's own code (tools/finmatch_definition.py, run with
.venv-snow's Python, offline). The modules the app needs are found here by parsing the imports of app/ from
the main file on, following every local module into the finmatch package: each must be a declared artifact
and in the CLI's bundle, so a module added to the app but not to the definition fails this file before
Snowsight fails on its import. The package is declared as a whole (every .py file under app/finmatch/), so
a module added inside it is uploaded without touching the definition. `make deploy-app` is run without a
connection (one line saying what to set), against a connection to a loopback port that refuses it (a short
error, no traceback, no secret), and with a stand-in for the CLI that answers as a successful deploy does (it
ends with the app's URL).
These tests need .venv-snow (`make snow-cli`, which .ci/run makes): without it they skip, except in CI.
"""

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import APP_DIR, ROOT

from finmatch.data.derived import for_engine
from finmatch.data.derived_snowflake import dynamic_table_name

SNOW_PYTHON = ROOT / ".venv-snow" / "bin" / "python"
DEFINITION_TOOL = ROOT / "tools" / "finmatch_definition.py"
DEPLOY_TOOL = ROOT / "tools" / "deploy_app.py"
ENVIRONMENT_FILE = "environment.yml"
WAREHOUSE_VARIABLE = "FINMATCH_QUERY_WAREHOUSE"
PASSWORD = "pw-canary-9d2e41"  # recognisable: it must never be printed


@pytest.fixture(scope="module")
def snow_python():
    if not SNOW_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{SNOW_PYTHON.relative_to(ROOT)} is missing: .ci/run must run `make snow-cli` first")
        pytest.skip("no .venv-snow: run `make snow-cli`")
    return SNOW_PYTHON


def clean_environment(home: Path, **extra) -> dict:
    """This environment without any Snowflake CLI setting or make's own variables, with a private HOME."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SNOWFLAKE_", "FINMATCH_")) and name not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    return {**env, "HOME": str(home), **extra}


def load_definition(snow_python, app_dir: Path, home: Path, **extra) -> dict:
    result = subprocess.run(
        [str(snow_python), str(DEFINITION_TOOL), str(app_dir)],
        capture_output=True,
        text=True,
        env=clean_environment(home, **extra),
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def the_streamlit(definition: dict) -> tuple:
    [(entity_id, entity)] = [
        (key, value) for key, value in definition["entities"].items() if value["type"] == "streamlit"
    ]
    return entity_id, entity


def _module_files(app_dir: Path, dotted: str) -> list:
    """The files of app_dir that importing `dotted` runs: each package's __init__.py on the way, then the module."""
    files, base = [], app_dir
    for part in dotted.split("."):
        base = base / part
        if (base / "__init__.py").is_file():
            files.append((base / "__init__.py").relative_to(app_dir).as_posix())
        elif base.with_suffix(".py").is_file():
            files.append(base.with_suffix(".py").relative_to(app_dir).as_posix())
            break
        elif not base.is_dir():
            break
    return files


def _imported_names(tree: ast.AST, module_path: str) -> list:
    """Every module name an import statement anywhere in the module names, relative imports resolved."""
    names = []
    package = module_path.split("/")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module
            names += ([base] if base else []) + [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
    return names


def local_modules(app_dir: Path, main_file: str) -> set:
    """The files of app_dir the app runs: main_file and every local module it imports, directly or not."""
    reached, pending = set(), [main_file]
    while pending:
        path = pending.pop()
        if path in reached:
            continue
        reached.add(path)
        tree = ast.parse((app_dir / path).read_text(encoding="utf-8"), filename=path)
        for name in _imported_names(tree, path):
            pending += _module_files(app_dir, name)
    return reached


def declared(path: str, artifacts: list, app_dir: Path) -> bool:
    """Whether an artifact (a file, a folder or a glob, relative to app/) names the file. A glob is expanded as the
    CLI expands it, in app_dir: `**` matches any number of folders, none included."""
    return any(
        path == src.rstrip("/")
        or path.startswith(src.rstrip("/") + "/")
        or (any(sign in src for sign in "*?[") and path in globbed(app_dir, src))
        for src in artifacts
    )


def globbed(app_dir: Path, pattern: str) -> set:
    return {found.relative_to(app_dir).as_posix() for found in app_dir.glob(pattern) if found.is_file()}


def undeployed(app_dir: Path, entity: dict) -> dict:
    """The files the app needs that the definition leaves out: not declared, and not in the CLI's bundle."""
    needed = local_modules(app_dir, entity["main_file"]) | {ENVIRONMENT_FILE}
    return {
        "not declared": sorted(path for path in needed if not declared(path, entity["artifacts"], app_dir)),
        "not bundled": sorted(needed - set(entity["bundled"])),
    }


def package_files(app_dir: Path) -> set:
    """Every Python file of the finmatch package, in its folders."""
    return {path.relative_to(app_dir).as_posix() for path in (app_dir / "finmatch").rglob("*.py")}


@pytest.fixture(scope="module")
def definition(snow_python, tmp_path_factory):
    return load_definition(snow_python, APP_DIR, tmp_path_factory.mktemp("home"))


def test_the_definition_is_version_2_with_one_streamlit_whose_main_file_exists(definition):
    entity_id, entity = the_streamlit(definition)

    assert definition["definition_version"] == "2"
    assert entity_id == "finmatch" and entity["identifier"]["name"] == "finmatch"
    assert (APP_DIR / entity["main_file"]).is_file()
    assert (APP_DIR / ENVIRONMENT_FILE).is_file()


def test_every_module_the_app_imports_and_environment_yml_are_declared_and_bundled(definition):
    _, entity = the_streamlit(definition)

    missing = undeployed(APP_DIR, entity)
    assert missing == {"not declared": [], "not bundled": []}, f"add to artifacts in app/snowflake.yml: {missing}"
    # the walk does follow the imports, into every layer of the package: the main file alone would prove nothing
    assert {
        "finmatch/__init__.py",
        "finmatch/tabs/__init__.py",
        "finmatch/tabs/overview.py",
        "finmatch/analysis/match.py",
        "finmatch/data/__init__.py",
        "finmatch/data/fpr_data.py",
        "finmatch/settings.py",
    } <= local_modules(APP_DIR, entity["main_file"])


def test_the_whole_package_is_uploaded_beside_the_main_file(definition):
    _, entity = the_streamlit(definition)

    every_module = package_files(APP_DIR)
    assert len(every_module) > 20 and every_module <= set(entity["bundled"])
    # the package keeps its folders on the stage, so `import finmatch.data.fpr_data` finds it there too
    assert {"finmatch/data/fpr_data.py", "finmatch/tabs/match.py", "finmatch/analysis/match.py"} <= every_module


def test_the_cli_uploads_exactly_the_declared_files(definition):
    _, entity = the_streamlit(definition)

    # nothing beside them (requirements files, .streamlit/, snowflake.yml, compiled caches) reaches the stage
    assert sorted(entity["bundled"]) == sorted({entity["main_file"], ENVIRONMENT_FILE} | package_files(APP_DIR))
    assert all(declared(path, entity["artifacts"], APP_DIR) for path in entity["bundled"])


def plant_module(app_copy: Path, path: str, imported_as: str) -> None:
    """A module at `path` in the app's copy, imported by Match's analysis (which the main file reaches through the
    Match tab: the planted module is steps further)."""
    (app_copy / path).write_text("PLANTED = 1\n")
    match_module = app_copy / "finmatch" / "analysis" / "match.py"
    match_module.write_text(f"from {imported_as} import PLANTED  # noqa: F401\n" + match_module.read_text())


def test_a_module_beside_the_package_is_caught_one_inside_it_is_uploaded_as_it_is(snow_python, tmp_path):
    app_copy = tmp_path / "app"
    shutil.copytree(APP_DIR, app_copy, ignore=shutil.ignore_patterns("output", "__pycache__"))
    plant_module(app_copy, "finmatch_planted.py", "finmatch_planted")  # beside the package: not declared
    plant_module(app_copy, "finmatch/data/planted.py", "finmatch.data.planted")  # inside it: no change needed

    _, entity = the_streamlit(load_definition(snow_python, app_copy, tmp_path / "home"))

    assert {"finmatch_planted.py", "finmatch/data/planted.py"} <= local_modules(app_copy, entity["main_file"])
    assert "finmatch/data/planted.py" in entity["bundled"]
    assert undeployed(app_copy, entity) == {
        "not declared": ["finmatch_planted.py"],
        "not bundled": ["finmatch_planted.py"],
    }


def test_warehouse_and_stage_come_from_the_environment_and_nothing_names_the_account(snow_python, definition, tmp_path):
    _, unset = the_streamlit(definition)
    _, given = the_streamlit(
        load_definition(
            snow_python, APP_DIR, tmp_path, **{WAREHOUSE_VARIABLE: "BANK_WH", "FINMATCH_STAGE": "apps_stage"}
        )
    )

    assert unset["query_warehouse"] == f"<{WAREHOUSE_VARIABLE}>"  # templated: no warehouse is written in the file
    assert unset["stage"] == "finmatch_stage"  # the env section's default
    assert (given["query_warehouse"], given["stage"]) == ("BANK_WH", "apps_stage")
    assert given["identifier"]["database"] is None and given["identifier"]["schema"] is None  # the connection's
    # environment.yml holds Anaconda-channel packages: the warehouse runtime's, one app instance per viewer
    assert given["runtime_name"] == "SYSTEM$WAREHOUSE_RUNTIME"


def run_make_deploy_app(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "deploy-app"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def test_make_deploy_app_without_a_connection_says_what_to_set_in_one_line(snow_python, tmp_path):
    result = run_make_deploy_app(clean_environment(tmp_path))

    ours = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(ours) == 1, result.stderr
    [line] = ours
    assert line.startswith("make deploy-app: no Snowflake connection")
    assert "snow connection add" in line and "SNOWFLAKE_ACCOUNT" in line and WAREHOUSE_VARIABLE in line


def test_make_deploy_app_with_a_connection_but_no_warehouse_names_the_warehouse_only(snow_python, tmp_path):
    write_connection(tmp_path, port=9)
    result = run_make_deploy_app(clean_environment(tmp_path))

    ours = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert result.returncode != 0
    assert ours == [f"make deploy-app: set {WAREHOUSE_VARIABLE} to the warehouse FinMatch's queries run on"]


def test_make_deploy_app_with_connections_but_no_default_names_them(snow_python, tmp_path):
    write_connection(tmp_path, port=9)
    env = clean_environment(tmp_path, SNOWFLAKE_DEFAULT_CONNECTION_NAME="prod", **{WAREHOUSE_VARIABLE: "BANK_WH"})
    result = run_make_deploy_app(env)

    ours = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert result.returncode != 0
    assert len(ours) == 1 and ours[0].startswith("make deploy-app: no default Snowflake connection")
    assert "one of bank " in ours[0] and PASSWORD not in result.stdout + result.stderr


FAKE_SNOW = """#!{python}
# Stands in for the Snowflake CLI: records its arguments, answers as the CLI does when all goes well.
import json, os, sys
with open({record!r}, "a") as record:
    banner = os.environ.get("SNOWFLAKE_CLI_IGNORE_NEW_VERSION_WARNING")
    record.write(json.dumps([sys.argv[1:], os.getcwd(), banner]) + "\\n")
if sys.argv[1:3] == ["connection", "list"]:
    print(json.dumps([{{"connection_name": "bank", "parameters": {{"password": "****"}}, "is_default": True}}]))
elif sys.argv[1:4] == ["sql", "--format", "json"]:  # what deploy_app reads of FPR_RECORDS
    print(json.dumps({columns} if "information_schema.columns" in sys.argv[5] else {vocabulary}))
elif sys.argv[1:3] == ["sql", "-f"]:
    print("+---+\\n| status |\\n+---+")
elif sys.argv[1:3] == ["streamlit", "deploy"]:
    print("Checking if object exists")
    print("Streamlit successfully deployed and available under {url}")
"""


def fpr_records_as_the_cli_answers(warehouse):
    """FPR_RECORDS' columns and filter values as `snow sql --format json` prints them (upper-case keys)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as db:
        names = [column[0] for column in db.execute("SELECT * FROM tester.fpr_records LIMIT 0").description]
        fields = db.execute(
            "SELECT 'segments', customer_segment FROM tester.fpr_records UNION "
            "SELECT 'stages', customer_lifecycle_stage "
            "FROM tester.fpr_records UNION SELECT 'products', product_recommendation FROM tester.fpr_records UNION "
            "SELECT 'product_types', product_type FROM tester.fpr_records UNION "
            "SELECT 'statuses', product_recommendation_status FROM tester.fpr_records"
        ).fetchall()
    columns = [{"COLUMN_NAME": name.upper()} for name in names]
    return columns, [{"FIELD": field, "VALUE": value} for field, value in fields if value is not None]


def deploy_with_a_stand_in_cli(tmp_path, warehouse, **environment):
    """tools/deploy_app.py with a `snow` that answers as a successful deploy does: (result, calls, SQL file)."""
    url = "https://app.snowflake.com/bankorg/analytics/#/streamlit-apps/FIVETRAN.FPR.FINMATCH"
    record = tmp_path / "snow-calls.jsonl"
    bin_dir = tmp_path / "bin"  # tools/deploy_app.py runs the `snow` beside its interpreter
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    columns, vocabulary = fpr_records_as_the_cli_answers(warehouse)
    cli = FAKE_SNOW.format(python=sys.executable, record=str(record), url=url, columns=columns, vocabulary=vocabulary)
    (bin_dir / "snow").write_text(cli)
    (bin_dir / "snow").chmod(0o755)
    sql_file = tmp_path / "deploy.sql"
    result = subprocess.run(
        [str(bin_dir / "python"), str(DEPLOY_TOOL)],
        capture_output=True,
        text=True,
        env=clean_environment(
            tmp_path, **{WAREHOUSE_VARIABLE: "BANK_WH", "FINMATCH_DEPLOY_SQL": str(sql_file), **environment}
        ),
        check=False,
        timeout=60,
    )
    calls = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return result, calls, sql_file, url


def test_a_successful_deploy_runs_the_sql_then_uploads_and_ends_with_the_apps_url(tmp_path, finmatch_warehouse):
    result, calls, sql_file, url = deploy_with_a_stand_in_cli(tmp_path, finmatch_warehouse)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"FinMatch is deployed: {url}"
    commands = [args[:3] if args[:1] == ["sql"] else args for args, _, _ in calls]
    assert commands == [
        ["connection", "list", "--format", "json"],
        ["sql", "--format", "json"],  # FPR_RECORDS' columns
        ["sql", "--format", "json"],  # its filter values
        ["sql", "-f", str(sql_file)],
        ["streamlit", "deploy", "--replace"],
    ]
    assert {cwd for _, cwd, _ in calls} == {str(APP_DIR)}  # where app/snowflake.yml is
    assert {banner for _, _, banner in calls} == {"true"}  # the pinned CLI does not ask to be upgraded
    text = sql_file.read_text(encoding="utf-8")
    for derived in for_engine("snowflake"):
        assert f"CREATE OR REPLACE DYNAMIC TABLE {dynamic_table_name(derived.name)} TARGET_LAG = '1 hour' " in text
    assert "WAREHOUSE = BANK_WH" in text and "REFRESH_MODE = AUTO" not in text
    assert "ALTER TABLE FPR_RECORDS MODIFY COLUMN CUSTOMER_NAME SET MASKING POLICY FINMATCH_CUSTOMER_TEXT FORCE" in text
    assert "CUSTOMER_ID SET MASKING POLICY" not in text  # only with FINMATCH_PSEUDONYMISE_IDS=1


def test_every_statement_of_the_deployed_sql_runs_on_the_stand_in(tmp_path, finmatch_warehouse, monkeypatch):
    from test_finmatch_dynamic_tables_and_masking import GovernedStandIn

    result, _, sql_file, _ = deploy_with_a_stand_in_cli(
        tmp_path, finmatch_warehouse, FINMATCH_TARGET_LAG="20 minutes", FINMATCH_PSEUDONYMISE_IDS="1"
    )
    assert result.returncode == 0, result.stderr
    session = GovernedStandIn(finmatch_warehouse)

    session.run_all(
        [statement for statement in sql_file.read_text(encoding="utf-8").split(";\n") if statement.strip(" ;\n")]
    )

    expected = {dynamic_table_name(derived.name) for derived in for_engine("snowflake") if not derived.per_customer}
    assert set(session.dynamic) == expected
    assert {row["target_lag"] for row in session.dynamic.values()} == {"20 minutes"}
    assert set(session.protected) == {"customer_name", "customer_email", "customer_id"}


def test_a_target_lag_snowflake_cannot_read_stops_the_deploy_before_anything_runs(tmp_path, finmatch_warehouse):
    result, calls, sql_file, _ = deploy_with_a_stand_in_cli(tmp_path, finmatch_warehouse, FINMATCH_TARGET_LAG="soon")

    assert result.returncode != 0
    assert "FINMATCH_TARGET_LAG must read like '1 hour'" in result.stderr
    assert not sql_file.exists() and not any(args[:2] == ["sql", "-f"] for args, _, _ in calls)


def refused_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_connection(home: Path, port: int) -> None:
    """A default connection in the CLI's config.toml, pointing at a loopback port, with a password."""
    folder = home / ".snowflake"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    config.write_text(
        'default_connection_name = "bank"\n'
        "[connections.bank]\n"
        'account = "bankorg-analytics"\nuser = "deployer"\n'
        f'password = "{PASSWORD}"\n'
        f'host = "127.0.0.1"\nport = {port}\nprotocol = "https"\n'
        'database = "FIVETRAN"\nschema = "FPR"\nrole = "FINMATCH_OWNER"\n'
    )
    config.chmod(0o600)  # the CLI refuses a configuration others can read


def deploy_in_a_copy(snow_python, tmp_path: Path, env: dict) -> subprocess.CompletedProcess:
    """tools/deploy_app.py on a copy of the repository's app/, so the CLI's bundle is written there."""
    shutil.copytree(APP_DIR, tmp_path / "repo" / "app", ignore=shutil.ignore_patterns("output", "__pycache__"))
    (tmp_path / "repo" / "tools").mkdir()
    shutil.copy(DEPLOY_TOOL, tmp_path / "repo" / "tools")
    shutil.copy(ROOT / "tools" / "finmatch_snowflake_sql.py", tmp_path / "repo" / "tools")
    return subprocess.run(
        [str(snow_python), str(tmp_path / "repo" / "tools" / "deploy_app.py")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def assert_refused_plainly(result: subprocess.CompletedProcess, home: Path) -> None:
    printed = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Could not connect to Snowflake" in printed
    assert "make deploy-app: snow sql failed" in printed  # the first statement, reading FPR_RECORDS' columns
    assert "Traceback" not in printed
    assert len(printed.splitlines()) < 15, printed
    assert PASSWORD not in printed
    for written in home.rglob("*"):  # the CLI's logs neither
        if written.is_file() and written.name != "config.toml":
            assert PASSWORD not in written.read_text(errors="replace"), written


def test_a_refused_connection_fails_with_a_short_message_and_no_secret(snow_python, tmp_path):
    home = tmp_path / "home"
    write_connection(home, refused_port())
    started = time.monotonic()
    result = deploy_in_a_copy(snow_python, tmp_path, clean_environment(home, **{WAREHOUSE_VARIABLE: "BANK_WH"}))

    assert_refused_plainly(result, home)
    assert "snow sql --format json -q ...   (FPR_RECORDS' columns)" in result.stdout
    # The Snowflake connector retries a refused login with its own backoff until its login timeout (about two
    # minutes, whatever the machine's load): the deploy must then end by itself, well before the 300 s guard.
    assert time.monotonic() - started < 240


def test_without_a_configured_connection_the_snowflake_variables_make_a_temporary_one(snow_python, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = clean_environment(
        home,
        SNOWFLAKE_ACCOUNT="bankorg-analytics",
        SNOWFLAKE_USER="deployer",
        SNOWFLAKE_PASSWORD=PASSWORD,
        SNOWFLAKE_HOST="127.0.0.1",
        SNOWFLAKE_PORT=str(refused_port()),
        **{WAREHOUSE_VARIABLE: "BANK_WH"},
    )
    result = deploy_in_a_copy(snow_python, tmp_path, env)

    assert "snow sql --format json -q ... --temporary-connection   (FPR_RECORDS' columns)" in result.stdout
    assert_refused_plainly(result, home)

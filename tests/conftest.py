"""Shared fixtures: a local FPR API on loopback, the connector run in-process, and readers of what it wrote.

The connector runs through `connector.debug()`, the same call `fivetran debug` makes, in a
temporary project folder per test. The SDK's network checks (PyPI version, pipreqs) are
replaced with no-ops so a run takes a fraction of a second without internet.

Property-based tests draw as many cases as the HYPOTHESIS_PROFILE says: `dev` by default,
`quick` for `make test-fast`, `thorough` for `make test-thorough` and CI.
"""

import atexit
import contextlib
import dataclasses
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
sys.path[:0] = [str(ROOT), str(APP_DIR)]  # the connector and FinMatch's modules, as their own runners see them

from scripted_api import ScriptedApi  # noqa: E402

import connector as fpr_connector  # noqa: E402
import fpr.client  # noqa: E402
from fpr_local_api import Dataset, LocalFprApi  # noqa: E402
from fpr_local_api.faults import FaultPlan  # noqa: E402

API_KEY = "test-key-2f9c1e"
WAREHOUSE_TABLE = "tester.fpr_records"

# A sync in-process takes about 0.1 s, so no deadline; every profile shares the example database.
_PROFILE_DEFAULTS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("quick", max_examples=15, **_PROFILE_DEFAULTS)
settings.register_profile("dev", max_examples=60, **_PROFILE_DEFAULTS)
settings.register_profile("thorough", max_examples=600, **_PROFILE_DEFAULTS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# ---------- no test depends on another's order ----------


def pytest_addoption(parser):
    parser.addoption(
        "--reverse-order",
        action="store_true",
        help="run the collected tests last to first, to show that none depends on the ones before it",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--reverse-order"):
        items.reverse()


# ---------- the repository is left as the tests found it ----------

# Folders whose ignored files count too: where a run's warehouse and state, crash reports and FinMatch's history
# database would land if a test forgot to point them elsewhere.
WATCHED_IGNORED = ("files", "crash-reports", "app")


def repository_snapshot():
    """What the tests could have left behind: every changed or untracked file (ignored ones only under
    WATCHED_IGNORED, caches aside), each with its size and change time. None outside the repository's own
    work tree (a copy made for mutation testing sits inside it, and is left alone)."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT, capture_output=True, text=True)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != ROOT:
        return None
    listings = [
        ["git", "status", "--porcelain", "-z", "--untracked-files=all"],
        ["git", "status", "--porcelain", "-z", "--untracked-files=all", "--ignored", "--", *WATCHED_IGNORED],
    ]
    paths = set()
    for command in listings:
        listed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        paths |= {entry[3:] for entry in listed.split("\0") if entry[3:] and "__pycache__/" not in entry}
    snapshot = {}
    for path in sorted(paths):
        try:
            found = (ROOT / path).stat()
            snapshot[path] = (found.st_size, found.st_mtime_ns)
        except FileNotFoundError:
            snapshot[path] = "deleted"
    return snapshot


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # under pytest-xdist, once, in the controller
        session.config.stash[REPOSITORY_BEFORE] = repository_snapshot()


def pytest_sessionfinish(session, exitstatus):
    """Fails the run when a test left a file in the repository, or changed or removed one."""
    if hasattr(session.config, "workerinput") or REPOSITORY_BEFORE not in session.config.stash:
        return
    before, after = session.config.stash[REPOSITORY_BEFORE], repository_snapshot()
    if before is None or after is None or before == after:
        return
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("!", "the tests changed the repository (or it was edited while they ran)", red=True)
        for path in changed:
            reporter.write_line(f"  {path}: {'left behind' if path not in before else 'changed or removed'}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


REPOSITORY_BEFORE = pytest.StashKey[dict]()


@pytest.fixture(scope="session", autouse=True)
def offline_sdk(tmp_path_factory):
    """No PyPI or pipreqs calls, a private HOME, no telemetry."""
    import fivetran_connector_sdk_cli.connector as cli_connector
    import fivetran_connector_sdk_core.runner as core_runner

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("DO_NOT_TRACK", "1")
        patch.setattr(cli_connector, "check_newer_version", lambda *args, **kwargs: None)
        patch.setattr(cli_connector, "validate_requirements_file", lambda *args, **kwargs: None)
        patch.setattr(core_runner, "check_newer_version", lambda *args, **kwargs: None, raising=False)
        patch.setattr(cli_connector, "DebugMemoryTracker", _memory_tracker_ending_with_its_sync(cli_connector))
        yield


def _memory_tracker_ending_with_its_sync(cli_connector):
    """The SDK's memory tracker, stopped when its sync ends.

    `fivetran debug` runs one sync per process: its tracker samples memory on a thread until
    the interpreter exits, then prints "connector process memory usage" from an exit hook.
    In a test session that would leave one sampling thread per in-process sync and print
    hundreds of lines after pytest's summary. This tracker still enforces the memory limit
    during the sync, and writes its usage line into the sync's own output when it ends.
    """

    class MemoryTrackerEndingWithItsSync(cli_connector.DebugMemoryTracker):
        def stop(self, timeout=3.0):
            self.active = False
            if self.atexit_registered:
                atexit.unregister(self._log_results)
                self.atexit_registered = False
                self._log_results()

    return MemoryTrackerEndingWithItsSync


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch):
    """Retries wait for real in production; in tests the waits are recorded instead."""
    waits = []
    monkeypatch.setattr(fpr.client, "pause", lambda seconds, stop: waits.append(seconds))
    return waits


@pytest.fixture
def set_limits(monkeypatch):
    """Changes some of connector.py's LIMITS for this test: set_limits(request_deadline=1.0)."""

    def change(**limits):
        monkeypatch.setattr(fpr_connector, "LIMITS", dataclasses.replace(fpr_connector.LIMITS, **limits))

    return change


class SyncResult:
    def __init__(self, ok, output, state):
        self.ok = ok
        self.output = output
        self.state = state


class Project:
    """A connector project folder: connector.py linked in, files/ written by each run."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        (path / "connector.py").symlink_to(ROOT / "connector.py")
        (path / "requirements.txt").write_text("# none\n")

    @property
    def warehouse(self):
        return self.path / "files" / "warehouse.db"

    def saved_state(self):
        state_file = self.path / "files" / "state.json"
        return json.loads(state_file.read_text()) if state_file.exists() else {}

    def sync(self, configuration, state=None):
        """Runs one sync; returns whether it succeeded, what it printed and the state it left."""
        output = io.StringIO()
        ok = True
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            try:
                fpr_connector.connector.debug(
                    project_path=str(self.path),
                    configuration=configuration,
                    state=self.saved_state() if state is None else state,
                )
            except SystemExit as exit_:
                ok = exit_.code in (0, None)
            # A failed run leaves its crash report for exit time; write it now, into this project.
            fpr_connector.connector._print_debug_crash_report()
        return SyncResult(ok, output.getvalue(), self.saved_state())

    def rows(self, columns="* REPLACE (CAST(_fivetran_synced AS VARCHAR) AS _fivetran_synced)", where=""):
        with duckdb.connect(str(self.warehouse), read_only=True) as db:
            cursor = db.execute(f"SELECT {columns} FROM {WAREHOUSE_TABLE} {where} ORDER BY record_id")
            names = [description[0] for description in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def query(self, sql):
        with duckdb.connect(str(self.warehouse), read_only=True) as db:
            return db.execute(sql).fetchall()

    def max_epoch(self):
        return self.query("SELECT max(last_updated_epoch) FROM tester.fpr_records")[0][0]

    def column_types(self):
        with duckdb.connect(str(self.warehouse), read_only=True) as db:
            return dict(
                db.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'tester' AND table_name = 'fpr_records'"
                ).fetchall()
            )


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path / "project")


@pytest.fixture
def api():
    with LocalFprApi(Dataset(size=750, seed=7), api_key=API_KEY) as server:
        yield server


@pytest.fixture
def make_api():
    """Starts extra local APIs with chosen options; all are stopped after the test."""
    servers = []

    def start(size=750, seed=7, faults=None, **options):
        plan = FaultPlan(faults) if isinstance(faults, str) else faults
        server = LocalFprApi(Dataset(size=size, seed=seed), api_key=API_KEY, faults=plan, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def configuration_for(server, page_size=100):
    return {"base_url": server.base_url, "api_key": API_KEY, "page_size": str(page_size)}


def served_records(server, page_size=200):
    """Every record the API serves now, read over HTTP independently of the connector, faults paused."""
    faults, server.faults = server.faults, None
    try:
        return _read_everything(server, page_size)
    finally:
        server.faults = faults


def _read_everything(server, page_size):
    session = requests.Session()
    session.headers["x-api-key"] = API_KEY
    records, cursor = {}, None
    while True:
        params = {"page_size": page_size, **({"cursor": cursor} if cursor else {})}
        body = session.get(server.base_url + "/fpr_data", params=params, timeout=10).json()
        for record in body["fpr_records"]:
            records[record["record_id"]] = record
        cursor = body["next_cursor"] or cursor
        if not body["fpr_records"] or not body["has_more"]:
            return records


def table_without_sync_columns(project):
    return {row["record_id"]: _strip(row) for row in project.rows()}


def _strip(row):
    return {name: value for name, value in row.items() if not name.startswith("_fivetran")}


def as_served(row):
    """A warehouse row in the form the API serves it: dates back to YYYY-MM-DD text."""
    return {name: value.isoformat() if hasattr(value, "isoformat") else value for name, value in _strip(row).items()}


def upserts_reported(output):
    """The Upserts count of the SDK's end-of-sync summary."""
    for line in output.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 2 and parts[0].endswith("Upserts"):
            return int(parts[1])
    raise AssertionError("the sync printed no Upserts count")


def checkpoints(output):
    """Every state the SDK recorded at a checkpoint during a run, in order."""
    marker = "checkpoint recorded: "
    return [json.loads(line.split(marker, 1)[1]) for line in output.splitlines() if marker in line]


@pytest.fixture
def scripted():
    """A loopback server that answers /fpr_data exactly as a test scripts it (see scripted_api.py)."""
    with ScriptedApi() as server:
        yield server


def scripted_configuration(server, page_size="100"):
    return {"base_url": server.base_url, "api_key": API_KEY, "page_size": page_size}


EXAMPLE_BASE_URL = "https://fpr.example.test"


def example_configuration(page_size="100"):
    """A valid configuration for checks that make no request."""
    return {"base_url": EXAMPLE_BASE_URL, "api_key": API_KEY, "page_size": page_size}


def sample_record(number, epoch=1748797200):
    """A record shaped like the seed's sample, numbered for tests that do not use the local API."""
    return {
        "record_id": f"rec-{number:04d}",
        "customer_id": f"CUST_{number:06d}",
        "customer_name": f"Customer {number}",
        "customer_email": f"customer{number}@example.com",
        "customer_segment": "Commercial",
        "customer_lifecycle_stage": "Inactive",
        "customer_lifecycle_stage_transition_date": "2024-07-27",
        "account_balance": 38079.4717658889,
        "transaction_history": "Transaction History 1",
        "customer_transaction_value": 1257.2906030128,
        "customer_transaction_count": 48,
        "product_id": "PROD_000000",
        "product_name": "Product 1",
        "product_type": "Savings Account",
        "product_terms": "No Collateral Required",
        "product_sales_amount": 6152.2323619448,
        "product_sales_date": "2025-03-24",
        "product_recommendation": "Insurance",
        "product_recommendation_date": "2024-09-12",
        "product_recommendation_status": "Accepted",
        "recommendation_score": 0.2741640377,
        "customer_product_usage": "Product Usage 1",
        "customer_product_affinity": 0.4964611524,
        "customer_product_affinity_trend": "Product Affinity Trend 1",
        "customer_product_usage_trend": "Product Usage Trend 1",
        "customer_product_interests": "Product Interest 1",
        "customer_satisfaction_score": 0.2465199056,
        "customer_churn_probability": 0.7825001444,
        "last_updated_epoch": epoch + number,
    }


def process_project(folder, name, configuration):
    """A project folder for a run in a separate process: a copy of the connector, so crash reports see its frames.

    Returns the folder and the path of its configuration file, which is kept outside the folder.
    """
    project = folder / name
    (project / "files").mkdir(parents=True, exist_ok=True)
    copy_connector(project)
    configuration_path = folder / f"{name}-configuration.json"
    configuration_path.write_text(json.dumps(configuration))
    return project, configuration_path


def copy_connector(project):
    """Copies what Fivetran deploys (connector.py, its fpr package, requirements.txt) into a project folder."""
    shutil.copy(ROOT / "connector.py", project / "connector.py")
    shutil.copytree(ROOT / "fpr", project / "fpr", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "requirements.txt").write_text("# none\n")


def hearing_ctrl_c():
    """Run in a child before it starts: Ctrl-C ends it as at a terminal, even when the suite runs in the background.

    A shell starts background jobs with SIGINT ignored and children inherit that; Python then installs no
    KeyboardInterrupt handler, and a test sending Ctrl-C would see the sync run on.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_connector_process(project, configuration_path, home, env=None):
    """Starts tests/connector_process.py on the project; its output is unbuffered, on stdout."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "connector_process.py"), str(project), str(configuration_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})},
        preexec_fn=hearing_ctrl_c,
    )


BIN = Path(sys.executable).parent  # the virtualenv's commands: fivetran, pipreqs


@pytest.fixture
def offline_home(tmp_path):
    """A HOME whose SDK settings say the version was checked just now, for the `fivetran` command."""
    home = tmp_path / "home"
    now = str(int(time.time()))
    (home / ".fivetran" / "connector_sdk").mkdir(parents=True)
    (home / ".fivetran" / "connector_sdk" / "_last_version_check").write_text(now)
    (home / ".fivetran" / "connector_sdk_core").mkdir(parents=True)
    (home / ".fivetran" / "connector_sdk_core" / "_config.json").write_text(json.dumps({"lastVersionCheck": int(now)}))
    return home


@pytest.fixture
def local_pipreqs(tmp_path):
    """A pipreqs first on PATH that scans against the installed packages, without asking PyPI."""
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "pipreqs"
    shim.write_text(f'#!/bin/sh\nexec "{BIN / "pipreqs"}" --use-local "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return shims


def fivetran_environment(home, shims):
    """The environment the `fivetran` command runs in offline: offline_home, local_pipreqs, no telemetry."""
    return {
        **os.environ,
        "HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PATH": os.pathsep.join([str(shims), str(BIN), os.environ["PATH"]]),
    }


SOFT_DELETED = 3


@pytest.fixture(scope="session")
def finmatch_warehouse(tmp_path_factory, offline_sdk):
    """A warehouse written by the real connector from the local API, with a few rows soft-deleted."""
    folder = tmp_path_factory.mktemp("finmatch")
    with LocalFprApi(Dataset(size=750, seed=21), api_key=API_KEY) as server:
        result = Project(folder / "project").sync(configuration_for(server))
    assert result.ok, result.output
    warehouse = folder / "project" / "files" / "warehouse.db"
    with duckdb.connect(str(warehouse)) as db:
        db.execute(
            "UPDATE tester.fpr_records SET _fivetran_deleted = TRUE WHERE record_id IN "
            f"(SELECT record_id FROM tester.fpr_records ORDER BY record_id LIMIT {SOFT_DELETED})"
        )
    return warehouse


@pytest.fixture
def app_on(monkeypatch, tmp_path):
    """Points FinMatch at a warehouse (and its history at a file of this test) and returns an AppTest of it."""
    from streamlit.testing.v1 import AppTest

    def make(warehouse):
        monkeypatch.setenv("FINMATCH_WAREHOUSE", str(warehouse))
        monkeypatch.setenv("FINMATCH_APP_DB", str(tmp_path / "finmatch_app.db"))
        monkeypatch.delenv("FINMATCH_SHOW_CUSTOMER_DATA", raising=False)
        return AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=60)

    return make


@pytest.fixture
def downloads(monkeypatch):
    """What each download button offers, by label: the file a viewer would receive (AppTest keeps no copy)."""
    import streamlit

    offered = {}
    original = streamlit.download_button

    def recording(label, data, *args, **kwargs):
        offered[label] = data if isinstance(data, str) else data.decode()
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    return offered

"""The dynamic tables' SQL on fakesnow, an independent Snowflake emulator, against the stand-in session.

fakesnow (pinned in .venv-fakesnow, `make fakesnow`: its DuckDB and sqlglot differ from the project's) translates
Snowflake SQL in its own way. tests/fakesnow_run.py sends it every statement `make deploy-app` runs, built from the
columns and filter values fakesnow itself answers; each dynamic table must hold what the stand-in session builds
from the same warehouse. fakesnow creates a dynamic table as a plain table and knows no masking policy: those
statements fail there and are listed, and the stand-in's tests (test_finmatch_dynamic_tables_and_masking.py) are what
checks them. Without .venv-fakesnow these tests skip, except in CI (.ci/run makes it).
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from test_finmatch_dynamic_tables_and_masking import GovernedStandIn, deploy

FAKESNOW_PYTHON = ROOT / ".venv-fakesnow" / "bin" / "python"


@pytest.fixture(scope="module")
def on_fakesnow(finmatch_warehouse):
    if not FAKESNOW_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(".venv-fakesnow is missing: .ci/run must run `make fakesnow` first")
        pytest.skip("no .venv-fakesnow: run `make fakesnow`")
    ran = subprocess.run(
        [str(FAKESNOW_PYTHON), str(ROOT / "tests" / "fakesnow_run.py"), str(finmatch_warehouse)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    return json.loads(ran.stdout)


def as_text(value):
    return f"{value:.9g}" if isinstance(value, float) else str(value)


def test_every_dynamic_table_holds_on_fakesnow_what_the_stand_in_builds(on_fakesnow, finmatch_warehouse):
    session = GovernedStandIn(finmatch_warehouse)
    deploy(session)

    assert set(on_fakesnow["tables"]) == set(session.dynamic)
    for name, rows in on_fakesnow["tables"].items():
        built = session.connection.execute(f"SELECT * FROM {name}").fetchall()
        assert rows == sorted([as_text(value) for value in row] for row in built), name


def test_what_fakesnow_cannot_run_is_the_masking_policy_alone(on_fakesnow):
    failed = [statement for statement, _ in on_fakesnow["failed"]]

    assert all("MASKING POLICY" in statement for statement in failed), failed
    print("fakesnow could not run:", *failed, sep="\n  ", file=sys.stderr)

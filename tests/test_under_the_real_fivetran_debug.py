"""Under the real `fivetran debug` command, a poisoned page neither fails a sync nor blocks the next one, and a
rate-limited page is waited for as long as the server asks.

The command runs as a user runs it, in its own process, on a project folder holding the connector.
Two things differ because tests have no internet: the SDK's version check is recorded as done a
moment ago, as after any earlier run, and its requirements scan (pipreqs) looks at the installed
packages instead of PyPI.
"""

import json
import subprocess
import time

import duckdb
from conftest import API_KEY, BIN, copy_connector, fivetran_environment

from fpr_local_api import Dataset, LocalFprApi
from fpr_local_api.faults import FaultPlan


def fivetran_debug(project, configuration, home, shims):
    command = [str(BIN / "fivetran"), "debug", str(project), "--configuration", str(configuration)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=fivetran_environment(home, shims))


def test_a_poisoned_page_neither_fails_the_sync_nor_blocks_the_next(tmp_path, offline_home, local_pipreqs):
    project = tmp_path / "project"
    project.mkdir()
    copy_connector(project)
    plan = FaultPlan("1=poison_values,2=poison_field_names,3=poison_values")
    with LocalFprApi(Dataset(size=250, seed=12), api_key=API_KEY, faults=plan) as server:
        configuration = tmp_path / "configuration.json"
        configuration.write_text(json.dumps({"base_url": server.base_url, "api_key": API_KEY, "page_size": "100"}))
        first = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        state_after_first = json.loads((project / "files" / "state.json").read_text())
        second = fivetran_debug(project, configuration, offline_home, local_pipreqs)

    assert first.returncode == 0, first.stdout + first.stderr
    assert "SYNC SUCCEEDED" in first.stdout
    assert "text that no destination can store was repaired" in first.stdout
    assert "fields whose names no destination column can take were dropped" in first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "sync finished: 1 pages, 0 records" in second.stdout
    assert server.cursors.decode(state_after_first["next_cursor"])[0] == 250
    assert not (project / "crash-reports").exists()
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM tester.fpr_records").fetchone()[0] == 250


class TimedFaultPlan(FaultPlan):
    """A fault plan that notes when each request to /fpr_data arrived (time.monotonic)."""

    def __init__(self, rules):
        super().__init__(rules)
        self.arrived = {}

    def fault_for(self, number):
        self.arrived[number] = time.monotonic()
        return super().fault_for(number)


def test_a_429_with_ratelimit_reset_2_waits_2_s_for_real_and_the_sync_completes(tmp_path, offline_home, local_pipreqs):
    project = tmp_path / "project"
    project.mkdir()
    copy_connector(project)
    plan = TimedFaultPlan("2=status:429;retry-after=2;wait-header=RateLimit-Reset")
    with LocalFprApi(Dataset(size=250, seed=12), api_key=API_KEY, faults=plan) as server:
        configuration = tmp_path / "configuration.json"
        configuration.write_text(json.dumps({"base_url": server.base_url, "api_key": API_KEY, "page_size": "100"}))
        result = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        state = json.loads((project / "files" / "state.json").read_text())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SYNC SUCCEEDED" in result.stdout
    assert "page 2: HTTP 429; waiting 2 s as RateLimit-Reset asks (paced retry 1; 2 of the 300 s wait budget used)" in (
        result.stdout
    )
    assert plan.applied == [(2, "status")]
    assert plan.arrived[3] - plan.arrived[2] >= 2.0  # page 2 asked again only once the 2 s had passed
    assert server.cursors.decode(state["next_cursor"])[0] == 250
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM tester.fpr_records").fetchone()[0] == 250

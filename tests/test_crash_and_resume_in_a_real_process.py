"""A sync killed with SIGKILL after any page resumes from its checkpoint and ends with the clean table.

The connector runs in its own process (tests/connector_process.py). The test kills it as
soon as it has logged a page (logged after that page's checkpoint), while it waits for the
next one, then reruns it, and kills the rerun after its first page too: ten kills in turn,
one after each page of a 10-page sync, each resuming from the state the previous one left.
At every kill the saved cursor is at or past that page; the cursor never moves back; the
last run, left alone, ends with a table identical to an uninterrupted sync's, with no
duplicate record_id.
"""

import json
import signal

import duckdb
import pytest
from conftest import API_KEY, Project, checkpoints, process_project, start_connector_process

from fpr_local_api import Dataset, LocalFprApi
from fpr_local_api.faults import FaultPlan

PAGE_SIZE = 75
RECORDS = 750  # 10 pages of 75, then the empty last page
PAGES = RECORDS // PAGE_SIZE
TABLE_SQL = "SELECT * EXCLUDE (_fivetran_synced, _fivetran_deleted) FROM tester.fpr_records ORDER BY record_id"


@pytest.fixture(scope="module")
def slow_api():
    """Every request waits 0.1 s, so that a kill after a page lands while the next one is awaited."""
    with LocalFprApi(Dataset(size=RECORDS, seed=13), api_key=API_KEY, faults=FaultPlan("1+=latency:0.1")) as server:
        yield server


def configuration_for(server):
    return {"base_url": server.base_url, "api_key": API_KEY, "page_size": str(PAGE_SIZE)}


def run_to_end(project, configuration, tmp_path):
    process = start_connector_process(project, configuration, tmp_path)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def kill_after_first_page(project, configuration, tmp_path):
    process = start_connector_process(project, configuration, tmp_path)
    output = []
    for line in process.stdout:
        output.append(line)
        if "page 1: " in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=120)  # a hang guard: a killed process ends at once
    process.stdout.close()
    return process.returncode, "".join(output)


def table(project):
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        return db.execute(TABLE_SQL).fetchall()


def saved_position(project, server):
    state = json.loads((project / "files" / "state.json").read_text())
    return server.cursors.decode(state["next_cursor"])[0]


@pytest.fixture(scope="module")
def clean_table(slow_api, tmp_path_factory):
    """The table of an uninterrupted sync, run in-process."""
    project = Project(tmp_path_factory.mktemp("clean") / "project")
    result = project.sync(configuration_for(slow_api))
    assert result.ok, result.output
    assert f"sync finished: {PAGES + 1} pages, {RECORDS} records" in result.output
    return table(project.path)


def test_a_sync_killed_after_every_page_in_turn_resumes_each_time_and_ends_with_the_clean_table(
    slow_api, clean_table, tmp_path
):
    project, configuration = process_project(tmp_path, "killed", configuration_for(slow_api))
    killed_at = 0

    for page in range(1, PAGES + 1):
        code, output = kill_after_first_page(project, configuration, tmp_path)

        assert code == -signal.SIGKILL, output
        positions = [slow_api.cursors.decode(state["next_cursor"])[0] for state in checkpoints(output)]
        assert positions and positions[0] > killed_at  # resumed from the previous kill's checkpoint, went forward
        killed_at = saved_position(project, slow_api)
        assert killed_at >= page * PAGE_SIZE  # this page's checkpoint was saved before it was logged

    code, output = run_to_end(project, configuration, tmp_path)

    assert code == 0, output
    positions = [slow_api.cursors.decode(state["next_cursor"])[0] for state in checkpoints(output)]
    assert positions == sorted(positions) and positions[0] >= killed_at  # the cursor never moves back
    rows = table(project)
    assert len({row[0] for row in rows}) == len(rows) == RECORDS
    assert rows == clean_table

"""A sync killed with SIGKILL after any page resumes from its checkpoint and ends with the clean table.

The connector runs in its own process (tests/connector_process.py); the test kills it
as soon as it has logged page k (logged after page k's checkpoint), while it waits for
page k+1, for every k of a 10-page sync. Each rerun must end with a table identical to
an uninterrupted sync, with no duplicate record_id, and the saved cursor never moves back.
"""

import json
import signal

import duckdb
import pytest
from conftest import API_KEY, checkpoints, process_project, start_connector_process

from fpr_local_api import Dataset, LocalFprApi
from fpr_local_api.faults import FaultPlan

PAGE_SIZE = 75
RECORDS = 750  # 10 pages of 75, then the empty last page
TABLE_SQL = "SELECT * EXCLUDE (_fivetran_synced, _fivetran_deleted) FROM tester.fpr_records ORDER BY record_id"


@pytest.fixture(scope="module")
def slow_api():
    """Every request waits 0.1 s, so that a kill after a page lands while the next one is awaited."""
    with LocalFprApi(Dataset(size=RECORDS, seed=13), api_key=API_KEY, faults=FaultPlan("1+=latency:0.1")) as server:
        yield server


def new_project(tmp_path, name, server):
    configuration = {"base_url": server.base_url, "api_key": API_KEY, "page_size": str(PAGE_SIZE)}
    return process_project(tmp_path, name, configuration)


def run_to_end(project, configuration, tmp_path):
    process = start_connector_process(project, configuration, tmp_path)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def kill_after_page(project, configuration, tmp_path, page):
    process = start_connector_process(project, configuration, tmp_path)
    output = []
    for line in process.stdout:
        output.append(line)
        if f"page {page}: " in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=30)
    process.stdout.close()
    return process.returncode, "".join(output)


def table(project):
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        return db.execute(TABLE_SQL).fetchall()


def saved_state(project):
    return json.loads((project / "files" / "state.json").read_text())


@pytest.fixture(scope="module")
def clean_table(slow_api, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("clean")
    project, configuration = new_project(tmp_path, "clean", slow_api)
    code, output = run_to_end(project, configuration, tmp_path)
    assert code == 0, output
    assert "sync finished: 11 pages, 750 records" in output
    return table(project)


@pytest.mark.parametrize("page", range(1, 11))
def test_resumes_from_last_checkpoint_after_sigkill(slow_api, clean_table, tmp_path, page):
    project, configuration = new_project(tmp_path, "killed", slow_api)

    code, output = kill_after_page(project, configuration, tmp_path, page)

    assert code == -signal.SIGKILL, output
    killed_at = slow_api.cursors.decode(saved_state(project)["next_cursor"])[0]
    assert killed_at >= page * PAGE_SIZE  # page k's checkpoint was saved before it was logged

    code, output = run_to_end(project, configuration, tmp_path)

    assert code == 0, output
    positions = [slow_api.cursors.decode(state["next_cursor"])[0] for state in checkpoints(output)]
    assert positions == sorted(positions) and positions[0] >= killed_at  # the cursor never moves back
    rows = table(project)
    assert len({row[0] for row in rows}) == len(rows) == RECORDS
    assert rows == clean_table

"""Ctrl-C (SIGINT) and SIGTERM stop a sync within 20 s wherever it is, lose no checkpoint, and the next run resumes.

Each case starts a sync of 2,000 records, pages of 100, in its own process (tests/connector_process.py)
against a local API shared by the module, waits for the event that puts the sync at its point, sends
the signal and times the process's exit. The events are lines of the sync's output and the API
beginning a slow answer; the only timeouts guard against a hang. The points:

- stalled body: the third page's body comes one byte every 5 s, on a kept-alive connection or on one
  the server closes; signalled once pages 1 and 2 are checkpointed and the API has begun the third;
- retry wait: the third request answers 503 with Retry-After: 120, waits slept for real; signalled once
  the sync has logged that it waits the 120 s asked;
- writing pages: every request 20 ms late; signalled as soon as the first checkpoint is logged, while
  the next pages are received and written;
- first page: the first answer's headers come one byte every 5 s; signalled once the API has begun
  it, before any checkpoint.

After each stop: the process ended by the signal itself (a Ctrl-C is a stop, not a failed sync: no
crash report); the state on disk is the last checkpoint the run logged; the rows in warehouse.db are
exactly the records up to the saved cursor's position, each once; and a rerun without the fault
upserts only the records after that position and ends with the table of an uninterrupted sync.

Linux sends a signal meant for a process to its main thread when it can; other systems, and Linux
when the main thread already has one pending, send it to any thread. Ctrl-C is also sent to a thread
other than the main one, which the main thread must notice while it waits for a page. A signal that
arrives between a local checkpoint's two steps (rows committed, state not yet saved) waits for the
state. Last, Ctrl-C under the real `fivetran debug`, sent to its process group as a terminal sends
it, and a second `fivetran debug` that resumes and completes.

Each stop time is printed (pytest -s shows them).
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from conftest import (
    API_KEY,
    BIN,
    Project,
    checkpoints,
    copy_connector,
    fivetran_environment,
    hearing_ctrl_c,
    process_project,
    start_connector_process,
    upserts_reported,
)

from fpr_local_api import Dataset, LocalFprApi
from fpr_local_api.faults import SENDING, FaultPlan

RECORDS = 2_000
PAGE_SIZE = 100
# A stop that waited for what it interrupts would take 120 s (the stalled body's request deadline, the retry's wait);
# a stop takes under a second on a quiet machine. 20 s tells them apart however busy the machine is.
STOP_LIMIT_SECONDS = 20
EXIT_GUARD_SECONDS = 60  # a process still running this long after its signal is killed, and the case fails
EVENT_GUARD_SECONDS = 60  # the longest wait for a sync to reach its point: only a hang takes that long
TABLE_SQL = "SELECT * EXCLUDE (_fivetran_synced, _fivetran_deleted) FROM tester.fpr_records ORDER BY record_id"


@dataclass(frozen=True)
class Point:
    """Where in a sync a signal lands: the fault that holds the sync there and the events that say it is there.

    Attributes:
        fault: a FaultPlan rule whose request numbers count this sync's requests (1 is its first).
        lines: the sync prints a line holding each of these before the signal is sent.
        api_stalling: the signal also waits for the API to begin its slow answer.
        checkpointed: records checkpointed when the signal lands; None for some, not all.
        env: for tests/connector_process.py.
    """

    name: str
    fault: str
    lines: tuple
    api_stalling: bool = False
    checkpointed: int = None
    env: dict = field(default_factory=dict)


STALLED_BODY_KEPT_ALIVE = Point(
    "stalled body, keep-alive", "3=slow_body:5;framing=keep-alive", ("page 2: ",), api_stalling=True, checkpointed=200
)
STALLED_BODY_CLOSED = Point(
    "stalled body, close", "3=slow_body:5;framing=close", ("page 2: ",), api_stalling=True, checkpointed=200
)
RETRY_WAIT = Point(
    "retry wait",
    "3=status:503;retry-after=120",
    ("page 2: ", "page 3: HTTP 503; waiting 120 s as Retry-After asks"),  # page 3 is fetched as 2 is written
    checkpointed=200,
    env={"FPR_TEST_REAL_WAITS": "1"},
)
WRITING_PAGES = Point("writing pages", "1+=latency:0.02", ("checkpoint recorded: ",))
FIRST_PAGE = Point(
    "first page", "1=slow_headers:5", ("sync starting from the beginning",), api_stalling=True, checkpointed=0
)
POINTS = [STALLED_BODY_KEPT_ALIVE, STALLED_BODY_CLOSED, RETRY_WAIT, WRITING_PAGES, FIRST_PAGE]


class FaultPlanThatTells(FaultPlan):
    """A FaultPlan whose `stalling` event is set when the API begins sending a page its slow way."""

    def __init__(self, rules):
        super().__init__(rules)
        self.stalling = threading.Event()

    def send_page(self, number, fault, body, handler):
        if fault is not None and fault.name in SENDING:
            self.stalling.set()
        return super().send_page(number, fault, body, handler)


def faults_for_the_next_sync(server, rule):
    """Gives the server a plan whose request 1 is the next request it receives; returns the plan."""
    where, _, fault = rule.partition("=")
    first = int(where.rstrip("+")) + server.requests_served
    server.faults = FaultPlanThatTells(f"{first}{'+' if where.endswith('+') else ''}={fault}")
    return server.faults


class SyncProcess:
    """A running process whose output is read as it comes, so that a test can wait for a line of it."""

    def __init__(self, popen):
        self.popen = popen
        self.lines = []
        self.ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.popen.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    @property
    def output(self):
        with self._changed:
            return "".join(self.lines)

    def wait_for_line(self, text):
        with self._changed:
            self._changed.wait_for(lambda: self.ended or any(text in line for line in self.lines), EVENT_GUARD_SECONDS)
        assert text in self.output, f"the sync never printed {text!r}:\n{self.output}"

    def stop(self, send):
        """Calls send() and waits for the process to end; returns the seconds it took."""
        started = time.monotonic()
        send()
        try:
            self.popen.wait(timeout=EXIT_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            pytest.fail(f"still running {EXIT_GUARD_SECONDS} s after the signal:\n{self.output}")
        seconds = time.monotonic() - started
        self._reader.join(EVENT_GUARD_SECONDS)
        self.popen.stdout.close()
        return seconds


def to_a_thread_other_than_the_main_one(pid, number):
    """Sends signal `number` to a thread of process `pid` other than its main thread (Linux's tgkill).

    The thread is one that does not block the signal: some native threads (jemalloc's, in DuckDB)
    block every signal, and one sent to them would never be handled.
    """
    tgkill = ctypes.CDLL(None, use_errno=True).tgkill
    for thread in sorted(int(name) for name in os.listdir(f"/proc/{pid}/task")):
        if thread != pid and not _blocks(pid, thread, number) and tgkill(pid, thread, number) == 0:
            return
    pytest.fail("the sync has no thread other than the main one that takes the signal")


def _blocks(pid, thread, number):
    try:
        status = Path(f"/proc/{pid}/task/{thread}/status").read_text()
    except FileNotFoundError:
        return True  # the thread has ended
    blocked = next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:"))
    return bool(int(blocked, 16) >> (number - 1) & 1)


@pytest.fixture(scope="module")
def api():
    with LocalFprApi(Dataset(size=RECORDS, seed=31), api_key=API_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def no_faults_after_the_case(api):
    yield
    api.faults = None


def configuration_for(server):
    return {"base_url": server.base_url, "api_key": API_KEY, "page_size": str(PAGE_SIZE)}


class ExistingProject(Project):
    """A project folder made by process_project, synced in-process like any Project."""

    def __init__(self, path):
        self.path = path


def table(project):
    """The rows of fpr_records without the sync's columns; none before the first checkpoint created it."""
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        if not db.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'fpr_records'").fetchone()[0]:
            return []
        return db.execute(TABLE_SQL).fetchall()


@pytest.fixture(scope="module")
def clean_table(api, tmp_path_factory):
    """The table of an uninterrupted sync, run in-process."""
    project = Project(tmp_path_factory.mktemp("clean") / "project")
    result = project.sync(configuration_for(api))
    assert result.ok, result.output
    rows = table(project.path)
    assert len(rows) == RECORDS
    return rows


@pytest.fixture(scope="module")
def served_order(api):
    """The record_ids in the order the API serves them: a cursor at position n has delivered the first n."""
    return [record["record_id"] for _, record in api.dataset.records_after(0, RECORDS)]


def stop_at(point, send_signal, api, project, configuration_path, home):
    """Runs a sync to `point` and calls send_signal(pid); returns the ended SyncProcess and the seconds it took."""
    plan = faults_for_the_next_sync(api, point.fault)
    run = SyncProcess(start_connector_process(project, configuration_path, home, point.env))
    for line in point.lines:
        run.wait_for_line(line)
    if point.api_stalling:
        assert plan.stalling.wait(EVENT_GUARD_SECONDS), run.output
    seconds = run.stop(lambda: send_signal(run.popen.pid))
    print(f"\n{point.name}: stopped {seconds:.3f} s after the signal")
    return run, seconds


def assert_checkpoints_kept(project, output, api, clean_table, served_order):
    """The state on disk is the last checkpoint logged; the rows are exactly the records up to its cursor, each once.

    Returns the number of records checkpointed.
    """
    state_file = project / "files" / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    logged = checkpoints(output)
    assert state == (logged[-1] if logged else {}), output
    position = api.cursors.decode(state["next_cursor"])[0] if state else 0
    rows = table(project)
    assert len(rows) == len({row[0] for row in rows}) == position, output
    expected = set(served_order[:position])
    assert rows == [row for row in clean_table if row[0] in expected]
    return position


def assert_the_rerun_resumes_and_ends_with_the_clean_table(project, api, checkpointed, clean_table):
    rerun = ExistingProject(project).sync(configuration_for(api))
    assert rerun.ok, rerun.output
    assert upserts_reported(rerun.output) == RECORDS - checkpointed  # resumed at the saved cursor, not before
    assert ("sync starting from the saved cursor" in rerun.output) == (checkpointed > 0)
    rows = table(project)
    assert len({row[0] for row in rows}) == len(rows) == RECORDS
    assert rows == clean_table


def assert_a_stop_not_a_failure(returncode, output, project, number):
    """Ended by the signal itself (Ctrl-C's KeyboardInterrupt reached the top), not by a failed sync."""
    assert returncode == -number, output
    assert "SYNC FAILED" not in output
    assert not (project / "crash-reports").exists()


@pytest.mark.parametrize("point", POINTS, ids=[point.name for point in POINTS])
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_sync_within_20_s_keeps_every_checkpoint_and_the_rerun_resumes(
    number, point, api, clean_table, served_order, tmp_path
):
    project, configuration_path = process_project(tmp_path, "stopped", configuration_for(api))

    run, seconds = stop_at(point, lambda pid: os.kill(pid, number), api, project, configuration_path, tmp_path)

    assert seconds < STOP_LIMIT_SECONDS, run.output
    assert_a_stop_not_a_failure(run.popen.returncode, run.output, project, number)
    checkpointed = assert_checkpoints_kept(project, run.output, api, clean_table, served_order)
    if point.checkpointed is None:
        assert 0 < checkpointed < RECORDS
    else:
        assert checkpointed == point.checkpointed
    api.faults = None
    assert_the_rerun_resumes_and_ends_with_the_clean_table(project, api, checkpointed, clean_table)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals one thread with Linux's tgkill")
@pytest.mark.parametrize("point", [STALLED_BODY_CLOSED, RETRY_WAIT], ids=lambda point: point.name)
def test_ctrl_c_delivered_to_a_thread_other_than_the_main_one_stops_the_sync_within_20_s(
    point, api, clean_table, served_order, tmp_path
):
    project, configuration_path = process_project(tmp_path, "stopped", configuration_for(api))

    def ctrl_c_to_another_thread(pid):
        to_a_thread_other_than_the_main_one(pid, signal.SIGINT)

    run, seconds = stop_at(point, ctrl_c_to_another_thread, api, project, configuration_path, tmp_path)

    assert seconds < STOP_LIMIT_SECONDS, run.output
    assert_a_stop_not_a_failure(run.popen.returncode, run.output, project, signal.SIGINT)
    assert assert_checkpoints_kept(project, run.output, api, clean_table, served_order) == point.checkpointed
    api.faults = None
    assert_the_rerun_resumes_and_ends_with_the_clean_table(project, api, point.checkpointed, clean_table)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_between_a_checkpoints_rows_and_its_state_waits_for_the_state(
    number, api, clean_table, served_order, tmp_path
):
    project, configuration_path = process_project(tmp_path, "stopped", configuration_for(api))
    env = {"FPR_TEST_SIGNAL_BEFORE_STATE": f"{signal.Signals(number).name}:2"}

    process = start_connector_process(project, configuration_path, tmp_path, env)
    try:
        output, _ = process.communicate(timeout=EVENT_GUARD_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running after {EVENT_GUARD_SECONDS} s:\n{process.communicate()[0]}")

    assert_a_stop_not_a_failure(process.returncode, output, project, number)
    assert assert_checkpoints_kept(project, output, api, clean_table, served_order) == 2 * PAGE_SIZE
    assert_the_rerun_resumes_and_ends_with_the_clean_table(project, api, 2 * PAGE_SIZE, clean_table)


def test_ctrl_c_stops_the_real_fivetran_debug_while_a_page_stalls_and_the_next_fivetran_debug_resumes(
    api, clean_table, served_order, tmp_path, offline_home, local_pipreqs
):
    project = tmp_path / "project"
    project.mkdir()
    copy_connector(project)
    configuration = tmp_path / "configuration.json"
    configuration.write_text(json.dumps(configuration_for(api)))
    command = [str(BIN / "fivetran"), "debug", str(project), "--configuration", str(configuration)]
    environment = {**fivetran_environment(offline_home, local_pipreqs), "PYTHONUNBUFFERED": "1"}
    plan = faults_for_the_next_sync(api, STALLED_BODY_CLOSED.fault)

    # A session of its own: Ctrl-C goes to the command's process group, as a terminal sends it.
    popen = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        start_new_session=True,
        preexec_fn=hearing_ctrl_c,
    )
    first = SyncProcess(popen)
    first.wait_for_line("page 2: ")
    assert plan.stalling.wait(EVENT_GUARD_SECONDS), first.output
    seconds = first.stop(lambda: os.killpg(popen.pid, signal.SIGINT))
    print(f"\nfivetran debug, stalled body: stopped {seconds:.3f} s after Ctrl-C")

    assert seconds < STOP_LIMIT_SECONDS, first.output
    assert_a_stop_not_a_failure(popen.returncode, first.output, project, signal.SIGINT)
    assert assert_checkpoints_kept(project, first.output, api, clean_table, served_order) == 200

    api.faults = None
    second = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)

    assert second.returncode == 0, second.stdout + second.stderr
    assert "SYNC SUCCEEDED" in second.stdout
    assert "sync starting from the saved cursor" in second.stdout
    assert upserts_reported(second.stdout) == RECORDS - 200
    rows = table(project)
    assert len({row[0] for row in rows}) == len(rows) == RECORDS
    assert rows == clean_table

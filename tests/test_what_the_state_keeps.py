"""The saved state holds only what the next sync can use; a sync with nothing new writes nothing; a sync ends.

Cursors no request can carry are refused before they are saved, and a state already holding one
is met with the way to recover; the records the older service sends again from the saved cursor
are skipped when nothing about them changed; an API that changes faster than it is read stops at
the sync's bound. Messages a user reads are checked under the real `fivetran debug`.
"""

import json
import subprocess
import threading
import time

import duckdb
import pytest
from conftest import (
    API_KEY,
    BIN,
    as_served,
    configuration_for,
    copy_connector,
    fivetran_environment,
    sample_record,
    scripted_configuration,
    served_records,
    upserts_reported,
)

import connector as fpr_connector
from fpr.paging import SyncBound
from fpr.state import MAX_LOADED_RECORDS, STATE_LOADED, LoadedRecords, cursor_problem, read_state
from fpr_local_api import Dataset, LocalFprApi
from fpr_local_api.faults import FaultPlan

SKIPPED = "records already loaded at the saved position were skipped"
SURROGATE_PROBLEM = "next_cursor holds a lone UTF-16 surrogate (U+D800 at character 2), which no request can encode"
RUNAWAY_GUARD_SECONDS = 120  # a sync that ignored its bound would read the changing API until this, then end


def fivetran_debug(project, configuration, home, shims):
    command = [str(BIN / "fivetran"), "debug", str(project), "--configuration", str(configuration)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=fivetran_environment(home, shims))


def debug_project(tmp_path, server):
    project = tmp_path / "project"
    project.mkdir()
    copy_connector(project)
    configuration = tmp_path / "configuration.json"
    configuration.write_text(json.dumps(configuration_for(server)))
    return project, configuration


def saved_state(project):
    return json.loads((project / "files" / "state.json").read_text())


def count_rows(project):
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        return db.execute("SELECT count(*), count(DISTINCT record_id) FROM tester.fpr_records").fetchone()


# ---------- a cursor no request can carry is never saved ----------


def test_a_lone_surrogate_cursor_is_named_not_saved_and_the_next_sync_goes_on(tmp_path, offline_home, local_pipreqs):
    plan = FaultPlan("2=unsendable_cursor:surrogate")
    with LocalFprApi(Dataset(size=250, seed=12), api_key=API_KEY, faults=plan) as server:
        project, configuration = debug_project(tmp_path, server)
        first = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        requests_by_the_failed_sync = server.requests_served
        state_after_failure = saved_state(project)
        second = fivetran_debug(project, configuration, offline_home, local_pipreqs)

    printed = first.stdout + first.stderr
    assert first.returncode != 0
    assert f"page 2: the API's {SURROGATE_PROBLEM}; it is not saved" in printed
    assert "report this to the API's owner" in printed
    assert "UnicodeEncodeError" not in printed and "models.py" not in printed
    assert requests_by_the_failed_sync == 2  # page 2 was asked for once; nothing was sent with its cursor
    assert server.cursors.decode(state_after_failure["next_cursor"])[0] == 100  # page 1's cursor, sendable
    assert second.returncode == 0, second.stdout + second.stderr
    assert "sync starting from the saved cursor" in second.stdout
    assert upserts_reported(second.stdout) == 150
    assert server.cursors.decode(saved_state(project)["next_cursor"])[0] == 250
    assert count_rows(project) == (250, 250)


def test_a_state_already_holding_an_unsendable_cursor_gets_the_recovery_step_and_sends_nothing(
    tmp_path, offline_home, local_pipreqs
):
    with LocalFprApi(Dataset(size=120, seed=12), api_key=API_KEY) as server:
        project, configuration = debug_project(tmp_path, server)
        (project / "files").mkdir()
        (project / "files" / "state.json").write_text(json.dumps({"next_cursor": "x\ud800y"}))
        stuck = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        requests_by_the_stuck_sync = server.requests_served
        (project / "files" / "state.json").unlink()  # the recovery step the message gives, run locally
        recovered = fivetran_debug(project, configuration, offline_home, local_pipreqs)

    printed = stuck.stdout + stuck.stderr
    assert stuck.returncode != 0
    assert f"the saved state's {SURROGATE_PROBLEM}" in printed
    assert "run a full re-sync of the connection in the Fivetran dashboard" in printed
    assert "(locally: delete files/state.json; make reset also forgets the local warehouse)" in printed
    assert "UnicodeEncodeError" not in printed
    assert requests_by_the_stuck_sync == 0
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert count_rows(project) == (120, 120)


def test_a_cursor_too_long_for_a_request_is_refused_before_it_is_saved(make_api, project):
    server = make_api(size=300, faults="3=unsendable_cursor:long")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert "page 3: the API's next_cursor is 10,000 characters long, more than the 2,048 a request can carry" in (
        result.output
    )
    assert server.requests_served == 3
    assert server.cursors.decode(result.state["next_cursor"])[0] == 200
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(200,)]


def test_a_cursor_with_control_characters_is_sent_back_exactly(scripted, project):
    """A request percent-encodes them, so the request line never holds one raw: they are no reason to fail."""
    cursor = "a\nb\x01c\x7f"
    scripted.answer(200, json={"fpr_records": [sample_record(1)], "next_cursor": cursor, "has_more": True})
    scripted.answer(200, json={"fpr_records": [], "next_cursor": "end", "has_more": False})

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert scripted.calls[1].params["cursor"] == [cursor]


@pytest.mark.parametrize(
    "cursor", ["gAAAAABpZ-abc_123==", "0123456789abcdef0123456789abcdef", "x" * 2048, "ß=\u2028 &\x00+"]
)
def test_every_cursor_a_request_can_carry_is_accepted(cursor):
    assert cursor_problem(cursor) == ""


@pytest.mark.parametrize(
    ("cursor", "problem"),
    [
        ("x" * 2049, "is 2,049 characters long"),
        ("\udfff", "holds a lone UTF-16 surrogate (U+DFFF at character 1)"),
        ("ok\ud83d", "holds a lone UTF-16 surrogate (U+D83D at character 3)"),
    ],
)
def test_a_cursor_no_request_can_carry_is_named_without_quoting_it(cursor, problem):
    assert cursor_problem(cursor).startswith(problem)
    assert "x" * 20 not in cursor_problem(cursor)


@pytest.mark.parametrize(
    "state",
    [{"next_cursor": 42, "last_updated_epoch": "soon"}, {"next_cursor": "", "last_updated_epoch": True}, {}],
)
def test_a_state_whose_values_have_the_wrong_type_still_starts_from_the_beginning(state):
    cursor, highest_epoch, loaded = read_state(state)
    assert (cursor, highest_epoch, len(loaded)) == (None, None, 0)


# ---------- a sync with nothing new writes nothing ----------


@pytest.mark.parametrize(
    ("end_style", "page_size", "last_page"), [("older", 50, 50), ("older", 200, 150), ("newer", 200, 0)]
)
def test_a_sync_with_nothing_new_writes_nothing(make_api, project, end_style, page_size, last_page):
    server = make_api(size=750, end_style=end_style)
    first = project.sync(configuration_for(server, page_size))
    rows_after_first = project.rows()

    second = project.sync(configuration_for(server, page_size))

    assert second.ok, second.output
    assert len(LoadedRecords.decode(first.state.get(STATE_LOADED))) == last_page  # only what comes again
    assert upserts_reported(second.output) == 0
    assert project.rows() == rows_after_first  # _fivetran_synced included: no row was written again
    assert server.cursors.decode(second.state["next_cursor"])[0] == server.dataset.last_seq - last_page
    assert {**second.state, "next_cursor": ""} == {**first.state, "next_cursor": ""}
    if end_style == "older":  # its cursors are the same text for the same place; the newer one's carry a nonce
        assert second.state == first.state
    assert (f"{last_page} {SKIPPED}" in second.output) == bool(last_page)


def test_one_changed_record_on_the_older_services_last_page_is_the_only_one_written(make_api, project):
    server = make_api(size=749, end_style="older")
    first = project.sync(configuration_for(server, 50))
    changed = server.dataset.update_record(720)  # on the last page, of 49 records

    second = project.sync(configuration_for(server, 50))

    assert second.ok, second.output
    assert upserts_reported(second.output) == 1
    assert f"48 {SKIPPED}" in second.output
    assert {row["record_id"]: as_served(row) for row in project.rows()} == served_records(server)
    assert project.rows(where=f"WHERE record_id = '{changed}'")[0]["last_updated_epoch"] == project.max_epoch()
    assert second.state["next_cursor"] == first.state["next_cursor"]
    third = project.sync(configuration_for(server, 50))
    assert upserts_reported(third.output) == 0


def test_a_state_of_the_previous_shape_loads_the_last_page_once_more_then_nothing(make_api, project):
    server = make_api(size=300, end_style="older")
    first = project.sync(configuration_for(server, 100))
    previous_shape = {key: first.state[key] for key in ("next_cursor", "last_updated_epoch")}

    second = project.sync(configuration_for(server, 100), state=previous_shape)
    third = project.sync(configuration_for(server, 100))

    assert second.ok and third.ok, second.output + third.output
    assert upserts_reported(second.output) == 100
    assert upserts_reported(third.output) == 0
    assert third.state == first.state


def test_a_record_whose_epoch_changed_is_never_taken_for_one_loaded():
    loaded = LoadedRecords()
    loaded.add([{"record_id": "r1", "last_updated_epoch": 100}, {"record_id": "r2", "last_updated_epoch": 100}])
    again = LoadedRecords.decode(loaded.encode())

    assert again.holds({"record_id": "r1", "last_updated_epoch": 100})
    assert not again.holds({"record_id": "r1", "last_updated_epoch": 130})
    assert not again.holds({"record_id": "r1", "last_updated_epoch": None})
    assert not again.holds({"record_id": "r3", "last_updated_epoch": 100})


def test_a_record_twice_on_a_page_with_two_epochs_is_never_skipped():
    loaded = LoadedRecords()
    loaded.add([{"record_id": "r1", "last_updated_epoch": 100}, {"record_id": "r1", "last_updated_epoch": 130}])
    loaded.add([{"record_id": "r1", "last_updated_epoch": 100}])

    assert not loaded.holds({"record_id": "r1", "last_updated_epoch": 100})
    assert not loaded.holds({"record_id": "r1", "last_updated_epoch": 130})


def test_the_remembered_records_stay_small_and_a_page_past_the_limit_is_not_remembered():
    page = [{"record_id": f"{number:036d}", "last_updated_epoch": 1748797200 + number} for number in range(200)]
    loaded = LoadedRecords()
    loaded.add(page)
    assert len(loaded.encode()) < 4_400  # a page of 200 records
    assert "0" * 30 not in loaded.encode()  # digests, not the record_ids themselves

    loaded.add([{"record_id": f"more-{n}", "last_updated_epoch": 1} for n in range(MAX_LOADED_RECORDS)])
    assert len(loaded) == 0
    loaded.add(page)
    assert len(loaded) == 0


@pytest.mark.parametrize("value", [42, "not base64!", "AAAA", "\ud800"])
def test_remembered_records_that_cannot_be_read_are_loaded_again(make_api, project, value):
    server = make_api(size=150, end_style="older")
    first = project.sync(configuration_for(server, 100))

    second = project.sync(configuration_for(server, 100), state={**first.state, STATE_LOADED: value})

    assert second.ok, second.output
    assert f"the saved {STATE_LOADED} cannot be read" in second.output
    assert upserts_reported(second.output) == 50
    assert second.state == first.state


# ---------- a sync ends ----------


@pytest.fixture
def changing_api(make_api):
    """An API whose every request from the second on first updates more records than a page holds."""
    server = make_api(size=300, faults="2+=changes:150")
    falls_still = threading.Timer(RUNAWAY_GUARD_SECONDS, setattr, (server, "faults", None))
    falls_still.start()
    yield server
    falls_still.cancel()


def test_an_api_changing_faster_than_it_is_read_stops_at_the_page_bound_and_the_next_sync_completes(
    changing_api, project, monkeypatch
):
    server = changing_api
    monkeypatch.setattr(fpr_connector, "SYNC_BOUND", SyncBound(max_pages=5))

    bounded = project.sync(configuration_for(server, 100))

    assert bounded.ok, bounded.output
    assert "the sync stopped at its bound of 5 pages (SYNC_BOUND in connector.py)" in bounded.output
    assert "the next sync goes on from here" in bounded.output
    assert "sync finished: 5 pages, 500 records" in bounded.output
    assert server.requests_served == 5  # no page fetched past the bound
    assert server.cursors.decode(bounded.state["next_cursor"])[0] > 300  # page 5's cursor, saved
    server.faults = None  # the API falls still
    monkeypatch.setattr(fpr_connector, "SYNC_BOUND", SyncBound(max_pages=1000))
    following = project.sync(configuration_for(server, 100))
    assert following.ok, following.output
    assert "sync starting from the saved cursor" in following.output
    assert "stopped at its bound" not in following.output
    assert {row["record_id"]: as_served(row) for row in project.rows()} == served_records(server)


def test_an_api_changing_faster_than_it_is_read_stops_at_the_time_bound(changing_api, project, monkeypatch):
    server = changing_api
    monkeypatch.setattr(fpr_connector, "SYNC_BOUND", SyncBound(max_seconds=1.0))

    started = time.monotonic()
    bounded = project.sync(configuration_for(server, 100))
    seconds = time.monotonic() - started

    assert bounded.ok, bounded.output
    assert "the sync stopped at its bound of 1 s (SYNC_BOUND in connector.py)" in bounded.output
    assert seconds < RUNAWAY_GUARD_SECONDS / 2  # ended by its bound, long before the API fell still
    server.faults = None
    following = project.sync(configuration_for(server, 100))
    assert following.ok, following.output
    assert {row["record_id"]: as_served(row) for row in project.rows()} == served_records(server)


def test_the_real_fivetran_debug_stops_at_the_bound_and_says_the_next_sync_goes_on(
    tmp_path, offline_home, local_pipreqs
):
    plan = FaultPlan("2+=changes:150")
    with LocalFprApi(Dataset(size=300, seed=12), api_key=API_KEY, faults=plan) as server:
        project, configuration = debug_project(tmp_path, server)
        source = (project / "connector.py").read_text()
        setting = "SYNC_BOUND = SyncBound(max_pages=None, max_seconds=2 * 3600)"
        assert setting in source
        (project / "connector.py").write_text(source.replace(setting, "SYNC_BOUND = SyncBound(max_pages=3)"))
        bounded = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        requests_by_the_bounded_sync = server.requests_served
        state_after_bound = saved_state(project)
        server.faults = None
        following = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        served = served_records(server)

    assert bounded.returncode == 0, bounded.stdout + bounded.stderr
    assert "SYNC SUCCEEDED" in bounded.stdout
    assert "the sync stopped at its bound of 3 pages (SYNC_BOUND in connector.py)" in bounded.stdout
    assert "the state is saved and the next sync goes on from here" in bounded.stdout
    assert requests_by_the_bounded_sync == 3
    assert server.cursors.decode(state_after_bound["next_cursor"])[0] > 300
    assert following.returncode == 0, following.stdout + following.stderr
    assert "sync starting from the saved cursor" in following.stdout
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        landed = db.execute("SELECT record_id, last_updated_epoch FROM tester.fpr_records").fetchall()
    assert dict(landed) == {record_id: record["last_updated_epoch"] for record_id, record in served.items()}

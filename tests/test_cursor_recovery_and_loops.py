"""Expired cursors are recovered from once; pagination that cannot end, or would save the key, fails instead."""

import base64
from urllib.parse import quote

import pytest
from conftest import API_KEY, as_served, configuration_for, sample_record, scripted_configuration, served_records


def test_an_expired_saved_cursor_restarts_the_read_and_ends_with_a_good_cursor(make_api, project):
    now = [1_800_000_000.0]
    server = make_api(size=300, cursor_max_age=3600, clock=lambda: now[0])
    first = project.sync(configuration_for(server))
    server.dataset.apply_changes(insert=4)
    now[0] += 7200  # the saved cursor is now two hours old

    second = project.sync(configuration_for(server))

    assert second.ok, second.output
    assert second.output.count("the server no longer accepts the saved cursor (HTTP 410)") == 1
    assert "reading again from the beginning" in second.output
    assert {row["record_id"]: as_served(row) for row in project.rows()} == served_records(server)
    assert second.state["next_cursor"] != first.state["next_cursor"]
    assert server.cursors.decode(second.state["next_cursor"])[0] == server.dataset.last_seq

    third = project.sync(configuration_for(server))
    assert third.ok and "sync finished: 1 pages, 0 records" in third.output


def test_a_cursor_rejected_mid_sync_restarts_once_and_finishes(make_api, project):
    server = make_api(size=500, faults="4=cursor_expired")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert "page 4: the server no longer accepts the saved cursor (HTTP 410)" in result.output
    assert project.query("SELECT count(*), count(DISTINCT record_id) FROM tester.fpr_records") == [(500, 500)]


def test_a_second_cursor_rejection_in_one_sync_fails_clearly(make_api, project):
    server = make_api(size=500, faults="3=cursor_expired,6=cursor_expired")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert "no longer accepts the saved cursor (HTTP 410), even when reading from the beginning; stopping" in (
        result.output
    )
    assert server.requests_served == 6


def test_a_cursor_the_server_calls_invalid_is_treated_like_an_expired_one(make_api, project):
    server = make_api(size=100)

    result = project.sync(configuration_for(server), state={"next_cursor": "gAAAAABforgedcursor=="})

    assert result.ok, result.output
    assert "(HTTP 400)" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(100,)]


def test_a_cursor_that_cycles_back_fails_instead_of_looping(make_api, project):
    server = make_api(size=750, faults="3=cycle")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert "page 3 returned a cursor already seen in this sync: the API is looping" in result.output
    assert server.requests_served == 3
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(200,)]


def test_a_cursor_that_repeats_itself_fails_instead_of_looping(make_api, project):
    server = make_api(size=750, faults="2=same_cursor")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert "page 2 returned a cursor already seen in this sync" in result.output
    assert server.requests_served == 2


def test_has_more_without_a_cursor_fails_instead_of_stopping_silently(make_api, project):
    server = make_api(size=750, faults="2=no_cursor")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert "page 2 says has_more: true but gives no next_cursor" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(100,)]


@pytest.mark.parametrize(
    ("form", "encoded"),
    [
        ("raw", API_KEY),
        ("base64", base64.b64encode(API_KEY.encode()).decode()),
        ("url", quote(API_KEY, safe="")),
    ],
)
def test_a_next_cursor_holding_the_key_is_refused_before_it_is_saved(make_api, project, form, encoded):
    """The state is stored and printed at every checkpoint: a cursor carrying the key would put it in both."""
    server = make_api(size=300, faults=f"3=key_in_cursor:{form}")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert (
        "page 3: the API's next_cursor contains the API key; it is not saved, as the state is stored and printed: "
        "report this to the API's owner" in result.output
    )
    assert server.cursors.decode(result.state["next_cursor"])[0] == 200  # pages 1 and 2 stay checkpointed
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(200,)]
    state_file = (project.path / "files" / "state.json").read_text()
    assert encoded not in state_file and API_KEY not in state_file
    assert encoded not in result.output and API_KEY not in result.output


def test_a_chain_of_fresh_cursors_bringing_nothing_new_is_stopped_as_a_loop(make_api, project):
    """Each cursor is new, so no cursor repeats; but from page 2 on every page re-sends records already loaded."""
    server = make_api(size=750, faults="2+=fresh_cursor_loop")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert (
        "page 51: the last 50 pages brought no record new to this sync, each with a new cursor: the API is looping "
        "(pages_without_new_records in connector.py's LIMITS)" in result.output
    )
    assert server.requests_served == 51
    assert project.query("SELECT count(*), count(DISTINCT record_id) FROM tester.fpr_records") == [(100, 100)]


def test_pages_that_repeat_a_few_records_are_not_a_loop(scripted, project):
    """Overlapping pages (an offset shifted by an insert) bring some new records each time: the sync ends normally."""
    pages = [
        {
            "fpr_records": [sample_record(n) for n in range(start, start + 3)],
            "next_cursor": f"c{start}",
            "has_more": True,
        }
        for start in range(1, 120, 2)  # 60 pages, each re-sending one record of the page before
    ]
    scripted.serve(*pages, {"fpr_records": [], "next_cursor": "end", "has_more": False})

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(121,)]
    assert result.state["next_cursor"] == "end"


def test_the_loop_guard_counts_pages_in_a_row_and_starts_again_after_a_new_record(scripted, project, set_limits):
    """Three stale pages, one page with a new record, three stale pages: with a limit of 4, no loop."""
    set_limits(pages_without_new_records=4)
    stale = [sample_record(1)]
    pages = [{"fpr_records": stale, "next_cursor": "c0", "has_more": True}]
    pages += [{"fpr_records": stale, "next_cursor": f"s{n}", "has_more": True} for n in range(3)]
    pages += [{"fpr_records": [sample_record(2)], "next_cursor": "fresh", "has_more": True}]
    pages += [{"fpr_records": stale, "next_cursor": f"t{n}", "has_more": True} for n in range(3)]
    scripted.serve(*pages, {"fpr_records": [], "next_cursor": "end", "has_more": False})

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(2,)]


def test_four_stale_pages_in_a_row_reach_a_limit_of_four(scripted, project, set_limits):
    set_limits(pages_without_new_records=4)
    stale = [sample_record(1)]
    pages = [{"fpr_records": stale, "next_cursor": f"c{n}", "has_more": True} for n in range(5)]
    scripted.serve(*pages, {"fpr_records": [], "next_cursor": "end", "has_more": False})

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert "page 5: the last 4 pages brought no record new to this sync" in result.output
    assert len(scripted.calls) == 5


def test_records_sharing_one_epoch_are_still_new_records(scripted, project, set_limits):
    """A record is known by its record_id and its last_updated_epoch together: same epoch, other ids, new records."""
    set_limits(pages_without_new_records=2)
    pages = [
        {
            "fpr_records": [{**sample_record(n), "last_updated_epoch": 1748797200}],
            "next_cursor": f"c{n}",
            "has_more": True,
        }
        for n in range(1, 6)
    ]
    scripted.serve(*pages, {"fpr_records": [], "next_cursor": "end", "has_more": False})

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(5,)]


def test_a_record_sent_again_with_a_newer_epoch_is_a_new_version_not_a_loop(scripted, project, set_limits):
    set_limits(pages_without_new_records=2)
    pages = [
        {"fpr_records": [sample_record(1, epoch=1748797200 + n)], "next_cursor": f"c{n}", "has_more": True}
        for n in range(5)
    ]
    scripted.serve(*pages, {"fpr_records": [], "next_cursor": "end", "has_more": False})

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert project.query("SELECT record_id, last_updated_epoch FROM tester.fpr_records") == [("rec-0001", 1748797205)]


def test_pages_after_a_restart_are_numbered_on_from_the_rejected_one(scripted, project):
    """The saved cursor is rejected on page 1; the read from the beginning is page 2, and its faults say so."""
    scripted.answer(410, json={"error": "cursor_expired"})
    scripted.serve({"fpr_records": [sample_record(1)], "next_cursor": None, "has_more": True})

    result = project.sync(scripted_configuration(scripted), state={"next_cursor": "saved"})

    assert not result.ok
    assert "page 1: the server no longer accepts the saved cursor (HTTP 410)" in result.output
    assert "page 2 says has_more: true but gives no next_cursor; the API cannot be paged" in result.output
    assert [call.params.get("cursor") for call in scripted.calls] == [["saved"], None]
    assert result.state == {}  # nothing checkpointed: the next sync starts again from the state it was given


def test_pages_whose_records_all_lack_an_id_count_towards_the_loop_guard_from_the_first(scripted, project, set_limits):
    """With a limit of 3, two such pages are not yet a loop: the sync goes on to the page after them."""
    set_limits(pages_without_new_records=3)
    no_id = {key: value for key, value in sample_record(9).items() if key != "record_id"}
    scripted.serve(
        {"fpr_records": [no_id], "next_cursor": "c1", "has_more": True},
        {"fpr_records": [no_id], "next_cursor": "c2", "has_more": True},
        {"fpr_records": [sample_record(1)], "next_cursor": "c3", "has_more": False},
    )

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert project.query("SELECT record_id FROM tester.fpr_records") == [("rec-0001",)]
    assert result.state["next_cursor"] == "c3"

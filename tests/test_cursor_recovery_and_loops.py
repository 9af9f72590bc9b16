"""Expired cursors are recovered from once; pagination that cannot end fails instead of looping."""

from conftest import as_served, configuration_for, served_records


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

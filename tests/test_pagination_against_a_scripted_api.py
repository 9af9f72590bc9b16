"""Request shape, end-of-data styles and state handling, against a server that answers exactly as scripted."""

import pytest
from conftest import API_KEY, checkpoints, sample_record, scripted_configuration

TOKEN_A = "gAAAAABoPn8kZmlyc3Q9PXBhZ2U="
TOKEN_B = "gAAAAABoPn8kc2Vjb25kPT1wYWdl=="
TOKEN_END = "gAAAAABoPn8kZW5kPT0="


def page(first, count, next_cursor, has_more=True):
    return {
        "fpr_records": [sample_record(number) for number in range(first, first + count)],
        "next_cursor": next_cursor,
        "has_more": has_more,
    }


def sent_params(scripted):
    return [call.params for call in scripted.calls]


def test_first_request_sends_key_header_and_page_size_without_cursor(scripted, project):
    scripted.serve(page(1, 0, TOKEN_END, has_more=False))

    project.sync(scripted_configuration(scripted, page_size="25"))

    request = scripted.calls[0]
    assert request.path == "/fpr_data"
    assert request.headers["x-api-key"] == API_KEY
    assert sent_params(scripted) == [{"page_size": ["25"]}]


def test_cursor_is_sent_back_verbatim_with_its_equals_signs_encoded_once(scripted, project):
    scripted.serve(page(1, 2, TOKEN_A), page(3, 2, TOKEN_B), page(5, 0, TOKEN_END, has_more=False))

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    urls = [call.target for call in scripted.calls]
    assert "cursor=gAAAAABoPn8kZmlyc3Q9PXBhZ2U%3D" in urls[1]
    assert "cursor=gAAAAABoPn8kc2Vjb25kPT1wYWdl%3D%3D" in urls[2]
    assert [params.get("cursor") for params in sent_params(scripted)] == [None, [TOKEN_A], [TOKEN_B]]


def test_newer_end_style_stops_on_the_empty_page_and_keeps_its_cursor(scripted, project):
    scripted.serve(page(1, 3, TOKEN_A), page(4, 3, TOKEN_B), page(7, 0, TOKEN_END, has_more=False))

    result = project.sync(scripted_configuration(scripted, page_size="3"))

    assert result.ok, result.output
    assert len(scripted.calls) == 3
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(6,)]
    assert result.state == {"next_cursor": TOKEN_END, "last_updated_epoch": 1748797200 + 6}


def test_older_end_style_stops_on_a_null_cursor_and_keeps_the_last_good_one(scripted, project):
    old_a, old_b = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    scripted.serve(page(1, 2, old_a), page(3, 2, old_b), page(5, 1, None, has_more=False))

    result = project.sync(scripted_configuration(scripted, page_size="2"))

    assert result.ok, result.output
    assert len(scripted.calls) == 3
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(5,)]
    assert result.state["next_cursor"] == old_b


def test_older_end_style_without_has_more_stops_on_the_null_cursor(scripted, project):
    scripted.serve({"fpr_records": [sample_record(1)], "next_cursor": None})

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert len(scripted.calls) == 1
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(1,)]


def test_empty_first_page_loads_nothing_and_saves_the_cursor(scripted, project):
    scripted.serve(page(1, 0, TOKEN_END, has_more=False))

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert result.state == {"next_cursor": TOKEN_END}
    assert "sync finished: 1 pages, 0 records" in result.output


def test_single_partial_page_with_has_more_false_ends_the_sync(scripted, project):
    scripted.serve(page(1, 4, TOKEN_A, has_more=False))

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert len(scripted.calls) == 1
    assert result.state == {"next_cursor": TOKEN_A, "last_updated_epoch": 1748797204}


def test_has_more_true_without_a_cursor_fails_with_a_clear_message(scripted, project):
    scripted.serve(page(1, 2, TOKEN_A), page(3, 2, None, has_more=True))

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert "page 2 says has_more: true but gives no next_cursor" in result.output
    assert result.state == {"next_cursor": TOKEN_A, "last_updated_epoch": 1748797202}


def test_state_never_regresses_across_checkpoints(scripted, project):
    # the saved state is ahead of what the API sends back first; the last page has a null cursor
    start = {"next_cursor": TOKEN_A, "last_updated_epoch": 1748799999}
    scripted.serve(page(1, 2, TOKEN_B), page(3, 2, None, has_more=False))

    result = project.sync(scripted_configuration(scripted), state=start)

    assert result.ok, result.output
    assert sent_params(scripted)[0]["cursor"] == [TOKEN_A]
    states = checkpoints(result.output)
    assert [state["next_cursor"] for state in states] == [TOKEN_B, TOKEN_B]
    assert all(state["last_updated_epoch"] == 1748799999 for state in states)


def test_lab_connector_state_is_honoured_as_the_starting_cursor(scripted, project):
    scripted.serve(page(10, 1, TOKEN_END, has_more=False))

    result = project.sync(scripted_configuration(scripted), state={"next_cursor": TOKEN_B})

    assert result.ok, result.output
    assert sent_params(scripted)[0]["cursor"] == [TOKEN_B]
    assert result.state == {"next_cursor": TOKEN_END, "last_updated_epoch": 1748797210}


def test_a_page_with_records_but_an_unchanged_cursor_is_a_loop(scripted, project):
    scripted.serve(page(1, 2, TOKEN_A), page(3, 2, TOKEN_A))

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert "cursor already seen in this sync" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(2,)]


def test_a_page_that_returns_the_starting_cursor_later_is_a_loop(scripted, project):
    scripted.serve(page(1, 2, TOKEN_B), page(3, 2, TOKEN_A))

    result = project.sync(scripted_configuration(scripted), state={"next_cursor": TOKEN_A})

    assert not result.ok
    assert "page 2 returned a cursor already seen in this sync" in result.output
    assert result.state["next_cursor"] == TOKEN_B  # page 1's checkpoint; page 2 was never loaded
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(2,)]


def test_a_saved_state_of_the_wrong_types_restarts_safely(scripted, project):
    scripted.serve(page(1, 2, TOKEN_END, has_more=False))

    result = project.sync(
        scripted_configuration(scripted), state={"next_cursor": 12345, "last_updated_epoch": "yesterday"}
    )

    assert result.ok, result.output
    assert "cursor" not in scripted.calls[0].params
    assert "the saved next_cursor is not text" in result.output
    assert result.state == {"next_cursor": TOKEN_END, "last_updated_epoch": 1748797202}


def test_has_more_sent_as_text_is_read_as_what_it_says(scripted, project):
    scripted.serve(page(1, 2, TOKEN_A, has_more="true"), page(3, 2, TOKEN_B, has_more="False"))

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert len(scripted.calls) == 2
    assert result.state == {"next_cursor": TOKEN_B, "last_updated_epoch": 1748797204}


def test_has_more_as_one_and_zero_is_read_as_true_and_false(scripted, project):
    scripted.serve(page(1, 2, TOKEN_A, has_more=1), page(3, 2, TOKEN_B, has_more=0))

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert len(scripted.calls) == 2


def test_has_more_that_is_neither_true_nor_false_fails_naming_the_page(scripted, project):
    scripted.serve(page(1, 2, TOKEN_A), page(3, 2, TOKEN_B, has_more="maybe"))

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert "page 2: has_more is a str that is neither true nor false" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(2,)]


def test_a_page_with_far_more_records_than_asked_for_fails_naming_the_limit(scripted, project, set_limits):
    set_limits(max_page_records=50)
    scripted.serve(page(1, 2, TOKEN_A), page(3, 51, TOKEN_B))

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert (
        "page 2: the response holds 51 records, more than max_page_records (50, in connector.py's LIMITS)"
        in result.output
    )
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(2,)]


def test_a_page_of_exactly_as_many_records_as_a_page_may_hold_loads(scripted, project, set_limits):
    set_limits(max_page_records=50)
    scripted.serve(page(1, 50, TOKEN_A), page(51, 0, TOKEN_END, has_more=False))

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(50,)]


@pytest.mark.parametrize(("cursor", "kind"), [(42, "int"), (["c"], "list"), ({"c": 1}, "dict"), (True, "bool")])
def test_a_next_cursor_that_is_not_text_fails_naming_its_type(scripted, project, cursor, kind):
    scripted.serve(page(1, 2, TOKEN_A), page(3, 2, cursor))

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert f"page 2: next_cursor is a {kind}, not a string" in result.output
    assert result.state["next_cursor"] == TOKEN_A
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(2,)]


@pytest.mark.parametrize("has_more", [2, -1, 1.0, [1]])
def test_has_more_as_another_number_or_a_list_fails_naming_the_page(scripted, project, has_more):
    scripted.serve(page(1, 2, TOKEN_A), page(3, 2, TOKEN_B, has_more=has_more))

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert f"page 2: has_more is a {type(has_more).__name__} that is neither true nor false" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(2,)]

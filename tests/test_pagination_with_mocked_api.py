"""Request shape, end-of-data styles and state handling, against a mocked /fpr_data (responses)."""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from conftest import API_KEY, MOCK_BASE_URL, checkpoints, mock_configuration, sample_record

URL = MOCK_BASE_URL + "/fpr_data"
TOKEN_A = "gAAAAABoPn8kZmlyc3Q9PXBhZ2U="
TOKEN_B = "gAAAAABoPn8kc2Vjb25kPT1wYWdl=="
TOKEN_END = "gAAAAABoPn8kZW5kPT0="


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


def serve(mocked, *bodies):
    for body in bodies:
        mocked.add(responses.GET, URL, json=body, status=200)


def page(first, count, next_cursor, has_more=True):
    return {
        "fpr_records": [sample_record(number) for number in range(first, first + count)],
        "next_cursor": next_cursor,
        "has_more": has_more,
    }


def sent_params(mocked):
    return [parse_qs(urlsplit(call.request.url).query) for call in mocked.calls]


def test_first_request_sends_key_header_and_page_size_without_cursor(mocked, project):
    serve(mocked, page(1, 0, TOKEN_END, has_more=False))

    project.sync(mock_configuration(page_size="25"))

    request = mocked.calls[0].request
    assert urlsplit(request.url).path == "/fpr_data"
    assert request.headers["x-api-key"] == API_KEY
    assert sent_params(mocked) == [{"page_size": ["25"]}]


def test_cursor_is_sent_back_verbatim_with_its_equals_signs_encoded_once(mocked, project):
    serve(mocked, page(1, 2, TOKEN_A), page(3, 2, TOKEN_B), page(5, 0, TOKEN_END, has_more=False))

    result = project.sync(mock_configuration())

    assert result.ok, result.output
    urls = [call.request.url for call in mocked.calls]
    assert "cursor=gAAAAABoPn8kZmlyc3Q9PXBhZ2U%3D" in urls[1]
    assert "cursor=gAAAAABoPn8kc2Vjb25kPT1wYWdl%3D%3D" in urls[2]
    assert [params.get("cursor") for params in sent_params(mocked)] == [None, [TOKEN_A], [TOKEN_B]]


def test_newer_end_style_stops_on_the_empty_page_and_keeps_its_cursor(mocked, project):
    serve(mocked, page(1, 3, TOKEN_A), page(4, 3, TOKEN_B), page(7, 0, TOKEN_END, has_more=False))

    result = project.sync(mock_configuration(page_size="3"))

    assert result.ok, result.output
    assert len(mocked.calls) == 3
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(6,)]
    assert result.state == {"next_cursor": TOKEN_END, "last_updated_epoch": 1748797200 + 6}


def test_older_end_style_stops_on_a_null_cursor_and_keeps_the_last_good_one(mocked, project):
    old_a, old_b = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    serve(mocked, page(1, 2, old_a), page(3, 2, old_b), page(5, 1, None, has_more=False))

    result = project.sync(mock_configuration(page_size="2"))

    assert result.ok, result.output
    assert len(mocked.calls) == 3
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(5,)]
    assert result.state["next_cursor"] == old_b


def test_older_end_style_without_has_more_stops_on_the_null_cursor(mocked, project):
    serve(mocked, {"fpr_records": [sample_record(1)], "next_cursor": None})

    result = project.sync(mock_configuration())

    assert result.ok, result.output
    assert len(mocked.calls) == 1
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(1,)]


def test_empty_first_page_loads_nothing_and_saves_the_cursor(mocked, project):
    serve(mocked, page(1, 0, TOKEN_END, has_more=False))

    result = project.sync(mock_configuration())

    assert result.ok, result.output
    assert result.state == {"next_cursor": TOKEN_END}
    assert "sync finished: 1 pages, 0 records" in result.output


def test_single_partial_page_with_has_more_false_ends_the_sync(mocked, project):
    serve(mocked, page(1, 4, TOKEN_A, has_more=False))

    result = project.sync(mock_configuration())

    assert result.ok, result.output
    assert len(mocked.calls) == 1
    assert result.state == {"next_cursor": TOKEN_A, "last_updated_epoch": 1748797204}


def test_has_more_true_without_a_cursor_fails_with_a_clear_message(mocked, project):
    serve(mocked, page(1, 2, TOKEN_A), page(3, 2, None, has_more=True))

    result = project.sync(mock_configuration())

    assert not result.ok
    assert "page 2 says has_more: true but gives no next_cursor" in result.output
    assert result.state == {"next_cursor": TOKEN_A, "last_updated_epoch": 1748797202}


def test_state_never_regresses_across_checkpoints(mocked, project):
    # the saved state is ahead of what the API sends back first; the last page has a null cursor
    start = {"next_cursor": TOKEN_A, "last_updated_epoch": 1748799999}
    serve(mocked, page(1, 2, TOKEN_B), page(3, 2, None, has_more=False))

    result = project.sync(mock_configuration(), state=start)

    assert result.ok, result.output
    assert sent_params(mocked)[0]["cursor"] == [TOKEN_A]
    states = checkpoints(result.output)
    assert [state["next_cursor"] for state in states] == [TOKEN_B, TOKEN_B]
    assert all(state["last_updated_epoch"] == 1748799999 for state in states)


def test_lab_connector_state_is_honoured_as_the_starting_cursor(mocked, project):
    serve(mocked, page(10, 1, TOKEN_END, has_more=False))

    result = project.sync(mock_configuration(), state={"next_cursor": TOKEN_B})

    assert result.ok, result.output
    assert sent_params(mocked)[0]["cursor"] == [TOKEN_B]
    assert result.state == {"next_cursor": TOKEN_END, "last_updated_epoch": 1748797210}


def test_a_page_with_records_but_an_unchanged_cursor_is_a_loop(mocked, project):
    serve(mocked, page(1, 2, TOKEN_A), page(3, 2, TOKEN_A))

    result = project.sync(mock_configuration())

    assert not result.ok
    assert "cursor already seen in this sync" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(2,)]


def test_a_page_that_returns_the_starting_cursor_later_is_a_loop(mocked, project):
    serve(mocked, page(1, 2, TOKEN_B), page(3, 2, TOKEN_A))

    result = project.sync(mock_configuration(), state={"next_cursor": TOKEN_A})

    assert not result.ok
    assert "page 2 returned a cursor already seen in this sync" in result.output


def test_a_saved_state_of_the_wrong_types_restarts_safely(mocked, project):
    serve(mocked, page(1, 2, TOKEN_END, has_more=False))

    result = project.sync(mock_configuration(), state={"next_cursor": 12345, "last_updated_epoch": "yesterday"})

    assert result.ok, result.output
    assert "cursor" not in parse_qs(urlsplit(mocked.calls[0].request.url).query)
    assert "the saved next_cursor is not text" in result.output
    assert result.state == {"next_cursor": TOKEN_END, "last_updated_epoch": 1748797202}

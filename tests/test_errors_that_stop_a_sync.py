"""What retrying cannot fix stops the sync at once, says whose problem it is, and keeps what was loaded."""

import pytest
import responses
from conftest import API_KEY, MOCK_BASE_URL, configuration_for, mock_configuration


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("status:401", "page 3: the API key was rejected (HTTP 401): check 'api_key'"),
        ("status:403", "page 3: the API key was rejected (HTTP 403): check 'api_key'"),
        ("status:404", "page 3: no FPR API at http://127.0.0.1:"),
        ("status:422", 'page 3: the API answered HTTP 422: {"error": "http_422", "message": "injected HTTP 422"}'),
    ],
)
def test_a_client_error_fails_at_once_without_retrying(make_api, project, fault, message, no_backoff_sleep):
    server = make_api(size=500, faults=f"3={fault}")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert message in result.output
    assert server.requests_served == 3
    assert no_backoff_sleep == []
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(200,)]


def test_a_404_names_the_base_url_to_check(make_api, project):
    server = make_api(size=50, faults="1=status:404")

    result = project.sync(configuration_for(server))

    assert f"no FPR API at {server.base_url}/fpr_data (HTTP 404): check 'base_url'" in result.output


def test_a_wrong_key_fails_the_first_page_and_loads_nothing(api, project):
    result = project.sync({**configuration_for(api), "api_key": "not-the-key"})

    assert not result.ok
    assert "page 1: the API key was rejected (HTTP 401): check 'api_key'" in result.output
    assert result.state == {}


def test_what_a_server_says_is_trimmed_and_the_key_masked(project):
    with responses.RequestsMock() as mocked:
        echo = f"bad request for key {API_KEY}: " + "x" * 5000
        mocked.add(responses.GET, MOCK_BASE_URL + "/fpr_data", status=422, body=echo)
        result = project.sync(mock_configuration())

    assert "the API answered HTTP 422: bad request for key ***: xxx" in result.output
    assert API_KEY not in result.output
    assert "x" * 400 not in result.output


def test_a_redirect_is_not_followed(make_api, project):
    catcher = make_api(size=10)
    server = make_api(size=300, faults=f"2=redirect:{catcher.base_url}/fpr_data")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert "page 2: the API answered with a redirect (HTTP 302), which is not followed" in result.output
    assert catcher.requests_served == 0  # the key never reached the other host
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(100,)]

"""What retrying cannot fix stops the sync at once, says whose problem it is, and keeps what was loaded."""

import pytest
from conftest import configuration_for, scripted_configuration


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("status:401", "page 3: the API key was rejected (HTTP 401): check 'api_key'"),
        ("status:403", "page 3: the API key was rejected (HTTP 403): check 'api_key'"),
        ("status:404", "page 3: no FPR API at http://127.0.0.1:"),
        ("status:422", "page 3: the API answered HTTP 422 (error code http_422); its message is not shown"),
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


def test_a_404_names_the_base_url_to_check(make_api, project, no_backoff_sleep):
    server = make_api(size=50, faults="1=status:404")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert f"page 1: no FPR API at {server.base_url}/fpr_data (HTTP 404): check 'base_url'" in result.output
    assert server.requests_served == 1 and no_backoff_sleep == []
    assert result.state == {}
    assert project.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'fpr_records'") == [(0,)]


def test_a_wrong_key_fails_the_first_page_and_loads_nothing(api, project):
    result = project.sync({**configuration_for(api), "api_key": "not-the-key"})

    assert not result.ok
    assert "page 1: the API key was rejected (HTTP 401): check 'api_key'" in result.output
    assert result.state == {}


@pytest.mark.parametrize(
    "body",
    [
        {"error": "unprocessable", "message": "Jane Roe <jane.roe@bank.example> has no such product"},
        {"message": "customer Jane Roe (jane.roe@bank.example) unknown"},
        "plain text naming Jane Roe, jane.roe@bank.example",
    ],
)
def test_a_servers_error_text_is_never_shown_only_its_error_code(scripted, project, body):
    if isinstance(body, dict):
        scripted.answer(422, json=body)
    else:
        scripted.answer(422, body, {"Content-Type": "text/plain"})

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    code = "error code unprocessable" if isinstance(body, dict) and "error" in body else "no error code"
    assert f"page 1: the API answered HTTP 422 ({code}); its message is not shown" in result.output
    assert "Jane" not in result.output and "jane.roe" not in result.output
    assert result.state == {}


def test_a_redirect_is_not_followed(make_api, project):
    catcher = make_api(size=10)
    server = make_api(size=300, faults=f"2=redirect:{catcher.base_url}/fpr_data")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert "page 2: the API answered with a redirect (HTTP 302), which is not followed" in result.output
    assert catcher.requests_served == 0  # the key never reached the other host
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(100,)]

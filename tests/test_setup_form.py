"""The setup form and its "Test connection" check."""

import socket

from conftest import API_KEY, configuration_for, scripted_configuration
from fivetran_connector_sdk import form_field

import connector as fpr_connector
from connector import configuration_form


def run_setup_test(configuration):
    """Runs "Test connection" the way the platform does, through Connector.run_test()."""
    fpr_connector.connector.configuration = None  # a previous in-process sync must not lend its configuration
    return fpr_connector.connector.run_test("connection_test", configuration)


def test_the_form_asks_for_base_url_a_password_api_key_and_page_size():
    form = configuration_form()

    fields = {field.name: field for field in form._fields}
    assert list(fields) == ["base_url", "api_key", "page_size"]
    assert fields["api_key"].text_field == form_field.PASSWORD
    assert fields["base_url"].required and fields["api_key"].required and not fields["page_size"].required
    assert [label for label, _ in form._tests] == ["Test connection"]


def test_connection_succeeds_against_an_fpr_api(api):
    assert run_setup_test(configuration_for(api)).success


def test_connection_asks_for_one_record_only(scripted):
    scripted.serve({"fpr_records": [], "next_cursor": "x"})

    result = run_setup_test(scripted_configuration(scripted))

    assert result.success
    assert [call.params["page_size"] for call in scripted.calls] == [["1"]]


def test_connection_reports_a_rejected_key(api):
    result = run_setup_test({**configuration_for(api), "api_key": "not-the-key"})

    assert "API key was rejected (HTTP 401)" in result.failure


def test_connection_reports_an_unreachable_host():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_setup_test({"base_url": f"http://127.0.0.1:{port}", "api_key": API_KEY})

    assert "could not reach 127.0.0.1" in result.failure
    assert "connection refused" in result.failure


def test_connection_reports_a_server_that_is_not_an_fpr_api(scripted):
    scripted.serve({"items": []})
    not_fpr = run_setup_test(scripted_configuration(scripted))
    scripted.answer(404, json={"error": "not found"})
    missing = run_setup_test(scripted_configuration(scripted))

    assert "no 'fpr_records' list; is base_url an FPR API?" in not_fpr.failure
    assert f"no FPR API at {scripted.base_url}/fpr_data (HTTP 404): check 'base_url'" in missing.failure


def test_connection_reports_a_bad_configuration_without_calling_the_api():
    result = run_setup_test({"base_url": "", "api_key": API_KEY})

    assert "'base_url' is required" in result.failure


def test_connection_waits_what_a_rate_limited_api_asks_only_within_30_s(make_api, no_backoff_sleep):
    """A wait past SETUP_TEST_RETRY_POLICY's 30 s budget fails at once, saying to try later; shorter ones are waited."""
    asking_40_s = make_api(size=5, faults="1+=status:429;retry-after=40;wait-header=RateLimit-Reset")
    asking_5_s = make_api(
        size=5, faults=",".join(f"{n}=status:429;retry-after=5;wait-header=RateLimit-Reset" for n in (1, 2, 3))
    )

    refused = run_setup_test(configuration_for(asking_40_s))
    assert refused.failure == "page 1: still HTTP 429 after 1 attempt; try again later"
    assert no_backoff_sleep == []

    assert run_setup_test(configuration_for(asking_5_s)).success
    assert no_backoff_sleep == [5.0, 5.0, 5.0]  # three paced retries, though the setup test has two attempts

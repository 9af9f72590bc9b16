"""A hostile or broken server can neither hold, block nor bloat a sync, and what it says leaks nothing.

Each fault is served by the real local FPR API (fpr_local_api/faults.py) over a real socket (the
deadline on every framing has a file of its own: test_request_deadline_on_every_framing.py). The
limits that apply are the connector's own (connector.py's LIMITS): request_deadline for a whole
request, max_body_bytes for a decoded body, max_json_values for what a body may hold.
"""

import base64
import threading
from urllib.parse import quote

import pytest
from conftest import (
    API_KEY,
    as_served,
    configuration_for,
    process_project,
    served_records,
    start_connector_process,
)

from connector import COLUMNS
from fpr_local_api import Dataset, LocalFprApi
from fpr_local_api.faults import CHARSET_NAMES, LEAKED_TOKEN, FaultPlan

HANG_GUARD_SECONDS = 60  # a sync that is not over by then is held by the server: the limit failed


def sync_within(project, configuration, seconds=HANG_GUARD_SECONDS):
    """Runs a sync, failing the test instead of hanging if the sync is still running after `seconds`."""
    results = []
    worker = threading.Thread(target=lambda: results.append(project.sync(configuration)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert results, f"the sync was still running after {seconds} s"
    return results[0]


def synced_table(project):
    return {row["record_id"]: as_served(row) for row in project.rows()}


def row_count(project):
    return project.query("SELECT count(*) FROM tester.fpr_records")[0][0]


def test_a_server_that_always_trickles_fails_naming_the_deadline(make_api, project, set_limits):
    set_limits(request_deadline=0.4)
    server = make_api(size=300, faults="2+=slow_headers:5")

    result = sync_within(project, configuration_for(server))

    assert not result.ok
    assert (
        "page 2: no complete answer within 0.4 s (request_deadline in connector.py's LIMITS), 6 attempts"
        in result.output
    )
    assert row_count(project) == 100
    assert result.state["next_cursor"]


@pytest.mark.parametrize("fault", ["endless", "gzip_bomb:1024", "big_page:30"])
def test_a_body_past_the_size_cap_fails_at_once_naming_the_limit(make_api, project, fault):
    server = make_api(size=300, faults=f"2={fault}")

    result = sync_within(project, configuration_for(server))

    assert not result.ok
    assert (
        "page 2: the response is larger than 24 MB once decoded (max_body_bytes in connector.py's LIMITS)"
        in result.output
    )
    assert "retry" not in result.output  # the same answer would come again: no point retrying
    assert row_count(project) == 100
    assert result.state["next_cursor"]


def test_a_legitimate_page_of_several_megabytes_loads(make_api, project):
    server = make_api(size=300, faults="2=big_page:8")

    result = sync_within(project, configuration_for(server))

    assert result.ok, result.output
    assert row_count(project) == 300
    longest = project.query("SELECT max(length(transaction_history)) FROM tester.fpr_records")[0][0]
    assert longest > 70_000  # 8 MB over 100 records: the long text arrived whole


def test_poisoned_values_land_repaired_and_every_later_sync_goes_on(make_api, project):
    server = make_api(size=250, faults="1+=poison_values")

    first = sync_within(project, configuration_for(server))
    second = sync_within(project, configuration_for(server))

    assert first.ok, first.output
    assert row_count(project) == 250
    assert "text that no destination can store was repaired in" in first.output
    names = [row[0] for row in project.query("SELECT customer_name FROM tester.fpr_records")]
    assert sum("\ufffd" in name for name in names) == 3  # record 1 of each of the three pages
    assert second.ok, second.output
    assert "sync finished: 1 pages, 0 records" in second.output


def test_undeclared_numbers_of_any_magnitude_keep_their_type_and_value(make_api, project):
    server = make_api(size=50, faults="1=poison_values")

    result = sync_within(project, configuration_for(server))

    assert result.ok, result.output
    types = project.column_types()
    doubles = {name for name, kind in types.items() if kind == "DOUBLE"} - set(COLUMNS)
    longs = {name for name, kind in types.items() if kind == "BIGINT"} - set(COLUMNS)
    assert len(doubles) == 4 and len(longs) == 1, types  # 1e-05, 1e+16, 5e-324, max double / 2**40
    values = project.query(
        f"SELECT {', '.join(sorted(doubles | longs))} FROM tester.fpr_records WHERE {sorted(longs)[0]} IS NOT NULL"
    )[0]
    assert set(values) == {1e-05, 1e16, 0.0, 1.7976931348623157e308, 2**40}  # 5e-324: Fivetran stores 0.0
    assert "that is not a valid LONG; loaded as NULL" in result.output  # 2**70


def test_field_names_no_destination_can_take_are_dropped_and_the_rest_lands(make_api, project):
    server = make_api(size=150, faults="1+=poison_field_names")

    result = sync_within(project, configuration_for(server))

    assert result.ok, result.output
    assert row_count(project) == 150
    assert "fields whose names no destination column can take were dropped" in result.output
    columns = set(project.column_types())
    assert {"a_b", "bad_name"} <= columns
    assert not any("example" in column or column.startswith("long_field_name") for column in columns)
    assert "@" not in result.output


def test_an_error_quoting_personal_data_is_reported_without_it(make_api, project):
    server = make_api(size=300, faults="2=error_quoting_pii:422")
    [(_, first)] = server.dataset.records_after(100, 1)  # the first record of page 2, which the error quotes

    result = sync_within(project, configuration_for(server))

    assert not result.ok
    assert "page 2: the API answered HTTP 422" in result.output
    assert row_count(project) == 100 and server.cursors.decode(result.state["next_cursor"])[0] == 100
    for secret in [
        first["customer_email"],
        first["customer_name"],
        API_KEY,
        quote(API_KEY, safe=""),
        base64.b64encode(API_KEY.encode()).decode(),
        LEAKED_TOKEN,
    ]:
        assert secret not in result.output


def test_an_html_login_page_gets_two_attempts_and_says_what_to_check(make_api, project, no_backoff_sleep):
    server = make_api(size=300, faults="2+=html_login")

    result = sync_within(project, configuration_for(server))

    assert not result.ok
    assert "page 2: the answer was an HTML page from a server calling itself FprLocalApi/1.0" in result.output
    assert 'reading "Sign in", instead of the API\'s JSON (2 attempts)' in result.output
    assert "check base_url" in result.output
    assert len(no_backoff_sleep) == 1
    assert row_count(project) == 100


@pytest.mark.parametrize("charset", ["iso-8859-1", "utf-16", "cp1252", "koi8-r"])
def test_a_page_in_its_declared_charset_lands_exactly(make_api, project, charset):
    server = make_api(size=150, faults=f"2=charset:{charset}")

    result = sync_within(project, configuration_for(server))

    assert result.ok, result.output
    names = {row[0] for row in project.query("SELECT customer_name FROM tester.fpr_records")}
    expected = next(name for name in CHARSET_NAMES if _encodable(name, charset))
    assert expected in names
    assert not any("\ufffd" in name for name in names)


def _encodable(text, charset):
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def test_json_nested_too_deeply_fails_with_a_clear_message(make_api, project):
    server = make_api(size=300, faults="2=deep_json:100000")

    result = sync_within(project, configuration_for(server))

    assert not result.ok
    assert "page 2: the response nests JSON too deeply to be read; check base_url" in result.output
    assert "RecursionError" not in result.output
    assert row_count(project) == 100


def test_has_more_sent_as_text_by_the_server_is_honoured(make_api, project):
    server = make_api(size=250, faults="1+=has_more_string")

    result = sync_within(project, configuration_for(server))

    assert result.ok, result.output
    assert synced_table(project) == served_records(server)


def run_measured(tmp_path, server, name):
    """Runs a sync in its own process; returns its exit code, output and peak memory in MB."""
    configuration = {"base_url": server.base_url, "api_key": API_KEY, "page_size": "100"}
    project, configuration_path = process_project(tmp_path, name, configuration)
    peak_file = tmp_path / f"{name}-peak-kib"
    env = {"FPR_TEST_PEAK_MEMORY_FILE": str(peak_file)}
    process = start_connector_process(project, configuration_path, tmp_path, env=env)
    output, _ = process.communicate()
    return process.returncode, output, int(peak_file.read_text()) / 1024


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ("endless", "max_body_bytes"),
        ("gzip_bomb:1024", "max_body_bytes"),
        ("big_page:200", "max_body_bytes"),
        ("big_page:23", "SYNC SUCCEEDED"),  # the largest page that loads: the runner's copies of it weigh most
    ],
)
def test_peak_memory_stays_under_600_mb_whatever_the_server_sends(tmp_path, fault, outcome):
    with LocalFprApi(Dataset(size=300, seed=3), api_key=API_KEY, faults=FaultPlan(f"2={fault}")) as server:
        code, output, peak_mb = run_measured(tmp_path, server, "measured")

    assert outcome in output
    assert (code == 0) == (outcome == "SYNC SUCCEEDED")
    assert peak_mb < 600, f"peak {peak_mb:.0f} MB"

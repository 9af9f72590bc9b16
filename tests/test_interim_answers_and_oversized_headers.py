"""What comes before an answer's body: interim answers are skipped, headers too many to read are named.

A CDN may send `103 Early Hints` (or a server `102 Processing`) before the real answer; http.client
alone skips only `100 Continue`. A proxy or firewall may add header lines, past what http.client
reads (100 lines): that is no network fault, and retrying it would only repeat it.
"""

import pytest
from conftest import as_served, configuration_for, served_records


@pytest.mark.parametrize("fault", ["interim:103", "interim:102;count=3", "interim:199"])
def test_interim_answers_before_the_page_are_skipped(make_api, project, fault):
    server = make_api(size=300, faults=f"2={fault}")

    result = project.sync(configuration_for(server))
    requests_made = server.requests_served

    assert result.ok, result.output
    assert requests_made == 4  # three pages and the empty end: no attempt was lost to the interim answers
    assert "retry" not in result.output
    assert {row["record_id"]: as_served(row) for row in project.rows()} == served_records(server)


def test_headers_within_what_can_be_read_are_no_trouble(make_api, project):
    server = make_api(size=300, faults="2=many_headers:90")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(300,)]


def test_more_header_lines_than_can_be_read_fail_at_once_naming_them(make_api, project):
    server = make_api(size=300, faults="2+=many_headers:150")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert (
        "page 2: the API's answer has more header lines than can be read (over 100, or one over 64 KiB); a proxy "
        "or firewall on the way may be adding them: check the network path to base_url" in result.output
    )
    assert "retry" not in result.output and "could not reach" not in result.output
    assert server.requests_served == 2
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(100,)]
    assert server.cursors.decode(result.state["next_cursor"])[0] == 100

"""Under the real `fivetran debug` command, a poisoned page neither fails a sync nor blocks the next one, and a
rate-limited page is waited for as long as the server asks.

The command runs as a user runs it, in its own process, on a project folder holding the connector.
Two things differ because tests have no internet: the SDK's version check is recorded as done a
moment ago, as after any earlier run, and its requirements scan (pipreqs) looks at the installed
packages instead of PyPI.
"""

import json
import subprocess
import time

import duckdb
from certificates import Authority, HandshakeServer, server_context
from conftest import API_KEY, BIN, copy_connector, fivetran_environment

from fpr_local_api import Dataset, LocalFprApi
from fpr_local_api.faults import FaultPlan


def fivetran_debug(project, configuration, home, shims, env=None):
    command = [str(BIN / "fivetran"), "debug", str(project), "--configuration", str(configuration)]
    environment = {**fivetran_environment(home, shims), **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)


def project_with_configuration(tmp_path, base_url):
    project = tmp_path / "project"
    project.mkdir()
    copy_connector(project)
    configuration = tmp_path / "configuration.json"
    configuration.write_text(json.dumps({"base_url": base_url, "api_key": API_KEY, "page_size": "100"}))
    return project, configuration


def saved_state(project):
    state_file = project / "files" / "state.json"
    return json.loads(state_file.read_text()) if state_file.exists() else {}


def test_a_poisoned_page_neither_fails_the_sync_nor_blocks_the_next(tmp_path, offline_home, local_pipreqs):
    plan = FaultPlan("1=poison_values,2=poison_field_names,3=poison_values")
    with LocalFprApi(Dataset(size=250, seed=12), api_key=API_KEY, faults=plan) as server:
        project, configuration = project_with_configuration(tmp_path, server.base_url)
        first = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        state_after_first = saved_state(project)
        second = fivetran_debug(project, configuration, offline_home, local_pipreqs)

    assert first.returncode == 0, first.stdout + first.stderr
    assert "SYNC SUCCEEDED" in first.stdout
    assert "text that no destination can store was repaired" in first.stdout
    assert "fields whose names no destination column can take were dropped" in first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "sync finished: 1 pages, 0 records" in second.stdout
    assert server.cursors.decode(state_after_first["next_cursor"])[0] == 250
    assert not (project / "crash-reports").exists()
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM tester.fpr_records").fetchone()[0] == 250


class TimedFaultPlan(FaultPlan):
    """A fault plan that notes when each request to /fpr_data arrived (time.monotonic)."""

    def __init__(self, rules):
        super().__init__(rules)
        self.arrived = {}

    def fault_for(self, number):
        self.arrived[number] = time.monotonic()
        return super().fault_for(number)


def test_a_429_with_ratelimit_reset_2_waits_2_s_for_real_and_the_sync_completes(tmp_path, offline_home, local_pipreqs):
    plan = TimedFaultPlan("2=status:429;retry-after=2;wait-header=RateLimit-Reset")
    with LocalFprApi(Dataset(size=250, seed=12), api_key=API_KEY, faults=plan) as server:
        project, configuration = project_with_configuration(tmp_path, server.base_url)
        result = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        state = saved_state(project)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SYNC SUCCEEDED" in result.stdout
    assert "page 2: HTTP 429; waiting 2 s as RateLimit-Reset asks (paced retry 1; 2 of the 300 s wait budget used)" in (
        result.stdout
    )
    assert plan.applied == [(2, "status")]
    assert plan.arrived[3] - plan.arrived[2] >= 2.0  # page 2 asked again only once the 2 s had passed
    assert server.cursors.decode(state["next_cursor"])[0] == 250
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM tester.fpr_records").fetchone()[0] == 250


def test_a_firewalls_page_is_named_as_such_and_the_next_run_completes(tmp_path, offline_home, local_pipreqs):
    with LocalFprApi(Dataset(size=250, seed=12), api_key=API_KEY, faults=FaultPlan("2=waf_block")) as server:
        project, configuration = project_with_configuration(tmp_path, server.base_url)
        first = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        state_after_first = saved_state(project)
        server.faults = None
        second = fivetran_debug(project, configuration, offline_home, local_pipreqs)

    assert first.returncode != 0
    assert (
        'page 2: the answer (HTTP 403) did not come from the FPR API but from Cloudflare, reading "Attention '
        'Required! | Cloudflare"'
    ) in first.stdout + first.stderr
    assert "key was rejected" not in first.stdout + first.stderr
    assert server.cursors.decode(state_after_first["next_cursor"])[0] == 100
    assert second.returncode == 0, second.stdout + second.stderr
    with duckdb.connect(str(project / "files" / "warehouse.db"), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM tester.fpr_records").fetchone()[0] == 250


def test_an_expired_certificate_is_named_as_expired_at_once(tmp_path, offline_home, local_pipreqs):
    authority = Authority()
    pem = authority.issue(tmp_path, valid_days=(-10, -1))
    trusted = {"REQUESTS_CA_BUNDLE": str(authority.write(tmp_path))}
    with HandshakeServer(server_context(pem)) as server:
        project, configuration = project_with_configuration(tmp_path, f"https://localhost:{server.port}")
        run = fivetran_debug(project, configuration, offline_home, local_pipreqs, env=trusted)

    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"page 1: the TLS certificate of localhost:{server.port} has expired: its operator must renew it" in output
    assert "not trusted" not in output and "retry" not in output
    assert server.connections == 1
    assert saved_state(project) == {}


def test_a_length_declared_twice_fails_at_once_not_after_a_read_timeout(tmp_path, offline_home, local_pipreqs):
    with LocalFprApi(Dataset(size=250, seed=12), api_key=API_KEY, faults=FaultPlan("2=two_lengths:listed")) as server:
        project, configuration = project_with_configuration(tmp_path, server.base_url)
        started = time.monotonic()
        run = fivetran_debug(project, configuration, offline_home, local_pipreqs)
        seconds = time.monotonic() - started

    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert (
        f"page 2: {server.base_url.split('//')[1]} answered with a malformed Content-Length header (the same length "
        "twice"
    ) in output
    assert "retry" not in output and "timed out" not in output
    assert seconds < 50  # the read timeout alone is 60 s; the command itself starts in a few
    assert server.requests_served == 2
    assert server.cursors.decode(saved_state(project)["next_cursor"])[0] == 100

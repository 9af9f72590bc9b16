"""Transient faults are retried patiently, logged, and never change what lands."""

import random

import pytest
from conftest import Project, as_served, configuration_for, sample_record, scripted_configuration, served_records

import fpr.retry
from connector import RETRY_POLICY
from fpr_local_api.faults import FaultPlan


def synced_table(project):
    return {row["record_id"]: as_served(row) for row in project.rows()}


@pytest.mark.parametrize(
    "fault",
    [
        "status:500",
        "status:502",
        "status:503",
        "status:504",
        "status:408",
        "status:429",
        "drop",
        "truncate",
        "html",
        "latency:0.3",
    ],
)
def test_a_transient_fault_on_one_page_is_retried_and_the_table_is_complete(make_api, project, fault):
    server = make_api(size=300, faults=f"2={fault}")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert synced_table(project) == served_records(server)
    assert server.faults.applied[0] == (2, fault.split(":")[0])


def test_each_retry_is_logged_with_its_reason_and_wait(make_api, project, no_backoff_sleep):
    server = make_api(size=300, faults="2=status:503,3=status:503,5=drop")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert result.output.count("request failed (HTTP 503); retry 1 of 5 in") == 1
    assert "request failed (HTTP 503); retry 2 of 5 in" in result.output
    assert "request failed (connection dropped); retry 1 of 5 in" in result.output
    assert len(no_backoff_sleep) == 3


def test_backoff_is_exponential_with_half_of_each_wait_fixed_and_half_jittered():
    for retry_number, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (20, 30.0)]:
        waits = [RETRY_POLICY.backoff(retry_number) for _ in range(300)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling * 0.9 and min(waits) < ceiling * 0.6  # spread over the upper half


def test_a_backoff_whose_jitter_draws_nothing_still_waits_half_its_ceiling(monkeypatch):
    monkeypatch.setattr(fpr.retry.random, "uniform", lambda low, high: low)

    assert [RETRY_POLICY.wait(retry, None) for retry in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert [RETRY_POLICY.wait(retry, 0.0) for retry in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize(
    "retry_after",
    [
        "retry-after=0",
        "retry-after-date=-3600",
        "retry-after=soon",
        "retry-after=0;wait-header=RateLimit",
        "reset-epoch=-3600;wait-header=X-RateLimit-Reset",
        "retry-after=soon;wait-header=X-Rate-Limit-Reset",
    ],
)
def test_a_429_saying_now_or_past_or_nothing_readable_waits_as_long_as_a_503(
    make_api, tmp_path, monkeypatch, no_backoff_sleep, retry_after
):
    """Requests 2 to 4 fail; with the same draws of the jitter, the 429s wait exactly what the 503s wait."""

    def waits_of_a_sync(name, fault):
        monkeypatch.setattr(fpr.retry.random, "uniform", random.Random(3).uniform)
        no_backoff_sleep.clear()
        server = make_api(size=150, faults=",".join(f"{request}={fault}" for request in (2, 3, 4)))
        project = Project(tmp_path / name)
        result = project.sync(configuration_for(server))
        assert result.ok, result.output
        assert project.query("SELECT count(*) FROM tester.fpr_records") == [(150,)]
        return list(no_backoff_sleep)

    after_503 = waits_of_a_sync("after-503", "status:503")
    after_429 = waits_of_a_sync("after-429", f"status:429;{retry_after}")

    assert len(after_429) == 3 and after_429 == after_503
    assert sum(after_429) >= 0.5 + 1 + 2  # half of each backoff is fixed


def test_retry_after_in_seconds_is_honoured(make_api, project, no_backoff_sleep):
    server = make_api(size=150, faults="2=status:429;retry-after=7")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert no_backoff_sleep == [7.0]
    assert "page 2: HTTP 429; waiting 7 s as Retry-After asks (paced retry 1; 7 of the 300 s wait budget used)" in (
        result.output
    )


def test_a_429_with_ratelimit_reset_40_is_waited_for_and_the_sync_completes(make_api, project, no_backoff_sleep):
    """Page 2 is answered 429 with RateLimit-Reset: 40 six times, as many as the policy's attempts: each
    wait is the 40 s asked (recorded, not slept) and the sync completes, as 240 s is within the wait budget."""
    rate_limited = range(2, 8)
    server = make_api(
        size=450, faults=",".join(f"{n}=status:429;retry-after=40;wait-header=RateLimit-Reset" for n in rate_limited)
    )

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert server.faults.applied == [(n, "status") for n in rate_limited]
    assert no_backoff_sleep == [40.0] * 6
    assert synced_table(project) == served_records(server)
    assert server.cursors.decode(project.saved_state()["next_cursor"])[0] == 450
    assert "page 2: HTTP 429; waiting 40 s as RateLimit-Reset asks (paced retry 1; 40 of the 300 s" in result.output
    assert "page 2: HTTP 429; waiting 40 s as RateLimit-Reset asks (paced retry 6; 240 of the 300 s" in result.output


@pytest.mark.parametrize(
    "wait",
    [
        "retry-after=40;wait-header=RateLimit-Reset",
        "retry-after=40;wait-header=RateLimit",
        "reset-epoch=40;wait-header=X-RateLimit-Reset",
        "retry-after=40;wait-header=X-Rate-Limit-Reset",
        "retry-after=40;wait-header=X-RateLimit-Reset-After",
    ],
)
def test_a_wait_named_in_any_rate_limit_header_is_waited_for(make_api, project, no_backoff_sleep, wait):
    """An epoch time is whole seconds, so it names a moment up to a second nearer than 40 s."""
    server = make_api(size=150, faults=f"2=status:429;{wait},3=status:503;{wait}")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert len(no_backoff_sleep) == 2 and all(38.0 <= seconds <= 40.0 for seconds in no_backoff_sleep)
    assert synced_table(project) == served_records(server)


def test_retry_after_as_an_http_date_is_honoured(make_api, project, no_backoff_sleep):
    server = make_api(size=150, faults="2=status:503;retry-after-date=20")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert len(no_backoff_sleep) == 1 and 15 <= no_backoff_sleep[0] <= 21


def test_a_huge_retry_after_is_capped(make_api, project, no_backoff_sleep):
    server = make_api(size=150, faults="2=status:429;retry-after=86400")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert no_backoff_sleep == [120.0]  # RETRY_POLICY.retry_after_cap


def test_a_stalled_response_times_out_and_is_retried(make_api, project, set_limits):
    set_limits(read_timeout=0.5)
    server = make_api(size=150, faults="2=stall:3")

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert "page 2: request failed (timed out); retry 1 of 5" in result.output
    assert synced_table(project) == served_records(server)


def test_a_server_that_never_recovers_fails_the_sync_and_keeps_what_was_checkpointed(make_api, project):
    server = make_api(size=750, faults="3+=status:503")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert "page 3: still HTTP 503 after 6 attempts; try again later" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(200,)]
    assert len(server.faults.applied) == 6


def test_the_total_wait_per_request_is_bounded(make_api, project, no_backoff_sleep):
    server = make_api(size=150, faults="2+=status:429;retry-after=100")

    result = project.sync(configuration_for(server))

    assert not result.ok
    assert sum(no_backoff_sleep) <= 300  # RETRY_POLICY.wait_budget
    assert no_backoff_sleep == [100.0, 100.0, 100.0]  # a fourth wait would pass the 300 s budget
    assert "page 2: still HTTP 429 after 4 attempts" in result.output


def test_a_body_that_is_never_json_fails_after_the_attempts(scripted, project):
    scripted.serve({"fpr_records": [sample_record(1)], "next_cursor": "c1", "has_more": True})
    for _ in range(6):
        scripted.answer(200, b'{"fpr_records": [ not json', {"Content-Type": "application/json"})

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert "page 2: the response body was not JSON in 6 attempts" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(1,)]


def test_an_unreachable_host_fails_with_a_clear_message(project):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = project.sync({"base_url": f"http://127.0.0.1:{port}", "api_key": "k", "page_size": "100"})

    assert not result.ok
    assert f"page 1: could not reach 127.0.0.1:{port} (connection refused) after 6 attempts" in result.output
    assert result.state == {}


def test_random_faults_at_a_30_percent_rate_still_load_exactly_the_served_table(make_api, tmp_path):
    plan = FaultPlan(
        rate=0.3,
        random_faults=["status:503", "status:429;retry-after=1", "status:500", "drop", "truncate", "html"],
        seed=11,
    )
    server = make_api(size=750, faults=plan)
    project = Project(tmp_path / "random")

    result = project.sync(configuration_for(server, page_size=50))

    assert result.ok, result.output
    assert len(plan.applied) >= 3
    assert synced_table(project) == served_records(server)


def test_a_connect_timeout_is_retried_then_reported(project, set_limits, no_backoff_sleep):
    """A listener whose accept queue is full never answers the handshake: every connect times out."""
    import socket

    set_limits(connect_timeout=0.2)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))

        result = project.sync({"base_url": f"http://127.0.0.1:{port}", "api_key": "k", "page_size": "100"})

        for filler in fillers:
            filler.close()

    assert not result.ok
    assert "request failed (connect timed out); retry 1 of 5" in result.output
    assert f"page 1: could not reach 127.0.0.1:{port} (connect timed out) after 6 attempts" in result.output
    assert len(no_backoff_sleep) == 5

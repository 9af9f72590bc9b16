"""The client's policy, pinned without sockets: which answers are retried, how long it waits, what it says.

`responses` stands in for the API inside requests. Backoff jitter is pinned to its ceiling, so every
wait is an exact number: retry n waits min(30, 2^(n-1)) s unless the server asks for longer.
Expected messages are written out in full; where a sync runs, the test also reads what landed.
"""

import dataclasses
import random
import socket
import ssl
import threading
from email.utils import formatdate

import pytest
import requests
import responses
from conftest import API_KEY, EXAMPLE_BASE_URL, Project, example_configuration, sample_record
from fivetran_connector_sdk import Logging

import fpr.body
import fpr.client
import fpr.retry
from connector import LIMITS, RETRY_POLICY
from fpr.client import FprClient, pause, server_error_code
from fpr.errors import CursorRejected, FprError, SyncStopping
from fpr.settings import Settings

URL = EXAMPLE_BASE_URL + "/fpr_data"
REAL_PAUSE = pause  # the conftest fixture replaces fpr.client.pause in every test; this is the real one
PAGE = {"fpr_records": [sample_record(1)], "next_cursor": "c1", "has_more": False}


@pytest.fixture(autouse=True)
def jitter_at_its_ceiling(monkeypatch):
    monkeypatch.setattr(fpr.retry.random, "uniform", lambda low, high: high)


@pytest.fixture(autouse=True)
def sdk_log(monkeypatch):
    """The client logs each retry; outside a sync the SDK's log needs a level set."""
    monkeypatch.setattr(Logging, "LOG_LEVEL", Logging.Level.INFO)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def client():
    return FprClient(Settings(EXAMPLE_BASE_URL, API_KEY, 200), RETRY_POLICY, LIMITS)


def answers(api, *statuses, headers=None, body=None):
    """Queues answers in order: each status with `headers` and a JSON error body, 200 with PAGE."""
    for status in statuses:
        payload = PAGE if status == 200 else (body if body is not None else {"error": f"http_{status}"})
        api.add(responses.GET, URL, json=payload, status=status, headers=headers or {})


def failing_with(api, *exceptions):
    for exception in exceptions:
        api.add(responses.GET, URL, body=exception)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_each_retryable_status_is_retried_until_the_page_arrives(api, no_backoff_sleep, status):
    answers(api, status, status, 200)

    assert client().get_page(None, 1) == PAGE
    assert len(api.calls) == 3
    assert no_backoff_sleep == [1.0, 2.0]


def test_a_503_that_never_ends_backs_off_exponentially_then_says_to_try_later(api, no_backoff_sleep):
    answers(api, *[503] * 6)

    with pytest.raises(FprError) as failure:
        client().get_page(None, 4)

    assert str(failure.value) == "page 4: still HTTP 503 after 6 attempts; try again later"
    assert no_backoff_sleep == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert len(api.calls) == 6


@pytest.mark.parametrize(
    ("retry_after", "waits"),
    [
        ("0", [1.0, 2.0, 4.0, 8.0, 16.0]),  # "now" does not make six attempts a burst
        (formatdate(0, usegmt=True), [1.0, 2.0, 4.0, 8.0, 16.0]),  # a date long past: the same
        # the server's delay while it is the longer wait; those three retries are paced and use up no attempt
        ("7", [7.0, 7.0, 7.0, 8.0, 16.0, 30.0, 30.0, 30.0]),
        ("86400", [120.0, 120.0]),  # capped at 120 s, and a third wait would pass the 300 s budget
    ],
)
def test_retry_after_is_a_floor_under_the_backoff_never_a_replacement(api, no_backoff_sleep, retry_after, waits):
    answers(api, *[429] * 6, headers={"Retry-After": retry_after})

    with pytest.raises(FprError, match=r"page 1: still HTTP 429 after \d attempts; try again later"):
        client().get_page(None, 1)

    assert no_backoff_sleep == waits
    assert len(api.calls) == len(waits) + 1


@pytest.mark.parametrize(
    "retry_after",
    ["0", formatdate(fpr.retry.time() - 3600, usegmt=True), "soon", "-5", "1e3", "Wed, 32 Foo 2026 99:00:00 GMT"],
    ids=["zero", "a date past", "a word", "negative", "exponent", "a malformed date"],
)
def test_a_retry_after_of_zero_past_or_unreadable_never_waits_less_than_a_503(
    api, monkeypatch, no_backoff_sleep, retry_after
):
    """With the same draws of the jitter, each wait is the one a 503 naming no delay gets, on every seed."""
    for seed in range(20):
        monkeypatch.setattr(fpr.retry.random, "uniform", random.Random(seed).uniform)
        answers(api, *[503] * 6)
        with pytest.raises(FprError):
            client().get_page(None, 1)
        after_503 = list(no_backoff_sleep)
        no_backoff_sleep.clear()

        monkeypatch.setattr(fpr.retry.random, "uniform", random.Random(seed).uniform)
        answers(api, *[429] * 6, headers={"Retry-After": retry_after})
        with pytest.raises(FprError):
            client().get_page(None, 1)
        after_429 = list(no_backoff_sleep)
        no_backoff_sleep.clear()

        assert len(after_429) == len(after_503) == 5
        assert all(ours >= theirs for ours, theirs in zip(after_429, after_503, strict=True)), (seed, after_429)
        assert sum(after_429) >= 15.5  # half of each backoff is fixed: 0.5 + 1 + 2 + 4 + 8 at the least


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("RateLimit-Reset", "0"),
        ("RateLimit-Reset", "soon"),
        ("RateLimit", '"default";r=0;t=0'),
        ("RateLimit", '"default";r=0'),
        ("X-RateLimit-Reset", "1700000000"),  # past (Nov. 2023); fixed: workers collect one id
        ("X-RateLimit-Reset", "-40"),
        ("X-Rate-Limit-Reset", "0"),
        ("X-RateLimit-Reset-After", "0.0"),
    ],
)
def test_a_rate_limit_header_saying_now_past_or_nothing_readable_waits_exactly_what_a_503_waits(
    api, monkeypatch, no_backoff_sleep, header, value
):
    for seed in range(5):
        monkeypatch.setattr(fpr.retry.random, "uniform", random.Random(seed).uniform)
        answers(api, *[503] * 6)
        with pytest.raises(FprError):
            client().get_page(None, 1)
        after_503 = list(no_backoff_sleep)
        no_backoff_sleep.clear()

        monkeypatch.setattr(fpr.retry.random, "uniform", random.Random(seed).uniform)
        answers(api, *[429] * 6, headers={header: value})
        with pytest.raises(FprError, match="page 1: still HTTP 429 after 6 attempts; try again later"):
            client().get_page(None, 1)
        assert no_backoff_sleep == after_503 and len(after_503) == 5, seed
        no_backoff_sleep.clear()


def test_retries_the_server_paces_use_up_no_attempt_and_end_at_the_wait_budget(api, no_backoff_sleep):
    """Seven waits of 40 s fit in the 300 s budget, though the policy has only 6 attempts; an eighth does not."""
    answers(api, *[429] * 7, 200, headers={"ratelimit-reset": "40"})  # header names are read in any case

    assert client().get_page(None, 1) == PAGE
    assert no_backoff_sleep == [40.0] * 7
    no_backoff_sleep.clear()

    answers(api, *[429] * 9, headers={"RateLimit-Reset": "40"})
    with pytest.raises(FprError, match="^page 1: still HTTP 429 after 8 attempts; try again later$"):
        client().get_page(None, 1)
    assert no_backoff_sleep == [40.0] * 7


def test_a_paced_retry_is_logged_with_its_wait_and_the_header_that_asked(api, monkeypatch, no_backoff_sleep):
    said = []
    monkeypatch.setattr(fpr.client.safe_log, "warning", said.append)
    answers(api, 429, headers={"X-RateLimit-Reset": "86400"})
    answers(api, 503, headers={"RateLimit": '"default";r=0;t=2'})
    answers(api, 503, 200)

    assert client().get_page(None, 3) == PAGE
    assert said == [
        "page 3: HTTP 429; waiting 120 s (retry_after_cap) of the 86400 s X-RateLimit-Reset asks "
        "(paced retry 1; 120 of the 300 s wait budget used)",
        "page 3: HTTP 503; waiting 2 s as RateLimit asks (paced retry 2; 122 of the 300 s wait budget used)",
        "page 3: request failed (HTTP 503); retry 1 of 5 in 4.0 s",
    ]


def test_a_retry_after_date_in_the_future_is_waited_for(api, no_backoff_sleep):
    answers(api, 503, 200, headers={"Retry-After": formatdate(fpr.retry.time() + 40, usegmt=True)})

    client().get_page(None, 1)

    assert len(no_backoff_sleep) == 1 and 38.0 <= no_backoff_sleep[0] <= 40.0


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, None, "page 2: the API key was rejected (HTTP 401): check 'api_key'"),
        (403, None, "page 2: the API key was rejected (HTTP 403): check 'api_key'"),
        (404, None, "page 2: no FPR API at https://fpr.example.test/fpr_data (HTTP 404): check 'base_url'"),
        (
            400,
            {"error": "invalid_page_size", "message": "page_size for Jane Doe must be 1-200"},
            "page 2: the API answered HTTP 400 (error code invalid_page_size); its message is not shown, as it may "
            "quote personal data",
        ),
        (
            422,
            {"message": "no code here"},
            "page 2: the API answered HTTP 422 (no error code); its message is not shown, as it may quote "
            "personal data",
        ),
        (
            407,
            None,
            "page 2: the proxy asks for credentials (HTTP 407): put them in the proxy address, "
            "e.g. HTTP_PROXY=http://user:password@proxy.example.com:3128",
        ),
        (
            301,
            None,
            "page 2: the API answered with a redirect (HTTP 301), which is not followed so that the key is not "
            "sent elsewhere: set 'base_url' to the final address",
        ),
        (
            300,
            None,
            "page 2: the API answered with a redirect (HTTP 300), which is not followed so that the key is not "
            "sent elsewhere: set 'base_url' to the final address",
        ),
    ],
)
def test_an_answer_no_retry_can_fix_fails_at_once_saying_what_to_check(api, no_backoff_sleep, status, body, message):
    answers(api, status, 200, body=body)

    with pytest.raises(FprError) as failure:
        client().get_page("c1", 2)

    assert str(failure.value) == message
    assert len(api.calls) == 1 and no_backoff_sleep == []


@pytest.mark.parametrize("status", [400, 410])
def test_a_cursor_the_server_rejects_is_reported_as_rejected_only_when_one_was_sent(api, status):
    answers(api, status, status, body={"error": "cursor_expired", "message": "cursor has expired"})

    with pytest.raises(
        CursorRejected, match=rf"page 3: the server no longer accepts the saved cursor \(HTTP {status}\)"
    ):
        client().get_page("c2", 3)
    with pytest.raises(FprError) as without_cursor:
        client().get_page(None, 1)

    assert not isinstance(without_cursor.value, CursorRejected)
    assert len(api.calls) == 2


def test_an_html_page_gets_two_attempts_and_says_what_to_check(api, no_backoff_sleep):
    for _ in range(3):
        api.add(responses.GET, URL, body="<html><body>Sign in</body></html>", content_type="text/html")

    with pytest.raises(FprError) as failure:
        client().get_page(None, 1)

    assert str(failure.value) == (
        'page 1: the answer was an HTML page from a sender its headers do not name, reading "Sign in", instead of '
        "the API's JSON (2 attempts): base_url may point at a website, a login page or a proxy, or the API may be "
        "down for maintenance; check base_url and that the API is up, then rerun"
    )
    assert len(api.calls) == 2 and no_backoff_sleep == [1.0]


@pytest.mark.parametrize(
    ("exception", "reason"),
    [
        (requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused")), "connection refused"),
        (requests.exceptions.ConnectionError(socket.gaierror(-2, "Name or service not known")), "host name not found"),
        (requests.exceptions.ConnectTimeout("connect timeout"), "connect timed out"),
        (requests.exceptions.ReadTimeout(TimeoutError("timed out")), "timed out"),
        (requests.exceptions.ConnectionError(ConnectionResetError(104, "reset")), "connection reset"),
        (
            requests.exceptions.ProxyError(OSError("Tunnel connection failed: 503 Service Unavailable")),
            "the proxy could not open a tunnel (HTTP 503)",
        ),
    ],
)
def test_a_network_fault_is_retried_and_named_in_the_connectors_own_words(api, no_backoff_sleep, exception, reason):
    failing_with(api, *[exception] * 6)

    with pytest.raises(FprError) as failure:
        client().get_page(None, 1)

    assert str(failure.value) == (
        f"page 1: could not reach fpr.example.test ({reason}) after 6 attempts; check base_url and the network, "
        "then rerun (the sync resumes at its last checkpoint)"
    )
    assert len(api.calls) == 6


def verification_failure(code, detail):
    """A certificate check that failed as OpenSSL reports it: with its X509_V_ERR code and text."""
    failure = ssl.SSLCertVerificationError(1, f"certificate verify failed: {detail}")
    failure.verify_code, failure.verify_message = code, detail
    return failure


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        (
            requests.exceptions.SSLError(verification_failure(20, "unable to get local issuer certificate")),
            "page 1: the TLS certificate of fpr.example.test is not trusted: check base_url, or point "
            "REQUESTS_CA_BUNDLE at your certificate authorities if it uses a private one",
        ),
        (
            requests.exceptions.ProxyError(OSError("Tunnel connection failed: 407 Proxy Authentication Required")),
            "page 1: the proxy asks for credentials (HTTP 407): put them in the proxy address, "
            "e.g. HTTPS_PROXY=http://user:password@proxy.example.com:3128",
        ),
        (
            requests.exceptions.ProxyError(OSError("Tunnel connection failed: 403 Forbidden")),
            "page 1: the proxy refused to open a tunnel to the API (HTTP 403): check that it allows base_url's "
            "host, or add the host to NO_PROXY if it can be reached without the proxy",
        ),
    ],
)
def test_a_fault_of_trust_or_of_the_proxy_fails_at_once(api, no_backoff_sleep, exception, message):
    failing_with(api, exception, exception)

    with pytest.raises(FprError) as failure:
        client().get_page(None, 1)

    assert str(failure.value) == message
    assert len(api.calls) == 1 and no_backoff_sleep == []


def test_a_url_in_an_exception_never_reaches_the_message(api):
    leaky = requests.exceptions.ConnectionError(f"Max retries exceeded with url: /fpr_data?cursor=secret-{API_KEY}")
    failing_with(api, *[leaky] * 6)

    with pytest.raises(FprError) as failure:
        client().get_page(None, 1)

    assert "secret" not in str(failure.value) and API_KEY not in str(failure.value)
    assert "(ConnectionError)" in str(failure.value)


def test_the_request_carries_the_key_header_and_asks_for_what_the_reader_decompresses(api):
    answers(api, 200)

    client().get_page("gAAAAB1==", 1)

    sent = api.calls[0].request
    assert dict(sent.headers) == {
        "x-api-key": API_KEY,
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate",
        "User-Agent": "fpr-fivetran-connector",
        "Connection": "keep-alive",
    }
    assert sent.url == URL + "?page_size=200&cursor=gAAAAB1%3D%3D"


@pytest.mark.parametrize(
    "body, max_values, message",
    [
        (
            "[" * 100_000 + "]" * 100_000,
            200_000,
            "page 2: the response nests JSON too deeply to be read; check base_url",
        ),
        (
            "[" + "0," * 1_000 + "0]",
            1_000,
            "page 2: the response holds more than 1,000 JSON values (max_json_values in connector.py's LIMITS), "
            "far more than a page of records; lower page_size or check base_url",
        ),
    ],
    ids=["nested too deeply", "too many values"],
)
def test_a_page_that_cannot_be_read_as_records_names_its_page_once(api, no_backoff_sleep, body, max_values, message):
    api.add(responses.GET, URL, body=body, content_type="application/json")
    limited = FprClient(
        Settings(EXAMPLE_BASE_URL, API_KEY, 200), RETRY_POLICY, dataclasses.replace(LIMITS, max_json_values=max_values)
    )

    with pytest.raises(FprError) as failure:
        limited.get_page("c1", 2)

    assert str(failure.value) == message
    assert len(api.calls) == 1 and no_backoff_sleep == []  # no retry can make it readable


def test_a_warning_about_a_page_names_that_page(api, monkeypatch):
    said = []
    monkeypatch.setattr(fpr.body.safe_log, "warning", said.append)
    api.add(responses.GET, URL, json=PAGE, content_type="application/json; charset=klingon")

    assert client().get_page("c2", 3) == PAGE
    assert said == ["page 3: the API declared an unknown charset; reading the page as UTF-8"]


def test_a_client_stopped_sends_nothing_more(api):
    answers(api, 200)
    stopped = client()
    stopped.stop()

    with pytest.raises(SyncStopping, match="^page 2: the sync is stopping$"):
        stopped.get_page("c1", 2)
    assert len(api.calls) == 0


def test_stopping_the_sync_ends_a_wait_between_retries_at_once(api, monkeypatch):
    """The server asks for 100 s; the sync stops a moment into that wait, which must end then, not 100 s later."""
    answers(api, 503, 200, headers={"Retry-After": "100"})
    waiting = threading.Event()

    def pause(seconds, stop):
        waiting.set()
        REAL_PAUSE(seconds, stop)

    monkeypatch.setattr(fpr.client, "pause", pause)
    stopping = client()
    outcome = []
    fetch = threading.Thread(target=lambda: outcome.append(_raised(stopping.get_page, "c1", 2)), daemon=True)
    fetch.start()
    assert waiting.wait(60)

    stopping.stop()
    fetch.join(60)  # at once, unless the machine is very busy: far from the 100 s asked for

    assert not fetch.is_alive()
    assert outcome == ["SyncStopping: page 2: the sync is stopping"]
    assert len(api.calls) == 1


def _raised(call, *args):
    try:
        call(*args)
    except Exception as error:  # noqa: BLE001 - the test reads which one
        return f"{type(error).__name__}: {error}"
    return "returned"


def test_a_key_quoted_back_by_the_server_is_masked_in_what_the_sync_reports(tmp_path):
    """The error code is shown (it names the problem) but a server may put the key there: it is masked."""
    project = Project(tmp_path / "project")
    with responses.RequestsMock() as api:
        api.add(responses.GET, URL, json={"fpr_records": [sample_record(1)], "next_cursor": "c1", "has_more": True})
        api.add(responses.GET, URL, json={"error": API_KEY}, status=400)
        result = project.sync(example_configuration())

    assert not result.ok
    assert "page 2: the API answered HTTP 400 (error code ***)" in result.output
    assert API_KEY not in result.output
    assert result.state == {"next_cursor": "c1", "last_updated_epoch": 1748797201}
    assert [row["record_id"] for row in project.rows()] == ["rec-0001"]


def test_a_wrong_key_on_page_two_keeps_page_one_and_its_cursor(tmp_path):
    with responses.RequestsMock() as api:
        first = {"fpr_records": [sample_record(1), sample_record(2)], "next_cursor": "c1", "has_more": True}
        api.add(responses.GET, URL, json=first)
        api.add(responses.GET, URL, json={"error": "unauthorized"}, status=401)
        project = Project(tmp_path / "project")
        result = project.sync(example_configuration())

    assert not result.ok
    assert "page 2: the API key was rejected (HTTP 401): check 'api_key'" in result.output
    assert result.state == {"next_cursor": "c1", "last_updated_epoch": 1748797202}
    assert [row["record_id"] for row in project.rows()] == ["rec-0001", "rec-0002"]


def test_a_policy_of_one_attempt_gives_up_at_once_and_says_one_attempt(api, no_backoff_sleep):
    answers(api, 503, 200)
    single = FprClient(Settings(EXAMPLE_BASE_URL, API_KEY, 200), dataclasses.replace(RETRY_POLICY, attempts=1), LIMITS)

    with pytest.raises(FprError) as failure:
        single.get_page(None, 1)

    assert str(failure.value) == "page 1: still HTTP 503 after 1 attempt; try again later"
    assert len(api.calls) == 1 and no_backoff_sleep == []


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b'{"error": "bad_cursor", "message": "caf\xe9 \xff"}', "error code bad_cursor"),  # not UTF-8: still read
        (b'["bad_cursor"]', "no error code"),
        (b'{"code": 4221}', "error code 4221"),
        (b'{"error": true, "type": "quota_exceeded"}', "error code quota_exceeded"),
        (b'{"error": "has spaces in it"}', "no error code"),
        (b'{"error": "' + b"x" * 65 + b'"}', "no error code"),
        (b'{"error": "' + b"x" * 64 + b'"}', "error code " + "x" * 64),
        (b"[" * 100_000, "no error code"),
    ],
)
def test_only_an_error_code_shaped_like_an_identifier_is_shown(api, body, shown):
    api.add(responses.GET, URL, body=body, status=422, content_type="application/json")

    with pytest.raises(FprError) as failure:
        client().get_page(None, 1)

    assert str(failure.value) == (
        f"page 1: the API answered HTTP 422 ({shown}); its message is not shown, as it may quote personal data"
    )


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("2.5", 2.5),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # already past: no wait asked for
        ("Wed, 21 Oct 2015 07:28:30", None),  # no time zone: unreadable
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_in_seconds_or_as_an_http_date(header, seconds):
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT

    assert fpr.retry.retry_after_seconds(header, now=now) == seconds


def test_an_error_code_is_also_read_from_error_code():
    assert server_error_code(b'{"error_code": "E42", "message": "no"}') == "E42"


def test_a_wait_before_a_retry_lasts_its_seconds_unless_the_sync_stops():
    stop, ended = threading.Event(), threading.Event()
    waiter = threading.Thread(target=lambda: (REAL_PAUSE(600, stop), ended.set()), daemon=True)
    waiter.start()

    assert not ended.wait(0.2)  # still waiting
    stop.set()
    assert ended.wait(60)  # the stop ended the wait at once, not after 600 s
    finished = threading.Event()
    threading.Thread(target=lambda: (REAL_PAUSE(0.05, threading.Event()), finished.set()), daemon=True).start()
    assert finished.wait(60)  # and a short wait ends by itself

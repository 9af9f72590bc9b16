"""The wait a server asks for, read from every header APIs name it in, with known answers.

Each case is one header as a server sends it and the seconds it asks for at a fixed moment; None
where nothing can be read, so the wait falls back to the connector's own backoff.
"""

import dataclasses
from email.utils import formatdate

import pytest

from connector import RETRY_POLICY
from fpr.retry import RATE_LIMIT_HEADERS, server_wait

NOW = 1_800_000_000.0  # Fri, 15 Jan 2027 08:00:00 GMT
EPOCH_IN_40_S = str(int(NOW) + 40)
YEAR = 365 * 24 * 3600


@pytest.mark.parametrize(
    ("header", "value", "seconds"),
    [
        ("Retry-After", "120", 120.0),
        ("Retry-After", formatdate(NOW + 30, usegmt=True), 30.0),
        ("Retry-After", formatdate(NOW - 3600, usegmt=True), 0.0),  # a date past asks for no wait
        ("RateLimit-Reset", "40", 40.0),
        ("RateLimit-Reset", "2.5", 2.5),
        ("RateLimit-Reset", "0", 0.0),
        ("RateLimit", '"default";r=0;t=40', 40.0),  # the IETF draft's structured field
        ("RateLimit", "limit=100, remaining=0, reset=40", 40.0),  # its earlier form
        ("X-RateLimit-Reset", "40", 40.0),  # a delay, as some APIs send it
        ("X-RateLimit-Reset", EPOCH_IN_40_S, 40.0),  # an epoch time, as others do
        ("X-RateLimit-Reset", f"{EPOCH_IN_40_S}.5", 40.5),
        ("X-RateLimit-Reset", f"{EPOCH_IN_40_S}000", 40.0),  # an epoch time in milliseconds
        ("X-RateLimit-Reset", str(int(NOW) - 3600), 0.0),  # a reset already past
        ("X-RateLimit-Reset", str(YEAR), float(YEAR)),  # a year of seconds is still a delay
        ("X-RateLimit-Reset", str(YEAR + 1), 0.0),  # past it, an epoch time: 1971, long past
        ("X-Rate-Limit-Reset", "40", 40.0),
        ("X-Rate-Limit-Reset", EPOCH_IN_40_S, 40.0),
        ("X-RateLimit-Reset-After", "1.5", 1.5),
    ],
)
def test_each_header_is_read_as_the_seconds_it_asks_for(header, value, seconds):
    assert server_wait({header: value}, now=NOW) == (seconds, header)


@pytest.mark.parametrize("header", RATE_LIMIT_HEADERS)
@pytest.mark.parametrize(
    "value",
    ["", "soon", "-5", "-1800000040", "1e3", "40 s", "0x28", "inf", "nan", "４０", "99999999999999999999", "4_0"],
)
def test_garbage_and_negative_values_ask_for_nothing(header, value):
    shaped = f'"default";r=0;t={value}' if header == "RateLimit" else value

    assert server_wait({header: shaped}, now=NOW) is None


@pytest.mark.parametrize("value", ['"default";r=40', '"default";r=0', '"t=40";r=0', "t=40.5", "t=-40"])
def test_the_ratelimit_field_is_read_only_from_a_whole_t(value):
    """r= is the quota left, not a wait; a t inside a quoted policy name or with a fraction is not the field's t."""
    assert server_wait({"RateLimit": value}, now=NOW) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7", "RateLimit-Reset": "40"}, (7.0, "Retry-After")),  # the standard header comes first
        ({"Retry-After": "0", "RateLimit-Reset": "40"}, (0.0, "Retry-After")),
        ({"Retry-After": "soon", "RateLimit-Reset": "40"}, (40.0, "RateLimit-Reset")),  # unreadable: passed over
        ({"RateLimit": '"default";r=0;t=30', "X-RateLimit-Reset": EPOCH_IN_40_S}, (30.0, "RateLimit")),
        ({"X-RateLimit-Reset-After": "-1", "X-RateLimit-Reset": EPOCH_IN_40_S}, (40.0, "X-RateLimit-Reset")),
        ({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0"}, None),  # no header naming a wait
        ({}, None),
    ],
)
def test_the_first_readable_header_in_the_order_of_the_standards_wins(headers, expected):
    assert server_wait(headers, now=NOW) == expected


def test_huge_values_are_read_as_sent_and_the_policy_caps_them():
    assert server_wait({"RateLimit-Reset": "86400000"}, now=NOW) == (86400000.0, "RateLimit-Reset")
    assert server_wait({"Retry-After": "9999999999"}, now=NOW) == (9999999999.0, "Retry-After")
    assert server_wait({"X-RateLimit-Reset": "9999999999999"}, now=NOW) == (9999999999.999 - NOW, "X-RateLimit-Reset")

    assert RETRY_POLICY.pace(1, 86400000.0) == (120.0, True)  # RETRY_POLICY.retry_after_cap


def test_a_wait_the_server_asks_for_sets_the_wait_only_when_longer_than_the_backoff(monkeypatch):
    monkeypatch.setattr("fpr.retry.random.uniform", lambda low, high: high)  # backoffs 1, 2, 4, 8, 16, 30 s

    assert RETRY_POLICY.pace(1, 40.0) == (40.0, True)
    assert RETRY_POLICY.pace(6, 40.0) == (40.0, True)
    assert RETRY_POLICY.pace(3, 4.0) == (4.0, True)  # as long as the backoff: the server's
    assert RETRY_POLICY.pace(5, 7.0) == (16.0, False)  # shorter: the backoff, never shortened
    assert RETRY_POLICY.pace(2, 0.0) == (2.0, False)  # "now": the backoff
    assert RETRY_POLICY.pace(2, None) == (2.0, False)  # nothing readable: the backoff


def test_a_server_asking_for_no_wait_never_paces_a_retry_so_the_attempts_still_end():
    """Even under a policy without backoff: a paced retry uses up no attempt, so "now" forever must not be one."""
    no_backoff = dataclasses.replace(RETRY_POLICY, backoff_base=0.0)

    assert no_backoff.pace(1, 0.0) == (0.0, False)
    assert no_backoff.pace(1, 0.5) == (0.5, True)

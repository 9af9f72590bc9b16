"""How patiently a request is retried: which answers are worth another attempt, and how long to wait first.

connector.py holds the one RetryPolicy a sync uses (RETRY_POLICY), so the whole policy is read
and changed in one place. server_wait() reads the wait a rate-limited or unavailable server asks
for, in whichever of the headers APIs use for it.
"""

import random  # the jitter of waits
import re  # waits in seconds, and the RateLimit field's parameters
from dataclasses import dataclass  # RetryPolicy
from email.utils import parsedate_to_datetime  # Retry-After as an HTTP date
from time import time  # to turn an HTTP date or an epoch time into seconds from now

# ASCII digits only: \d would also take other scripts' digits, which int() and float() accept.
_SECONDS = re.compile(r"[0-9]{1,10}(\.[0-9]{1,6})?")
_SECONDS_OR_EPOCH = re.compile(r"[0-9]{1,13}(\.[0-9]{1,6})?")  # 13 digits: an epoch time in milliseconds
_RATELIMIT_RESET = re.compile(r"(?:^|[;,]\s*)(?:t|reset)=([0-9]{1,10})\s*(?:$|[;,])")
_YEAR = 365 * 24 * 3600  # a reset further off than this is an epoch time, not a delay
_MILLISECONDS = 10**11  # an epoch time past this (the year 5138 in seconds) is in milliseconds


@dataclass(frozen=True)
class RetryPolicy:
    """Retries for one request.

    Attributes:
        attempts: attempts per request, the first included.
        html_attempts: attempts when the answer is an HTML page, more often a login page or a
            wrong base_url than a passing fault.
        retry_statuses: HTTP statuses that are retried; every other error status fails at once.
        backoff_base: seconds of the first backoff's ceiling, doubled at each retry.
        backoff_cap: the highest ceiling of a backoff.
        retry_after_cap: the longest wait a server's Retry-After, or any other header naming a wait, obtains.
        wait_budget: seconds of waiting one request may spend in all; past it the sync gives up.
    """

    attempts: int
    html_attempts: int
    retry_statuses: tuple
    backoff_base: float
    backoff_cap: float
    retry_after_cap: float
    wait_budget: float

    def backoff(self, retry_number: int) -> float:
        """Exponential backoff with equal jitter: uniform in [c/2, c], where c = min(cap, base x 2^(n-1)).

        Half of each wait is fixed so that no draw of the jitter turns the retries into a burst: the six
        attempts of connector.py's policy span at least 15.5 s of waits. The other half spreads apart
        connections that failed together.
        """
        ceiling = self.backoff_ceiling(retry_number)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def backoff_ceiling(self, retry_number: int) -> float:
        """The longest backoff before retry number `retry_number` (1 for the first)."""
        return min(self.backoff_cap, self.backoff_base * 2 ** max(retry_number - 1, 0))

    def wait(self, retry_number: int, retry_after: float = None) -> float:
        """Seconds to wait before retry number `retry_number` (1 for the first)."""
        return self.pace(retry_number, retry_after)[0]

    def pace(self, retry_number: int, retry_after: float = None) -> tuple:
        """Seconds to wait before retry number `retry_number`, and whether the server's wait set them.

        A server's wait is a floor, not a replacement: "Retry-After: 0", a date already past or a
        value that cannot be read (None) waits exactly what the same retry of a 503 waits. Only a
        wait at least as long as the connector's own backoff sets the wait, up to retry_after_cap.
        """
        own = self.backoff(retry_number)
        if retry_after is None or retry_after <= 0:
            return own, False
        asked = min(retry_after, self.retry_after_cap)
        return (asked, True) if asked >= own else (own, False)


def server_wait(headers: dict, now: float = None):
    """The wait an answer's headers ask for, and the header that asks: (seconds, name), or None.

    The headers are read in the order of RATE_LIMIT_HEADERS, the first readable one winning: the
    standard Retry-After before the rate-limit fields, which defer to it. A header that cannot be
    read, or a negative value, is passed over as if it were absent.
    """
    for name, read in _READERS:
        seconds = read(headers.get(name), now)
        if seconds is not None:
            return seconds, name
    return None


def retry_after_seconds(value, now: float = None):
    """A Retry-After header in seconds, from its seconds or HTTP-date form; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(moment.timestamp() - (time() if now is None else now), 0.0)


def delay_seconds(value, now: float = None):
    """A header of delta seconds (RateLimit-Reset, X-RateLimit-Reset-After); None if absent or unreadable."""
    value = (value or "").strip()
    return float(value) if _SECONDS.fullmatch(value) else None


def reset_seconds(value, now: float = None):
    """X-RateLimit-Reset and its kin, which some APIs send as a delay and others as the epoch time of the reset.

    A value more than a year of seconds is an epoch time (no API makes a client wait a year), one past
    10^11 an epoch time in milliseconds; a reset already past asks for no wait.
    """
    value = (value or "").strip()
    if not _SECONDS_OR_EPOCH.fullmatch(value):
        return None
    number = float(value)
    if number <= _YEAR:
        return number
    epoch = number / 1000 if number > _MILLISECONDS else number
    return max(epoch - (time() if now is None else now), 0.0)


def ratelimit_field_seconds(value, now: float = None):
    """The seconds to the reset in the RateLimit field of the IETF draft: its t= parameter (reset= in early drafts).

    '"default";r=0;t=40' asks for 40 s; r= is the quota left, not a wait, and is not read as one.
    """
    match = _RATELIMIT_RESET.search(value or "")
    return float(match.group(1)) if match else None


# Each header that names a wait, in the order they are believed, and how it is read.
_READERS = (
    ("Retry-After", retry_after_seconds),
    ("RateLimit-Reset", delay_seconds),
    ("RateLimit", ratelimit_field_seconds),
    ("X-RateLimit-Reset-After", delay_seconds),
    ("X-RateLimit-Reset", reset_seconds),
    ("X-Rate-Limit-Reset", reset_seconds),
)
RATE_LIMIT_HEADERS = tuple(name for name, _ in _READERS)

"""How patiently a request is retried: which answers are worth another attempt, and how long to wait first.

connector.py holds the one RetryPolicy a sync uses (RETRY_POLICY), so the whole policy is read
and changed in one place.
"""

import random  # the jitter of waits
import re  # Retry-After in seconds
from dataclasses import dataclass  # RetryPolicy
from email.utils import parsedate_to_datetime  # Retry-After as an HTTP date
from time import time  # to turn an HTTP date into seconds from now


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
        retry_after_cap: the longest wait a server's Retry-After obtains.
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
        """Seconds to wait before retry number `retry_number` (1 for the first).

        A server's Retry-After is a floor, not a replacement: "Retry-After: 0", a date already past
        or a value that cannot be read (None) waits exactly what the same retry of a 503 waits.
        """
        own = self.backoff(retry_number)
        if retry_after is None:
            return own
        return max(min(retry_after, self.retry_after_cap), own)


def retry_after_seconds(value, now: float = None):
    """A Retry-After header in seconds, from its seconds or HTTP-date form; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d{1,10}(\.\d{1,6})?", value):
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(moment.timestamp() - (time() if now is None else now), 0.0)

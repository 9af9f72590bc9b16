"""One page of GET /fpr_data: retried as the policy says, and explained when it cannot be had.

Every answer other than a page of JSON is either transient (retried with a wait) or ends the sync
with a message that says what to check. A server's own error text is never shown, only its error
code: free text may quote a customer's name, which no masking can recognise. An answer that is not
in the API's form (an HTML page from a firewall or CDN) is described by who sent it and its title,
and never taken for the API's verdict on the key.
"""

import itertools  # attempts, counted until the policy ends them
import json  # error bodies
import re  # error codes
import threading  # stopping a wait from another thread
from dataclasses import dataclass  # Limits

from fpr import safe_log
from fpr.body import decode_json
from fpr.errors import CursorRejected, FprError, SyncStopping, Transient
from fpr.intermediaries import described, is_page, is_the_apis
from fpr.retry import RetryPolicy, server_wait
from fpr.settings import Settings
from fpr.transport import Reply, Transport

ENDPOINT = "/fpr_data"
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}|\d{1,10}")


@dataclass(frozen=True)
class Limits:
    """What one request may take, so that no server can hold a sync or fill its memory.

    Attributes:
        connect_timeout: seconds to open a connection.
        read_timeout: seconds of silence allowed between two bytes of an answer.
        request_deadline: seconds from connect to last byte, however slowly the bytes come.
        max_body_bytes: of a decoded body; past it the sync fails.
        max_json_values: in one body, counted before parsing; bounds the memory parsing takes.
        max_page_records: records in one page, whatever page_size asked for.
        pages_without_new_records: pages in a row that bring no record new to this sync before
            the chain is called a loop.
    """

    connect_timeout: float
    read_timeout: float
    request_deadline: float
    max_body_bytes: int
    max_json_values: int
    max_page_records: int
    pages_without_new_records: int


def pause(seconds: float, stop: threading.Event):
    """Waits before a retry; returns early when the sync is stopping."""
    stop.wait(seconds)


class FprClient:
    """Fetches pages of /fpr_data, retrying what is transient and explaining what is not.

    Args:
        settings: the validated configuration.
        policy: how patiently to retry.
        limits: what one request may take.
    """

    def __init__(self, settings: Settings, policy: RetryPolicy, limits: Limits):
        self.settings = settings
        self.policy = policy
        self.limits = limits
        self.url = settings.base_url + ENDPOINT
        headers = {
            "x-api-key": settings.api_key,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",  # what body.py decompresses within its cap
            "User-Agent": "fpr-fivetran-connector",
        }
        self.transport = Transport(settings.base_url, headers, limits.connect_timeout, limits.read_timeout)
        self.request_sent = self.transport.request_sent
        self._stop = threading.Event()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()  # nothing outlives the sync: no request in flight, no wait
        self.transport.close()

    def stop(self):
        """Ends the request in flight and any wait between retries; called from any thread."""
        self._stop.set()
        self.transport.stop()

    def get_page(self, cursor, number: int, page_size: int = None):
        """The decoded JSON body of one page.

        Raises:
            CursorRejected: the server refused the cursor (400 or 410 mentioning it).
            SyncStopping: stop() was called.
            FprError: anything else that ends the sync, saying what to do about it.
        """
        params = {"page_size": page_size or self.settings.page_size}
        if cursor:
            params["cursor"] = cursor
        waited, counted = 0.0, 0  # seconds waited; attempts that used up one of the policy's attempts
        for attempt in itertools.count(1):  # ended by the policy's attempts or wait budget, below
            try:
                return self._attempt(params, number)
            except Transient as problem:
                allowed = self.policy.html_attempts if problem.kind == "html" else self.policy.attempts
                wait, paced = self.policy.pace(attempt, problem.retry_after)
                # A retry the server paces (its wait is longer than the backoff) does not use up one of
                # the attempts: a server that says when to come back is heeded within the wait budget.
                counted += not paced
                if counted >= allowed or waited + wait > self.policy.wait_budget:
                    raise FprError(safe_log.say("page {}: {}", number, self._gave_up(problem, attempt))) from None
                waited += wait
                if paced:
                    safe_log.warning(self._paced_note(number, problem, wait, attempt - counted, waited))
                else:
                    safe_log.warning(
                        f"page {number}: request failed ({problem.reason}); "
                        f"retry {counted} of {allowed - 1} in {wait:.1f} s"
                    )
                pause(wait, self._stop)
            except FprError as error:
                raise type(error)(safe_log.say("page {}: {}", number, error)) from None

    def _attempt(self, params: dict, number: int):
        """One request: the page's JSON, or the exception its answer calls for."""
        if self._stop.is_set():
            raise SyncStopping("the sync is stopping")
        limits = self.limits
        reply = self.transport.get(self.url, params, limits.max_body_bytes, limits.request_deadline)
        if reply.status == 200:
            try:
                return decode_json(reply.body, reply.content_type, number, limits.max_json_values)
            except Transient as problem:
                if problem.kind != "html":
                    raise
                raise Transient(
                    safe_log.say("an HTML page {}", described(reply.answered_by, reply.body, reply.content_type)),
                    "html",
                ) from None
        raise self._status_error(reply, "cursor" in params)

    def _status_error(self, reply: Reply, cursor_sent: bool) -> Exception:
        """The exception an answer other than 200 calls for: transient, or what to fix."""
        status = reply.status
        if status in self.policy.retry_statuses:
            return Transient(f"HTTP {status}", "status", *(server_wait(reply.rate_limit) or ()))
        if status in (401, 403) and not is_the_apis(reply.body):
            return not_the_apis(
                reply,
                "a firewall, CDN or gateway in front of it refused the request before the API key was checked, so "
                "the key may well be right; check base_url, and ask whoever runs the API to let this connection "
                "through",
            )
        if status in (401, 403):
            return FprError(f"the API key was rejected (HTTP {status}): check 'api_key'")
        if status == 404:
            return FprError(f"no FPR API at {self.url} (HTTP 404): check 'base_url'")
        if status == 407:
            return FprError(
                safe_log.say(
                    "the proxy asks for credentials (HTTP 407): put them in the proxy address, "
                    "e.g. HTTP_PROXY=http://user:password@proxy.example.com:3128"
                )
            )
        if status in (400, 410) and cursor_sent and b"cursor" in reply.body.lower():
            return CursorRejected(f"the server no longer accepts the saved cursor (HTTP {status})")
        if 300 <= status < 400:
            return FprError(
                f"the API answered with a redirect (HTTP {status}), which is not followed so that the key is not "
                "sent elsewhere: set 'base_url' to the final address"
            )
        if is_page(reply.body, reply.content_type):
            return not_the_apis(reply, "check base_url, and that nothing in front of the API blocks this connection")
        code = server_error_code(reply.body)
        return FprError(
            f"the API answered HTTP {status} ({f'error code {code}' if code else 'no error code'}); "
            "its message is not shown, as it may quote personal data"
        )

    def _paced_note(self, number: int, problem: Transient, wait: float, retry: int, waited: float) -> str:
        """The log line of a retry whose wait the server asked for, naming the header that asked."""
        header, asked = problem.asked_by, problem.retry_after
        what = f"{_seconds(wait)} s as {header} asks"
        if asked > wait:  # cut to the connector's ceiling
            what = f"{_seconds(wait)} s (retry_after_cap) of the {_seconds(asked)} s {header} asks"
        return (
            f"page {number}: {problem.reason}; waiting {what} "
            f"(paced retry {retry}; {_seconds(waited)} of the {self.policy.wait_budget:g} s wait budget used)"
        )

    def _gave_up(self, problem: Transient, attempts: int) -> str:
        """What to tell the user once retrying has not helped."""
        tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
        if problem.kind == "status":
            return f"still {problem.reason} after {tries}; try again later"
        if problem.kind == "connection":
            return (
                f"could not reach {self.transport.address} ({problem.reason}) after {tries}; check base_url and the "
                "network, then rerun (the sync resumes at its last checkpoint)"
            )
        if problem.kind == "proxy":
            proxy = self.transport.proxy
            return safe_log.say(
                "could not reach {} ({}) after {}; check {} and that the proxy is up, then rerun (the sync resumes "
                "at its last checkpoint)",
                proxy.named,
                problem.reason,
                tries,
                proxy.variable,
            )
        if problem.kind == "deadline":
            return (
                f"no complete answer within {self.limits.request_deadline:g} s (request_deadline in connector.py's "
                f"LIMITS), {tries}; the API is stalled or far too slow: try again later"
            )
        if problem.kind == "html":
            return safe_log.say(
                "the answer was {}, instead of the API's JSON ({}): base_url may point at a website, a login page "
                "or a proxy, or the API may be down for maintenance; check base_url and that the API is up, then rerun",
                problem.reason,
                tries,
            )
        return f"the response body {problem.reason} in {tries}"


def _seconds(seconds: float) -> str:
    """Seconds as a log line shows them: "40", "2.5"."""
    return f"{round(seconds, 1):g}"


def not_the_apis(reply: Reply, advice: str) -> FprError:
    """An error answer that did not come from the API, named by who sent it and its page's first words."""
    return FprError(
        safe_log.say(
            "the answer (HTTP {}) did not come from the FPR API but {}: " + advice,
            reply.status,
            described(reply.answered_by, reply.body, reply.content_type),
        )
    )


def server_error_code(body: bytes) -> str:
    """The error code of a JSON error answer ("invalid_page_size"), if it has one shaped like an identifier."""
    try:
        parsed = json.loads(bytes(body).decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return ""
    if not isinstance(parsed, dict):
        return ""
    for name in ("error", "code", "error_code", "type"):
        value = parsed.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and _ERROR_CODE.fullmatch(str(value)):
            return str(value)
    return ""

"""Fivetran connector for Financial Product Recommendation (FPR) records.

Copies every record served by `GET {base_url}/fpr_data` into the table `fpr_records`
(primary key `record_id`). The API pages with an opaque cursor; the cursor saved at
the end of a sync is where the next sync starts, so later syncs receive only records
inserted or changed since. The state is checkpointed after every page, so a sync
that dies resumes at the last page it finished.

The story of a sync, top to bottom: configuration, schema(), update(), the page loop
and its checkpoints, the paginator (which fetches the next page while the current one
is written), the HTTP client with its retry policy, the HTTP exchange with its request
deadline and body cap, and the record normaliser. See README.md for configuration,
local runs and deployment.
"""

# Only the standard library and the SDK: nothing for requirements.txt, nothing Fivetran does not pre-install.
import base64  # to mask the API key in its base64 form
import http.client  # the HTTP exchange, with a socket the connector controls (see HttpConnection)
import json  # for API bodies, the state and configuration.json
import math  # to tell finite numbers from NaN and infinities
import random  # for the jitter of retry waits
import re  # for dates, charsets, emails and error codes
import select  # to notice a kept-alive connection the server closed
import socket  # to end a request at its deadline
import ssl  # to verify the API's TLS certificate
import threading  # for the page fetched ahead and the request deadline
import unicodedata  # to compare field names without accents
import urllib.request  # for the proxy settings of the environment (HTTPS_PROXY, NO_PROXY)
import zlib  # to decode gzip and deflate bodies within a cap
from concurrent.futures import ThreadPoolExecutor  # the one background thread that fetches ahead
from dataclasses import dataclass, field  # for Settings, Page and Reply
from datetime import date  # dates go to the SDK as date objects
from email.utils import parsedate_to_datetime  # for Retry-After given as an HTTP date
from ipaddress import ip_address  # to allow plain http on loopback only
from time import monotonic, time  # for deadlines and Retry-After dates
from urllib.parse import quote, quote_plus, unquote, urlencode, urlsplit  # request targets, proxies, masking

# The SDK: the connector, its setup form and test, logging, and the operations that write data.
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op

TABLE = "fpr_records"
PRIMARY_KEY = "record_id"
ENDPOINT = "/fpr_data"
RECORDS_KEY = "fpr_records"

# Every number with decimals is DOUBLE: the SDK's FLOAT is 32-bit and would round money.
COLUMNS = {
    "record_id": "STRING",
    "customer_id": "STRING",
    "customer_name": "STRING",
    "customer_email": "STRING",
    "customer_segment": "STRING",
    "customer_lifecycle_stage": "STRING",
    "customer_lifecycle_stage_transition_date": "NAIVE_DATE",
    "account_balance": "DOUBLE",
    "transaction_history": "STRING",
    "customer_transaction_value": "DOUBLE",
    "customer_transaction_count": "INT",
    "product_id": "STRING",
    "product_name": "STRING",
    "product_type": "STRING",
    "product_terms": "STRING",
    "product_sales_amount": "DOUBLE",
    "product_sales_date": "NAIVE_DATE",
    "product_recommendation": "STRING",
    "product_recommendation_date": "NAIVE_DATE",
    "product_recommendation_status": "STRING",
    "recommendation_score": "DOUBLE",
    "customer_product_usage": "STRING",
    "customer_product_affinity": "DOUBLE",
    "customer_product_affinity_trend": "STRING",
    "customer_product_usage_trend": "STRING",
    "customer_product_interests": "STRING",
    "customer_satisfaction_score": "DOUBLE",
    "customer_churn_probability": "DOUBLE",
    "last_updated_epoch": "LONG",
}

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 200

# Limits on one request. A hostile or broken server can neither hold a sync nor fill its memory.
CONNECT_TIMEOUT_SECONDS = 10  # to open the connection (and the TLS handshake)
READ_TIMEOUT_SECONDS = 60  # silence allowed between two bytes of the answer
REQUEST_DEADLINE_SECONDS = 120  # connect to last byte, however slowly the bytes trickle in
# A body's memory is multiplied about tenfold on its way to the destination (parsed, encoded, staged
# and written by the SDK's runner), so these keep a sync under 600 MB whatever a server sends.
MAX_RESPONSE_BYTES = 24 * 1024 * 1024  # of decoded body; a 200-record page is about 250 KB
MAX_JSON_VALUES = 2_000_000  # separators in one body; bounds the memory its parsing can take
MAX_PAGE_RECORDS = 5_000  # records in one page, whatever page_size asked for (at most 200)
READ_CHUNK_BYTES = 64 * 1024
SEND_WAIT_SECONDS = 0.05  # at most, for the next page's request to leave before this page is written
ERROR_BODY_BYTES = 64 * 1024  # of an error answer: enough for its message

# Retry policy for one request. Waits use exponential backoff with full jitter;
# a server's Retry-After is honoured up to a cap. Whatever happens, one request
# waits at most WAIT_BUDGET_SECONDS in total before the sync gives up on it.
MAX_ATTEMPTS = 6
HTML_ATTEMPTS = 2  # an HTML page is more often a login page or a wrong base_url than a passing fault
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
RETRY_AFTER_CAP_SECONDS = 120.0
WAIT_BUDGET_SECONDS = 300.0
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
SETUP_TEST_ATTEMPTS = 2  # the setup form should answer in seconds
SETUP_TEST_DEADLINE_SECONDS = 30

# Fields the schema does not declare still land, as new columns, within these bounds.
MAX_EXTRA_COLUMNS = 100  # distinct undeclared field names taken per sync
MAX_FIELD_NAME_LENGTH = 255  # Snowflake's limit for a column name
MAX_REMEMBERED_FIELD_NAMES = 10_000  # verdicts on undeclared names kept per sync; later ones are judged each time
RESERVED_PREFIX = "fivetran"  # _fivetran_synced, _fivetran_deleted... belong to Fivetran

STATE_CURSOR = "next_cursor"
STATE_EPOCH = "last_updated_epoch"
LOOPBACK_NAMES = ("localhost",)


# --------------------------------------------------------------------------- errors


class FprError(Exception):
    """A failure whose message says what went wrong and what to do; it never holds the API key."""


class ConfigurationError(FprError, ValueError):
    """The configuration cannot work; the message names the key, never its value."""


class CursorRejected(FprError):
    """The server no longer accepts the cursor (expired or invalid)."""


class TransientError(Exception):
    """One attempt failed in a way that trying again may fix.

    Args:
        reason: what happened, in words, for the retry log ("HTTP 503", "connection dropped").
        kind: "status", "connection", "deadline", "body" or "html": how the final message reads.
        retry_after: seconds the server asked to wait, if it did.
        attempts: how many attempts this kind of failure deserves.
    """

    def __init__(self, reason, kind, retry_after=None, attempts=MAX_ATTEMPTS):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.retry_after = retry_after
        self.attempts = attempts


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str = field(repr=False)
    page_size: int = DEFAULT_PAGE_SIZE


def validate_configuration(configuration: dict) -> Settings:
    """Checks the configuration and returns it typed.

    Args:
        configuration: the connector's configuration; every value is a string.
    Returns:
        Settings with a base URL without trailing slash and an integer page size.
    Raises:
        ConfigurationError (a ValueError): naming the key and what is wrong with it, never the key's value.
    """
    api_key = configuration.get("api_key")
    if not isinstance(api_key, str) or not api_key.strip():
        raise ConfigurationError("configuration 'api_key' is required: set it to your FPR API key")
    if api_key != api_key.strip() or any(ch in api_key for ch in "\r\n"):
        raise ConfigurationError(
            "configuration 'api_key' has leading/trailing spaces or line breaks: paste the key alone"
        )
    base_url = _validate_base_url(configuration.get("base_url"))
    page_size = _validate_page_size(configuration.get("page_size"))
    return Settings(base_url=base_url, api_key=api_key, page_size=page_size)


def _validate_base_url(value) -> str:
    """The base URL without trailing slash; ConfigurationError if it is unusable or unsafe."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("configuration 'base_url' is required, e.g. https://fpr.example.com")
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # a port that is not a number raises here
    except ValueError:
        hostname = None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigurationError("configuration 'base_url' must be an http(s) URL such as https://fpr.example.com")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError("configuration 'base_url' must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise ConfigurationError(
            "configuration 'base_url' uses plain http to a remote host, which would send the API key "
            "unencrypted: use https (plain http is allowed only for localhost)"
        )
    return url


def _is_loopback(hostname: str) -> bool:
    """Whether the host is this machine, where plain http cannot expose the key."""
    if hostname in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(hostname).is_loopback
    except ValueError:
        return False


def _validate_page_size(value) -> int:
    """The page size as a number; the default when the setting is empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_PAGE_SIZE
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text) or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ConfigurationError(
            f"configuration 'page_size' must be a whole number from 1 to {MAX_PAGE_SIZE} (default 100)"
        )
    return int(text)


# --------------------------------------------------------------------------- schema


def schema(configuration: dict):
    """Define the schema function which lets you configure the schema your connector delivers.

    See the technical reference documentation for more details on the schema function:
    https://fivetran.com/docs/connector-sdk/technical-reference/connector-sdk-code/connector-sdk-methods#schema
    Declares fpr_records with all 29 columns typed (money as DOUBLE, so it is never rounded);
    fields the API adds later still land, with inferred types.

    Args:
        configuration: a dictionary that holds the configuration settings for the connector.
    """
    return [{"table": TABLE, "primary_key": [PRIMARY_KEY], "columns": dict(COLUMNS)}]


# --------------------------------------------------------------------------- update


def update(configuration: dict, state: dict):
    """Define the update function, which is a required function, and is called by Fivetran during each sync.

    See the technical reference documentation for more details on the update function:
    https://fivetran.com/docs/connector-sdk/technical-reference/connector-sdk-code/connector-sdk-methods#update
    Syncs every record changed since the cursor in `state`: all records on a first sync.
    validate_configuration() runs first, in run_sync().

    Args:
        configuration: A dictionary containing connection details.
        state: A dictionary containing state information from previous runs;
            empty for the first sync or for any full re-sync.
    Raises:
        FprError: the sync cannot go on; rows up to the last checkpoint are kept.
    """
    failure = run_sync(configuration, state)
    if failure is not None:
        # Raised here, without the inner traceback: deeper frames hold records, responses
        # and configuration values, which the SDK would print into crash reports.
        raise failure


def run_sync(configuration: dict, state: dict):
    """Runs one sync; returns None, or the FprError that stopped it, its message scrubbed of secrets."""
    secrets = _configured_secrets(configuration)
    try:
        settings = validate_configuration(configuration)
        with FprClient(settings) as client:
            sync_records(client, state)
        return None
    except FprError as error:
        return FprError(mask_secrets(str(error), secrets))
    except Exception as error:  # an unexpected bug: keep its location, drop its message (it may hold data)
        return FprError(
            f"unexpected {type(error).__name__} at {_where(error)}; the sync stopped at its last checkpoint"
        )


def _configured_secrets(configuration) -> tuple:
    """The configuration values no message may show."""
    api_key = configuration.get("api_key") if isinstance(configuration, dict) else None
    return (api_key,) if isinstance(api_key, str) else ()


def _where(error: BaseException) -> str:
    """File, line and function where an exception was raised."""
    frame = error.__traceback__
    while frame and frame.tb_next:
        frame = frame.tb_next
    if frame is None:
        return "unknown location"
    code = frame.tb_frame.f_code
    return f"{code.co_filename.replace(chr(92), '/').rsplit('/', 1)[-1]}:{frame.tb_lineno} in {code.co_name}()"


def sync_records(client: "FprClient", state: dict):
    """The page loop: upsert each page's rows, then checkpoint the cursor that follows them."""
    cursor, highest_epoch = starting_point(state)
    issues = RecordIssues()
    started = monotonic()
    total = 0
    page_count = 0
    log.info(f"sync starting {'from the saved cursor' if cursor else 'from the beginning (full sync)'}")
    for page in Paginator(client, cursor, RecordNormaliser(issues)):
        for row in page.rows:
            # The 'upsert' operation inserts the row into fpr_records or replaces the row with the
            # same record_id: a page read again after a crash or a cursor restart cannot duplicate rows.
            op.upsert(TABLE, row)
        highest_epoch = _max_epoch(highest_epoch, page.highest_epoch)
        page_count += 1
        total += page.size
        if page.next_cursor:  # a null cursor never replaces a good one
            cursor = page.next_cursor
        # Save the progress by checkpointing the state: it commits this page's rows and the cursor
        # that follows them in one step, so a sync that dies after it resumes at the next page.
        op.checkpoint(_state(cursor, highest_epoch))
        log.info(f"page {page.number}: {page.size} records, {total} in total")
    issues.report()
    elapsed = monotonic() - started
    log.info(f"sync finished: {page_count} pages, {total} records, {elapsed:.1f} s")


def starting_point(state: dict):
    """The cursor and highest epoch to start from; values of the wrong type are ignored, with a warning.

    Accepts this connector's state and the lab connector's `{"next_cursor": "..."}`.
    """
    cursor = state.get(STATE_CURSOR) or None
    if cursor is not None and not isinstance(cursor, str):
        log.warning("the saved next_cursor is not text; starting from the beginning (upserts are idempotent)")
        cursor = None
    highest_epoch = state.get(STATE_EPOCH)
    if highest_epoch is not None and (not isinstance(highest_epoch, int) or isinstance(highest_epoch, bool)):
        log.warning("the saved last_updated_epoch is not a whole number; it is recomputed from this sync")
        highest_epoch = None
    return cursor, highest_epoch


def _state(cursor, highest_epoch) -> dict:
    """The state to checkpoint: where the next sync starts, and the highest epoch seen for reference."""
    state = {STATE_CURSOR: cursor}
    if highest_epoch is not None:
        state[STATE_EPOCH] = highest_epoch
    return state


def _max_epoch(current, candidate):
    """The higher of two epochs, either of which may be None."""
    if candidate is None:
        return current
    return candidate if current is None else max(current, candidate)


# --------------------------------------------------------------------------- pagination


@dataclass
class Page:
    number: int
    records: list = field(repr=False)  # records hold personal data: keep them out of reprs and crash reports
    next_cursor: str = None
    has_more: bool = False
    rows: list = field(default=None, repr=False)  # the records as rows for the destination, once prepared
    highest_epoch: int = None  # the highest last_updated_epoch among the rows

    @property
    def size(self) -> int:
        return len(self.records)


class Paginator:
    """Walks the cursor chain from `cursor` to the end of the data, one page ahead.

    While the caller writes page n, page n+1 is fetched, parsed and turned into rows in a
    background thread: the network, the connector's own work and the destination's writes
    overlap. The caller receives pages in order, each after the checks below, and an error
    fetching a page surfaces when that page is due.

    Handles both end-of-data styles: a final empty page with has_more false and a
    cursor (newer service), and a last page whose next_cursor is null (older one).
    A cursor the server rejects restarts the read once from the beginning; a
    cursor seen twice, or has_more true without a cursor, fails the sync.

    Args:
        client: fetches one page.
        cursor: where to start; None reads from the beginning.
        normalise: turns a record into a row, or None to skip it.
    """

    def __init__(self, client: "FprClient", cursor: str = None, normalise=None):
        self.client = client
        self.start_cursor = cursor
        self.normalise = normalise

    def __iter__(self):
        cursor = self.start_cursor
        seen = {cursor} if cursor else set()  # every cursor sent in this sync
        restarted = False
        number = 1
        with PageFetcher(self._next_page, self.client.abort, self.client.connection.request_sent) as fetcher:
            fetcher.fetch(cursor, number)
            while True:
                try:
                    page = fetcher.result()
                except CursorRejected as error:
                    if restarted or cursor is None:
                        raise FprError(f"{error}, even when reading from the beginning; stopping") from None
                    op.warning(f"{error}: reading again from the beginning (records already loaded are upserted again)")
                    cursor, seen, restarted, number = None, set(), True, number + 1
                    fetcher.fetch(cursor, number)
                    continue
                last = not page.records or not page.has_more
                if not last:  # checked before the page is loaded: a checkpoint only ever follows a sound page
                    self._check_progress(page, seen)
                    cursor = page.next_cursor
                    seen.add(cursor)
                    fetcher.fetch(cursor, number + 1)
                yield page
                if last:
                    return
                number += 1

    def _next_page(self, cursor, number: int) -> Page:
        """Fetches, parses and prepares one page (in the background thread)."""
        page = parse_page(self.client.get_page(cursor, number), number)
        if self.normalise is not None:
            page.rows = [row for row in map(self.normalise, page.records) if row is not None]
            epochs = (row[STATE_EPOCH] for row in page.rows if row.get(STATE_EPOCH) is not None)
            page.highest_epoch = max(epochs, default=None)
        return page

    @staticmethod
    def _check_progress(page: Page, seen: set):
        """Fails on a page that says there is more but gives no way, or a known way, to it."""
        if not page.next_cursor:
            raise FprError(f"page {page.number} says has_more: true but gives no next_cursor; the API cannot be paged")
        if page.next_cursor in seen:
            raise FprError(f"page {page.number} returned a cursor already seen in this sync: the API is looping")


class PageFetcher:
    """Fetches at most one page ahead, in one background thread that ends with the sync.

    Args:
        fetch_page: (cursor, page number) -> Page; runs in the background thread.
        abort: ends a fetch in progress; called when the sync stops before it is needed.
        request_sent: an event set when the fetch's request is on the wire.
    """

    def __init__(self, fetch_page, abort, request_sent):
        self.fetch_page = fetch_page
        self.abort = abort
        self.request_sent = request_sent
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpr-fetch")
        self._pending = None

    def fetch(self, cursor, number: int):
        """Starts fetching a page in the background, and returns once its request is sent.

        Sending needs the interpreter, which the writing of the current page would otherwise
        hold for milliseconds at a time: waiting the fraction of a millisecond it takes puts
        the whole of the server's time in the shadow of the writes.
        """
        self.request_sent.clear()
        self._pending = self._executor.submit(self.fetch_page, cursor, number)
        self.request_sent.wait(SEND_WAIT_SECONDS)

    def result(self) -> Page:
        """The page asked for last; raises what fetching it raised."""
        pending, self._pending = self._pending, None
        return pending.result()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pending is not None and not self._pending.done():
            self.abort()  # the sync is stopping: end the request in flight and any wait
        self._executor.shutdown(wait=True)


def parse_page(body, number: int) -> Page:
    """Checks the shape of one /fpr_data response.

    Raises:
        FprError: naming the page and what is wrong with its shape.
    """
    if not isinstance(body, dict):
        raise FprError(f"page {number}: the response is a JSON {type(body).__name__}, not an object")
    records = body.get(RECORDS_KEY)
    if not isinstance(records, list):
        raise FprError(f"page {number}: the response has no '{RECORDS_KEY}' list; is base_url an FPR API?")
    if len(records) > MAX_PAGE_RECORDS:
        raise FprError(
            f"page {number}: the response holds {len(records):,} records, more than MAX_PAGE_RECORDS "
            f"({MAX_PAGE_RECORDS:,}); the API does not seem to honour page_size"
        )
    bad = sum(1 for record in records if not isinstance(record, dict))
    if bad:
        raise FprError(f"page {number}: {bad} of {len(records)} items in '{RECORDS_KEY}' are not JSON objects")
    next_cursor = body.get("next_cursor")
    if next_cursor is not None and not isinstance(next_cursor, str):
        raise FprError(f"page {number}: next_cursor is a {type(next_cursor).__name__}, not a string")
    has_more = _has_more(body.get("has_more"), number)
    if has_more is None:  # older service: the cursor alone says whether there is more
        has_more = bool(next_cursor)
    return Page(number=number, records=records, next_cursor=next_cursor or None, has_more=has_more)


def _has_more(value, number: int):
    """has_more as a bool, or None when absent; "true"/"false" as text and 1/0 are read as what they say."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise FprError(f"page {number}: has_more is a {type(value).__name__} that is neither true nor false")


# --------------------------------------------------------------------------- HTTP client


def pause(seconds: float, stop: threading.Event):
    """Waits before a retry; returns early when the sync is stopping."""
    stop.wait(seconds)


def backoff_wait(retry_number: int) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(n-1))]."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(retry_number - 1, 0))
    return random.uniform(0, ceiling)


def retry_after_seconds(value, now=None):
    """A Retry-After header in seconds, from its seconds or HTTP-date form; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(moment.timestamp() - (time() if now is None else now), 0.0)


class FprClient:
    """Fetches /fpr_data pages, retrying what is transient and explaining what is not.

    Args:
        settings: the validated configuration.
        attempts: attempts per request, the first included.
        deadline: seconds one attempt may take, connect to last byte.
    """

    def __init__(self, settings: Settings, attempts: int = MAX_ATTEMPTS, deadline: float = None):
        self.settings = settings
        self.attempts = attempts
        self.deadline = REQUEST_DEADLINE_SECONDS if deadline is None else deadline
        self.url = settings.base_url + ENDPOINT
        self.connection = HttpConnection(settings.base_url)
        self.headers = {
            "x-api-key": settings.api_key,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": "fpr-fivetran-connector",
        }
        self._stop = threading.Event()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()  # nothing outlives the sync: no request in flight, no wait
        self.connection.close()

    def abort(self):
        """Ends the request in flight and any wait between retries; called from another thread."""
        self._stop.set()
        self.connection.abort()

    def get_page(self, cursor, number: int, page_size: int = None) -> object:
        """Returns the decoded JSON body of one page.

        Raises:
            CursorRejected: the server refused the cursor (400/410 mentioning it).
            FprError: anything else that ends the sync, with what to do about it.
        """
        params = {"page_size": page_size or self.settings.page_size}
        if cursor:
            params["cursor"] = cursor
        target = urlsplit(self.url).path + "?" + urlencode(params)
        waited = 0.0
        for attempt in range(1, self.attempts + 1):
            if self._stop.is_set():
                raise FprError(f"page {number}: the sync is stopping")
            try:
                return self._attempt(target, number, cursor is not None)
            except TransientError as problem:
                if self._stop.is_set():
                    raise FprError(f"page {number}: the sync is stopping") from None
                allowed = min(self.attempts, problem.attempts)
                wait = self._wait_before_retry(attempt, problem)
                if attempt >= allowed or waited + wait > WAIT_BUDGET_SECONDS:
                    raise FprError(self._gave_up(problem, number, attempt)) from None
                waited += wait
                log.warning(
                    f"page {number}: request failed ({problem.reason}); "
                    f"retry {attempt} of {allowed - 1} in {wait:.1f} s"
                )
                pause(wait, self._stop)

    def _attempt(self, target: str, number: int, cursor_sent: bool):
        """One request: the page's JSON, or the exception its answer calls for."""
        reply = self.connection.get(target, self.headers, self.deadline, MAX_RESPONSE_BYTES)
        if reply.status == 200:
            return decode_json(reply, number)
        raise self._status_error(reply, number, cursor_sent)

    @staticmethod
    def _wait_before_retry(attempt: int, problem: TransientError) -> float:
        """The server's Retry-After, capped, or exponential backoff with full jitter."""
        if problem.retry_after is not None:
            return min(problem.retry_after, RETRY_AFTER_CAP_SECONDS)
        return backoff_wait(attempt)

    def _status_error(self, reply: "Reply", number: int, cursor_sent: bool) -> Exception:
        """The exception an answer other than 200 calls for: transient, or what to fix."""
        status = reply.status
        if status in RETRY_STATUSES:
            return TransientError(f"HTTP {status}", "status", retry_after_seconds(reply.retry_after))
        if status in (401, 403):
            return FprError(f"page {number}: the API key was rejected (HTTP {status}): check 'api_key'")
        if status == 404:
            return FprError(f"page {number}: no FPR API at {self.url} (HTTP 404): check 'base_url'")
        if status in (400, 410) and cursor_sent and b"cursor" in reply.body.lower():
            return CursorRejected(f"page {number}: the server no longer accepts the saved cursor (HTTP {status})")
        if 300 <= status < 400:
            return FprError(
                f"page {number}: the API answered with a redirect (HTTP {status}), which is not followed so that "
                "the key is not sent elsewhere: set 'base_url' to the final address"
            )
        code = server_error_code(reply)
        return FprError(
            f"page {number}: the API answered HTTP {status} ({f'error code {code}' if code else 'no error code'}); "
            "its message is not shown, as it may quote personal data"
        )

    def _gave_up(self, problem: TransientError, number: int, attempts: int) -> str:
        """What to tell the user once retrying has not helped."""
        tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
        if problem.kind == "status":
            return f"page {number}: still {problem.reason} after {tries}; try again later"
        if problem.kind == "connection":
            return (
                f"page {number}: could not reach {urlsplit(self.url).netloc} ({problem.reason}) after {tries}; "
                "check base_url and the network, then rerun (the sync resumes at its last checkpoint)"
            )
        if problem.kind == "deadline":
            return (
                f"page {number}: no complete answer within {self.deadline:g} s (REQUEST_DEADLINE_SECONDS), "
                f"{tries}; the API is stalled or far too slow: try again later"
            )
        if problem.kind == "html":
            return (
                f"page {number}: the API answered with an HTML page instead of JSON ({tries}): base_url may point "
                "at a website, a login page or a proxy, or the API may be down for maintenance; check base_url "
                "and that the API is up, then rerun"
            )
        return f"page {number}: the response body {problem.reason} in {tries}"


def server_error_code(reply: "Reply") -> str:
    """The error code of a JSON error answer ("invalid_page_size"), if it has one shaped like an identifier.

    Only a code is ever shown: an error's free text may quote a customer's name, which no
    masking can recognise.
    """
    try:
        body = json.loads(reply.body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return ""
    if not isinstance(body, dict):
        return ""
    for name in ("error", "code", "error_code", "type"):
        value = body.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and _ERROR_CODE.fullmatch(str(value)):
            return str(value)
    return ""


_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}|\d{1,10}")
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(\.[\w-]+)+")


def mask_secrets(text: str, secrets=()) -> str:
    """The text with each secret masked (raw, URL-encoded and base64-encoded) and every email as <email>."""
    for secret in secrets:
        for form in _secret_forms(secret):
            text = text.replace(form, "***")
    return _EMAIL.sub("<email>", text)


def _secret_forms(secret: str):
    """A secret as it may appear in text: raw, URL-encoded, base64 (padded or not); longest first."""
    if not secret or len(secret) < 4:
        return []
    raw = secret.encode("utf-8")
    encoded = [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    forms = {secret, quote(secret, safe=""), quote_plus(secret), *encoded, *(form.rstrip("=") for form in encoded)}
    return sorted(forms, key=len, reverse=True)


# --------------------------------------------------------------------------- HTTP exchange


@dataclass
class Reply:
    status: int
    content_type: str
    retry_after: str
    body: bytes = field(repr=False)


class HttpConnection:
    """One keep-alive connection to the API's host; one request at a time.

    Each request has a deadline from connect to last byte. A watchdog shuts the socket
    when it passes, which ends any read in progress however slowly the server trickles
    its bytes; the body is read in chunks and never beyond a cap. The standard library's
    http.client is used because it hands the connector its socket: a per-read timeout
    alone cannot bound a request that receives one byte every few seconds.
    """

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self._connection = None
        self._tls = None
        self.request_sent = threading.Event()  # set once a request is on the wire
        self._lock = threading.Lock()
        self._aborted = False

    def get(self, target: str, headers: dict, deadline_seconds: float, max_bytes: int) -> Reply:
        """One GET; raises TransientError for what a retry may fix and FprError for what it cannot."""
        deadline = monotonic() + deadline_seconds
        with Watchdog(deadline_seconds, self._shutdown_socket) as watchdog:
            try:
                return self._exchange(target, headers, deadline, max_bytes)
            except ssl.SSLCertVerificationError:
                self.close()
                raise FprError(
                    f"the TLS certificate of {self.host} is not trusted (TLS certificate or handshake failed); "
                    "check base_url"
                ) from None
            except (OSError, http.client.HTTPException, DeadlineExceeded) as error:
                self.close()
                if watchdog.fired or isinstance(error, DeadlineExceeded):
                    raise TransientError(f"no complete answer within {deadline_seconds:g} s", "deadline") from None
                raise TransientError(*_describe(error)) from None
            except BaseException:
                self.close()  # a body abandoned half-read leaves the connection unusable
                raise

    def _exchange(self, target, headers, deadline, max_bytes) -> Reply:
        """Sends the request and reads the answer, keeping the connection when the server allows it."""
        connection = self._open()
        connection.request("GET", target, headers=headers)
        self.request_sent.set()
        response = connection.getresponse()
        limit, cut = (max_bytes, False) if response.status == 200 else (ERROR_BODY_BYTES, True)
        body = read_body(response, response.getheader("Content-Encoding"), limit, deadline, truncate=cut)
        if cut or response.will_close:
            self.close()  # an error answer's body is not drained, so the connection cannot serve another
        return Reply(response.status, response.getheader("Content-Type") or "", response.getheader("Retry-After"), body)

    def _open(self) -> http.client.HTTPConnection:
        """The connection, opened if need be: connect timeout, then the read timeout for the answer."""
        with self._lock:
            if self._aborted:
                raise FprError("the sync is stopping")
            if self._connection is not None and _is_dropped(self._connection.sock):
                self._connection.close()  # the server closed it while it was idle
            if self._connection is None or self._connection.sock is None:
                self._connection = self._new_connection()
            connection = self._connection
        if connection.sock is None:
            try:
                connection.connect()
            except TimeoutError:
                raise ConnectTimedOut() from None
            connection.sock.settimeout(READ_TIMEOUT_SECONDS)
        return connection

    def _new_connection(self) -> http.client.HTTPConnection:
        """A new, unopened connection; TLS with certificate verification for https, through HTTPS_PROXY if set."""
        if not self.https:  # plain http is for loopback only, never proxied
            return http.client.HTTPConnection(self.host, self.port, timeout=CONNECT_TIMEOUT_SECONDS)
        if self._tls is None:
            self._tls = tls_context()
        proxy = https_proxy_for(self.host)
        if proxy is None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=CONNECT_TIMEOUT_SECONDS, context=self._tls)
        connection = http.client.HTTPSConnection(
            proxy.hostname, proxy.port or 80, timeout=CONNECT_TIMEOUT_SECONDS, context=self._tls
        )
        # A CONNECT tunnel: the proxy sees the host name only; the key travels inside TLS.
        connection.set_tunnel(self.host, self.port, headers=_proxy_authorization(proxy))
        return connection

    def _shutdown_socket(self):
        """Ends any read or write in progress on the connection, from any thread."""
        with self._lock:
            sock = self._connection.sock if self._connection is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def abort(self):
        """Ends the request in flight, from another thread; no request starts after it."""
        with self._lock:
            self._aborted = True
        self._shutdown_socket()

    def close(self):
        """Closes the connection; the next request opens a new one."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class Watchdog:
    """Calls `expire` if the `with` block is still running after `seconds`; `fired` says whether it did."""

    def __init__(self, seconds: float, expire):
        self._expire = expire
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._lock = threading.Lock()
        self._done = False
        self.fired = False

    def _fire(self):
        with self._lock:
            if self._done:
                return
            self.fired = True
        self._expire()

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._done = True
        self._timer.cancel()
        self._timer.join()


def https_proxy_for(host: str):
    """The proxy from HTTPS_PROXY (or https_proxy) to reach `host` through; None for loopback or NO_PROXY hosts."""
    proxy = urllib.request.getproxies_environment().get("https")
    if not proxy or _is_loopback(host) or urllib.request.proxy_bypass_environment(host):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return parts if parts.hostname else None


def _proxy_authorization(proxy) -> dict:
    """The Proxy-Authorization header for a proxy address that carries credentials."""
    if proxy.username is None:
        return {}
    credentials = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(credentials).decode()}


def _is_dropped(sock) -> bool:
    """Whether an idle kept-alive socket was closed by the server (it reads as ready: end of file)."""
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def tls_context() -> ssl.SSLContext:
    """Verifies certificates against the system's authorities and, where requests is installed, its bundle."""
    context = ssl.create_default_context()
    try:
        from requests import certs  # optional: the bundle that Fivetran's runtime ships with requests

        context.load_verify_locations(certs.where())
    except (ImportError, OSError):
        pass
    return context


_CONNECTION_PROBLEMS = {  # the first class that matches names the problem: subclasses come first
    http.client.RemoteDisconnected: "connection dropped",
    ConnectionRefusedError: "connection refused",
    ConnectionResetError: "connection reset",
    BrokenPipeError: "connection dropped",
    http.client.IncompleteRead: "was cut short",
    socket.gaierror: "host name not found",
}


def _describe(error: Exception):
    """(reason, kind) of a failed exchange, in words; never the exception's own text, which may hold URLs."""
    for kind, words in _CONNECTION_PROBLEMS.items():
        if isinstance(error, kind):
            return words, "body" if words == "was cut short" else "connection"
    if isinstance(error, BodyCutShort):
        return "was cut short", "body"
    if isinstance(error, ConnectTimedOut):
        return "connect timed out", "connection"
    if isinstance(error, socket.timeout):
        return "timed out", "connection"
    if isinstance(error, OSError) and str(error).startswith("Tunnel connection failed"):
        status = re.search(r"\d{3}", str(error))
        return f"the proxy refused the tunnel (HTTP {status.group() if status else '?'})", "connection"
    if isinstance(error, ssl.SSLError):
        return "TLS certificate or handshake failed", "connection"
    if isinstance(error, http.client.HTTPException):
        return f"malformed HTTP answer ({type(error).__name__})", "connection"
    return type(error).__name__, "connection"


class DeadlineExceeded(Exception):
    """The request's deadline passed while its body was still arriving."""


class BodyCutShort(OSError):
    """The body ended before its declared length, or its compressed stream before its end."""


class ConnectTimedOut(OSError):
    """The connection (or its TLS handshake) did not open within CONNECT_TIMEOUT_SECONDS."""


def read_body(stream, content_encoding, limit: int, deadline: float, truncate: bool = False) -> bytearray:
    """Reads a response body in chunks, decoding gzip or deflate, never holding more than `limit` decoded bytes.

    Args:
        stream: anything with read(n) -> bytes (an http.client response).
        content_encoding: the Content-Encoding header, or None.
        limit: most decoded bytes taken.
        deadline: monotonic() time after which reading stops.
        truncate: return the first `limit` bytes instead of failing past them.
    Raises:
        FprError: past `limit` (naming MAX_RESPONSE_BYTES), or an encoding the connector cannot read.
        DeadlineExceeded: the deadline passed between two chunks.
        BodyCutShort: the body ended early.
    """
    decoder = BodyDecoder(content_encoding)
    declared = _declared_length(stream)
    body = bytearray()
    received = 0
    while True:
        if monotonic() > deadline:
            raise DeadlineExceeded()
        chunk = stream.read(READ_CHUNK_BYTES)
        if not chunk:
            break
        received += len(chunk)
        body += decoder.decode(chunk, limit + 1 - len(body))
        if len(body) > limit:
            if truncate:
                del body[limit:]
                return body
            raise FprError(
                f"the response is larger than {limit // (1024 * 1024)} MB (MAX_RESPONSE_BYTES) once decoded; "
                "lower page_size, or raise MAX_RESPONSE_BYTES in connector.py if the API's pages are that large"
            )
    if declared is not None and received < declared:
        raise BodyCutShort()
    decoder.finish()
    return body  # the buffer itself: a copy would double the memory a large page takes


def _declared_length(stream):
    """The Content-Length a response declares, if it has one and is not chunked."""
    getheader = getattr(stream, "getheader", None)
    value = getheader("Content-Length") if getheader and not getheader("Transfer-Encoding") else None
    return int(value) if value and value.strip().isdigit() else None


class BodyDecoder:
    """Undoes a Content-Encoding of gzip or deflate, a piece at a time, with a bound on each piece's output."""

    def __init__(self, content_encoding):
        encoding = (content_encoding or "identity").strip().lower()
        if encoding in ("identity", ""):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise FprError(f"the API answered with Content-Encoding '{encoding[:20]}', which the connector cannot read")
        self._gzip = encoding in ("gzip", "x-gzip")
        self._raw_deflate_possible = encoding == "deflate"

    def decode(self, data: bytes, room: int) -> bytes:
        """At most `room` decoded bytes from `data` (more input left over means the body is over its cap)."""
        if self._inflater is None:
            return data
        try:
            if self._raw_deflate_possible:
                self._raw_deflate_possible = False
                try:
                    return self._inflater.decompress(data, room)
                except zlib.error:  # some servers send deflate without its zlib wrapper
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflater.decompress(data, room)
            while self._gzip and self._inflater.eof and self._inflater.unused_data and len(out) < room:
                # another gzip member follows
                rest = self._inflater.unused_data
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out += self._inflater.decompress(rest, room - len(out))
            return out
        except zlib.error:
            raise BodyCutShort() from None

    def finish(self):
        """Raises BodyCutShort if the compressed stream did not reach its end."""
        if self._inflater is not None and not self._inflater.eof:
            raise BodyCutShort()


_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)


def decode_json(reply: Reply, number: int):
    """The JSON value of a 200 answer.

    Raises:
        TransientError: the body is HTML or not JSON (retried).
        FprError: the body holds more values than a page can, or nests deeper than can be read.
    """
    if reply.content_type.lower().startswith("text/html") or reply.body[:512].lstrip()[:1] == b"<":
        raise TransientError("was an HTML page", "html", attempts=HTML_ATTEMPTS)
    text = body_text(reply.body, reply.content_type, number)
    reply.body = b""  # the text replaces it: a large page is not held twice while it is parsed
    if text.count(",") + text.count("{") + text.count("[") > MAX_JSON_VALUES:
        raise FprError(
            f"page {number}: the response holds more than {MAX_JSON_VALUES:,} JSON values (MAX_JSON_VALUES), far more "
            "than a page of records; lower page_size or check base_url"
        )
    try:
        return json.loads(text, parse_int=_json_int)
    except RecursionError:
        raise FprError(f"page {number}: the response nests JSON too deeply to be read; check base_url") from None
    except ValueError:
        raise TransientError("was not JSON", "body") from None


class HugeInteger(str):
    """The digits of a JSON integer too long for Python to read as a number (over 4,300 digits)."""


def _json_int(digits: str):
    """A JSON integer as int, or as its digits when Python refuses to read that many."""
    return int(digits) if len(digits) <= 4300 else HugeInteger(digits)


def body_text(body: bytes, content_type: str, number: int) -> str:
    """The body as text, in the charset its Content-Type declares (UTF-8 when it declares none)."""
    match = _CHARSET.search(content_type)
    charset = match.group(1) if match else "utf-8"
    utf8 = charset.lower().replace("_", "-") in ("utf-8", "utf8")
    codec = "utf-8" if utf8 else charset
    try:
        # surrogatepass: an encoded lone surrogate reads as one character, which the normaliser repairs
        return body.decode(codec, "surrogatepass" if utf8 else "strict").lstrip("\ufeff")
    except LookupError:
        log.warning(f"page {number}: the API declared an unknown charset; reading the page as UTF-8")
        return body_text(body, "", number)
    except UnicodeDecodeError:
        log.warning(f"page {number}: the page is not valid {charset[:20]}; unreadable bytes replaced with U+FFFD")
        return body.decode(codec, "replace").lstrip("\ufeff")


# --------------------------------------------------------------------------- records


class RecordIssues:
    """Counts record defects and reports them once per sync: counts, fields and record_ids, never values."""

    SAMPLE_IDS = 5

    def __init__(self):
        self.skipped = 0
        self.bad_values = {}  # field -> [count, sample record_ids, column type]
        self.repaired = {}  # field -> [count, sample record_ids]
        self.dropped_fields = {}  # printable field name -> [count, sample record_ids, reason]

    def skip(self):
        self.skipped += 1

    def bad_value(self, name: str, record_id: str, column_type: str):
        self._count(self.bad_values, name, record_id, column_type)

    def repaired_text(self, name: str, record_id: str):
        self._count(self.repaired, name, record_id)

    def dropped_field(self, name: str, record_id: str, reason: str):
        self._count(self.dropped_fields, printable_name(name), record_id, reason)

    def _count(self, counts: dict, name: str, record_id: str, detail=None):
        entry = counts.setdefault(name, [0, [], detail])
        entry[0] += 1
        if len(entry[1]) < self.SAMPLE_IDS:
            entry[1].append(printable_name(record_id))

    def report(self):
        if self.skipped:
            op.warning(f"{self.skipped} records had no usable record_id and were skipped")
        for name, (count, ids, column_type) in sorted(self.bad_values.items()):
            op.warning(
                f"{count} records had a value in '{name}' that is not a valid {column_type}; "
                f"loaded as NULL (e.g. record_id {', '.join(ids)})"
            )
        if self.repaired:
            fields = ", ".join(
                f"{name if name == FIELD_NAMES else repr(printable_name(name))} ({count})"
                for name, (count, _, _) in sorted(self.repaired.items())
            )
            ids = _sample_ids(self.repaired)
            op.warning(
                f"text that no destination can store was repaired in {fields}: lone UTF-16 surrogates became U+FFFD "
                f"and NUL characters were removed; the records loaded (e.g. record_id {ids})"
            )
        if self.dropped_fields:
            fields = ", ".join(
                f"'{name}' ({count}, {reason})" for name, (count, _, reason) in sorted(self.dropped_fields.items())
            )
            ids = _sample_ids(self.dropped_fields)
            op.warning(
                f"fields whose names no destination column can take were dropped: {fields}; the rest of each "
                f"record loaded (e.g. record_id {ids})"
            )


def _sample_ids(counts: dict) -> str:
    """Up to SAMPLE_IDS distinct record_ids from the samples of several counts."""
    ids = []
    for _, sample, _ in counts.values():
        ids.extend(record_id for record_id in sample if record_id not in ids)
    return ", ".join(ids[: RecordIssues.SAMPLE_IDS])


def printable_name(text: str) -> str:
    """A name or id as it may appear in a message: emails masked, escapes for what is not printable, 60 characters."""
    shown = _EMAIL.sub("<email>", text)
    if not shown.isprintable() or not shown.isascii():
        shown = ascii(shown)[1:-1]
    return shown if len(shown) <= 60 else shown[:57] + "..."


_INVALID = object()
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
SYSTEM_COLUMNS = {"_fivetran_synced", "_fivetran_deleted", "_fivetran_id"}
FIELD_NAMES = "field names"  # where repaired field names are counted


class RecordNormaliser:
    """Turns API records into rows whose values fit their column types and whose names a destination can take.

    A value that does not fit its declared column becomes NULL; text that no destination can
    store (lone UTF-16 surrogates, NUL) is repaired; a field whose name no column can take is
    dropped. Each is counted in `issues`. A record without a usable record_id is counted and
    skipped (the call returns None). Fields the schema does not declare are kept: decimals as
    text with a decimal point, which the destination types DOUBLE, exactly; whole numbers as LONG.
    """

    def __init__(self, issues: RecordIssues):
        self.issues = issues
        self.extra_names = ExtraFieldNames()

    def __call__(self, raw: dict):
        record_id = self._record_id(raw)
        if record_id is None:
            self.issues.skip()
            return None
        row = {}
        for name, value in raw.items():
            column_type = COLUMNS.get(name)
            if _fits_as_is(column_type, value):  # the fast path: most values of a well-formed record
                row[name] = value
                continue
            if column_type is None:
                usable, refusal = self.extra_names.accept(name)
                if refusal:
                    self.issues.dropped_field(usable, record_id, refusal)
                    continue
                if usable is not name:
                    self.issues.repaired_text(FIELD_NAMES, record_id)
                name = usable
            row[name] = self._value(name, value, column_type, record_id)
        row[PRIMARY_KEY] = record_id
        return row

    def _record_id(self, raw: dict):
        """The record's id as text, repaired if need be; None if it has none usable."""
        record_id = raw.get(PRIMARY_KEY)
        if isinstance(record_id, int) and not isinstance(record_id, bool):
            return str(record_id)
        if not isinstance(record_id, str) or not record_id.strip():
            return None
        repaired = repair_text(record_id)
        if repaired is not record_id:
            self.issues.repaired_text(PRIMARY_KEY, printable_name(repaired))
        return repaired

    def _value(self, name: str, value, column_type, record_id: str):
        """The value as its column takes it; NULL, counted, if it cannot fit."""
        if value is None:
            return None
        if column_type is None:
            converted, column_type = undeclared_value(value)
        else:
            converted = _CONVERTERS[column_type](value)
        if converted is _INVALID:
            self.issues.bad_value(name, record_id, column_type)
            return None
        if isinstance(converted, str):
            repaired = repair_text(converted)
        elif isinstance(converted, (dict, list)):
            repaired = repair_json(converted)
        else:
            return converted
        if repaired is _INVALID:
            self.issues.bad_value(name, record_id, column_type)
            return None
        if repaired is not converted:
            self.issues.repaired_text(name, record_id)
        return repaired


def _fits_as_is(column_type, value) -> bool:
    """Whether a value can go to its declared column unchanged: ASCII text without NUL, a finite float."""
    if column_type == "STRING":
        return type(value) is str and value.isascii() and "\x00" not in value
    if column_type == "DOUBLE":
        return type(value) is float and value - value == 0.0  # false for NaN and infinities
    return False


def repair_text(value: str) -> str:
    """The text with lone UTF-16 surrogates replaced by U+FFFD and NUL removed; the same object if none."""
    if value.isascii():
        return value.replace("\x00", "") if "\x00" in value else value
    if "\x00" not in value and not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def repair_json(value):
    """A JSON object or array with its text repaired as repair_text does; the same object if nothing needed it.

    Returns _INVALID for what no JSON column can hold (NaN, infinities, nesting too deep to write).
    """
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (RecursionError, ValueError):
        return _INVALID
    repaired = repair_text(text)
    return value if repaired is text else json.loads(repaired)


class ExtraFieldNames:
    """Decides which undeclared field names become columns, once per name per sync.

    A name is refused when a destination could not take it as a column of its own: empty or
    without a letter or digit, unprintable, too long, Fivetran's own, or equal to a declared
    column or to a name taken earlier once case, accents and punctuation are set aside
    ("Record ID" would overwrite record_id). At most MAX_EXTRA_COLUMNS names are taken.
    """

    def __init__(self):
        self.taken = {skeleton(name): name for name in COLUMNS}
        self.verdicts = {}  # name -> (name to use, refusal or None)

    def accept(self, name: str):
        """(the name to use, None) or (the name, why it is refused)."""
        verdict = self.verdicts.get(name)
        if verdict is None:
            verdict = self._judge(name)
            # A server inventing new names on every record must not grow the cache without end.
            if len(self.verdicts) < MAX_REMEMBERED_FIELD_NAMES:
                self.verdicts[name] = verdict
        return verdict

    def _judge(self, name):
        """(the name to use, None) or (the name, why no column can take it)."""
        if not isinstance(name, str):
            return str(name), "not text"
        repaired = repair_text(name)
        key = skeleton(repaired)
        if not key:
            return repaired, "no letter or digit"
        if not repaired.isprintable():
            return repaired, "unprintable characters"
        if len(repaired) > MAX_FIELD_NAME_LENGTH:
            return repaired, f"longer than {MAX_FIELD_NAME_LENGTH} characters"
        if key.startswith(RESERVED_PREFIX) or repaired.lower() in SYSTEM_COLUMNS:
            return repaired, "reserved for Fivetran"
        if _EMAIL.search(repaired):
            return repaired, "looks like an email address"
        if key in self.taken:
            if self.taken[key] == repaired:  # taken earlier in this sync, its verdict no longer cached
                return repaired, None
            return repaired, f"same column as '{printable_name(self.taken[key])}'"
        if len(self.taken) - len(COLUMNS) >= MAX_EXTRA_COLUMNS:
            return repaired, f"over {MAX_EXTRA_COLUMNS} new fields in one sync"
        self.taken[key] = repaired
        return repaired, None


def skeleton(name: str) -> str:
    """The letters and digits of a name, lower case, accents removed: names equal here land in one column."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def undeclared_value(value):
    """(value as sent to the destination, the type it lands as) for a field the schema does not declare."""
    if isinstance(value, HugeInteger):
        return _INVALID, "LONG"
    if isinstance(value, bool) or isinstance(value, str):
        return value, "STRING"
    if isinstance(value, int):
        return (value if LONG_RANGE[0] <= value <= LONG_RANGE[1] else _INVALID), "LONG"
    if isinstance(value, float):
        return (double_text(value) if math.isfinite(value) else _INVALID), "DOUBLE"
    return value, "JSON"


def double_text(value: float) -> str:
    """The shortest text that reads back as exactly `value`, always with a decimal point (1e-05 -> 1.0e-05).

    A Python float would be sent as a 32-bit FLOAT; text with a decimal point is typed DOUBLE.
    """
    text = repr(value)
    if "." in text:
        return text
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}.0e{exponent}" if exponent else f"{mantissa}.0"


def _to_double(value):
    """A finite float from a number or numeric text, or _INVALID."""
    if isinstance(value, bool):
        return _INVALID
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return _INVALID
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return _INVALID
    else:
        return _INVALID
    return number if math.isfinite(number) else _INVALID


def _integer_in(low, high):
    """A converter to whole numbers within [low, high], from ints, whole floats or digit text."""

    def convert(value):
        if isinstance(value, bool):
            return _INVALID
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
            value = int(value.strip())
        if not isinstance(value, int) or not low <= value <= high:
            return _INVALID
        return value

    return convert


def _to_date(value):
    # A date object, not its text: the SDK would parse the text again, far more slowly.
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return _INVALID
    try:
        return date.fromisoformat(value)
    except ValueError:
        return _INVALID


def _to_string(value):
    """Text for a STRING column: objects and arrays as JSON, booleans as true/false."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, sort_keys=True)
        except (RecursionError, ValueError):
            return _INVALID
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CONVERTERS = {
    "STRING": _to_string,
    "DOUBLE": _to_double,
    "INT": _integer_in(*INT_RANGE),
    "LONG": _integer_in(*LONG_RANGE),
    "NAIVE_DATE": _to_date,
}


# --------------------------------------------------------------------------- setup form


def configuration_form():
    """The setup form shown in the Fivetran dashboard."""
    form = ConfigurationForm()
    form.add_field(
        form_field.TextField(
            "base_url",
            "Base URL",
            required=True,
            placeholder="https://fpr.example.com",
            description="Address of the FPR API, without /fpr_data. https is required except for localhost.",
        )
    )
    form.add_field(form_field.TextField("api_key", "API key", form_field.TextField.password, required=True))
    form.add_field(
        form_field.TextField(
            "page_size",
            "Page size",
            placeholder="100",
            description="Records per request, 1 to 200. Default 100.",
        )
    )
    form.add_test(label="Test connection", func=connection_test)
    return form


def connection_test(configuration: dict):
    """Setup test: one request for a single record, reporting why it failed if it did."""
    secrets = _configured_secrets(configuration)
    try:
        settings = validate_configuration(configuration)
        with FprClient(settings, attempts=SETUP_TEST_ATTEMPTS, deadline=SETUP_TEST_DEADLINE_SECONDS) as client:
            parse_page(client.get_page(None, 1, page_size=1), 1)
    except FprError as error:
        return Test.failure(mask_secrets(str(error), secrets))
    return Test.success()


# Create the connector object from the schema and update functions and the setup form.
connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

# Running `python connector.py` syncs with configuration.json, for step-through debugging in an IDE.
# Fivetran never runs this block; `fivetran debug` is the recommended local test (see README.md).
if __name__ == "__main__":
    with open("configuration.json", encoding="utf-8") as file:
        configuration = json.load(file)
    connector.debug(configuration=configuration)

"""Fivetran connector for Financial Product Recommendation (FPR) records.

Copies every record served by `GET {base_url}/fpr_data` into the table `fpr_records`
(primary key `record_id`). The API pages with an opaque cursor; the cursor saved at
the end of a sync is where the next sync starts, so later syncs receive only records
inserted or changed since. The state is checkpointed after every page, so a sync
that dies resumes at the last page it finished.

See README.md for configuration, local runs and deployment.
"""

import json
import logging
import math
import random
import re
from dataclasses import dataclass, field
from datetime import date
from ipaddress import ip_address
from time import monotonic
from time import sleep as pause
from urllib.parse import urlsplit

import requests
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field
from fivetran_connector_sdk import Logging as log
from fivetran_connector_sdk import Operations as op
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

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
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60

# Retry policy for one request. Waits use exponential backoff with full jitter;
# a server's Retry-After is honoured up to a cap. Whatever happens, one request
# waits at most WAIT_BUDGET_SECONDS in total before the sync gives up on it.
MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
RETRY_AFTER_CAP_SECONDS = 120.0
WAIT_BUDGET_SECONDS = 300.0
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
SETUP_TEST_ATTEMPTS = 2  # the setup form should answer in seconds

# urllib3 would also announce each retry, on stderr, with the request's URL; the connector logs its own line.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

STATE_CURSOR = "next_cursor"
STATE_EPOCH = "last_updated_epoch"
LOOPBACK_NAMES = ("localhost",)


# --------------------------------------------------------------------------- errors


class FprError(Exception):
    """A failure whose message says what went wrong and what to do; it never holds the API key."""


class CursorRejected(FprError):
    """The server no longer accepts the cursor (expired or invalid)."""


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
        ValueError: naming the key and what is wrong with it (never the key's value).
    """
    api_key = configuration.get("api_key")
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError("configuration 'api_key' is required: set it to your FPR API key")
    if api_key != api_key.strip() or any(ch in api_key for ch in "\r\n"):
        raise ValueError("configuration 'api_key' has leading/trailing spaces or line breaks: paste the key alone")
    base_url = _validate_base_url(configuration.get("base_url"))
    page_size = _validate_page_size(configuration.get("page_size"))
    return Settings(base_url=base_url, api_key=api_key, page_size=page_size)


def _validate_base_url(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("configuration 'base_url' is required, e.g. https://fpr.example.com")
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("configuration 'base_url' must be an http(s) URL such as https://fpr.example.com")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("configuration 'base_url' must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            "configuration 'base_url' uses plain http to a remote host, which would send the API key "
            "unencrypted: use https (plain http is allowed only for localhost)"
        )
    return url


def _is_loopback(hostname: str) -> bool:
    if hostname in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(hostname).is_loopback
    except ValueError:
        return False


def _validate_page_size(value) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_PAGE_SIZE
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text) or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ValueError(f"configuration 'page_size' must be a whole number from 1 to {MAX_PAGE_SIZE} (default 100)")
    return int(text)


# --------------------------------------------------------------------------- schema


def schema(configuration: dict):
    """Declares fpr_records with all 29 columns typed; fields the API adds later still land, with inferred types."""
    return [{"table": TABLE, "primary_key": [PRIMARY_KEY], "columns": dict(COLUMNS)}]


# --------------------------------------------------------------------------- update


def update(configuration: dict, state: dict):
    """Syncs every record changed since the cursor in `state` (all records on a first sync).

    Raises:
        FprError: the sync cannot go on; rows up to the last checkpoint are kept.
    """
    settings = validate_configuration(configuration)
    failure = None
    try:
        with FprClient(settings) as client:
            sync_records(client, state)
    except FprError as error:
        failure = error
    except Exception as error:  # an unexpected bug: keep its location, drop its message (it may hold data)
        failure = FprError(
            f"unexpected {type(error).__name__} at {_where(error)}; the sync stopped at its last checkpoint"
        )
    if failure is not None:
        # Raised without the inner traceback: its frames hold records and responses,
        # which the SDK would print into crash reports.
        raise failure.with_traceback(None) from None


def _where(error: BaseException) -> str:
    frame = error.__traceback__
    while frame and frame.tb_next:
        frame = frame.tb_next
    if frame is None:
        return "unknown location"
    code = frame.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno} in {code.co_name}()"


def sync_records(client: "FprClient", state: dict):
    """The page loop: upsert each page's records, then checkpoint the cursor that follows them."""
    cursor, highest_epoch = starting_point(state)
    issues = RecordIssues()
    started = monotonic()
    total = 0
    page_count = 0
    log.info(f"sync starting {'from the saved cursor' if cursor else 'from the beginning (full sync)'}")
    for page in Paginator(client, cursor):
        for raw in page.records:
            row = normalise_record(raw, issues)
            if row is not None:
                op.upsert(TABLE, row)
                highest_epoch = _max_epoch(highest_epoch, row.get(STATE_EPOCH))
        page_count += 1
        total += len(page.records)
        if page.next_cursor:  # a null cursor never replaces a good one
            cursor = page.next_cursor
        op.checkpoint(_state(cursor, highest_epoch))
        log.info(f"page {page.number}: {len(page.records)} records, {total} in total")
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
    state = {STATE_CURSOR: cursor}
    if highest_epoch is not None:
        state[STATE_EPOCH] = highest_epoch
    return state


def _max_epoch(current, candidate):
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


class Paginator:
    """Walks the cursor chain from `cursor` to the end of the data.

    Handles both end-of-data styles: a final empty page with has_more false and a
    cursor (newer service), and a last page whose next_cursor is null (older one).
    A cursor the server rejects restarts the read once from the beginning; a
    cursor seen twice, or has_more true without a cursor, fails the sync.
    """

    def __init__(self, client: "FprClient", cursor: str = None):
        self.client = client
        self.start_cursor = cursor

    def __iter__(self):
        cursor = self.start_cursor
        seen = {cursor} if cursor else set()  # every cursor sent in this sync
        restarted = False
        number = 0
        while True:
            number += 1
            try:
                body = self.client.get_page(cursor, number)
            except CursorRejected as error:
                if restarted or cursor is None:
                    raise FprError(f"{error}, even when reading from the beginning; stopping") from None
                op.warning(f"{error}: reading again from the beginning (records already loaded are upserted again)")
                cursor, seen, restarted = None, set(), True
                continue
            page = parse_page(body, number)
            last = not page.records or not page.has_more
            if not last:  # checked before the page is loaded: a checkpoint only ever follows a sound page
                self._check_progress(page, seen)
            yield page
            if last:
                return
            cursor = page.next_cursor
            seen.add(cursor)

    @staticmethod
    def _check_progress(page: "Page", seen: set):
        if not page.next_cursor:
            raise FprError(f"page {page.number} says has_more: true but gives no next_cursor; the API cannot be paged")
        if page.next_cursor in seen:
            raise FprError(f"page {page.number} returned a cursor already seen in this sync: the API is looping")


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
    bad = sum(1 for record in records if not isinstance(record, dict))
    if bad:
        raise FprError(f"page {number}: {bad} of {len(records)} items in '{RECORDS_KEY}' are not JSON objects")
    next_cursor = body.get("next_cursor")
    if next_cursor is not None and not isinstance(next_cursor, str):
        raise FprError(f"page {number}: next_cursor is a {type(next_cursor).__name__}, not a string")
    has_more = body.get("has_more")
    if has_more is None:  # older service: the cursor alone says whether there is more
        has_more = bool(next_cursor)
    return Page(number=number, records=records, next_cursor=next_cursor, has_more=bool(has_more))


# --------------------------------------------------------------------------- HTTP client


# What a connection failure is called in messages: urllib3's class names, in words.
_CONNECTION_PROBLEMS = {
    "NameResolutionError": "host name not found",
    "NewConnectionError": "connection refused",
    "ConnectTimeoutError": "connect timed out",
    "ReadTimeoutError": "timed out",
    "ProtocolError": "connection dropped",
    "RemoteDisconnected": "connection dropped",
    "ConnectionResetError": "connection reset",
}


class PatientRetry(Retry):
    """urllib3's Retry with full jitter, a capped Retry-After, a total wait budget and a log line per retry."""

    def __init__(self, *args, waited: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.waited = waited
        self.planned_wait = 0.0

    def new(self, **kw):
        retry = super().new(**kw)
        retry.waited = self.waited
        return retry

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        wait = retry.next_wait(response)
        if retry.waited + wait > WAIT_BUDGET_SECONDS:
            raise MaxRetryError(_pool, url, reason=error or _status_reason(response))
        retry.planned_wait = wait
        retry.waited += wait
        return retry

    def next_wait(self, response) -> float:
        retry_after = self.get_retry_after(response) if response is not None else None
        if retry_after is not None:
            return min(max(retry_after, 0.0), RETRY_AFTER_CAP_SECONDS)
        return backoff_wait(len(self.history))

    def sleep(self, response=None):
        last = self.history[-1] if self.history else None
        if last is None:
            reason = "error"
        elif last.status:
            reason = f"HTTP {last.status}"
        else:
            reason = _CONNECTION_PROBLEMS.get(type(last.error).__name__, type(last.error).__name__)
        retries = f"{len(self.history)} of {self.total + len(self.history)}"
        log.warning(f"request failed ({reason}); retry {retries} in {self.planned_wait:.1f} s")
        pause(self.planned_wait)


def _status_reason(response):
    return None if response is None else f"HTTP {response.status}"


def backoff_wait(retry_number: int) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(n-1))]."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(retry_number - 1, 0))
    return random.uniform(0, ceiling)


def build_session(settings: Settings, attempts: int = MAX_ATTEMPTS) -> requests.Session:
    """A session that retries connection errors, timeouts, 408, 429 and 5xx on GET, and never follows redirects."""
    retry = PatientRetry(
        total=attempts - 1,
        connect=attempts - 1,
        read=attempts - 1,
        status=attempts - 1,
        other=0,
        redirect=0,
        allowed_methods=frozenset(["GET"]),
        status_forcelist=RETRY_STATUSES,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"x-api-key": settings.api_key, "Accept": "application/json"})
    return session


class FprClient:
    """Fetches /fpr_data pages, retrying what is transient and explaining what is not."""

    def __init__(self, settings: Settings, attempts: int = MAX_ATTEMPTS):
        self.settings = settings
        self.attempts = attempts
        self.url = settings.base_url + ENDPOINT
        self.session = build_session(settings, attempts)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.session.close()

    def get_page(self, cursor, number: int, page_size: int = None) -> object:
        """Returns the decoded JSON body of one page.

        Raises:
            CursorRejected: the server refused the cursor (400/410 mentioning it).
            FprError: anything else that ends the sync, with what to do about it.
        """
        params = {"page_size": page_size or self.settings.page_size}
        if cursor:
            params["cursor"] = cursor
        # A 200 whose body is cut short or is not JSON is invisible to urllib3's
        # Retry: it is retried here, with the same backoff.
        for attempt in range(1, self.attempts + 1):
            response = self._send(params, number)
            try:
                return json.loads(response.content)
            except (ValueError, requests.RequestException) as error:
                problem = "was not JSON" if isinstance(error, ValueError) else "was cut short"
                if attempt == self.attempts:
                    raise FprError(f"page {number}: the response body {problem} in {self.attempts} attempts") from None
                wait = backoff_wait(attempt)
                retries = f"{attempt} of {self.attempts - 1}"
                log.warning(f"page {number}: the response body {problem}; retry {retries} in {wait:.1f} s")
                pause(wait)
            finally:
                response.close()

    def _send(self, params: dict, number: int) -> requests.Response:
        try:
            response = self.session.get(
                self.url,
                params=params,
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as error:
            raise FprError(
                f"page {number}: could not reach {urlsplit(self.url).netloc} ({_cause(error)}) after {self.attempts} "
                "attempts; check base_url and the network, then rerun (the sync resumes at its last checkpoint)"
            ) from None
        if response.status_code != 200:
            self._raise_for_status(response, number)
        return response

    def _raise_for_status(self, response: requests.Response, number: int):
        status = response.status_code
        said = self._server_said(response)
        response.close()
        if status in (401, 403):
            raise FprError(f"page {number}: the API key was rejected (HTTP {status}): check 'api_key'")
        if status == 404:
            raise FprError(f"page {number}: no FPR API at {self.url} (HTTP 404): check 'base_url'")
        if status in (400, 410) and "cursor" in said.lower():
            raise CursorRejected(f"page {number}: the server no longer accepts the saved cursor (HTTP {status})")
        if 300 <= status < 400:
            raise FprError(
                f"page {number}: the API answered with a redirect (HTTP {status}), which is not followed so that "
                "the key is not sent elsewhere: set 'base_url' to the final address"
            )
        if status in RETRY_STATUSES:
            raise FprError(f"page {number}: still HTTP {status} after {self.attempts} attempts; try again later")
        raise FprError(f"page {number}: the API answered HTTP {status}: {said or 'no details'}")

    def _server_said(self, response: requests.Response) -> str:
        try:
            text = response.raw.read(2000, decode_content=True).decode("utf-8", "replace")
        except Exception:
            return ""
        text = " ".join(text.replace(self.settings.api_key, "***").split())
        return text[:300]


def _cause(error: requests.RequestException) -> str:
    """What went wrong, in words; requests' own messages embed URLs with cursors."""
    inner = error.args[0] if error.args else None
    reason = getattr(inner, "reason", inner)
    if isinstance(error, requests.Timeout) or "Timeout" in type(reason).__name__:
        return "timed out"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS certificate or handshake failed"
    return _CONNECTION_PROBLEMS.get(type(reason).__name__, type(reason).__name__)


# --------------------------------------------------------------------------- records


class RecordIssues:
    """Counts record defects and reports them once per sync: counts, fields and record_ids, never values."""

    SAMPLE_IDS = 5

    def __init__(self):
        self.skipped = 0
        self.bad_values = {}  # field -> [count, sample record_ids]

    def skip(self):
        self.skipped += 1

    def bad_value(self, name: str, record_id: str):
        count_and_ids = self.bad_values.setdefault(name, [0, []])
        count_and_ids[0] += 1
        if len(count_and_ids[1]) < self.SAMPLE_IDS:
            count_and_ids[1].append(record_id)

    def report(self):
        if self.skipped:
            op.warning(f"{self.skipped} records had no usable record_id and were skipped")
        for name, (count, ids) in sorted(self.bad_values.items()):
            op.warning(
                f"{count} records had a value in '{name}' that is not a valid {COLUMNS[name]}; "
                f"loaded as NULL (e.g. record_id {', '.join(ids)})"
            )


_INVALID = object()
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)


def normalise_record(raw: dict, issues: RecordIssues):
    """Turns one API record into a row whose values fit their declared column types.

    A value that does not fit becomes NULL and is counted; a record without a usable
    record_id is counted and skipped (returns None). Fields the schema does not know
    are kept: numbers with decimals are passed as exact text, so they land as DOUBLE.
    """
    record_id = raw.get(PRIMARY_KEY)
    if isinstance(record_id, int) and not isinstance(record_id, bool):
        record_id = str(record_id)
    if not isinstance(record_id, str) or not record_id.strip():
        issues.skip()
        return None
    row = {}
    for name, value in raw.items():
        converted = convert_value(value, COLUMNS.get(name))
        if converted is _INVALID:
            issues.bad_value(name, record_id)
            converted = None
        row[name] = converted
    row[PRIMARY_KEY] = record_id
    return row


def convert_value(value, column_type):
    """The value as its column type takes it, None for null, or _INVALID."""
    if value is None:
        return None
    if column_type is None:
        return _undeclared(value)
    return _CONVERTERS[column_type](value)


def _undeclared(value):
    # An undeclared float would be inferred as 32-bit FLOAT; its exact text is inferred as DOUBLE.
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return value


def _to_double(value):
    if isinstance(value, bool):
        return _INVALID
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return _INVALID
    else:
        return _INVALID
    return number if math.isfinite(number) else _INVALID


def _integer_in(low, high):
    def convert(value):
        if isinstance(value, bool):
            return _INVALID
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value.strip())
        if not isinstance(value, int) or not low <= value <= high:
            return _INVALID
        return value

    return convert


def _to_date(value):
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return _INVALID
    try:
        date.fromisoformat(value)
    except ValueError:
        return _INVALID
    return value


def _to_string(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
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
    try:
        settings = validate_configuration(configuration)
        with FprClient(settings, attempts=SETUP_TEST_ATTEMPTS) as client:
            parse_page(client.get_page(None, 1, page_size=1), 1)
    except (ValueError, FprError) as error:
        return Test.failure(str(error))
    return Test.success()


connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

if __name__ == "__main__":
    with open("configuration.json", encoding="utf-8") as file:
        configuration = json.load(file)
    connector.debug(configuration=configuration)

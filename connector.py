"""Fivetran connector for Financial Product Recommendation (FPR) records.

Copies every record served by `GET {base_url}/fpr_data` into the table `fpr_records` (primary key
`record_id`). The API pages with an opaque cursor; the cursor saved at the end of a sync is where
the next sync starts, so later syncs receive only records inserted or changed since. The state is
checkpointed after every page, so a sync that dies resumes at the last page it finished.

This file is the sync's story and the settings a reader tunes: the schema, the retry policy and
the limits. The helpers it calls live in fpr/, one module per job (see fpr/__init__.py); README.md
covers configuration, local runs and deployment.
"""

# For reading configuration.json in the __main__ block
import json

# For the setup test's shorter variants of the retry policy and the limits
from dataclasses import replace

# For timing the sync in its last log line
from time import monotonic

# Import required classes from fivetran_connector_sdk: the connector, its setup form and its test
from fivetran_connector_sdk import ConfigurationForm, Connector, Test, form_field

# For supporting Data operations like Upsert(), Update(), Delete() and checkpoint()
from fivetran_connector_sdk import Operations as op

# The connector's own modules, deployed beside this file
from fpr import safe_log  # every message, with the API key and emails masked
from fpr.client import FprClient, Limits  # one page of /fpr_data, retried
from fpr.errors import FprError  # a failure that ends the sync with a message saying what to do
from fpr.issues import RecordIssues  # record defects, reported once per sync
from fpr.paging import Paginator, SyncBound, parse_page  # the cursor chain, one page ahead
from fpr.records import RecordNormaliser  # records into rows that fit their columns
from fpr.retry import RetryPolicy  # how patiently a request is retried
from fpr.settings import Settings, read_settings  # the configuration, checked and typed
from fpr.signals import hold_stop_signals  # Ctrl-C and SIGTERM wait for a checkpoint to be saved
from fpr.state import LoadedRecords, read_state, state_after  # the saved state, read and written

TABLE = "fpr_records"
PRIMARY_KEY = "record_id"

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

# The API's largest page. Each page is one round trip of a cursor chain, which no client can
# overlap with the next, so fewer, larger pages finish sooner. Lower it in the setup form (1 to
# 200) if the API struggles with large pages.
DEFAULT_PAGE_SIZE = 200

# How patiently one request is retried: exponential backoff with half of each wait jittered, the wait a server
# asks for (Retry-After, RateLimit-Reset and the like) taken as the least wait, and at most wait_budget seconds
# of waiting per request. A retry the server paces uses up none of the attempts: the budget bounds those.
RETRY_POLICY = RetryPolicy(
    attempts=6,
    html_attempts=2,
    retry_statuses=(408, 429, 500, 502, 503, 504),
    backoff_base=1.0,
    backoff_cap=30.0,
    retry_after_cap=120.0,
    wait_budget=300.0,
)
# The setup form's test should answer within seconds, even from a server that asks it to come back later.
SETUP_TEST_RETRY_POLICY = replace(RETRY_POLICY, attempts=2, wait_budget=30.0)

# What one request may take, so that no server can hold a sync or fill its memory. A page's
# memory is multiplied about tenfold on its way to the destination: the body cap keeps a sync
# under 600 MB whatever a server sends (a 200-record page is about 250 KB). A chain of 50 pages
# without a record new to the sync is a loop: a real API never sends a page it already sent.
LIMITS = Limits(
    connect_timeout=10,
    read_timeout=60,
    request_deadline=120,
    max_body_bytes=24 * 1024 * 1024,
    max_json_values=2_000_000,
    max_page_records=5_000,
    pages_without_new_records=50,
)
SETUP_TEST_LIMITS = replace(LIMITS, request_deadline=30)

# Where a sync stops although the API has more: an API whose data changes faster than it is read
# would otherwise never let it end. The sync stops after the page that reaches the bound, with its
# checkpoint saved, and the next sync goes on from there. Two hours hold four to nine million records
# at the local runner's speed; max_pages bounds the requests instead, or as well.
SYNC_BOUND = SyncBound(max_pages=None, max_seconds=2 * 3600)


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


def validate_configuration(configuration: dict) -> Settings:
    """Checks the configuration before anything else is done, and returns it typed.

    Args:
        configuration: a dictionary that holds the configuration settings for the connector.
    Raises:
        ValueError: naming the setting that is missing or wrong, never the key's value.
    """
    return read_settings(configuration, DEFAULT_PAGE_SIZE)


def update(configuration: dict, state: dict):
    """Define the update function, which is a required function, and is called by Fivetran during each sync.

    See the technical reference documentation for more details on the update function:
    https://fivetran.com/docs/connector-sdk/technical-reference/connector-sdk-code/connector-sdk-methods#update
    Syncs every record changed since the cursor in `state`: all records on a first sync.

    Args:
        configuration: A dictionary containing connection details.
        state: A dictionary containing state information from previous runs;
            empty for the first sync or for any full re-sync.
    Raises:
        FprError: the sync cannot go on; rows up to the last checkpoint are kept.
    """
    safe_log.protect(configuration.get("api_key") if isinstance(configuration, dict) else None)
    failure = None
    try:
        settings = validate_configuration(configuration)
        sync_records(settings, state)
    except FprError as error:
        failure = FprError(safe_log.redact(str(error)))
    except Exception as error:  # an unexpected bug: keep its location, drop its message (it may hold data)
        failure = FprError(
            f"unexpected {type(error).__name__} at {_where(error)}; the sync stopped at its last checkpoint"
        )
    if failure is not None:
        # Raised here, outside the except blocks, without the inner traceback: deeper frames hold
        # records, responses and configuration values, which the SDK would print into crash reports.
        raise failure


def sync_records(settings: Settings, state: dict):
    """The page loop: upsert each page's rows, then checkpoint the cursor that follows them."""
    cursor, highest_epoch, already_loaded = read_state(state)
    loaded_after_cursor = LoadedRecords()  # what the next sync, starting from `cursor`, receives again
    issues = RecordIssues()
    started, pages, total, skipped = monotonic(), 0, 0, 0
    safe_log.info(f"sync starting {'from the saved cursor' if cursor else 'from the beginning (full sync)'}")
    with FprClient(settings, RETRY_POLICY, LIMITS) as client:
        prepare = RecordNormaliser(COLUMNS, PRIMARY_KEY, issues).rows
        chain = Paginator(
            client, cursor, prepare, LIMITS.max_page_records, LIMITS.pages_without_new_records, SYNC_BOUND
        )
        for page in chain:
            for row in page.rows:
                if already_loaded.holds(row):  # this very version was loaded by an earlier sync
                    skipped += 1
                    continue
                # The 'upsert' operation inserts the row into fpr_records or replaces the row with the same
                # record_id: a page read again after a crash or a cursor restart cannot duplicate rows.
                op.upsert(TABLE, row)
            if page.next_cursor:
                cursor = page.next_cursor
            else:  # the older service's last page: its null cursor never replaces a good one, so the page comes again
                loaded_after_cursor.add(page.rows)
            highest_epoch = _higher(highest_epoch, page.highest_epoch)
            pages, total = pages + 1, total + page.size
            # Save the progress by checkpointing the state: it commits this page's rows and the cursor that
            # follows them, so a sync that dies after it resumes at the next page. Ctrl-C and SIGTERM wait
            # for it to be saved: locally the rows and the state are two steps, which a stop must not split.
            with hold_stop_signals():
                op.checkpoint(state_after(cursor, highest_epoch, loaded_after_cursor))
            safe_log.info(f"page {page.number}: {page.size} records, {total} in total")
            if page.ends_at_bound:
                safe_log.sync_warning(
                    f"the sync stopped at its bound of {SYNC_BOUND} (SYNC_BOUND in connector.py) although the API "
                    "has more, as it may when its data changes faster than it is read; the state is saved and the "
                    "next sync goes on from here"
                )
    issues.report()
    if skipped:
        safe_log.info(f"{skipped} records already loaded at the saved position were skipped")
    safe_log.info(f"sync finished: {pages} pages, {total} records, {monotonic() - started:.1f} s")


def _higher(epoch, other):
    """The higher of two epochs, either of which may be None."""
    return epoch if other is None else other if epoch is None else max(epoch, other)


def _where(error: BaseException) -> str:
    """File, line and function where an exception was raised."""
    frame = error.__traceback__
    while frame and frame.tb_next:
        frame = frame.tb_next
    if frame is None:
        return "unknown location"
    code = frame.tb_frame.f_code
    return f"{code.co_filename.replace(chr(92), '/').rsplit('/', 1)[-1]}:{frame.tb_lineno} in {code.co_name}()"


def configuration_form():
    """The setup form shown in the Fivetran dashboard, with its connection test."""
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
            placeholder=str(DEFAULT_PAGE_SIZE),
            description=(
                f"Records per request, 1 to 200. Default {DEFAULT_PAGE_SIZE}, the API's largest page, which "
                "syncs fastest; lower it only if the API struggles with large pages."
            ),
        )
    )
    form.add_test(label="Test connection", func=connection_test)
    return form


def connection_test(configuration: dict):
    """Setup test: one request for a single record, reporting why it failed if it did."""
    safe_log.protect(configuration.get("api_key") if isinstance(configuration, dict) else None)
    try:
        settings = validate_configuration(configuration)
        with FprClient(settings, SETUP_TEST_RETRY_POLICY, SETUP_TEST_LIMITS) as client:
            parse_page(client.get_page(None, 1, page_size=1), 1, LIMITS.max_page_records)
    except FprError as error:
        return Test.failure(safe_log.redact(str(error)))
    return Test.success()


# Create the connector object from the schema and update functions and the setup form.
connector = Connector(update=update, schema=schema, configuration_form=configuration_form)

# Running `python connector.py` syncs with configuration.json, for step-through debugging in an IDE.
# Fivetran never runs this block; `fivetran debug` is the recommended local test (see README.md).
if __name__ == "__main__":
    with open("configuration.json", encoding="utf-8") as file:
        configuration = json.load(file)
    connector.debug(configuration=configuration)

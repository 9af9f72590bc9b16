"""The cursor chain of /fpr_data, walked one page ahead, with the guards that stop it from looping.

While the caller writes page n, page n+1 is fetched, parsed and turned into rows in one
background thread: the network, the connector's own work and the destination's writes overlap.
Every SDK operation stays with the caller, on the main thread.
"""

import threading  # the signal that the next page's request has left
from concurrent.futures import ThreadPoolExecutor, wait  # the one background thread that fetches ahead
from dataclasses import dataclass, field  # Page, SyncBound
from time import monotonic  # the sync's bound in seconds

from fpr import safe_log
from fpr.errors import CursorRejected, FprError
from fpr.state import cursor_problem

RECORDS_KEY = "fpr_records"
SEND_WAIT_SECONDS = 0.05  # at most, for the next page's request to leave before this page is written
SIGNAL_CHECK_SECONDS = 0.2  # how often the main thread looks up from waiting for a page, to notice Ctrl-C


@dataclass
class Page:
    number: int
    records: list = field(repr=False)  # records hold personal data: keep them out of reprs and crash reports
    next_cursor: str = None
    has_more: bool = False
    rows: list = field(default=None, repr=False)  # the records as rows for the destination, once prepared
    highest_epoch: int = None  # the highest last_updated_epoch among the rows
    brings_new_records: bool = False  # a row whose record_id and last_updated_epoch this sync had not seen
    ends_at_bound: bool = False  # there is more, but the sync has reached its bound and stops after this page

    @property
    def size(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class SyncBound:
    """Where a sync stops even though the API still has more: after so many pages or seconds (None: no bound).

    An API whose data changes faster than it is read never reaches its end; the sync stops
    after the page that crosses the bound, checkpointed, and the next sync goes on from there.
    """

    max_pages: int = None
    max_seconds: float = None

    def reached(self, pages: int, seconds: float) -> bool:
        return (self.max_pages is not None and pages >= self.max_pages) or (
            self.max_seconds is not None and seconds >= self.max_seconds
        )

    def __str__(self):
        pages = f"{self.max_pages:,} pages" if self.max_pages is not None else ""
        seconds = f"{self.max_seconds:,g} s" if self.max_seconds is not None else ""
        return " or ".join(bound for bound in (pages, seconds) if bound)


def parse_page(body, number: int, max_records: int) -> Page:
    """Checks the shape of one /fpr_data response.

    Raises:
        FprError: naming the page and what is wrong with its shape.
    """
    if not isinstance(body, dict):
        raise FprError(f"page {number}: the response is a JSON {type(body).__name__}, not an object")
    records = body.get(RECORDS_KEY)
    if not isinstance(records, list):
        raise FprError(f"page {number}: the response has no '{RECORDS_KEY}' list; is base_url an FPR API?")
    if len(records) > max_records:
        raise FprError(
            f"page {number}: the response holds {len(records):,} records, more than max_page_records "
            f"({max_records:,}, in connector.py's LIMITS); the API does not seem to honour page_size"
        )
    bad = sum(1 for record in records if not isinstance(record, dict))
    if bad:
        raise FprError(f"page {number}: {bad} of {len(records)} items in '{RECORDS_KEY}' are not JSON objects")
    next_cursor = body.get("next_cursor")
    if next_cursor is not None and not isinstance(next_cursor, str):
        raise FprError(f"page {number}: next_cursor is a {type(next_cursor).__name__}, not a string")
    has_more = _has_more(body.get("has_more"), number)
    if has_more is None:  # the older service: the cursor alone says whether there is more
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


class Paginator:
    """Walks the cursor chain from `cursor` to the end of the data, one page ahead.

    Handles both end-of-data styles: a final empty page with has_more false and a cursor (the
    newer service), and a last page whose next_cursor is null (the older one). A cursor the
    server rejects restarts the read once from the beginning. Each page is checked before it is
    handed over, so a checkpoint only ever follows a sound page; the sync fails on a page that
    says there is more but gives no cursor, a cursor seen before, a cursor that cannot be sent back
    or that holds the API key (it would be saved in the state and printed with it), and a chain
    that brings nothing new for `pages_without_new_records` pages in a row. A chain that goes on
    past `bound` ends after the page that reaches it, marked `ends_at_bound`.

    Args:
        client: fetches one page (an FprClient).
        cursor: where to start; None reads from the beginning.
        prepare: turns a page's records into rows: (records) -> rows.
        max_page_records: most records a page may hold.
        pages_without_new_records: pages in a row without a new record before the chain is called a loop.
        bound: pages or seconds after which the sync stops although there is more.
    """

    def __init__(
        self, client, cursor, prepare, max_page_records: int, pages_without_new_records: int, bound=SyncBound()
    ):
        self.client = client
        self.start_cursor = cursor
        self.prepare = prepare
        self.max_page_records = max_page_records
        self.stale_limit = pages_without_new_records
        self.bound = bound

    def __iter__(self):
        cursor = self.start_cursor
        seen_cursors = {cursor} if cursor else set()
        self.seen_records = SeenRecords()
        stale_pages = 0
        restarted = False
        number = 1
        pages, started = 0, monotonic()
        with PageFetcher(self._next_page, self.client.stop, self.client.request_sent) as fetcher:
            fetcher.fetch(cursor, number)
            while True:
                try:
                    page = fetcher.result()
                except CursorRejected as error:
                    if restarted or cursor is None:
                        raise FprError(f"{error}, even when reading from the beginning; stopping") from None
                    safe_log.sync_warning(
                        f"{error}: reading again from the beginning (records already loaded are upserted again)"
                    )
                    cursor, seen_cursors, restarted, number = None, set(), True, number + 1
                    self.seen_records = SeenRecords()
                    fetcher.fetch(cursor, number)
                    continue
                pages += 1
                if page.next_cursor:
                    _check_cursor(page)
                last = not page.records or not page.has_more
                if not last:
                    stale_pages = 0 if page.brings_new_records else stale_pages + 1
                    self._check_progress(page, seen_cursors, stale_pages)
                    page.ends_at_bound = self.bound.reached(pages, monotonic() - started)
                    last = page.ends_at_bound
                if not last:
                    cursor = page.next_cursor
                    seen_cursors.add(cursor)
                    fetcher.fetch(cursor, number + 1)
                yield page
                if last:
                    return
                number += 1

    def _next_page(self, cursor, number: int) -> Page:
        """Fetches, parses and prepares one page (in the background thread)."""
        page = parse_page(self.client.get_page(cursor, number), number, self.max_page_records)
        page.rows = self.prepare(page.records)
        epochs = (row["last_updated_epoch"] for row in page.rows if row.get("last_updated_epoch") is not None)
        page.highest_epoch = max(epochs, default=None)
        page.brings_new_records = self.seen_records.add(page.rows)
        return page

    def _check_progress(self, page: Page, seen_cursors: set, stale_pages: int):
        """Fails on a page that says there is more but gives no way, a known way, or no new records for long."""
        if not page.next_cursor:
            raise FprError(f"page {page.number} says has_more: true but gives no next_cursor; the API cannot be paged")
        if page.next_cursor in seen_cursors:
            raise FprError(f"page {page.number} returned a cursor already seen in this sync: the API is looping")
        if stale_pages >= self.stale_limit:
            raise FprError(
                f"page {page.number}: the last {stale_pages} pages brought no record new to this sync, each with a "
                "new cursor: the API is looping (pages_without_new_records in connector.py's LIMITS)"
            )


def _check_cursor(page: Page):
    """Fails on a next_cursor the next request could not carry, or that holds the API key, before it is saved."""
    problem = cursor_problem(page.next_cursor)
    if problem:
        raise FprError(
            f"page {page.number}: the API's next_cursor {problem}; it is not saved, and the next sync goes on from "
            "the last good cursor: report this to the API's owner"
        )
    if safe_log.holds_secret(page.next_cursor):
        raise FprError(
            f"page {page.number}: the API's next_cursor contains the API key; it is not saved, as the "
            "state is stored and printed: report this to the API's owner"
        )


class SeenRecords:
    """The (record_id, last_updated_epoch) pairs a sync has received, in memory that grows with their number.

    A scalable Bloom filter: layers of 128 KiB, 256 KiB, ... up to 8 MiB, each filled with one pair per 16
    bits before the next is added (the last keeps filling), so a sync of 100,000 records holds 384 KiB and
    one of 8 million 16 MiB. It may take a new pair for one already seen (about 1 in 200 at most until
    8 million pairs are in), never the reverse. A page counts as bringing nothing new only when every
    one of its records is taken for seen, so a page of 200 new records is called stale by mistake with a
    chance far below 1 in 10^400; the loop guard needs many such pages in a row.
    """

    FIRST_BITS = 1 << 20
    LAST_BITS = 1 << 26
    BITS_PER_PAIR = 16
    PROBES = 4

    def __init__(self):
        self._layers = [bytearray(self.FIRST_BITS // 8)]
        self._pairs_in_last = 0

    def add(self, rows) -> bool:
        """Adds each row's pair; returns whether any of them had not been seen before."""
        new = False
        for row in rows:
            digest = hash((row.get("record_id"), row.get("last_updated_epoch"))) & 0xFFFF_FFFF_FFFF_FFFF
            if not any(self._holds(layer, digest) for layer in self._layers):
                self._put(self._layers[-1], digest)
                new = True
                self._grow_when_full()
        return new

    def _holds(self, layer: bytearray, digest: int) -> bool:
        # Double hashing: the first bit from the digest's low bits, the step from its high 32, which no layer
        # size reaches.
        top, step = len(layer) * 8 - 1, (digest >> 32) | 1
        bit = digest & top
        for _ in range(self.PROBES):
            if not layer[bit >> 3] & (1 << (bit & 7)):
                return False
            bit = (bit + step) & top
        return True

    def _put(self, layer: bytearray, digest: int):
        top, step = len(layer) * 8 - 1, (digest >> 32) | 1
        bit = digest & top
        for _ in range(self.PROBES):
            layer[bit >> 3] |= 1 << (bit & 7)
            bit = (bit + step) & top

    def _grow_when_full(self):
        self._pairs_in_last += 1
        bits = len(self._layers[-1]) * 8
        if self._pairs_in_last * self.BITS_PER_PAIR >= bits and bits < self.LAST_BITS:
            self._layers.append(bytearray(bits // 4))  # twice the bits
            self._pairs_in_last = 0


class PageFetcher:
    """Fetches at most one page ahead, in one background thread that ends with the sync.

    Args:
        fetch_page: (cursor, page number) -> Page; runs in the background thread.
        stop: ends a fetch in progress; called when the sync stops before the page is needed.
        request_sent: an Event set when a fetch's request has left.
    """

    def __init__(self, fetch_page, stop, request_sent: threading.Event):
        self.fetch_page = fetch_page
        self.stop = stop
        self.request_sent = request_sent
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpr-fetch")
        self._pending = None

    def fetch(self, cursor, number: int):
        """Starts fetching a page in the background, and returns once its request has left.

        Sending needs the interpreter, which writing the current page would otherwise hold for
        milliseconds at a time: waiting the fraction of a millisecond it takes puts the whole of
        the server's time in the shadow of the writes.
        """
        self.request_sent.clear()
        self._pending = self._executor.submit(self.fetch_page, cursor, number)
        self.request_sent.wait(SEND_WAIT_SECONDS)

    def result(self) -> Page:
        """The page asked for last; raises what fetching it raised.

        Waits in short slices: Ctrl-C may be delivered to another of the process's threads, and the
        main thread, blocked without a timeout, would not notice it before the page arrived.
        """
        while not wait([self._pending], timeout=SIGNAL_CHECK_SECONDS).done:
            pass
        pending, self._pending = self._pending, None
        return pending.result()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pending is not None and not self._pending.done():
            self.stop()  # the sync is stopping: end the request in flight and any wait
        self._executor.shutdown(wait=True)

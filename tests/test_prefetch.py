"""The next page is fetched while the current one is written, without changing what a sync does.

One page ahead at most, every SDK operation on the main thread, errors reported when their page
is due, and no thread or connection left behind.
"""

import signal
import sys
import threading
import time

import pytest
from conftest import checkpoints, configuration_for, sample_record, scripted_configuration

import connector as fpr_connector
from fpr.errors import FprError
from fpr.paging import PageFetcher


def page(first, count, next_cursor, has_more=True):
    records = [sample_record(number) for number in range(first, first + count)]
    return {"fpr_records": records, "next_cursor": next_cursor, "has_more": has_more}


THREE_PAGES = [page(1, 2, "c1"), page(3, 2, "c2"), page(5, 2, "c3"), page(7, 0, "c4", has_more=False)]


@pytest.fixture
def on_checkpoint(monkeypatch):
    """Runs a function of the test inside each checkpoint, before the real one."""
    real = fpr_connector.op.checkpoint
    hooks = []

    def checkpoint(state):
        for hook in hooks:
            hook(state)
        real(state)

    monkeypatch.setattr(fpr_connector.op, "checkpoint", checkpoint)
    return hooks.append


def test_the_next_page_is_requested_while_this_page_is_being_checkpointed(scripted, project, on_checkpoint):
    scripted.serve(*THREE_PAGES)
    requested_during = []

    def next_page_requested(state):
        if state["next_cursor"] != "c4":  # page 4 is the last: nothing follows it
            requested_during.append(scripted.wait_for_calls(len(requested_during) + 2, 5))

    on_checkpoint(next_page_requested)

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert requested_during == [True, True, True]  # page n+1 reached the server during page n's checkpoint


def test_no_more_than_one_page_is_fetched_ahead(scripted, project, on_checkpoint):
    scripted.serve(*THREE_PAGES)
    seen = []

    def hold_first_checkpoint(state):
        if not seen:
            scripted.wait_for_calls(2, 5)
            # A fetcher two pages ahead sends page 3's request within milliseconds of page 2's answer:
            # waiting for that request, which must never come, ends at the bound.
            seen.append(scripted.wait_for_calls(3, 0.5))

    on_checkpoint(hold_first_checkpoint)

    result = project.sync(scripted_configuration(scripted))

    assert result.ok, result.output
    assert seen == [False]


def test_every_sdk_operation_runs_on_the_main_thread(make_api, project, monkeypatch):
    server = make_api(size=250, faults="2=status:503,3=bad_records")
    threads = set()
    for name in ("upsert", "checkpoint", "warning"):
        real = getattr(fpr_connector.op, name)

        def recording(*args, _real=real, **kwargs):
            threads.add(threading.current_thread().name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(fpr_connector.op, name, recording)

    result = project.sync(configuration_for(server))

    assert result.ok, result.output
    assert threads == {threading.main_thread().name}


def test_each_checkpoint_holds_the_cursor_of_the_page_it_follows(scripted, project):
    scripted.serve(*THREE_PAGES)

    result = project.sync(scripted_configuration(scripted))

    assert [state["next_cursor"] for state in checkpoints(result.output)] == ["c1", "c2", "c3", "c4"]
    assert [state["last_updated_epoch"] for state in checkpoints(result.output)] == [
        1748797202,
        1748797204,
        1748797206,
        1748797206,
    ]


def test_an_error_fetching_a_page_surfaces_when_that_page_is_due(scripted, project):
    scripted.serve(THREE_PAGES[0], THREE_PAGES[1])
    scripted.answer(401, json={"error": "unauthorized"})

    result = project.sync(scripted_configuration(scripted))

    assert not result.ok
    assert "page 3: the API key was rejected (HTTP 401)" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(4,)]  # pages 1 and 2, checkpointed
    assert result.state["next_cursor"] == "c2"


def fetch_threads():
    """The connector's threads now running: fetching and watching deadlines, this test's or any earlier test's (a
    client a test did not close keeps its watchdog), so a test compares them with those it started with."""
    return {thread for thread in threading.enumerate() if thread.name.startswith(("fpr-fetch", "fpr-deadline"))}


@pytest.mark.parametrize("ending", ["success", "server error", "bug while writing"])
def test_no_thread_outlives_the_sync(scripted, project, monkeypatch, ending):
    scripted.serve(*THREE_PAGES)
    if ending == "server error":
        scripted.reset()
        scripted.serve(THREE_PAGES[0])
        scripted.answer(403, json={"error": "forbidden"})
    if ending == "bug while writing":
        monkeypatch.setattr(fpr_connector, "_higher", lambda epoch, other: 1 / 0)
    before, during = fetch_threads(), set()
    real_upsert = fpr_connector.op.upsert

    def upsert(*args, **kwargs):
        during.update(thread.name for thread in fetch_threads() - before)
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(fpr_connector.op, "upsert", upsert)

    result = project.sync(scripted_configuration(scripted))

    assert result.ok == (ending == "success"), result.output
    assert during == {"fpr-fetch_0", "fpr-deadline"}  # one fetching thread and one watchdog while pages are written
    assert fetch_threads() - before == set()


def test_a_fetch_that_fails_before_its_request_leaves_never_holds_up_the_sync():
    """Nothing was sent (the address cannot be reached, say): fetch() returns anyway, and result() raises the error."""

    def unreachable(cursor, number):
        raise FprError(f"page {number}: could not reach the API")

    never_sent = threading.Event()
    with PageFetcher(unreachable, stop=lambda: None, request_sent=never_sent) as fetcher:
        fetching = threading.Thread(target=fetcher.fetch, args=("c1", 2), daemon=True)
        fetching.start()
        fetching.join(60)
        assert not fetching.is_alive()
        with pytest.raises(FprError, match="^page 2: could not reach the API$"):
            fetcher.result()


class Stopped(Exception):
    """What the test's own SIGINT handler raises."""


def _raise_stopped(number, frame):
    raise Stopped()


def _main_thread_waits_for_a_page():
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        if frame.f_code is PageFetcher.result.__code__:
            return True
        frame = frame.f_back
    return False


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="signals one thread with pthread_kill")
def test_ctrl_c_taken_by_another_thread_reaches_the_main_one_while_it_waits_for_a_page():
    """A signal handled in Python runs on the main thread, but the kernel may deliver it to any thread: the main
    thread, waiting for a page that may take minutes, must look up often enough to run the handler."""
    release = threading.Event()

    def slow_page(cursor, number):
        release.wait(300)

    def ctrl_c_from_here():
        while not _main_thread_waits_for_a_page():  # only a signal arriving during the wait tells anything
            threading.Event().wait(0.01)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, _raise_stopped)
    try:
        with PageFetcher(slow_page, stop=release.set, request_sent=threading.Event()) as fetcher:
            fetcher.fetch("c1", 2)
            threading.Thread(target=ctrl_c_from_here, daemon=True).start()
            started = time.monotonic()
            with pytest.raises(Stopped):
                fetcher.result()
            assert time.monotonic() - started < 60  # not when the page came (300 s), however busy the machine
    finally:
        signal.signal(signal.SIGINT, previous)


def test_leaving_the_fetcher_waits_for_its_thread_to_end():
    """The sync stops while a page is being fetched: stop() is called, and the fetch is waited for, not left running."""
    stopping, finished, before = threading.Event(), threading.Event(), fetch_threads()

    def page_that_ends_after_stop(cursor, number):
        stopping.wait(30)
        threading.Event().wait(0.3)  # the fetch takes a moment to wind up after the stop
        finished.set()

    with PageFetcher(page_that_ends_after_stop, stop=stopping.set, request_sent=threading.Event()) as fetcher:
        fetcher.fetch("c1", 2)

    assert finished.is_set()
    assert fetch_threads() - before == set()

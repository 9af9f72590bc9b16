"""One watchdog thread keeps every request's deadline: each expires when due, never after its request ended."""

import threading
import time

import pytest

from fpr.deadline import Deadline, Watchdog


@pytest.fixture
def watchdog():
    watchdog = Watchdog()
    yield watchdog
    assert closed_within_10_s(watchdog)


def closed_within_10_s(watchdog) -> bool:
    """Closes the watchdog from another thread, so that a close that never ends fails the test instead of hanging it."""
    closing = threading.Thread(target=watchdog.close, daemon=True)
    closing.start()
    closing.join(10)
    return not closing.is_alive()


def expiring(seconds, watchdog):
    """A Deadline that sets its `expired_event` when the watchdog expires it."""
    deadline = Deadline(seconds, watchdog)
    deadline.expired_event = threading.Event()
    expire = deadline.expire

    def expire_and_tell():
        expire()
        if deadline.expired:
            deadline.expired_event.set()

    deadline.expire = expire_and_tell
    return deadline


def test_a_request_still_running_at_its_deadline_is_expired(watchdog):
    with expiring(0.2, watchdog) as deadline:
        assert deadline.expired_event.wait(60)
    assert deadline.expired and not deadline.stopped


def test_a_shorter_deadline_set_after_a_longer_one_expires_on_time(watchdog):
    with expiring(600, watchdog) as long_one:
        assert sleeping_until_the_next_deadline(watchdog)  # now only a wake-up can make it notice a shorter one
        with expiring(0.2, watchdog) as short_one:
            assert short_one.expired_event.wait(60)  # not left waiting behind the 600 s one
            assert not long_one.expired


def sleeping_until_the_next_deadline(watchdog) -> bool:
    """Waits (up to 60 s) until the watchdog's thread sleeps on its condition."""
    ends = time.monotonic() + 60
    while not watchdog._condition._waiters:  # the threads waiting on the condition (CPython's Condition)
        if time.monotonic() > ends:
            return False
        time.sleep(0.01)
    return True


def test_a_request_that_ended_in_time_is_never_expired(watchdog):
    for _ in range(5):  # a busy machine may hold this thread past the deadline, which then rightly expires
        started = time.monotonic()
        with expiring(1.0, watchdog) as ended:
            pass
        if time.monotonic() - started < 0.5:
            break
    with expiring(1.3, watchdog) as later:  # the watchdog wakes at 1 s for the ended one, then expires this one
        assert later.expired_event.wait(60)
    assert not ended.expired


def test_deadlines_expire_in_the_order_they_are_due(watchdog):
    order = []
    # Due 0.5 s apart: the order holds unless this thread is held 0.5 s between two of its lines.
    deadlines = [expiring(seconds, watchdog) for seconds in (1.2, 0.2, 0.7)]
    for deadline in deadlines:
        deadline.expired_event = _Recorder(order, deadline.seconds)
        deadline.__enter__()
    try:
        assert deadlines[0].expired_event.wait(60)
        assert order == [0.2, 0.7, 1.2]
    finally:
        for deadline in deadlines:
            deadline.__exit__(None, None, None)


def test_closing_the_watchdog_ends_its_thread(watchdog):
    before = watchdog_threads()
    with expiring(600, watchdog):
        started = watchdog_threads() - before
    assert len(started) == 1  # one thread, started by the first deadline

    assert closed_within_10_s(watchdog)
    assert not started.pop().is_alive()
    with pytest.raises(RuntimeError):
        Deadline(1, watchdog).__enter__()


def watchdog_threads():
    return {thread for thread in threading.enumerate() if thread.name == "fpr-deadline"}


class _Recorder(threading.Event):
    def __init__(self, order, seconds):
        super().__init__()
        self.order, self.seconds = order, seconds

    def set(self):
        self.order.append(self.seconds)
        super().set()

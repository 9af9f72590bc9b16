"""Ctrl-C and SIGTERM held back while a checkpoint is written, so that a stop never splits one.

A local checkpoint (`fivetran debug`) is two steps: the SDK commits the page's rows to DuckDB, then
saves the state. A signal between the two leaves rows past the saved cursor: SIGTERM ends the
process at once, and Ctrl-C raises wherever the main thread is. Inside one of DuckDB's writes,
DuckDB turns Ctrl-C into an error of its own, so the stop reads as a failed sync with a crash
report, or it is swallowed and the sync goes on. Held back, the signal takes effect as soon as the
checkpoint is saved: a few milliseconds later, with the rows and the state matching.
"""

import signal  # the handlers of SIGINT and SIGTERM
import threading  # only the main thread may set handlers
from contextlib import contextmanager  # hold_stop_signals

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def hold_stop_signals():
    """Runs the block with SIGINT and SIGTERM noted instead of acted on, then acts on the first that came.

    Outside the main thread (Fivetran's own runner may call update() in another thread), and for a
    signal whose handler was not set from Python, the block runs as it is: only the main thread can
    set handlers, and one set outside Python could not be restored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived = []
    previous = {}
    try:
        for number in STOP_SIGNALS:
            if signal.getsignal(number) is not None:
                previous[number] = signal.signal(number, lambda number, frame: arrived.append(number))
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if arrived:
            # The default SIGTERM ends the process here; Ctrl-C raises KeyboardInterrupt from this line.
            signal.raise_signal(signal.SIGTERM if signal.SIGTERM in arrived else arrived[0])

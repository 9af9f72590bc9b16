"""A deadline for one request, from connect to last byte, and the requests adapter whose connections it can end.

Timeouts bound each read, so a server sending a byte just before each would hold a request
forever. A Deadline ends the request when its time is up, or at once when the sync stops, by
shutting down the request's sockets: that ends any read in progress, in the TLS handshake, the
headers or the body, whatever framing the server chose (keep-alive, Connection: close, HTTP/1.0
close-delimited, chunked). One Watchdog thread keeps the time of every request a transport makes.

The adapter's connections show each socket to the Deadline of the request running in their
thread, skip interim answers (1xx, such as 103 Early Hints; http.client skips only 100 Continue)
and name headers too large to read instead of failing as a network fault would.
"""

import heapq  # the watchdog's deadlines, the earliest first
import http.client  # the response class that skips interim answers
import itertools  # the order deadlines were set in, for those due at the same time
import socket  # duplicates of a request's sockets, to shut them down
import threading  # the watchdog, and the request running in each thread
import time  # when each deadline is due

import requests  # its HTTPAdapter

# urllib3 comes with requests (it is one of its dependencies) and is reached through it, so the
# deployment's import scan finds only requests, which Fivetran pre-installs; these are the very
# classes requests' own adapter uses.
from requests.packages.urllib3.connection import HTTPConnection, HTTPSConnection
from requests.packages.urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from fpr.errors import FprError


class HeadersTooLarge(FprError):
    """The answer's status line or headers are larger than http.client reads (100 lines, 64 KiB a line)."""


class Deadline:
    """Ends one request when its time is up, or when the sync stops, by shutting down its sockets.

    It holds a duplicate of each socket the request uses. http.client lets go of its own socket
    once an answer says Connection: close, and TLS takes over the one it wraps; a duplicate still
    reaches the connection, and shutting it down ends any read in progress on it.
    """

    def __init__(self, seconds: float, watchdog: "Watchdog", on_sent=None):
        self.seconds = seconds
        self.watchdog = watchdog
        self.on_sent = on_sent  # called once the request has left
        self.expired = False
        self.stopped = False
        self.finished = False  # the request is over: the watchdog lets it be
        self._handles = []
        self._lock = threading.Lock()  # shutting down and closing the duplicates never overlap

    def watch(self, sock):
        """Makes `sock` end with this request's deadline.

        `sock` may be a socket, a TLS socket, or urllib3's TLS-in-TLS wrapper (an https:// proxy's
        tunnel), which has a descriptor but no family or type: the duplicate reads them from the descriptor.
        """
        try:
            handle = socket.socket(fileno=socket.dup(sock.fileno()))
        except (OSError, ValueError):
            return  # already closed: nothing left to end
        with self._lock:
            self._handles.append(handle)
            if self.expired or self.stopped:
                _shut_down(handle)

    def stop(self):
        self._end("stopped")

    def expire(self):
        self._end("expired")

    def _end(self, why: str):
        with self._lock:
            if self.finished:
                return
            setattr(self, why, True)
            for handle in self._handles:
                _shut_down(handle)

    def __enter__(self):
        _running.deadline = self
        self.watchdog.watch(self)
        return self

    def __exit__(self, *exc):
        _running.deadline = None
        with self._lock:
            self.finished = True
            for handle in self._handles:
                handle.close()
            self._handles = []


class Watchdog:
    """One thread that expires each Deadline when it is due, so that a request costs no thread of its own.

    A request that ends in time leaves its entry behind until the watchdog wakes for it: waking it
    for every request would cost a switch of threads per page. So the entries of at most one
    request_deadline's worth of requests are held, under a kilobyte each.
    """

    def __init__(self):
        self._due = []  # (monotonic time, order set, Deadline), a heap
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread = None
        self._closed = False

    def watch(self, deadline: Deadline):
        due = time.monotonic() + deadline.seconds
        with self._condition:
            if self._closed:
                raise RuntimeError("the watchdog was closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fpr-deadline", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (due, next(self._order), deadline))
            if self._due[0][2] is deadline:  # earlier than the watchdog's next waking
                self._condition.notify()

    def _run(self):
        with self._condition:
            while not self._closed:
                now = time.monotonic()
                while self._due and (self._due[0][0] <= now or self._due[0][2].finished):
                    heapq.heappop(self._due)[2].expire()  # a finished deadline does nothing
                self._condition.wait(self._due[0][0] - now if self._due else None)

    def close(self):
        """Ends the watchdog's thread; a deadline still running is no longer kept."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join()


def _shut_down(handle):
    try:
        handle.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the connection is already gone


_running = threading.local()  # the Deadline of the request this thread is making


def _watch(sock):
    deadline = getattr(_running, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


def _request_left():
    deadline = getattr(_running, "deadline", None)
    if deadline is not None and deadline.on_sent is not None:
        deadline.on_sent()


class _Response(http.client.HTTPResponse):
    """http.client's response, skipping every interim (1xx) answer and naming headers too large to read."""

    def _read_status(self):
        while True:
            version, status, reason = super()._read_status()
            if not 100 <= status < 200 or status == 101:  # 101 Switching Protocols is a final answer
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's headers; the real answer follows

    def begin(self):
        try:
            super().begin()
        except http.client.HTTPException as error:
            if isinstance(error, http.client.LineTooLong) or str(error).startswith("got more than"):
                raise HeadersTooLarge(
                    "the API's answer has more header lines than can be read (over 100, or one over 64 KiB); "
                    "a proxy or firewall on the way may be adding them: check the network path to base_url"
                ) from None
            raise


class _WatchedConnection:
    """Mixed into urllib3's connections: every socket is watched by the running request's deadline."""

    response_class = _Response

    def _new_conn(self):
        sock = super()._new_conn()  # the TCP connection, before any TLS or proxy tunnel is set up on it
        _watch(sock)
        return sock

    def request(self, *args, **kwargs):
        if self.sock is not None:  # a kept-alive connection, opened by an earlier request
            _watch(self.sock)
        super().request(*args, **kwargs)
        _request_left()


class _HTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_WATCHED_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with pools whose connections a Deadline can end."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS proxies have connection classes of their own
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager

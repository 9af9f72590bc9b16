"""HTTP GETs on a requests Session, each bounded from connect to last byte.

requests brings what a connector is expected to use: connection reuse, TLS verification against
its CA bundle (or REQUESTS_CA_BUNDLE), and the environment's proxies (HTTPS_PROXY, ALL_PROXY, an
https:// proxy, NO_PROXY with host:port and CIDR entries) read as requests reads them. Redirects
are never followed, so the key never goes to another host; a loopback API is never proxied, as a
proxy's loopback is not ours. Bodies are streamed and read as they came over the wire, so that
body.py decompresses them within their cap. The deadline of each request, which requests has no
setting for, is deadline.py's; what a failure means, and whether it is retried, is causes.py's.
"""

import http.client  # a malformed or cut answer
import threading  # stopping from another thread
from dataclasses import dataclass, field  # Reply
from urllib.parse import urlsplit  # the API's host

import requests  # the Session: pooling, TLS, proxies

# urllib3 comes with requests (it is one of its dependencies) and is reached through it, so the
# deployment's import scan finds only requests, which Fivetran pre-installs; these are the very
# classes requests' own adapter uses.
from requests.packages.urllib3.exceptions import HTTPError as Urllib3Error

from fpr.body import BodyCutShort, declared_length, read_body
from fpr.causes import classify, framing_problem
from fpr.deadline import Deadline, DeadlineAdapter, Watchdog
from fpr.errors import SyncStopping, Transient
from fpr.intermediaries import answered_by
from fpr.proxy import proxy_for
from fpr.retry import RATE_LIMIT_HEADERS
from fpr.settings import is_loopback

ERROR_BODY_BYTES = 64 * 1024  # of an error answer: enough for its error code
_DIRECT = {"http": None, "https": None, "all": None}  # no proxy, whatever the environment says


@dataclass
class Reply:
    status: int
    content_type: str
    rate_limit: dict  # the headers of RATE_LIMIT_HEADERS the answer carries, by those names
    body: bytearray = field(repr=False)  # may hold personal data: kept out of reprs and crash reports
    answered_by: str = ""  # who sent it, when its headers name a CDN, firewall, proxy or server


class Transport:
    """Makes one GET at a time on a pooled connection, within a deadline.

    Args:
        base_url: the API's address; plain http only ever reaches loopback.
        headers: sent with every request.
        connect_timeout: seconds to open a connection.
        read_timeout: seconds of silence allowed between two bytes of an answer.
    """

    def __init__(self, base_url: str, headers: dict, connect_timeout: float, read_timeout: float):
        self.host = urlsplit(base_url).hostname
        self.address = urlsplit(base_url).netloc  # host and port, as messages name them
        self.session = requests.Session()
        self.session.headers.update(headers)
        adapter = DeadlineAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.timeouts = (connect_timeout, read_timeout)
        self.proxies = dict(_DIRECT) if is_loopback(self.host) else None
        self.proxy = None if self.proxies else proxy_for(base_url, self.session)  # the one messages name
        self.request_sent = threading.Event()  # set each time a request has left
        self.watchdog = Watchdog()
        self._lock = threading.Lock()
        self._in_flight = None
        self._stopped = False

    def get(self, url: str, params: dict, max_body_bytes: int, deadline_seconds: float) -> Reply:
        """One GET, its body read whole (up to `max_body_bytes`; error answers truncated to ERROR_BODY_BYTES).

        Raises:
            Transient: what a retry may fix (connection, deadline, a body cut short).
            SyncStopping: stop() was called.
            FprError: what no retry can fix (a certificate, a protocol, a proxy's refusal, a malformed length,
                oversized headers or body).
        """
        deadline = Deadline(deadline_seconds, self.watchdog, on_sent=self.request_sent.set)
        with self._lock:
            if self._stopped:
                raise SyncStopping("the sync is stopping")
            self._in_flight = deadline
        try:
            with deadline:
                reply = self._exchange(url, params, max_body_bytes, deadline)
        finally:
            with self._lock:
                self._in_flight = None
        if deadline.stopped:
            raise SyncStopping("the sync is stopping")
        if deadline.expired:  # shut down mid-body: what was read may end early without any error
            raise Transient(f"no complete answer within {deadline_seconds:g} s", "deadline")
        return reply

    def _exchange(self, url, params, max_body_bytes, deadline) -> Reply:
        try:
            response = self.session.get(
                url, params=params, stream=True, allow_redirects=False, timeout=self.timeouts, proxies=self.proxies
            )
            with response:  # closing returns the connection to the pool once the body was read to its end
                malformed = framing_problem(self.address, response.headers)
                if malformed is not None:  # checked before reading: such a body may never seem to end
                    raise malformed
                limit, truncate = (max_body_bytes, False) if response.status_code == 200 else (ERROR_BODY_BYTES, True)
                body = read_body(
                    lambda size: response.raw.read(size, decode_content=False),
                    response.headers.get("Content-Encoding"),
                    declared_length(response.headers),
                    limit,
                    truncate,
                )
        except (requests.RequestException, Urllib3Error, OSError, http.client.HTTPException, BodyCutShort) as error:
            raise failure(error, deadline, self.address, self.proxy) from None
        headers = response.headers
        rate_limit = {name: headers[name] for name in RATE_LIMIT_HEADERS if name in headers}
        return Reply(
            response.status_code,
            headers.get("Content-Type") or "",
            rate_limit,
            body,
            answered_by(headers),
        )

    def stop(self):
        """Ends the request in flight, from any thread; no request starts after it."""
        with self._lock:
            self._stopped = True
            in_flight = self._in_flight
        if in_flight is not None:
            in_flight.stop()

    def close(self):
        self.session.close()
        self.watchdog.close()


def failure(error: BaseException, deadline: Deadline, address: str, proxy=None) -> Exception:
    """The exception a failed exchange calls for; its message is the connector's own words, never the
    exception's text, which may hold URLs."""
    if deadline.stopped:
        return SyncStopping("the sync is stopping")
    if deadline.expired:
        return Transient(f"no complete answer within {deadline.seconds:g} s", "deadline")
    return classify(error, address, proxy)

"""The HTTP/1.1 server: GET /fpr_data, GET /fpr_api_spec and a small admin surface.

Admin endpoints (same x-api-key):
    POST /_admin/changes   {"insert": N, "update": M}  -> the record_ids changed
    GET  /_admin/status    -> record count, last change sequence, requests served
"""

import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from fpr_local_api.cursor import CursorCodec, InvalidCursor
from fpr_local_api.dataset import Dataset
from fpr_local_api.spec import openapi_spec

DEFAULT_API_KEY = "local-dev-key"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 200
END_STYLES = {"newer": "token", "older": "hex"}


class ApiError(Exception):
    def __init__(self, status, error, message):
        super().__init__(message)
        self.status = status
        self.body = {"error": error, "message": message}


class LocalFprApi:
    """A local FPR API bound to loopback.

    Args:
        dataset: the records to serve; 750 records, seed 42 if None.
        api_key: the key clients must send in `x-api-key`.
        end_style: "newer" (an extra empty page with has_more false and a cursor) or
            "older" (the last page carries next_cursor null).
        port: 0 picks a free port.
        faults: optional FaultPlan (see fpr_local_api.faults): per request, a fault that may
            answer instead of the API, alter the page, or send the page in its own way.
        cursor_max_age: seconds after which a token cursor is answered 410; None never.
    """

    def __init__(
        self,
        dataset=None,
        api_key=DEFAULT_API_KEY,
        end_style="newer",
        host="127.0.0.1",
        port=0,
        faults=None,
        cursor_max_age=None,
        clock=None,
    ):
        if end_style not in END_STYLES:
            raise ValueError(f"end_style must be one of {sorted(END_STYLES)}")
        self.dataset = dataset if dataset is not None else Dataset()
        self.api_key = api_key
        self.end_style = end_style
        self.faults = faults
        self.cursor_max_age = cursor_max_age
        secret = hashlib.sha256(f"fpr-local-api:{self.dataset.seed}".encode()).digest()
        codec_args = {"clock": clock} if clock else {}
        self.cursors = CursorCodec(secret, END_STYLES[end_style], **codec_args)
        self._clock = clock
        self.requests_served = 0
        self.connections_accepted = 0  # TCP connections, to see a client reuse them
        self.stopping = threading.Event()  # ends the pauses and endless bodies of faults
        self._count_lock = threading.Lock()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.api = self
        self._thread = None

    @property
    def base_url(self):
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        """Serves in a background thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self._httpd.serve_forever()

    def stop(self):
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def count_connection(self):
        with self._count_lock:
            self.connections_accepted += 1

    def next_request_number(self):
        with self._count_lock:
            self.requests_served += 1
            return self.requests_served

    def check_key(self, headers):
        sent = headers.get("x-api-key") or ""
        if not hmac.compare_digest(sent.encode(), self.api_key.encode()):
            raise ApiError(401, "unauthorized", "missing or invalid x-api-key header")

    def fpr_page(self, query):
        """The JSON body of one GET /fpr_data response."""
        page_size = _page_size(query)
        after_seq = self._cursor_position(query)
        if self.end_style == "older":
            return self._older_page(after_seq, page_size)
        page = self.dataset.records_after(after_seq, page_size)
        last_seq = page[-1][0] if page else after_seq
        return {
            "fpr_records": [record for _, record in page],
            "next_cursor": self.cursors.encode(last_seq),
            "has_more": bool(page),
        }

    def _older_page(self, after_seq, page_size):
        page = self.dataset.records_after(after_seq, page_size + 1)
        more = len(page) > page_size
        page = page[:page_size]
        return {
            "fpr_records": [record for _, record in page],
            "next_cursor": self.cursors.encode(page[-1][0]) if more else None,
            "has_more": more,
        }

    def _cursor_position(self, query):
        cursor = _single(query, "cursor")
        if cursor is None:
            return 0
        try:
            seq, issued = self.cursors.decode(cursor)
        except InvalidCursor as error:
            raise ApiError(400, "invalid_cursor", str(error)) from None
        if self.cursor_max_age is not None and issued is not None:
            now = (self._clock or time.time)()
            if now - issued > self.cursor_max_age:
                raise ApiError(410, "cursor_expired", "cursor has expired; start again without a cursor")
        return seq


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up mid-answer, as clients may: nothing to report
        super().handle_error(request, client_address)


def _single(query, name):
    values = query.get(name)
    return values[-1] if values else None


def _page_size(query):
    raw = _single(query, "page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ApiError(400, "invalid_page_size", f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}")
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FprLocalApi/1.0"

    @property
    def api(self):
        return self.server.api

    def setup(self):
        super().setup()
        self.server.api.count_connection()

    @property
    def stopping(self):
        return self.server.api.stopping

    def log_message(self, format, *args):
        pass  # quiet: a request line would show cursors, and nobody needs it in test output

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            if url.path == "/fpr_api_spec":
                self.send_json(200, openapi_spec())
            elif url.path == "/fpr_data":
                self._fpr_data(query)
            elif url.path == "/_admin/status":
                self.api.check_key(self.headers)
                self.send_json(200, self._status())
            else:
                raise ApiError(404, "not_found", f"no such endpoint: {url.path}")
        except ApiError as error:
            self.send_json(error.status, error.body)

    def _fpr_data(self, query):
        number = self.api.next_request_number()
        faults = self.api.faults
        fault = faults.fault_for(number) if faults is not None else None
        if fault is not None and faults.answer(number, fault, self):
            return
        self.api.check_key(self.headers)
        body = self.api.fpr_page(query)
        if faults is not None:
            body = faults.rewrite_page(number, fault, body, _single(query, "cursor"), self.headers.get("x-api-key"))
            if fault is not None and faults.send_page(number, fault, body, self):
                return
        self.send_json(200, body)

    def _status(self):
        dataset = self.api.dataset
        return {"records": dataset.size, "last_seq": dataset.last_seq, "requests": self.api.requests_served}

    def do_POST(self):
        url = urlsplit(self.path)
        try:
            body = self._read_json()
            if url.path != "/_admin/changes":
                raise ApiError(404, "not_found", f"no such endpoint: {url.path}")
            self.api.check_key(self.headers)
            changed = self.api.dataset.apply_changes(int(body.get("insert", 0)), int(body.get("update", 0)))
            self.send_json(200, changed)
        except (ValueError, TypeError) as error:
            self.send_json(400, {"error": "bad_request", "message": str(error)})
        except ApiError as error:
            self.send_json(error.status, error.body)

    def _read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        return body

    def send_json(self, status, body, headers=None):
        self.send_raw(status, json.dumps(body).encode(), "application/json", headers)

    def send_raw(self, status, payload, content_type, headers=None, declared_length=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload) if declared_length is None else declared_length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

"""A loopback HTTP server that gives scripted answers, in order, and records every request it receives.

For tests that need exact answers the local FPR API would not give (chosen bodies, statuses and
headers), while still going through a real socket, as the connector does in production.

    with ScriptedApi() as api:
        api.serve({"fpr_records": [...], "next_cursor": "c1", "has_more": True}, END_PAGE)
        ...sync against api.base_url...
        api.calls[0].params == {"page_size": ["100"]}

A request with nothing left to answer gets 404 {"error": "nothing scripted"}.
"""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)


@dataclass
class Call:
    target: str  # the request line's target, exactly as sent: path and query
    headers: dict  # lower-case names

    @property
    def path(self):
        return urlsplit(self.target).path

    @property
    def params(self):
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)


class ScriptedApi:
    def __init__(self):
        self.calls = []
        self._answers = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.scripted = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self):
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def serve(self, *bodies):
        """Queues 200 answers with these JSON bodies."""
        for body in bodies:
            self.answer(200, json=body)

    def answer(self, status=200, body=b"", headers=None, json=None):  # noqa: A002 - named as in requests
        """Queues one answer: a JSON value, or raw bytes with the headers given."""
        headers = dict(headers or {})
        if json is not None:
            body = _json_bytes(json)
            headers.setdefault("Content-Type", "application/json")
        with self._lock:
            self._answers.append(Answer(status, body if isinstance(body, bytes) else body.encode(), headers))

    def reset(self):
        with self._lock:
            self._answers.clear()
            self.calls.clear()

    def wait_for_calls(self, count, timeout=60.0):
        """Waits until `count` requests have arrived; returns whether they did."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.calls) >= count, timeout)

    def next_answer(self, call):
        with self._arrived:
            self.calls.append(call)
            self._arrived.notify_all()
            if self._answers:
                return self._answers.pop(0)
        return Answer(404, b'{"error": "nothing scripted"}', {"Content-Type": "application/json"})

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def _json_bytes(value):
    return json.dumps(value).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        call = Call(self.path, {name.lower(): value for name, value in self.headers.items()})
        answer = self.server.scripted.next_answer(call)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

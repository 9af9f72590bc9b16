"""A request ends at its deadline, from connect to last byte, whatever framing the server chose.

A server that sends one byte every few seconds never trips a read timeout. Only a deadline on the
whole request ends it, and it has to hold on every way an answer can be framed: Content-Length on a
kept-alive connection, Content-Length with Connection: close (http.client then lets go of the
socket), an HTTP/1.0 answer that ends when the connection closes, chunked; in the headers; and in a
TLS handshake, before any HTTP at all. Each case runs over a real socket against the local FPR API.
"""

import socket
import ssl
import subprocess
import threading
import time

import pytest
from conftest import API_KEY, Project, as_served, configuration_for, served_records

from fpr_local_api import Dataset, LocalFprApi

HANG_GUARD_SECONDS = 60  # a sync still running then is held by the server: the deadline failed


def sync_within(project, configuration, seconds=HANG_GUARD_SECONDS):
    results = []
    worker = threading.Thread(target=lambda: results.append(project.sync(configuration)), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(seconds)
    assert results, f"the sync was still running after {seconds} s"
    return results[0], time.monotonic() - started


@pytest.fixture
def one_second_deadline(set_limits):
    set_limits(request_deadline=1.0)


@pytest.mark.parametrize("framing", ["keep-alive", "close", "http10", "chunked"])
def test_a_body_trickling_in_is_cut_at_the_deadline_and_retried_on_every_framing(
    make_api, project, one_second_deadline, framing
):
    server = make_api(size=300, faults=f"2=slow_body:5;framing={framing}")

    result, _ = sync_within(project, configuration_for(server))

    assert result.ok, result.output
    assert "page 2: request failed (no complete answer within 1 s); retry 1 of 5" in result.output
    assert {row["record_id"]: as_served(row) for row in project.rows()} == served_records(server)


@pytest.mark.parametrize("framing", ["close", "http10"])
def test_a_body_cut_by_the_deadline_is_never_taken_for_a_complete_one(make_api, project, set_limits, framing):
    """Shut down mid-body, a close-delimited answer just ends: the part read must not pass for the page."""
    set_limits(request_deadline=1.0)
    server = make_api(size=300, faults=f"2+=slow_body:0.01;framing={framing}")

    result, _ = sync_within(project, configuration_for(server))

    assert not result.ok
    assert "page 2: no complete answer within 1 s (request_deadline in connector.py's LIMITS), 6 attempts" in (
        result.output
    )
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(100,)]


def test_headers_trickling_in_are_cut_at_the_deadline(make_api, project, one_second_deadline):
    server = make_api(size=300, faults="2=slow_headers:5")

    result, _ = sync_within(project, configuration_for(server))

    assert result.ok, result.output
    assert "page 2: request failed (no complete answer within 1 s); retry 1 of 5" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(300,)]


class SlowRelay:
    """Relays TCP to a port on loopback, passing what the server sends back one byte every `pause` seconds."""

    def __init__(self, target_port, pause):
        self.target_port, self.pause = target_port, pause
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._forward, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._trickle, args=(upstream, client), daemon=True).start()

    def _forward(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def _trickle(self, source, sink):
        try:
            while data := source.recv(65536):
                for byte in data:
                    sink.sendall(bytes([byte]))
                    if self.stopping.wait(self.pause):
                        return
        except OSError:
            pass
        finally:
            sink.close()
            source.close()

    def close(self):
        self.stopping.set()
        self.listener.close()


@pytest.fixture
def tls_api(tmp_path, monkeypatch):
    """The local FPR API over TLS, with a certificate for localhost trusted through REQUESTS_CA_BUNDLE."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    api = LocalFprApi(Dataset(size=250, seed=8), api_key=API_KEY)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    api._httpd.socket = context.wrap_socket(api._httpd.socket, server_side=True)
    with api:
        yield api


def test_a_tls_handshake_trickling_in_is_cut_at_the_deadline(tls_api, tmp_path, set_limits):
    """The server's certificate arrives a byte at a time: no HTTP has started, yet the deadline holds."""
    set_limits(request_deadline=1.0)
    relay = SlowRelay(tls_api._httpd.server_address[1], pause=0.05)
    try:
        configuration = {"base_url": f"https://localhost:{relay.port}", "api_key": API_KEY, "page_size": "100"}
        result, seconds = sync_within(Project(tmp_path / "project"), configuration)
    finally:
        relay.close()

    assert not result.ok
    assert "page 1: no complete answer within 1 s (request_deadline in connector.py's LIMITS), 6 attempts" in (
        result.output
    )
    assert relay.connections == 6 and result.state == {}
    assert seconds < 60  # six attempts of about a second each, not a certificate at 20 bytes a second (minutes)

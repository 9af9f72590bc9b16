"""Over https the certificate is verified and the sync completes; through HTTPS_PROXY it tunnels, key inside TLS.

A local FPR API is served over TLS with a certificate made for the test and trusted through
REQUESTS_CA_BUNDLE, the variable requests reads for the authorities it trusts.
"""

import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from conftest import API_KEY, Project
from loopback import LoopbackServer

from fpr_local_api import Dataset, LocalFprApi

TUNNELLED_HOST = "fpr-api.test"  # resolves nowhere: only the proxy knows where it is


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", f"subjectAltName=DNS:localhost,DNS:{TUNNELLED_HOST}"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_api(certificate, monkeypatch):
    cert, key = certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    api = LocalFprApi(Dataset(size=250, seed=8), api_key=API_KEY)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    api._httpd.socket = context.wrap_socket(api._httpd.socket, server_side=True)
    with api:
        yield api


def https_configuration(host, port):
    return {"base_url": f"https://{host}:{port}", "api_key": API_KEY, "page_size": "100"}


def test_a_sync_over_https_with_a_trusted_certificate_loads_everything(tls_api, tmp_path):
    port = tls_api._httpd.server_address[1]
    project = Project(tmp_path / "project")

    result = project.sync(https_configuration("localhost", port))

    assert result.ok, result.output
    assert "sync finished: 4 pages, 250 records" in result.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(250,)]


class ConnectProxy(LoopbackServer):
    """A CONNECT proxy that tunnels every request to one port on loopback and keeps what it relayed."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.requests = []
        self.relayed = bytearray()
        super().__init__()

    def handle(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        self.requests.append(head.split(b"\r\n")[0].decode())
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        self._pipe(client, upstream)

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                self.relayed += data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()


def test_https_proxy_is_used_as_a_tunnel_and_sees_no_key(tls_api, tmp_path, monkeypatch):
    port = tls_api._httpd.server_address[1]
    proxy = ConnectProxy(port)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    try:
        project = Project(tmp_path / "project")
        result = project.sync(https_configuration(TUNNELLED_HOST, port))
    finally:
        proxy.close()

    assert result.ok, result.output
    assert "sync finished: 4 pages, 250 records" in result.output
    assert proxy.requests and all(line == f"CONNECT {TUNNELLED_HOST}:{port} HTTP/1.0" for line in proxy.requests)
    assert API_KEY.encode() not in proxy.relayed
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(250,)]

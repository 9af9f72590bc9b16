"""The environment's proxies, read as requests reads them: NO_PROXY (CIDR and host:port), ALL_PROXY, an
https:// proxy, credentials in the proxy address, a proxy refusing the tunnel, and loopback never proxied.

The local FPR API is served over TLS with a certificate made for the test and trusted through
REQUESTS_CA_BUNDLE. The CONNECT proxy on loopback tunnels whatever host it is asked for to that API,
so a base_url whose host resolves nowhere (or routes nowhere) still syncs when, and only when, the
sync goes through the proxy. Each test clears every proxy variable first: the machine's own must
not leak in.
"""

import base64
import select
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from conftest import API_KEY, WAREHOUSE_TABLE, Project
from loopback import LoopbackServer

from fpr_local_api import Dataset, LocalFprApi

UNRESOLVABLE_HOST = "fpr-api.test"  # resolves nowhere: only the proxy knows where it is
UNROUTABLE_IP = "192.0.2.1"  # TEST-NET-1: routed nowhere; only the proxy knows where it is
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
RECORDS = 250


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def make_certificate(folder, names):
    """A self-signed certificate (and its key) for `names`, a subjectAltName value."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """The certificate of the API and the https:// proxy, for every name the tests reach them by."""
    names = f"DNS:localhost,DNS:{UNRESOLVABLE_HOST},IP:127.0.0.1,IP:{UNROUTABLE_IP}"
    return make_certificate(tmp_path_factory.mktemp("tls"), names)


@pytest.fixture(scope="module")
def untrusted_certificate(tmp_path_factory):
    """A certificate for localhost that REQUESTS_CA_BUNDLE does not hold."""
    return make_certificate(tmp_path_factory.mktemp("untrusted"), "DNS:localhost,IP:127.0.0.1")


def server_context(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def tls_api(certificate, monkeypatch):
    """The local FPR API over TLS on 127.0.0.1, its certificate trusted through REQUESTS_CA_BUNDLE."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    api = LocalFprApi(Dataset(size=RECORDS, seed=8), api_key=API_KEY)
    api._httpd.socket = server_context(certificate).wrap_socket(api._httpd.socket, server_side=True)
    with api:
        yield api


class ConnectProxy(LoopbackServer):
    """A CONNECT proxy on loopback that tunnels every CONNECT to one port of 127.0.0.1.

    Args:
        target_port: where every tunnel leads.
        refuse: given how many CONNECTs came before, the status to refuse this one with, or None to tunnel it.
        tls: an SSLContext to speak TLS to clients with (an https:// proxy), or None for plain http.

    It keeps the head of every request it received (`heads`) and every byte it relayed (`relayed`).
    """

    def __init__(self, target_port, refuse=lambda earlier: None, tls=None):
        self.target_port = target_port
        self.refuse = refuse
        self.tls = tls
        self.heads = []
        self.relayed = bytearray()
        self._lock = threading.Lock()
        super().__init__()

    @property
    def request_lines(self):
        return [head.split("\r\n")[0] for head in self.heads]

    def headers_of(self, number):
        lines = self.heads[number].split("\r\n")[1:]
        return dict(line.split(": ", 1) for line in lines if line)

    def handle(self, client):
        try:
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head and (data := client.recv(4096)):
                head += data
            with self._lock:
                earlier = len(self.heads)
                self.heads.append(head.split(b"\r\n\r\n")[0].decode("latin-1"))
            if not head.startswith(b"CONNECT "):
                client.sendall(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            elif status := self.refuse(earlier):
                client.sendall(f"HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            else:
                with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self._relay(client, upstream)
        except OSError:
            pass  # the client went away
        finally:
            client.close()

    def _relay(self, client, upstream):
        """Copies bytes both ways until either side closes; one thread, so a TLS socket is never shared."""
        other = {client: upstream, upstream: client}
        while True:
            readable, _, _ = select.select(list(other), [], [])
            for source in readable:
                data = source.recv(65536)
                while data and getattr(source, "pending", lambda: 0)():  # TLS bytes already decrypted
                    data += source.recv(65536)
                if not data:
                    return
                self.relayed += data
                other[source].sendall(data)


@pytest.fixture
def start_proxy():
    """Starts ConnectProxy instances; all are closed after the test."""
    started = []

    def start(*args, **kwargs):
        proxy = ConnectProxy(*args, **kwargs)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.close()


def configuration(base_url):
    return {"base_url": base_url, "api_key": API_KEY, "page_size": "100"}


def api_port(api):
    return api._httpd.server_address[1]


def rows_landed(project):
    if not project.warehouse.exists():
        return 0
    schema, table = WAREHOUSE_TABLE.split(".")
    tables = project.query(
        f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = '{table}'"
    )
    return project.query(f"SELECT count(*) FROM {WAREHOUSE_TABLE}")[0][0] if tables[0][0] else 0


def assert_everything_landed(project, result, api):
    assert result.ok, result.output
    served = {api.dataset.record(index)["record_id"] for index in range(api.dataset.size)}
    assert {row["record_id"] for row in project.rows("record_id")} == served
    assert result.state["next_cursor"]
    assert result.state["last_updated_epoch"] == project.max_epoch()


def assert_nothing_landed(project, result):
    assert not result.ok, result.output
    assert rows_landed(project) == 0
    assert result.state == {}


# NO_PROXY as a CIDR range


@pytest.mark.parametrize("no_proxy", [None, "198.51.100.0/24"], ids=["no NO_PROXY", "NO_PROXY another range"])
def test_an_ip_address_outside_no_proxy_ranges_goes_through_the_proxy(
    tls_api, start_proxy, project, monkeypatch, no_proxy
):
    port = api_port(tls_api)
    proxy = start_proxy(port)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    if no_proxy:
        monkeypatch.setenv("NO_PROXY", no_proxy)

    result = project.sync(configuration(f"https://{UNROUTABLE_IP}:{port}"))

    assert_everything_landed(project, result, tls_api)
    assert proxy.request_lines and set(proxy.request_lines) == {f"CONNECT {UNROUTABLE_IP}:{port} HTTP/1.0"}


def test_an_ip_address_inside_a_no_proxy_cidr_range_bypasses_the_proxy(
    tls_api, start_proxy, project, monkeypatch, set_limits
):
    set_limits(connect_timeout=0.5)
    port = api_port(tls_api)
    proxy = start_proxy(port)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "192.0.2.0/24")

    result = project.sync(configuration(f"https://{UNROUTABLE_IP}:{port}"))

    assert_nothing_landed(project, result)
    assert f"could not reach {UNROUTABLE_IP}:{port}" in result.output
    assert proxy.heads == []
    assert tls_api.requests_served == 0


# NO_PROXY as host:port


def test_a_no_proxy_host_and_port_bypasses_the_proxy_for_that_port(tls_api, start_proxy, project, monkeypatch):
    port = api_port(tls_api)
    proxy = start_proxy(port)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", f"{UNRESOLVABLE_HOST}:{port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_nothing_landed(project, result)
    assert f"could not reach {UNRESOLVABLE_HOST}:{port} (host name not found)" in result.output
    assert proxy.heads == []


def test_a_no_proxy_host_with_another_port_does_not_bypass_the_proxy(tls_api, start_proxy, project, monkeypatch):
    port = api_port(tls_api)
    proxy = start_proxy(port)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", f"{UNRESOLVABLE_HOST}:{port + 1 if port < 65535 else port - 1}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_everything_landed(project, result, tls_api)
    assert proxy.request_lines and set(proxy.request_lines) == {f"CONNECT {UNRESOLVABLE_HOST}:{port} HTTP/1.0"}


# ALL_PROXY, and a proxy that speaks TLS itself


@pytest.mark.parametrize("variable", ["ALL_PROXY", "all_proxy"])
def test_all_proxy_alone_is_used_as_the_tunnel(tls_api, start_proxy, project, monkeypatch, variable):
    port = api_port(tls_api)
    proxy = start_proxy(port)
    monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_everything_landed(project, result, tls_api)
    assert proxy.request_lines and set(proxy.request_lines) == {f"CONNECT {UNRESOLVABLE_HOST}:{port} HTTP/1.0"}
    assert API_KEY.encode() not in proxy.relayed


def test_an_https_proxy_is_reached_over_tls_and_sees_no_key(tls_api, certificate, start_proxy, project, monkeypatch):
    port = api_port(tls_api)
    proxy = start_proxy(port, tls=server_context(certificate))
    monkeypatch.setenv("HTTPS_PROXY", f"https://localhost:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_everything_landed(project, result, tls_api)
    assert proxy.request_lines and set(proxy.request_lines) == {f"CONNECT {UNRESOLVABLE_HOST}:{port} HTTP/1.0"}
    assert proxy.relayed and API_KEY.encode() not in proxy.relayed


def test_an_https_proxy_with_an_untrusted_certificate_is_never_used(
    tls_api, untrusted_certificate, start_proxy, project, monkeypatch, no_backoff_sleep
):
    port = api_port(tls_api)
    proxy = start_proxy(port, tls=server_context(untrusted_certificate))
    monkeypatch.setenv("HTTPS_PROXY", f"https://localhost:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_nothing_landed(project, result)
    assert "is not trusted" in result.output
    assert proxy.heads == []  # no CONNECT, so no request, ever reached it
    assert no_backoff_sleep == []
    assert tls_api.requests_served == 0


# A proxy refusing the tunnel


def test_a_proxy_asking_for_credentials_fails_the_sync_at_once_saying_where_to_put_them(
    tls_api, start_proxy, project, monkeypatch, no_backoff_sleep
):
    port = api_port(tls_api)
    proxy = start_proxy(port, refuse=lambda earlier: 407)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_nothing_landed(project, result)
    assert (
        f"the proxy 127.0.0.1:{proxy.port} (HTTPS_PROXY) asks for credentials (HTTP 407): put them in the proxy "
        "address, e.g. HTTPS_PROXY=http://user:password@proxy.example.com:3128"
    ) in result.output
    assert proxy.request_lines == [f"CONNECT {UNRESOLVABLE_HOST}:{port} HTTP/1.0"]
    assert no_backoff_sleep == []
    assert tls_api.requests_served == 0


def test_a_proxy_forbidding_the_tunnel_fails_the_sync_at_once(
    tls_api, start_proxy, project, monkeypatch, no_backoff_sleep
):
    port = api_port(tls_api)
    proxy = start_proxy(port, refuse=lambda earlier: 403)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_nothing_landed(project, result)
    refusal = f"the proxy 127.0.0.1:{proxy.port} (HTTPS_PROXY) refused to open a tunnel to the API (HTTP 403)"
    assert refusal in result.output
    assert proxy.request_lines == [f"CONNECT {UNRESOLVABLE_HOST}:{port} HTTP/1.0"]
    assert no_backoff_sleep == []


def test_a_proxy_failing_to_open_a_tunnel_once_is_retried_and_the_sync_completes(
    tls_api, start_proxy, project, monkeypatch, no_backoff_sleep
):
    port = api_port(tls_api)
    proxy = start_proxy(port, refuse=lambda earlier: 503 if earlier == 0 else None)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_everything_landed(project, result, tls_api)
    assert len(proxy.request_lines) >= 2  # the refused CONNECT, then the one that tunnelled
    assert set(proxy.request_lines) == {f"CONNECT {UNRESOLVABLE_HOST}:{port} HTTP/1.0"}
    assert len(no_backoff_sleep) == 1


def test_a_proxy_rejecting_the_credentials_it_was_sent_says_to_check_them_not_to_bypass_it(
    tls_api, start_proxy, project, monkeypatch, no_backoff_sleep
):
    port = api_port(tls_api)
    proxy = start_proxy(port, refuse=lambda earlier: 407)
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:wr0ng-pass@127.0.0.1:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_nothing_landed(project, result)
    assert (
        f"page 1: the proxy 127.0.0.1:{proxy.port} (HTTPS_PROXY) rejected the user and password it was sent "
        "(HTTP 407): check the proxy user and password in HTTPS_PROXY"
    ) in result.output
    assert "NO_PROXY" not in result.output and "wr0ng-pass" not in result.output
    assert proxy.request_lines == [f"CONNECT {UNRESOLVABLE_HOST}:{port} HTTP/1.0"]
    assert no_backoff_sleep == []


def test_a_proxy_that_is_down_is_retried_then_named_not_the_api(tls_api, project, monkeypatch, no_backoff_sleep):
    closed = socket.create_server(("127.0.0.1", 0))
    down_port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more: connections are refused
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:s3cret-pass@127.0.0.1:{down_port}")
    port = api_port(tls_api)

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_nothing_landed(project, result)
    assert (
        f"page 1: could not reach the proxy 127.0.0.1:{down_port} (HTTPS_PROXY) (connection refused) after 6 "
        "attempts; check HTTPS_PROXY and that the proxy is up"
    ) in result.output
    assert f"could not reach {UNRESOLVABLE_HOST}" not in result.output and "s3cret-pass" not in result.output
    assert len(no_backoff_sleep) == 5  # the network's fault: a proxy restarting comes back


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (
            "ftp://user:s3cret-pass@127.0.0.1:2121",
            "the proxy 127.0.0.1:2121 (HTTPS_PROXY) has a scheme the connector "
            "cannot use (ftp): write it as http://host:port or https://host:port",
        ),
        (
            "http://user:s3cret-pass@127.0.0.1:not-a-port",
            "the proxy address in HTTPS_PROXY cannot be read: write it as http://host:port",
        ),
    ],
    ids=["unsupported scheme", "malformed address"],
)
def test_a_proxy_address_that_cannot_be_used_is_named_by_its_variable_and_not_retried(
    tls_api, project, monkeypatch, no_backoff_sleep, address, message
):
    monkeypatch.setenv("HTTPS_PROXY", address)

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{api_port(tls_api)}"))

    assert_nothing_landed(project, result)
    assert f"page 1: {message}" in result.output
    assert "s3cret-pass" not in result.output
    assert no_backoff_sleep == [] and tls_api.requests_served == 0


# Credentials in the proxy address


def test_proxy_credentials_reach_the_proxy_as_basic_auth_and_never_the_output(
    tls_api, start_proxy, project, monkeypatch
):
    port = api_port(tls_api)
    proxy = start_proxy(port)
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:pa%40ss@127.0.0.1:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_everything_landed(project, result, tls_api)
    basic = base64.b64encode(b"user:pa@ss").decode()
    assert proxy.headers_of(0)["Proxy-Authorization"] == f"Basic {basic}"
    for secret in ("pa@ss", "pa%40ss", basic, basic.rstrip("=")):
        assert secret not in result.output


def test_proxy_credentials_never_reach_the_output_when_the_proxy_refuses_them(
    tls_api, start_proxy, project, monkeypatch
):
    port = api_port(tls_api)
    proxy = start_proxy(port, refuse=lambda earlier: 407)
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:pa%40ss@127.0.0.1:{proxy.port}")

    result = project.sync(configuration(f"https://{UNRESOLVABLE_HOST}:{port}"))

    assert_nothing_landed(project, result)
    assert "HTTP 407" in result.output
    assert "Proxy-Authorization" in proxy.headers_of(0)
    basic = base64.b64encode(b"user:pa@ss").decode()
    for secret in ("pa@ss", "pa%40ss", basic, basic.rstrip("=")):
        assert secret not in result.output


# A loopback API is never proxied


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_api_is_never_proxied_whatever_the_environment_says(start_proxy, tmp_path, monkeypatch, host):
    with LocalFprApi(Dataset(size=RECORDS, seed=8), api_key=API_KEY) as api:
        proxy = start_proxy(api_port(api))
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
            monkeypatch.setenv(name.lower(), f"http://127.0.0.1:{proxy.port}")
        project = Project(tmp_path / "project")

        result = project.sync(configuration(f"http://{host}:{api_port(api)}"))

        assert_everything_landed(project, result, api)
    assert proxy.heads == []

"""Every failure names its real cause, and only what another attempt could change is retried.

Certificates are made in the test (tests/certificates.py) and presented by real TLS servers on
loopback; the local FPR API serves a firewall's page and answers whose length is declared twice.
Each failure is checked for its message, for the number of attempts it took (one, where a retry
cannot help: no wait was recorded), for the time it took, and for the state it leaves, from which
the next sync must be able to go on.
"""

import ssl
import time
import warnings

import pytest
from certificates import Authority, HandshakeServer, server_context
from conftest import API_KEY, configuration_for
from scripted_api import ScriptedApi

BOUND_SECONDS = 20  # far more than any of these takes; a retry with its backoff, or a read timeout, takes longer
HTTP2_SETTINGS_AND_GOAWAY = (
    b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame: the server's preface
    b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"  # GOAWAY, PROTOCOL_ERROR
)
TLS_ALERT = b"\x15\x03\x03\x00\x02\x02\x46"  # a TLS record: fatal alert, protocol_version


@pytest.fixture(scope="module")
def authority():
    return Authority()


@pytest.fixture
def trusted(authority, tmp_path, monkeypatch):
    """REQUESTS_CA_BUNDLE holds the test's authority, and no proxy from the machine is used."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.write(tmp_path)))
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return authority


def https_configuration(port, host="localhost"):
    return {"base_url": f"https://{host}:{port}", "api_key": API_KEY, "page_size": "100"}


def timed_sync(project, configuration):
    started = time.monotonic()
    result = project.sync(configuration)
    return result, time.monotonic() - started


def assert_failed_at_once(result, seconds, no_backoff_sleep, message):
    assert not result.ok
    assert message in result.output, result.output
    assert no_backoff_sleep == []  # a retry waits first: none was made
    assert seconds < BOUND_SECONDS
    assert result.state == {}  # nothing checkpointed: the next sync starts from the beginning


# Certificates


@pytest.mark.parametrize(
    ("certificate", "message", "wrong_advice"),
    [
        (
            {"valid_days": (-10, -1)},
            "page 1: the TLS certificate of localhost:{port} has expired: its operator must renew it",
            "REQUESTS_CA_BUNDLE",
        ),
        (
            {"valid_days": (2, 10)},
            "page 1: the TLS certificate of localhost:{port} is not valid yet: check this machine's date, time",
            "REQUESTS_CA_BUNDLE",
        ),
        (
            {"names": ("api.other.test",)},
            "page 1: the TLS certificate of localhost:{port} was issued for another host name: write base_url with "
            "a host name the certificate names",
            "REQUESTS_CA_BUNDLE",
        ),
        (
            {"issuer": "another authority"},
            "page 1: the TLS certificate of localhost:{port} is not trusted: check base_url, or point "
            "REQUESTS_CA_BUNDLE at your certificate authorities",
            "expired",
        ),
    ],
    ids=["expired", "not yet valid", "issued for another name", "untrusted issuer"],
)
def test_each_certificate_problem_is_named_with_its_own_advice_and_not_retried(
    trusted, tmp_path, project, no_backoff_sleep, certificate, message, wrong_advice
):
    issuer = Authority("Another Authority") if certificate.pop("issuer", None) else trusted
    pem = issuer.issue(tmp_path, **certificate)

    with HandshakeServer(server_context(pem)) as server:
        result, seconds = timed_sync(project, https_configuration(server.port))

    assert_failed_at_once(result, seconds, no_backoff_sleep, message.format(port=server.port))
    assert wrong_advice not in result.output.split("page 1:", 1)[1]
    assert server.connections == 1


# Handshakes and protocols


def tls_1_0_only(pem):
    """A server context speaking TLS 1.0 alone; this machine's OpenSSL allows it at security level 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # as it should be: that is the server's fault here
        context = server_context(pem, minimum_version=ssl.TLSVersion.TLSv1, maximum_version=ssl.TLSVersion.TLSv1)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def client_certificate_required(pem, authority_file):
    context = server_context(pem, verify_mode=ssl.CERT_REQUIRED)
    context.load_verify_locations(authority_file)
    return context


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (
            "tls 1.0 only",
            "page 1: localhost:{port} offers only TLS versions older than 1.2, which the connector refuses: its "
            "operator must enable TLS 1.2 or 1.3",
        ),
        (
            "plain http on the tls port",
            "page 1: localhost:{port} answered in plain HTTP, not TLS: the address says https:// but that port does "
            "not speak TLS; check the port in base_url",
        ),
        (
            "http/2 only over tls",
            "page 1: localhost:{port} speaks only HTTP/2, and the connector HTTP/1.1",
        ),
    ],
)
def test_a_handshake_or_protocol_no_retry_can_change_is_named_and_not_retried(
    trusted, tmp_path, project, no_backoff_sleep, server, message
):
    pem = trusted.issue(tmp_path)
    servers = {
        "tls 1.0 only": lambda: HandshakeServer(tls_1_0_only(pem)),
        "plain http on the tls port": lambda: HandshakeServer(
            None, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        "http/2 only over tls": lambda: HandshakeServer(server_context(pem), HTTP2_SETTINGS_AND_GOAWAY),
    }

    with servers[server]() as running:
        result, seconds = timed_sync(project, https_configuration(running.port))

    assert_failed_at_once(result, seconds, no_backoff_sleep, message.format(port=running.port))
    assert running.connections == 1
    assert "could not reach" not in result.output


def test_a_server_asking_for_a_client_certificate_in_the_handshake_is_named_and_not_retried(
    trusted, tmp_path, project, no_backoff_sleep
):
    """Up to TLS 1.2 the refusal comes inside the handshake. (In TLS 1.3 it comes after the client's side of the
    handshake is over, and a server that closes before the request is written shows only a connection closed,
    which is retried as the network's fault; that case is not asserted here.)"""
    pem = trusted.issue(tmp_path)
    context = client_certificate_required(pem, tmp_path / "authority.pem")
    context.maximum_version = ssl.TLSVersion.TLSv1_2

    with HandshakeServer(context) as server:
        result, seconds = timed_sync(project, https_configuration(server.port))

    assert_failed_at_once(
        result,
        seconds,
        no_backoff_sleep,
        f"page 1: localhost:{server.port} refused the TLS handshake: it shares no cipher with the connector, or "
        "wants a client certificate",
    )
    assert server.connections == 1


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (HTTP2_SETTINGS_AND_GOAWAY, "page 1: 127.0.0.1:{port} speaks only HTTP/2, and the connector HTTP/1.1"),
        (TLS_ALERT, "page 1: 127.0.0.1:{port} answered in TLS to a plain HTTP request: write base_url with https://"),
    ],
    ids=["http/2 only", "tls on a plain port"],
)
def test_a_server_that_does_not_speak_plain_http_1_1_is_named_and_not_retried(
    project, no_backoff_sleep, answer, message
):
    with HandshakeServer(None, answer) as server:
        result, seconds = timed_sync(
            project, {"base_url": f"http://127.0.0.1:{server.port}", "api_key": API_KEY, "page_size": "100"}
        )

    assert_failed_at_once(result, seconds, no_backoff_sleep, message.format(port=server.port))
    assert server.connections == 1


def test_a_missing_ca_bundle_names_the_variable_to_fix_and_reaches_no_server(
    trusted, tmp_path, project, no_backoff_sleep, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-bundle.pem"))

    with HandshakeServer(server_context(trusted.issue(tmp_path))) as server:
        result, seconds = timed_sync(project, https_configuration(server.port))

    assert_failed_at_once(
        result,
        seconds,
        no_backoff_sleep,
        "page 1: REQUESTS_CA_BUNDLE names a certificate authority bundle that is not there: point it at a PEM file",
    )
    assert server.connections == 0


# Framing


@pytest.mark.parametrize(
    ("form", "how"),
    [
        ("listed", "the same length twice"),
        ("repeated", "the same length twice"),
        ("conflicting", "two different lengths"),
    ],
)
def test_a_length_declared_twice_fails_at_once_and_the_next_sync_completes(
    make_api, project, no_backoff_sleep, set_limits, form, how
):
    set_limits(read_timeout=5)  # were such a body read, six attempts would wait out this timeout: 30 s
    server = make_api(size=250, faults=f"2=two_lengths:{form}")

    first, seconds = timed_sync(project, configuration_for(server))

    assert not first.ok
    assert f"page 2: {server.base_url.split('//')[1]} answered with a malformed Content-Length header ({how}" in (
        first.output
    )
    assert seconds < BOUND_SECONDS
    assert server.requests_served == 2 and no_backoff_sleep == []
    assert first.state["next_cursor"]
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(100,)]

    server.faults = None
    second = project.sync(configuration_for(server))

    assert second.ok, second.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(250,)]


# Answers that are not the API's


def test_a_firewalls_html_403_names_who_answered_and_never_blames_the_key(make_api, project, no_backoff_sleep):
    server = make_api(size=250, faults="2=waf_block")

    first = project.sync(configuration_for(server))

    assert not first.ok
    assert (
        'page 2: the answer (HTTP 403) did not come from the FPR API but from Cloudflare, reading "Attention '
        'Required! | Cloudflare": a firewall, CDN or gateway in front of it refused the request before the API key '
        "was checked"
    ) in first.output
    assert "key was rejected" not in first.output and "check 'api_key'" not in first.output
    assert no_backoff_sleep == []
    assert first.state["next_cursor"]

    server.faults = None
    second = project.sync(configuration_for(server))

    assert second.ok, second.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(250,)]


@pytest.mark.parametrize(
    ("headers", "who"),
    [
        ({"X-Amz-Cf-Id": "abc123", "Via": "1.1 abc.cloudfront.net (CloudFront)"}, "from Amazon CloudFront"),
        ({"Server": "AkamaiGHost"}, "from Akamai"),
        ({"Via": "1.1 gateway.corp.example"}, "from a proxy or cache (Via: 1.1 gateway.corp.example)"),
        ({"X-Cache": "MISS from edge-7"}, "from a proxy or cache (X-Cache: MISS from edge-7)"),
        ({}, "from a server calling itself BaseHTTP"),
    ],
    ids=["cloudfront", "akamai", "via", "x-cache", "only a server name"],
)
def test_a_page_not_from_the_api_says_who_sent_it_as_far_as_its_headers_tell(project, no_backoff_sleep, headers, who):
    page = b"<html><head><title>Access denied</title></head><body>Contact jane.roe@bank.example</body></html>"
    with ScriptedApi() as server:
        server.answer(status=401, body=page, headers={"Content-Type": "text/html", **headers})
        result = project.sync({"base_url": server.base_url, "api_key": API_KEY, "page_size": "100"})

    assert not result.ok
    assert f"page 1: the answer (HTTP 401) did not come from the FPR API but {who}" in result.output
    assert 'reading "Access denied"' in result.output
    assert "key was rejected" not in result.output
    assert "jane.roe" not in result.output
    assert no_backoff_sleep == []


def test_the_apis_own_403_still_blames_the_key(make_api, project):
    server = make_api(size=50, faults="1=status:403")

    result = project.sync(configuration_for(server))

    assert "page 1: the API key was rejected (HTTP 403): check 'api_key'" in result.output
    assert "did not come from the FPR API" not in result.output


def test_a_title_quoting_the_key_or_an_email_is_masked_but_the_advice_around_it_is_not(project, no_backoff_sleep):
    page = f"<html><title>Blocked {API_KEY} for jane.roe@bank.example</title></html>".encode()
    with ScriptedApi() as server:
        server.answer(status=403, body=page, headers={"Content-Type": "text/html", "Server": "cloudflare"})
        result = project.sync({"base_url": server.base_url, "api_key": API_KEY, "page_size": "100"})

    assert 'from Cloudflare, reading "Blocked *** for <email>"' in result.output
    assert API_KEY not in result.output and "jane.roe" not in result.output

"""What a failed exchange means: its cause named, and whether another attempt could change anything.

Only the network's faults are retried (a reset, a timeout, a refused connection, to the API or to
its proxy). A certificate, a TLS version, a server that does not speak HTTP/1.1, an answer framed
two ways, a proxy's refusal or address, a CA bundle that is not there: each fails at once with the
advice that fits it, since the next attempt would meet it again. Messages are the connector's own
words; an exception's text, which may hold URLs, is never shown.
"""

import http.client  # a malformed or cut answer
import os  # the CA bundle variable that is set
import re  # a proxy's refusal status, a Content-Length's values
import socket  # a host name not found
import ssl  # certificates and handshakes

import requests  # its exception classes

# urllib3 comes with requests and is reached through it, so the deployment's import scan finds only requests.
from requests.packages.urllib3 import exceptions as urllib3_errors

from fpr import safe_log
from fpr.body import BodyCutShort
from fpr.errors import FprError, Transient
from fpr.proxy import Proxy

_UNNAMED_PROXY = Proxy("", "", "", False)  # a refusal's, when the environment names no proxy
_TUNNEL_REFUSED = re.compile(r"Tunnel connection failed: (\d{3})")
_LENGTHS = re.compile(r"Content-Length contained multiple unmatching values \(([\d, ]{1,80})\)")

# OpenSSL's verification codes (X509_V_ERR_*), by what the user can do about them.
_EXPIRED, _NOT_YET_VALID = 10, 9
_NAME_MISMATCH = (62, 64)  # host name, IP address
_UNTRUSTED = (2, 18, 19, 20, 21)  # issuer unknown, self-signed, chain incomplete

# OpenSSL's reasons for a handshake that failed, by cause.
_PLAIN_HTTP = {"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL"}
_OLD_TLS = {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE"}
_CLIENT_CERTIFICATE = {"TLSV13_ALERT_CERTIFICATE_REQUIRED", "PEER_DID_NOT_RETURN_A_CERTIFICATE"}
_REFUSED_HANDSHAKE = {"SSLV3_ALERT_HANDSHAKE_FAILURE", "NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE"}
_HTTP2_ONLY = {"TLSV1_ALERT_NO_APPLICATION_PROTOCOL"}

# The network's faults, retried; the first that matches names it, the more specific first.
_NETWORK = (
    (requests.exceptions.ConnectTimeout, "connect timed out"),
    (socket.gaierror, "host name not found"),
    (ConnectionRefusedError, "connection refused"),
    (TimeoutError, "timed out"),
    (http.client.RemoteDisconnected, "connection dropped"),
    (ConnectionResetError, "connection reset"),
    (BrokenPipeError, "connection dropped"),
    (ssl.SSLError, "TLS handshake failed"),
)


def classify(error: BaseException, address: str, proxy: Proxy = None) -> Exception:
    """The exception a failed exchange with the API at `address` (host:port) calls for.

    Returns:
        Transient: kind "connection" (the API) or "proxy" (its proxy) for the network's faults, "body" for a
            body cut short.
        FprError: anything another attempt would meet again, named with what to do.
    """
    chain = causes_of(error)
    found = (
        _missing_ca_bundle(chain)
        or _proxy_problem(chain, proxy)
        or _tls_problem(chain, address, "base_url")
        or _protocol_problem(chain, address)
    )
    if found is not None:
        return found
    if _first(chain, (http.client.IncompleteRead, BodyCutShort)):
        return Transient("was cut short", "body")
    reason = _network_reason(chain)
    if reason:
        return Transient(reason, "connection")
    problem = _first(chain, http.client.HTTPException)
    if problem is not None:
        return Transient(f"malformed HTTP answer ({type(problem).__name__})", "connection")
    return Transient(type(error).__name__, "connection")


def framing_problem(address: str, headers) -> FprError:
    """An answer whose length is declared more than once or not as a number, whose end no reader can know.

    `headers` are the answer's (requests joins repeated lines with ", "); None when they are sound.
    """
    declared = headers.get("Content-Length")
    if declared is None or headers.get("Transfer-Encoding"):
        return None
    values = [value.strip() for value in declared.split(",")]
    if len(values) == 1 and values[0].isdigit():
        return None
    return _framing_error(address, values)


def _framing_error(address: str, values: list) -> FprError:
    if all(value.isdigit() for value in values):
        how = "the same length twice" if len(set(values)) == 1 else "two different lengths"
        shown = ", ".join(values[:4])
    else:
        how, shown = "a length that is not a number", "not shown"
    return FprError(
        safe_log.say(
            "{} answered with a malformed Content-Length header ({}: {}), so where the answer ends cannot be "
            "known; a server or proxy on the way is broken: report it to whoever runs the API",
            address,
            how,
            shown,
        )
    )


def _missing_ca_bundle(chain: list):
    problem = next((cause for cause in chain if "CA certificate bundle" in str(cause)), None)
    if problem is None:
        return None
    variable = next((name for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(name)), "")
    return FprError(
        safe_log.say(
            "{} names a certificate authority bundle that is not there: point it at a PEM file of your "
            "certificate authorities, or unset it to use the ones requests brings",
            variable or "the CA bundle setting",
        )
    )


def _proxy_problem(chain: list, proxy):
    """A failure at the proxy; `proxy` is None when the environment names none (a refusal still names one)."""
    refusal = next((match for cause in chain if (match := _TUNNEL_REFUSED.search(str(cause)))), None)
    if refusal:
        return _proxy_refusal(int(refusal.group(1)), proxy or _UNNAMED_PROXY)
    if proxy is None:
        return None
    if _first(chain, (urllib3_errors.ProxySchemeUnknown, requests.exceptions.InvalidSchema)):
        return FprError(
            safe_log.say(
                "{} has a scheme the connector cannot use ({}): write it as http://host:port or https://host:port",
                proxy.named,
                proxy.scheme or "none",
            )
        )
    if _first(chain, (urllib3_errors.LocationParseError, requests.exceptions.InvalidURL)):
        return FprError(
            safe_log.say(
                "the proxy address in {} cannot be read: write it as http://host:port, with user:password@ "
                "before the host if the proxy needs them",
                proxy.variable,
            )
        )
    if not _first(chain, urllib3_errors.ProxyError):
        return None
    found = _tls_problem(chain, proxy.named, proxy.variable)
    if found is not None:
        return found
    return Transient(_network_reason(chain) or "no connection", "proxy")


def _proxy_refusal(status: int, proxy: Proxy) -> Exception:
    if status == 407 and proxy.has_credentials:
        return FprError(
            safe_log.say(
                "{} rejected the user and password it was sent (HTTP 407): check the proxy user and password "
                "in {} with whoever runs the proxy (special characters in them must be URL-encoded, @ as %40)",
                proxy.named,
                proxy.variable,
            )
        )
    if status == 407:
        return FprError(
            safe_log.say(
                "{} asks for credentials (HTTP 407): put them in the proxy address, "
                "e.g. {}=http://user:password@proxy.example.com:3128",
                proxy.named,
                proxy.variable or "HTTPS_PROXY",
            )
        )
    if status >= 500:
        return Transient(f"the proxy could not open a tunnel (HTTP {status})", "connection")
    if proxy.has_credentials:
        return FprError(
            safe_log.say(
                "{} refused to open a tunnel to the API for its user (HTTP {}): ask whoever runs the proxy to "
                "allow base_url's host for that user",
                proxy.named,
                status,
            )
        )
    return FprError(
        safe_log.say(
            "{} refused to open a tunnel to the API (HTTP {}): check that it allows base_url's host, or add the "
            "host to NO_PROXY if it can be reached without the proxy",
            proxy.named,
            status,
        )
    )


def _tls_problem(chain: list, subject: str, setting: str):
    """A certificate or handshake that another attempt would meet again; `setting` is where the address is set."""
    unverified = _first(chain, ssl.SSLCertVerificationError)
    if unverified is not None:
        code, detail = getattr(unverified, "verify_code", None), getattr(unverified, "verify_message", None)
        if code is None and "doesn't match" in str(unverified):
            code = _NAME_MISMATCH[0]  # urllib3 1.x matches the host name itself, after OpenSSL, with no code
        return FprError(_certificate_advice(code, detail, subject, setting))
    reason = getattr(_first(chain, ssl.SSLError), "reason", None) or ""
    if reason in _PLAIN_HTTP:
        return FprError(
            safe_log.say(
                "{} answered in plain HTTP, not TLS: the address says https:// but that port does not speak TLS; "
                "check the port in {}",
                subject,
                setting,
            )
        )
    advice = next((advice for reasons, advice in _HANDSHAKE_ADVICE if reason in reasons), None)
    return FprError(safe_log.say(advice, subject)) if advice else None


_HANDSHAKE_ADVICE = (
    (
        _OLD_TLS,
        "{} offers only TLS versions older than 1.2, which the connector refuses: its operator must enable "
        "TLS 1.2 or 1.3",
    ),
    (
        _CLIENT_CERTIFICATE,
        "{} asks for a TLS client certificate, which the connector does not send: ask its "
        "operator to accept the connection with the API key alone",
    ),
    (
        _REFUSED_HANDSHAKE,
        "{} refused the TLS handshake: it shares no cipher with the connector, or wants a client "
        "certificate; ask its operator which",
    ),
    (_HTTP2_ONLY, "{} speaks only HTTP/2, and the connector HTTP/1.1: ask its operator for an HTTP/1.1 address"),
)


def _certificate_advice(code: int, detail: str, subject: str, setting: str) -> str:
    if code == _EXPIRED:
        return safe_log.say(
            "the TLS certificate of {} has expired: its operator must renew it (if it was renewed, check this "
            "machine's clock); trusting other authorities would not help",
            subject,
        )
    if code == _NOT_YET_VALID:
        return safe_log.say(
            "the TLS certificate of {} is not valid yet: check this machine's date, time and time zone, "
            "or ask its operator why the certificate starts in the future",
            subject,
        )
    if code in _NAME_MISMATCH:
        return safe_log.say(
            "the TLS certificate of {} was issued for another host name: write {} with a host name the "
            "certificate names (not an alias or an IP address), or ask its operator for a certificate for this one",
            subject,
            setting,
        )
    if code in _UNTRUSTED:
        return safe_log.say(
            "the TLS certificate of {} is not trusted: check {}, or point REQUESTS_CA_BUNDLE at your "
            "certificate authorities if it uses a private one",
            subject,
            setting,
        )
    if not detail:
        return safe_log.say("the TLS certificate of {} could not be verified", subject)
    return safe_log.say("the TLS certificate of {} could not be verified ({})", subject, safe_log.printable(detail))


def _protocol_problem(chain: list, address: str):
    """An answer that is not HTTP/1.1, or whose length is declared two ways."""
    conflict = next((match for cause in chain if (match := _LENGTHS.search(str(cause)))), None)
    if conflict:
        return _framing_error(address, [value.strip() for value in conflict.group(1).split(",")])
    unknown = _first(chain, http.client.UnknownProtocol)
    if unknown is not None and str(unknown.args[0] if unknown.args else "").startswith("HTTP/2"):
        return _http2_only(address)
    status_line = _first(chain, http.client.BadStatusLine)
    if status_line is None or isinstance(status_line, http.client.RemoteDisconnected):
        return None
    line = str(status_line.args[0] if status_line.args else "")
    if _is_http2_frame(line) or line.startswith("HTTP/2"):
        return _http2_only(address)
    if line[:2] in ("\x15\x03", "\x16\x03"):  # a TLS alert or handshake record
        return FprError(
            safe_log.say("{} answered in TLS to a plain HTTP request: write base_url with https://", address)
        )
    return FprError(
        safe_log.say(
            "{} did not answer in HTTP/1.1 (its first line is not an HTTP status line): check the port in base_url",
            address,
        )
    )


def _is_http2_frame(line: str) -> bool:
    """Whether the line starts as an HTTP/2 frame: a 24-bit length, then a type from DATA (0) to CONTINUATION (9)."""
    return len(line) >= 9 and line[0] == "\x00" and line[3] <= "\x09"


def _http2_only(address: str) -> FprError:
    return FprError(
        safe_log.say(
            "{} speaks only HTTP/2, and the connector HTTP/1.1: ask the API's operator for an HTTP/1.1 address",
            address,
        )
    )


def _network_reason(chain: list) -> str:
    return next((reason for kinds, reason in _NETWORK if _first(chain, kinds)), "")


def causes_of(error: BaseException) -> list:
    """The exception and every exception it wraps (as cause, context, reason or argument), outermost first."""
    found, queue = [], [error]
    while queue and len(found) < 20:
        current = queue.pop(0)
        if not isinstance(current, BaseException) or any(current is seen for seen in found):
            continue
        found.append(current)
        queue += [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
    return found


def _first(chain: list, kinds):
    return next((cause for cause in chain if isinstance(cause, kinds)), None)

"""The bodies and writers behind the hostile faults of fpr_local_api.faults.

Poisoned values and field names, a gzip bomb, JSON nested without end, and the writers
that send a page slowly, without end, very large, in another charset, or as an error
that quotes personal data. Each writer takes (argument, page, handler, pause), where
`pause(seconds)` waits and returns True once the server is stopping. Writers that stream
return (outcome, bytes of the response written); the others return None.
"""

import base64
import codecs
import hashlib
import json
import math
import threading
import zlib
from urllib.parse import quote

MIB = 1 << 20
MB = 1_000_000
STALLED_CLIENT_SECONDS = 30  # a client that reads nothing for this long is given up, not waited on forever

COMPLETE = "complete"
CLIENT_GONE = "client gone"
CLIENT_STALLED = "client stalled"
SERVER_STOPPED = "server stopped"

CONTROL_TEXT = "Deposit\x00 12.50\x01\x02\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f end"
POISON_NUMBERS = {
    "tiny_rate": 1e-05,
    "huge_amount": 1e16,
    "smallest_double": 5e-324,
    "largest_double": 1.7976931348623157e308,
    "count_over_32_bits": 2**40,
    "count_over_64_bits": 2**70,
}
LONG_FIELD_NAME = ("long_field_name_" * 19)[:300]
POISON_FIELD_NAMES = (
    "",
    "bad\ud800name",
    "   ",
    "a.b",
    "Record ID",
    "_fivetran_synced",
    LONG_FIELD_NAME,
    "person@example.com",
)
POISON_FIELD_VALUE = "plain value"
# Names with letters beyond ASCII, the first one a charset can encode goes into the page.
CHARSET_NAMES = ("José Müller", "Łukasz Żółć", "Дмитрий Иванов", "Ελένη Παπά", "李小龍")
# Shaped like an access token (40 base64 characters); an error body quotes it as a careless server would.
LEAKED_TOKEN = base64.b64encode(hashlib.sha256(b"fpr-local-api trace token").digest()[:30]).decode()
LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>\n"
    b'<form method="post" action="/login"><h1>Sign in to continue</h1>\n'
    b'<label>Email <input type="email" name="email"></label>\n'
    b'<label>Password <input type="password" name="password"></label>\n'
    b'<button type="submit">Sign in</button></form>\n</body></html>\n'
)
_FILLER_TEXT = " | deposit 1,250.00; card payment 86.40; transfer 310.25; standing order 95.00"


# --------------------------------------------------------------------------- arguments


def positive_number(text):
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"expected a positive number, got {text!r}")
    return value


def positive_integer(text):
    value = int(text)
    if value < 1:
        raise ValueError(f"expected a whole number of at least 1, got {text!r}")
    return value


def seconds(text):
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"expected seconds, got {text!r}")
    return value


def one_of(text, choices):
    if text not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
    return text


def interim_status(text):
    value = int(text or 103)
    if not 100 <= value <= 199 or value == 101:
        raise ValueError(f"expected an interim status from 100 to 199 other than 101, got {text!r}")
    return value


def http_status(text):
    value = int(text or 400)
    if not 400 <= value <= 599:
        raise ValueError(f"expected an error status from 400 to 599, got {text!r}")
    return value


def charset(text):
    try:
        codecs.lookup(text)
    except LookupError:
        raise ValueError(f"unknown charset {text!r}") from None
    name_in(text)  # raises if the charset holds no letter beyond ASCII
    return text


def name_in(charset_name):
    """The first of CHARSET_NAMES that `charset_name` can encode.

    Raises:
        ValueError: it can encode none of them (ASCII, for example).
    """
    for name in CHARSET_NAMES:
        try:
            name.encode(charset_name)
        except UnicodeEncodeError:
            continue
        return name
    raise ValueError(f"charset {charset_name!r} cannot encode any of {CHARSET_NAMES}")


# --------------------------------------------------------------------------- bodies

_bombs = {}
_bombs_lock = threading.Lock()


def gzip_bomb(mib):
    """Gzip bytes that unpack to exactly `mib` MiB of a valid, all-space page. Built once per size, then cached.

    Compressed 1 MiB at a time, so the unpacked bytes are never held in memory.
    """
    size = int(mib * MIB)
    with _bombs_lock:
        if size not in _bombs:
            _bombs[size] = _compress_page_of_spaces(size)
        return _bombs[size]


def _compress_page_of_spaces(size):
    head, tail = b'{"fpr_records": [', b'], "next_cursor": null, "has_more": false}'
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    parts = [compressor.compress(head)]
    block = b" " * MIB
    whole, rest = divmod(max(size - len(head) - len(tail), 0), MIB)
    parts += [compressor.compress(block) for _ in range(whole)]
    parts += [compressor.compress(block[:rest]), compressor.compress(tail), compressor.flush()]
    return b"".join(parts)


def deep_json(depth):
    """A page whose fpr_records is `depth` nested lists; built by repetition, not recursion."""
    return b'{"fpr_records": ' + b"[" * depth + b"]" * depth + b', "next_cursor": null, "has_more": false}'


def poison_values(records):
    """Copies of `records` with the poisoned values of the poison_values fault."""
    records = [dict(record) for record in records]
    defects = [
        {"customer_name": "Jos\ud800"},
        {"product_terms": "Fixed \udfff Rate"},
        {"transaction_history": CONTROL_TEXT},
        POISON_NUMBERS,
    ]
    for record, defect in zip(records, defects, strict=False):
        record.update(defect)
    return records


def poison_field_names(records):
    """Copies of `records`, each with every field of POISON_FIELD_NAMES added."""
    extra = dict.fromkeys(POISON_FIELD_NAMES, POISON_FIELD_VALUE)
    return [{**record, **extra} for record in records]


def error_quoting_pii(customer, key):
    """An error body quoting a customer's name and email, `key` in three forms, and LEAKED_TOKEN."""
    name, email = customer["customer_name"], customer["customer_email"]
    encoded = quote(key, safe="")
    basic = base64.b64encode(key.encode()).decode()
    return {
        "error": "invalid_request",
        "message": (
            f"request rejected for {name} <{email}>: key {key} (sent as api_key={encoded}, "
            f"Authorization: Basic {basic}) is not valid for this account; trace token {LEAKED_TOKEN}"
        ),
        "customer": {"name": name, "email": email},
        "request": {"x-api-key": key, "query": f"api_key={encoded}", "authorization": f"Basic {basic}"},
        "trace_token": LEAKED_TOKEN,
    }


# --------------------------------------------------------------------------- writers


def send_slow_headers(seconds, page, handler, pause, options=None):
    payload = json.dumps(page).encode()
    head = _head(handler, 200, {"Content-Type": "application/json", "Content-Length": str(len(payload))})
    outcome, sent = _trickle(handler, head, seconds, pause)
    if outcome == COMPLETE:
        outcome, body_sent = _write_all(handler, [payload])
        sent += body_sent
    return _finish(handler, outcome, sent)


def send_slow_body(seconds, page, handler, pause, options=None):
    """Normal headers, then the body one byte every `seconds`, framed as options["framing"] says.

    keep-alive (the default): Content-Length, the connection kept; close: Content-Length and
    Connection: close; http10: an HTTP/1.0 answer without Content-Length, whose body ends when the
    connection closes; chunked: every byte a chunk of its own.
    """
    framing = (options or {}).get("framing", "keep-alive")
    payload = json.dumps(page).encode()
    version, headers, pieces = _framed(framing, payload)
    outcome, sent = _write_all(handler, [_head(handler, 200, headers, version)])
    if outcome == COMPLETE:
        outcome, body_sent = _trickle_pieces(handler, pieces, seconds, pause)
        sent += body_sent
    if framing in ("close", "http10"):
        handler.close_connection = True
    return _finish(handler, outcome, sent)


FRAMINGS = ("keep-alive", "close", "http10", "chunked")


def _framed(framing, payload):
    """(HTTP version, headers, body pieces sent one at a time) of a JSON payload in the given framing."""
    headers = {"Content-Type": "application/json"}
    if framing == "chunked":
        return (
            "HTTP/1.1",
            {**headers, "Transfer-Encoding": "chunked"},
            [_chunk(payload[i : i + 1]) for i in range(len(payload))] + [b"0\r\n\r\n"],
        )
    pieces = [payload[i : i + 1] for i in range(len(payload))]
    if framing == "http10":
        return "HTTP/1.0", {**headers, "Connection": "close"}, pieces
    headers["Content-Length"] = str(len(payload))
    if framing == "close":
        headers["Connection"] = "close"
    return "HTTP/1.1", headers, pieces


def send_after_interim(status, page, handler, pause, options=None):
    """One or more interim answers (options["count"], 1 by default) of `status` (103 Early Hints), then the page."""
    interim = _head(handler, status, {"Link": "</fpr_api_spec>; rel=preload"})
    count = int((options or {}).get("count", 1))
    payload = json.dumps(page).encode()
    outcome, sent = _write_all(handler, [interim] * count + [_head(handler, 200, _json_headers(len(payload))), payload])
    return _finish(handler, outcome, sent)


def send_many_headers(count, page, handler, pause, options=None):
    """The page with `count` extra Set-Cookie header lines, as a proxy or firewall in front of an API may add."""
    payload = json.dumps(page).encode()
    head = _head(handler, 200, _json_headers(len(payload))).rstrip(b"\r\n") + b"\r\n"
    cookies = b"".join(b"Set-Cookie: waf_%d=%032x; Path=/; Secure\r\n" % (n, n) for n in range(count))
    outcome, sent = _write_all(handler, [head + cookies + b"\r\n", payload])
    return _finish(handler, outcome, sent)


LENGTH_FORMS = ("repeated", "listed", "conflicting")


def send_with_two_lengths(form, page, handler, pause, options=None):
    """The page with its length declared twice: `repeated` (two equal Content-Length lines), `listed` (one line
    "N, N") or `conflicting` (two lines, the second 7 bytes longer). The connection stays open, as it would
    behind a broken proxy, so a reader that trusts neither length waits for more."""
    payload = json.dumps(page).encode()
    length = len(payload)
    lines = {
        "repeated": [f"Content-Length: {length}", f"Content-Length: {length}"],
        "listed": [f"Content-Length: {length}, {length}"],
        "conflicting": [f"Content-Length: {length}", f"Content-Length: {length + 7}"],
    }[form]
    head = _head(handler, 200, {"Content-Type": "application/json"}).rstrip(b"\r\n") + b"\r\n"
    outcome, sent = _write_all(handler, [head + "".join(line + "\r\n" for line in lines).encode() + b"\r\n", payload])
    return _finish(handler, outcome, sent)


WAF_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Attention Required! | Cloudflare</title></head><body>\n"
    b"<h1>Sorry, you have been blocked</h1>\n<p>This website is using a security service to protect itself "
    b"from online attacks.</p>\n<p>Cloudflare Ray ID: 8f3a2b1c4d5e6f70</p>\n</body></html>\n"
)


def send_endless(_, page, handler, pause, options=None):
    """Streams the page's records, over and over, as one chunked body that never closes its list."""
    records = page.get("fpr_records") or [handler.api.dataset.record(0)]
    repeated = _chunk((", ".join(json.dumps(record) for record in records) + ", ").encode())
    head = _head(handler, 200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    outcome, sent = _write_all(handler, [head, _chunk(b'{"fpr_records": [')])
    handler.connection.settimeout(STALLED_CLIENT_SECONDS)
    while outcome == COMPLETE and not pause(0):
        outcome, written = _write_all(handler, [repeated])
        sent += written
    if outcome == COMPLETE:
        outcome = SERVER_STOPPED
    return _finish(handler, outcome, sent)


def send_big_page(megabytes, page, handler, pause, options=None):
    """The page, padded in transaction_history to `megabytes` MB, written one record at a time."""
    records = page["fpr_records"]
    plain_length = len(json.dumps(page))
    if not records:
        handler.send_json(200, page)
        return None
    extra = max(int(megabytes * MB) - plain_length, 0)
    share, remainder = divmod(extra, len(records))
    filler = (_FILLER_TEXT * (share // len(_FILLER_TEXT) + 2))[: share + 1]
    opening, _, closing = json.dumps({**page, "fpr_records": []}).partition("[]")

    def pieces():
        yield _head(handler, 200, _json_headers(plain_length + extra))
        yield (opening + "[").encode()
        for position, record in enumerate(records):
            padding = filler[: share + (position < remainder)]
            text = json.dumps({**record, "transaction_history": record["transaction_history"] + padding})
            yield (text + (", " if position < len(records) - 1 else "")).encode()
        yield ("]" + closing).encode()

    handler.connection.settimeout(STALLED_CLIENT_SECONDS)
    outcome, sent = _write_all(handler, pieces())
    handler.connection.settimeout(None)
    return _finish(handler, outcome, sent)


def send_in_charset(charset_name, page, handler, pause, options=None):
    records = [dict(record) for record in page["fpr_records"]]
    if records:
        records[0]["customer_name"] = name_in(charset_name)
    payload = json.dumps({**page, "fpr_records": records}, ensure_ascii=False).encode(charset_name)
    handler.send_raw(200, payload, f"application/json; charset={charset_name}")


def send_error_quoting_pii(status, page, handler, pause, options=None):
    records = page.get("fpr_records") or [handler.api.dataset.record(0)]
    handler.send_json(status, error_quoting_pii(records[0], handler.headers.get("x-api-key") or ""))


SENDERS = {
    "slow_headers": send_slow_headers,
    "slow_body": send_slow_body,
    "interim": send_after_interim,
    "many_headers": send_many_headers,
    "endless": send_endless,
    "big_page": send_big_page,
    "charset": send_in_charset,
    "error_quoting_pii": send_error_quoting_pii,
    "two_lengths": send_with_two_lengths,
}


def _json_headers(length):
    return {"Content-Type": "application/json", "Content-Length": str(length)}


def _head(handler, status, headers, version="HTTP/1.1"):
    """The status line and headers as bytes, as send_response() and send_header() would write them."""
    reason = handler.responses[status][0] if status in handler.responses else "Early Hints"
    lines = [
        f"{version} {status} {reason}",
        f"Server: {handler.version_string()}",
        f"Date: {handler.date_time_string()}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _write_all(handler, pieces):
    """Writes each piece; returns (outcome, bytes written). A failed write means the client went away."""
    sent = 0
    try:
        for piece in pieces:
            handler.wfile.write(piece)
            sent += len(piece)
    except TimeoutError:
        return CLIENT_STALLED, sent
    except OSError:  # BrokenPipeError, ConnectionResetError: the client closed the connection
        return CLIENT_GONE, sent
    return COMPLETE, sent


def _trickle(handler, data, seconds, pause):
    """Writes `data` one byte at a time, pausing `seconds` between bytes; returns (outcome, bytes written)."""
    return _trickle_pieces(handler, [data[position : position + 1] for position in range(len(data))], seconds, pause)


def _trickle_pieces(handler, pieces, seconds, pause):
    """Writes each piece, pausing `seconds` between them; returns (outcome, bytes written)."""
    sent = 0
    for position, piece in enumerate(pieces):
        outcome, written = _write_all(handler, [piece])
        sent += written
        if outcome != COMPLETE:
            return outcome, sent
        if position + 1 < len(pieces) and pause(seconds):
            return SERVER_STOPPED, sent
    return COMPLETE, sent


def _finish(handler, outcome, sent):
    if outcome != COMPLETE:
        handler.close_connection = True
    return outcome, sent

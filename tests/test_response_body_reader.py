"""read_body() and decode_json(): a body is read within a deadline and a size cap, decoded, and parsed safely.

These are the units behind the hostile-server tests (tests/test_hostile_servers.py), driven here
with in-memory streams so that each limit can be seen exactly.
"""

import gzip
import io
import zlib

import pytest
from fivetran_connector_sdk import Logging

import connector as fpr_connector
from connector import (
    BodyCutShort,
    DeadlineExceeded,
    FprError,
    HugeInteger,
    Reply,
    TransientError,
    decode_json,
    read_body,
)

FAR = float("inf")  # a deadline that never passes


class Endless(io.RawIOBase):
    """A body that never ends; counts how much was read from it."""

    def __init__(self, piece=b"0" * 65536):
        self.piece = piece
        self.served = 0

    def read(self, size=-1):
        self.served += len(self.piece)
        return self.piece


class Declared(io.BytesIO):
    """A body with a Content-Length header, which may promise more than it holds."""

    def __init__(self, data, length):
        super().__init__(data)
        self.length = length

    def getheader(self, name, default=None):
        return {"Content-Length": str(self.length)}.get(name, default)


def test_an_endless_body_stops_just_past_the_cap_with_a_message_naming_it():
    stream = Endless()

    with pytest.raises(FprError, match=r"larger than 1 MB \(MAX_RESPONSE_BYTES\) once decoded"):
        read_body(stream, None, 1024 * 1024, FAR)

    assert stream.served <= 1024 * 1024 + 65536


def test_a_gzip_bomb_is_refused_without_unpacking_more_than_the_cap():
    bomb = gzip.compress(b" " * (256 * 1024 * 1024), compresslevel=9)  # 256 MiB in about 250 KB
    decoded = []
    real = fpr_connector.BodyDecoder.decode

    def recording(self, data, room):
        out = real(self, data, room)
        decoded.append(len(out))
        return out

    fpr_connector.BodyDecoder.decode = recording
    try:
        with pytest.raises(FprError, match="MAX_RESPONSE_BYTES"):
            read_body(io.BytesIO(bomb), "gzip", 4 * 1024 * 1024, FAR)
    finally:
        fpr_connector.BodyDecoder.decode = real

    assert len(bomb) < 300_000
    assert sum(decoded) <= 4 * 1024 * 1024 + 1  # never more than the cap, plus the byte that shows it is over


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, without the zlib wrapper
        ("identity", lambda data: data),
        (None, lambda data: data),
    ],
)
def test_a_compressed_body_is_decoded(encoding, pack):
    data = b'{"fpr_records": []}' * 1000

    assert read_body(io.BytesIO(pack(data)), encoding, 10**6, FAR) == data


def test_gzip_members_one_after_another_are_all_read():
    body = gzip.compress(b"first,") + gzip.compress(b"second")

    assert read_body(io.BytesIO(body), "gzip", 10**6, FAR) == b"first,second"


def test_many_tiny_gzip_members_cannot_exhaust_the_stack():
    body = gzip.compress(b"") * 5000 + gzip.compress(b"end")

    assert read_body(io.BytesIO(body), "gzip", 10**6, FAR) == b"end"


def test_a_compressed_body_cut_short_is_reported_as_such():
    with pytest.raises(BodyCutShort):
        read_body(io.BytesIO(gzip.compress(b"x" * 10000)[:-20]), "gzip", 10**6, FAR)


def test_a_body_shorter_than_its_content_length_is_cut_short():
    with pytest.raises(BodyCutShort):
        read_body(Declared(b'{"fpr_records": [', 500), None, 10**6, FAR)


def test_an_encoding_the_connector_cannot_read_is_named():
    with pytest.raises(FprError, match="Content-Encoding 'br'"):
        read_body(io.BytesIO(b"..."), "br", 10**6, FAR)


def test_the_deadline_ends_a_body_that_trickles_in(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(fpr_connector, "monotonic", lambda: now[0])

    class Trickle(io.RawIOBase):
        def read(self, size=-1):
            now[0] += 1.0  # one byte a second
            return b"x"

    with pytest.raises(DeadlineExceeded):
        read_body(Trickle(), None, 10**6, deadline=30.0)

    assert now[0] == pytest.approx(31.0)


def test_an_error_body_is_truncated_not_refused():
    assert read_body(Endless(b"e" * 1000), None, 2500, FAR, truncate=True) == b"e" * 2500


def reply(body, content_type="application/json"):
    return Reply(200, content_type, None, body)


def test_an_html_page_is_transient_but_given_only_two_attempts():
    for answer in [reply(b"<html><body>Sign in</body></html>", "text/html"), reply(b"  <!DOCTYPE html><p>", "")]:
        with pytest.raises(TransientError) as raised:
            decode_json(answer, 3)
        assert raised.value.kind == "html" and raised.value.attempts == fpr_connector.HTML_ATTEMPTS == 2


def test_text_that_is_not_json_is_transient():
    with pytest.raises(TransientError) as raised:
        decode_json(reply(b'{"fpr_records": [}'), 1)

    assert raised.value.kind == "body" and raised.value.reason == "was not JSON"


@pytest.mark.parametrize("charset", ["iso-8859-1", "utf-16", "cp1252", "UTF-8"])
def test_the_declared_charset_is_used(charset):
    body = '{"customer_name": "Jos\u00e9 M\u00fcller"}'.encode(charset)

    value = decode_json(reply(body, f"application/json; charset={charset}"), 1)

    assert value == {"customer_name": "Jos\u00e9 M\u00fcller"}


@pytest.fixture
def sdk_log(monkeypatch):
    """Lets the connector log outside a sync, as these tests call its units directly."""
    monkeypatch.setattr(Logging, "LOG_LEVEL", Logging.Level.INFO)


def test_an_unknown_charset_falls_back_to_utf8(sdk_log):
    assert decode_json(reply(b'{"a": 1}', "application/json; charset=no-such-codec"), 1) == {"a": 1}


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(sdk_log):
    value = decode_json(reply(b'{"name": "Jos\xe9"}'), 1)

    assert value == {"name": "Jos\ufffd"}


def test_a_byte_order_mark_is_ignored():
    assert decode_json(reply(b'\xef\xbb\xbf{"a": 1}'), 1) == {"a": 1}


def test_json_nested_too_deeply_fails_with_a_message_not_a_recursion_error():
    deep = b"[" * 100_000 + b"]" * 100_000

    with pytest.raises(FprError, match="page 4: the response nests JSON too deeply to be read"):
        decode_json(reply(deep), 4)


def test_a_body_with_more_values_than_a_page_can_hold_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(fpr_connector, "MAX_JSON_VALUES", 1000)
    body = b"[" + b",".join(b"[]" for _ in range(2000)) + b"]"

    with pytest.raises(FprError, match=r"more than 1,000 JSON values \(MAX_JSON_VALUES\)"):
        decode_json(reply(body), 2)


def test_an_integer_too_long_for_python_is_kept_as_its_digits():
    value = decode_json(reply(b'{"n": ' + b"9" * 5000 + b', "m": 12}'), 1)

    assert isinstance(value["n"], HugeInteger) and value["n"] == "9" * 5000
    assert value["m"] == 12

"""read_body() and decode_json(): a body is read within a size cap, decompressed within it, and parsed safely.

These are the units behind the hostile-server tests (tests/test_hostile_servers.py), driven here
with in-memory streams so that each limit can be seen exactly. The request deadline, which ends a
body that trickles in, is pinned on the wire in tests/test_request_deadline_on_every_framing.py.
"""

import gzip
import io
import zlib

import pytest
from fivetran_connector_sdk import Logging

from fpr.body import BodyCutShort, BodyDecoder, HugeInteger, decode_json, read_body
from fpr.errors import FprError, Transient

MAX_VALUES = 2_000_000


class Endless(io.RawIOBase):
    """A body that never ends; counts how much was read from it."""

    def __init__(self, piece=b"0" * 65536):
        self.piece = piece
        self.served = 0

    def read(self, size=-1):
        self.served += len(self.piece)
        return self.piece


class Pieces(io.RawIOBase):
    """A body served in pieces of at most `size` bytes; records how much each read asked for."""

    def __init__(self, data, size):
        self.data, self.size, self.offset, self.asked = data, size, 0, []

    def read(self, size=-1):
        self.asked.append(size)
        piece = self.data[self.offset : self.offset + self.size]
        self.offset += len(piece)
        return piece


@pytest.fixture
def decoded_sizes(monkeypatch):
    """The size of every piece the decoder hands back, as read_body receives them."""
    sizes, real = [], BodyDecoder.decode

    def recording(self, data, room):
        out = real(self, data, room)
        sizes.append(len(out))
        return out

    monkeypatch.setattr(BodyDecoder, "decode", recording)
    return sizes


def body_of(stream, encoding=None, limit=10**6, declared=None, truncate=False):
    return read_body(stream.read, encoding, declared, limit, truncate)


def test_an_endless_body_stops_just_past_the_cap_with_a_message_naming_it():
    stream = Endless()

    with pytest.raises(FprError, match=r"larger than 1 MB once decoded \(max_body_bytes in connector.py's LIMITS\)"):
        body_of(stream, limit=1024 * 1024)

    assert stream.served <= 1024 * 1024 + 65536


def test_a_body_past_the_cap_fails_unless_truncating_is_asked_for():
    with pytest.raises(FprError, match="larger than"):
        read_body(io.BytesIO(b"x" * 11).read, None, None, 10)  # a page's body: no truncating by default

    assert read_body(io.BytesIO(b"x" * 11).read, None, None, 10, True) == b"x" * 10  # an error answer's


def test_a_gzip_bomb_is_refused_without_unpacking_more_than_the_cap(decoded_sizes):
    bomb = gzip.compress(b" " * (256 * 1024 * 1024), compresslevel=9)  # 256 MiB in about 250 KB

    with pytest.raises(FprError, match="max_body_bytes"):
        body_of(io.BytesIO(bomb), "gzip", limit=4 * 1024 * 1024)

    assert len(bomb) < 300_000
    assert sum(decoded_sizes) <= 4 * 1024 * 1024 + 1  # never more than the cap, plus the byte that shows it is over


def test_a_gzip_bomb_arriving_in_small_pieces_never_unpacks_more_than_the_cap_either(decoded_sizes):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # each KB unpacks to about 1 MB

    with pytest.raises(FprError, match="max_body_bytes"):
        body_of(Pieces(bomb, 1024), "gzip", limit=4 * 1024 * 1024)

    assert len(decoded_sizes) > 1  # the cap was reached over several pieces
    assert sum(decoded_sizes) <= 4 * 1024 * 1024 + 1


def test_a_body_is_read_64_kib_at_a_time_however_much_it_holds():
    stream = Pieces(b"x" * 200_000, 65536)

    assert body_of(stream) == b"x" * 200_000
    assert stream.asked == [65536] * 5  # three full pieces, the rest, and the end


def test_a_body_of_exactly_the_cap_is_taken_whole():
    assert body_of(io.BytesIO(b"y" * 1000), limit=1000) == b"y" * 1000


@pytest.mark.parametrize("encoding", [None, "", "  ", "IDENTITY", " identity "])
def test_no_encoding_in_any_spelling_is_read_as_it_came(encoding):
    assert body_of(io.BytesIO(b"plain"), encoding) == b"plain"


@pytest.mark.parametrize(
    "body",
    [zlib.compress(b"data" * 100), gzip.compress(b"first,") + zlib.compress(b"second")],
    ids=["zlib alone", "a zlib stream after a gzip member"],
)
@pytest.mark.parametrize("encoding", ["gzip", "x-gzip"])
def test_a_body_labelled_gzip_must_be_gzip_throughout(encoding, body):
    with pytest.raises(BodyCutShort):
        body_of(io.BytesIO(body), encoding)


@pytest.mark.parametrize("first", [10, 100, 1000])
def test_the_decoder_never_hands_back_more_than_the_room_it_is_given_across_gzip_members(first):
    data = gzip.compress(b"a" * first) + gzip.compress(b"b" * 5000)

    assert BodyDecoder("gzip").decode(data, 100) == (b"a" * first + b"b" * 5000)[:100]


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

    assert body_of(io.BytesIO(pack(data)), encoding) == data


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", " GZip "])
def test_gzip_members_one_after_another_are_all_read(encoding):
    body = gzip.compress(b"first,") + gzip.compress(b"second")

    assert body_of(io.BytesIO(body), encoding) == b"first,second"


def test_many_tiny_gzip_members_cannot_exhaust_the_stack():
    body = gzip.compress(b"") * 5000 + gzip.compress(b"end")

    assert body_of(io.BytesIO(body), "gzip") == b"end"


def test_a_compressed_body_cut_short_is_reported_as_such():
    with pytest.raises(BodyCutShort):
        body_of(io.BytesIO(gzip.compress(b"x" * 10000)[:-20]), "gzip")


def test_a_body_shorter_than_its_content_length_is_cut_short():
    with pytest.raises(BodyCutShort):
        body_of(io.BytesIO(b'{"fpr_records": ['), declared=500)


def test_a_body_one_byte_short_of_its_content_length_is_cut_short_and_one_of_it_is_not():
    with pytest.raises(BodyCutShort):
        body_of(io.BytesIO(b"z" * 100), declared=101)
    assert body_of(io.BytesIO(b"z" * 100), declared=100) == b"z" * 100


def test_an_encoding_the_connector_cannot_read_is_named():
    with pytest.raises(FprError) as raised:
        body_of(io.BytesIO(b"..."), "br")

    assert str(raised.value) == "the API answered with Content-Encoding 'br', which the connector cannot read"


def test_an_unreadable_encoding_is_quoted_in_at_most_20_characters():
    with pytest.raises(FprError) as raised:
        body_of(io.BytesIO(b"..."), "Compress-ZZZZZZZZZZZZ")  # 21 characters

    assert "Content-Encoding 'compress-zzzzzzzz...', which" in str(raised.value)


def test_an_error_body_is_truncated_not_refused():
    assert body_of(Endless(b"e" * 1000), limit=2500, truncate=True) == b"e" * 2500


def decode(body, number=1, content_type="application/json", max_values=MAX_VALUES):
    return decode_json(bytearray(body), content_type, number, max_values)


def test_an_html_page_is_a_transient_fault_of_its_own_kind():
    for body, content_type in [(b"<html><body>Sign in</body></html>", "text/html"), (b"  <!DOCTYPE html><p>", "")]:
        with pytest.raises(Transient) as raised:
            decode(body, 3, content_type)
        assert raised.value.kind == "html"


def test_text_that_is_not_json_is_transient():
    with pytest.raises(Transient) as raised:
        decode(b'{"fpr_records": [}')

    assert raised.value.kind == "body" and raised.value.reason == "was not JSON"


@pytest.mark.parametrize("charset", ["iso-8859-1", "utf-16", "cp1252", "UTF-8"])
def test_the_declared_charset_is_used(charset):
    body = '{"customer_name": "Jos\u00e9 M\u00fcller"}'.encode(charset)

    value = decode(body, content_type=f"application/json; charset={charset}")

    assert value == {"customer_name": "Jos\u00e9 M\u00fcller"}


@pytest.fixture
def sdk_log(monkeypatch):
    """Lets the connector log outside a sync, as these tests call its units directly."""
    monkeypatch.setattr(Logging, "LOG_LEVEL", Logging.Level.INFO)


def test_an_unknown_charset_falls_back_to_utf8(sdk_log):
    assert decode(b'{"a": 1}', content_type="application/json; charset=no-such-codec") == {"a": 1}


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(sdk_log):
    value = decode(b'{"name": "Jos\xe9"}')

    assert value == {"name": "Jos\ufffd"}


def test_a_byte_order_mark_is_ignored():
    assert decode(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


@pytest.mark.parametrize("body", [b'X{"a": 1}', b'\xef\xbb\xbfX{"a": 1}', b'X{"name": "Jos\xe9"}'])
def test_only_a_byte_order_mark_is_set_aside_before_the_json(sdk_log, body):
    with pytest.raises(Transient) as raised:
        decode(body)

    assert raised.value.kind == "body"


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=klingon"])
def test_bytes_not_utf8_are_reported_by_the_codecs_own_name(monkeypatch, content_type):
    said = []
    monkeypatch.setattr("fpr.safe_log.warning", said.append)

    assert decode(b'{"name": "Jos\xe9"}', 3, content_type=content_type) == {"name": "Jos\ufffd"}
    assert said[-1] == "page 3: the page is not valid utf-8; unreadable bytes replaced with U+FFFD"


def test_json_nested_too_deeply_fails_with_a_message_not_a_recursion_error():
    deep = b"[" * 100_000 + b"]" * 100_000

    with pytest.raises(FprError, match="^the response nests JSON too deeply to be read; check base_url$"):
        decode(deep, 4)


def test_a_body_with_more_values_than_a_page_can_hold_is_refused_before_parsing():
    body = b"[" + b",".join(b"[]" for _ in range(2000)) + b"]"

    with pytest.raises(FprError, match=r"more than 1,000 JSON values \(max_json_values in connector.py's LIMITS\)"):
        decode(body, 2, max_values=1000)


def test_an_integer_too_long_for_python_is_kept_as_its_digits():
    value = decode(b'{"n": ' + b"9" * 5000 + b', "m": 12}')

    assert isinstance(value["n"], HugeInteger) and value["n"] == "9" * 5000
    assert value["m"] == 12


@pytest.mark.parametrize(("digits", "as_number"), [(4300, True), (4301, False)])
def test_integers_up_to_4300_digits_are_read_as_numbers(digits, as_number):
    value = decode(b'{"n": ' + b"7" * digits + b"}")

    assert isinstance(value["n"], int) == as_number
    assert str(value["n"]) == "7" * digits


@pytest.mark.parametrize(("values", "refused"), [(1000, False), (1001, True)])
def test_a_body_may_hold_exactly_as_many_json_values_as_allowed(values, refused):
    body = b"[" + b",".join(b"0" for _ in range(values)) + b"]"  # 999 or 1000 commas and one bracket

    if refused:
        with pytest.raises(FprError, match="more than 1,000 JSON values"):
            decode(body, max_values=1000)
    else:
        assert len(decode(body, max_values=1000)) == values


def test_an_html_content_type_in_any_case_is_an_html_page_whatever_the_body():
    with pytest.raises(Transient) as raised:
        decode(b"Down for maintenance", content_type="Text/HTML; charset=utf-8")

    assert (raised.value.kind, raised.value.reason) == ("html", "was an HTML page")


def test_a_body_starting_with_markup_after_any_whitespace_is_an_html_page():
    with pytest.raises(Transient) as raised:
        decode(b" \r\n\t" * 300 + b"<html>", content_type="application/json")

    assert raised.value.kind == "html"


def test_objects_count_toward_the_json_values_a_body_may_hold():
    body = b"[" + b",".join(b"{}" for _ in range(600)) + b"]"  # 599 commas, 600 braces, 1 bracket

    with pytest.raises(FprError, match="more than 1,000 JSON values"):
        decode(body, max_values=1000)


@pytest.mark.parametrize("charset", ["utf_8", "UTF8", "u8"])
def test_every_name_of_utf8_is_read_as_utf8_keeping_lone_surrogates_for_repair(charset):
    body = '{"name": "Jos\ud800"}'.encode("utf-8", "surrogatepass")  # a lone surrogate, raw in UTF-8

    assert decode(body, content_type=f"application/json; charset={charset}") == {"name": "Jos\ud800"}


def test_a_page_in_another_charset_with_bytes_it_cannot_hold_is_read_with_replacements(sdk_log, monkeypatch):
    said = []
    monkeypatch.setattr("fpr.safe_log.warning", said.append)

    value = decode(b'{"name": "\xff\xfe"}', 7, content_type="application/json; charset=ascii")

    assert value == {"name": "\ufffd\ufffd"}
    assert said == ["page 7: the page is not valid ascii; unreadable bytes replaced with U+FFFD"]


def test_a_byte_order_mark_before_bytes_that_need_replacing_is_ignored_too(sdk_log):
    assert decode(b'\xef\xbb\xbf{"name": "Jos\xe9"}') == {"name": "Jos\ufffd"}


def test_an_unknown_charset_is_named_as_such_and_read_as_utf8(sdk_log, monkeypatch):
    said = []
    monkeypatch.setattr("fpr.safe_log.warning", said.append)

    assert decode(b'{"a": "\xc3\xa9"}', 4, content_type="application/json; charset=klingon") == {"a": "\u00e9"}
    assert said == ["page 4: the API declared an unknown charset; reading the page as UTF-8"]


@pytest.mark.parametrize(
    ("headers", "length"),
    [
        ({"Content-Length": "1234"}, 1234),
        ({"content-length": " 77 "}, 77),
        ({"Content-Length": "12", "Transfer-Encoding": "chunked"}, None),
        ({"Content-Length": "twelve"}, None),
        ({"Content-Length": "-5"}, None),
        ({}, None),
    ],
)
def test_the_declared_length_is_read_only_from_a_plain_content_length(headers, length):
    from requests.structures import CaseInsensitiveDict

    from fpr.body import declared_length

    assert declared_length(CaseInsensitiveDict(headers)) == length


def test_a_deflate_bomb_is_refused_without_unpacking_more_than_the_cap():
    bomb = zlib.compress(b" " * (64 * 1024 * 1024), 9)
    decoded = []
    real = BodyDecoder.decode

    def recording(self, data, room):
        out = real(self, data, room)
        decoded.append(len(out))
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BodyDecoder, "decode", recording)
        with pytest.raises(FprError, match="max_body_bytes"):
            body_of(io.BytesIO(bomb), "deflate", limit=1024 * 1024)

    assert sum(decoded) <= 1024 * 1024 + 1

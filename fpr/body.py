"""A response body: read within its size cap, decompressed within it, and parsed as JSON.

The body is read as it came over the wire and decompressed here, a bounded piece at a time, so a
gzip bomb never unpacks past the cap. A page's memory is multiplied about tenfold on its way to
the destination, so the cap (connector.py's LIMITS) is what keeps a sync's memory bounded.
"""

import codecs  # the charset a page declares
import json  # the page
import re  # the charset of Content-Type
import zlib  # gzip and deflate

from fpr import safe_log
from fpr.errors import FprError, Transient

READ_CHUNK_BYTES = 64 * 1024
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)
_STARTS_AS_MARKUP = re.compile(rb"\s*<")  # matched in place: a large body is not copied to be looked at
_LONGEST_INT_DIGITS = 4300  # Python refuses to read longer integers (sys.int_info.default_max_str_digits)


class BodyCutShort(Exception):
    """The body ended before its declared length, or its compressed stream before its end."""


def read_body(read, content_encoding, declared_length, limit: int, truncate: bool = False) -> bytearray:
    """Reads a body in chunks, decoding gzip or deflate, never holding more than `limit` decoded bytes.

    Args:
        read: read(n) -> up to n bytes as they came over the wire; b"" at the end.
        content_encoding: the Content-Encoding header, or None.
        declared_length: the Content-Length header as a number, or None.
        limit: most decoded bytes taken.
        truncate: return the first `limit` bytes instead of failing past them (for error answers).
    Raises:
        FprError: past `limit`, or an encoding the connector cannot read.
        BodyCutShort: the body ended early.
    """
    decoder = BodyDecoder(content_encoding)
    body = bytearray()
    received = 0
    while chunk := read(READ_CHUNK_BYTES):
        received += len(chunk)
        body += decoder.decode(chunk, limit + 1 - len(body))
        if len(body) > limit:
            if truncate:
                del body[limit:]
                return body
            raise FprError(
                f"the response is larger than {limit / (1024 * 1024):g} MB once decoded (max_body_bytes in "
                "connector.py's LIMITS): lower page_size, or raise the limit if the API's pages are that large"
            )
    if declared_length is not None and received < declared_length:
        raise BodyCutShort()
    decoder.finish()
    return body  # the buffer itself: a copy would double the memory a large page takes


def declared_length(headers) -> int:
    """The Content-Length a response declares, if it has one and is not chunked."""
    value = headers.get("Content-Length") if not headers.get("Transfer-Encoding") else None
    return int(value) if value and value.strip().isdigit() else None


class BodyDecoder:
    """Undoes a Content-Encoding of gzip or deflate, a piece at a time, with a bound on each piece's output."""

    def __init__(self, content_encoding):
        encoding = (content_encoding or "identity").strip().lower()
        if encoding in ("identity", ""):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise FprError(
                f"the API answered with Content-Encoding '{safe_log.printable(encoding, 20)}', "
                "which the connector cannot read"
            )
        self._gzip = encoding in ("gzip", "x-gzip")
        self._raw_deflate_possible = encoding == "deflate"

    def decode(self, data: bytes, room: int) -> bytes:
        """At most `room` decoded bytes from `data` (input left over means the body is over its cap)."""
        if self._inflater is None:
            return data
        try:
            if self._raw_deflate_possible:
                self._raw_deflate_possible = False
                try:
                    return self._inflater.decompress(data, room)
                except zlib.error:  # some servers send deflate without its zlib wrapper
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflater.decompress(data, room)
            while self._gzip and self._inflater.eof and self._inflater.unused_data and len(out) < room:
                rest = self._inflater.unused_data  # another gzip member follows
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out += self._inflater.decompress(rest, room - len(out))
            return out
        except zlib.error:
            raise BodyCutShort() from None

    def finish(self):
        """Raises BodyCutShort if the compressed stream did not reach its end."""
        if self._inflater is not None and not self._inflater.eof:
            raise BodyCutShort()


def decode_json(body: bytearray, content_type: str, number: int, max_values: int):
    """The JSON value of a 200 answer's body; the buffer is emptied as it is read.

    `number` (the page's) goes into the warnings logged here; the client puts it before the errors raised.

    Raises:
        Transient: the body is an HTML page ("html") or not JSON ("body").
        FprError: the body holds more than `max_values` values, or nests deeper than can be read.
    """
    if content_type.lower().startswith("text/html") or _STARTS_AS_MARKUP.match(body):
        raise Transient("was an HTML page", "html")
    text = body_text(body, content_type, number)
    del body[:]  # the text replaces it: a large page is not held twice while it is parsed
    if text.count(",") + text.count("{") + text.count("[") > max_values:
        raise FprError(
            f"the response holds more than {max_values:,} JSON values (max_json_values in "
            "connector.py's LIMITS), far more than a page of records; lower page_size or check base_url"
        )
    try:
        return json.loads(text, parse_int=_json_int)
    except RecursionError:
        raise FprError("the response nests JSON too deeply to be read; check base_url") from None
    except ValueError:
        raise Transient("was not JSON", "body") from None


class HugeInteger(str):
    """The digits of a JSON integer too long for Python to read as a number."""


def _json_int(digits: str):
    return int(digits) if len(digits) <= _LONGEST_INT_DIGITS else HugeInteger(digits)


def body_text(body: bytes, content_type: str, number: int) -> str:
    """The body as text, in the charset its Content-Type declares (UTF-8 when it declares none or one unknown)."""
    charset = declared_charset(content_type, number)
    try:
        # surrogatepass: in UTF-8, an encoded lone surrogate reads as one character, which the normaliser repairs
        return body.decode(charset, "surrogatepass").lstrip("\ufeff")
    except UnicodeDecodeError:
        safe_log.warning(f"page {number}: the page is not valid {charset}; unreadable bytes replaced with U+FFFD")
        return body.decode(charset, "replace").lstrip("\ufeff")


def declared_charset(content_type: str, number: int) -> str:
    """The codec of the charset a Content-Type declares, by its canonical name; utf-8 when none or unknown."""
    match = _CHARSET.search(content_type)
    if not match:
        return "utf-8"
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        safe_log.warning(f"page {number}: the API declared an unknown charset; reading the page as UTF-8")
        return "utf-8"

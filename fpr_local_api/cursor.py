"""Opaque, signed cursors in the two forms the hosted service has used.

- "token" (newer service): Fernet-like URL-safe base64 with `=` padding, starting
  `gAAAAA`, carrying its issue time so that it can expire.
- "hex" (older service): 32 hexadecimal characters.

Both hold the last change sequence number delivered, masked and authenticated
with an HMAC, so a client cannot read, forge or alter one.
"""

import base64
import hashlib
import hmac
import os
import struct
import time

TOKEN_VERSION = b"\x80"


class InvalidCursor(ValueError):
    """The cursor was not issued by this server, or was altered."""


class CursorCodec:
    """Encodes and decodes cursors.

    Args:
        secret: signing key; the same secret accepts the same cursors across restarts.
        style: "token" or "hex".
        clock: returns the current time in epoch seconds.
    """

    def __init__(self, secret, style="token", clock=time.time):
        if style not in ("token", "hex"):
            raise ValueError("style must be 'token' or 'hex'")
        self._secret = secret
        self.style = style
        self._clock = clock

    def _mac(self, data, length):
        return hmac.new(self._secret, data, hashlib.sha256).digest()[:length]

    def _mask(self, nonce):
        return struct.unpack(">Q", self._mac(b"mask" + nonce, 8))[0]

    def encode(self, seq):
        if self.style == "hex":
            masked = struct.pack(">Q", seq ^ self._mask(b""))
            return (masked + self._mac(masked, 8)).hex()
        issued = struct.pack(">Q", int(self._clock()))
        nonce = os.urandom(16)
        body = TOKEN_VERSION + issued + nonce + struct.pack(">Q", seq ^ self._mask(nonce))
        return base64.urlsafe_b64encode(body + self._mac(body, 32)).decode("ascii")

    def decode(self, cursor):
        """Returns (seq, issued_at); issued_at is None for hex cursors.

        Raises:
            InvalidCursor: the cursor is malformed or its signature does not match.
        """
        if self.style == "hex":
            return self._decode_hex(cursor), None
        return self._decode_token(cursor)

    def _decode_hex(self, cursor):
        try:
            raw = bytes.fromhex(cursor)
        except ValueError:
            raise InvalidCursor("cursor is not a cursor this server issued") from None
        if len(raw) != 16 or not hmac.compare_digest(raw[8:], self._mac(raw[:8], 8)):
            raise InvalidCursor("cursor is not a cursor this server issued")
        return struct.unpack(">Q", raw[:8])[0] ^ self._mask(b"")

    def _decode_token(self, cursor):
        try:
            raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise InvalidCursor("cursor is not a cursor this server issued") from None
        body, mac = raw[:-32], raw[-32:]
        if len(body) != 33 or body[:1] != TOKEN_VERSION or not hmac.compare_digest(mac, self._mac(body, 32)):
            raise InvalidCursor("cursor is not a cursor this server issued")
        issued = struct.unpack(">Q", body[1:9])[0]
        seq = struct.unpack(">Q", body[25:33])[0] ^ self._mask(body[9:25])
        return seq, issued

"""The saved state: read back with care, and written only with values the next sync can send.

    {"next_cursor": "...", "last_updated_epoch": 1748819670, "loaded_after_cursor": "<base64>"}

`next_cursor` is where the next sync starts (the lab connector's state had only this);
`last_updated_epoch` the highest epoch loaded so far, for reference; `loaded_after_cursor` the
records already loaded from that cursor on, which the API sends again when the next sync starts
there (the older service ends on a last page without a cursor, so the cursor saved is the one
before that page). Values of the wrong type are ignored with a warning, as an older state may
hold them; a cursor no request can carry stops the sync with the way to recover.
"""

import base64  # the digests of loaded records, as text the state can hold
import binascii  # base64's error
import hashlib  # record_ids as digests: the state never holds a record's own text
import re  # lone surrogates
import struct  # a digest and an epoch, 16 bytes

from fpr import safe_log
from fpr.errors import FprError

STATE_CURSOR = "next_cursor"
STATE_EPOCH = "last_updated_epoch"
STATE_LOADED = "loaded_after_cursor"

# A cursor is sent back in the request's query, percent-encoded: up to three bytes a character. At
# 2,048 characters the request line stays under the 8 KB most servers and proxies accept.
MAX_CURSOR_CHARACTERS = 2_048
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# The API's largest page is 200 records (4.3 KB in the state); a page of more than this many, which only
# an API that ignores page_size sends, is not remembered, so at most 21 KB: the next sync loads it again.
MAX_LOADED_RECORDS = 1_000

RECOVERY = (
    "to start over from the beginning, run a full re-sync of the connection in the Fivetran dashboard, which "
    "clears its state and keeps the rows loaded (locally: delete files/state.json; make reset also forgets the "
    "local warehouse)"
)


def cursor_problem(cursor: str) -> str:
    """Why a cursor cannot be sent back in a request, in words that quote none of it; "" if it can.

    The rule: text that UTF-8 can encode, of at most MAX_CURSOR_CHARACTERS characters. A request
    percent-encodes every byte a URL cannot hold as it is, control characters included, so the
    request line never holds one raw; a lone UTF-16 surrogate has no UTF-8 form at all.
    """
    if len(cursor) > MAX_CURSOR_CHARACTERS:
        return f"is {len(cursor):,} characters long, more than the {MAX_CURSOR_CHARACTERS:,} a request can carry"
    surrogate = _SURROGATE.search(cursor)
    if surrogate:
        return (
            f"holds a lone UTF-16 surrogate (U+{ord(surrogate.group()):04X} at character {surrogate.start() + 1}), "
            "which no request can encode"
        )
    return ""


def read_state(state: dict):
    """The cursor, the highest epoch and the records loaded after the cursor, from a saved state.

    Accepts this connector's state and the lab connector's `{"next_cursor": "..."}`.

    Raises:
        FprError: the saved cursor cannot be sent; the message says how to start over.
    """
    cursor = state.get(STATE_CURSOR) or None
    if cursor is not None and not isinstance(cursor, str):
        safe_log.warning("the saved next_cursor is not text; starting from the beginning (upserts are idempotent)")
        cursor = None
    if cursor is not None and cursor_problem(cursor):
        raise FprError(
            f"the saved state's next_cursor {cursor_problem(cursor)}; it was saved by an earlier version of this "
            f"connector or edited by hand, and no sync can go on from it: {RECOVERY}"
        )
    highest_epoch = state.get(STATE_EPOCH)
    if highest_epoch is not None and not _is_whole_number(highest_epoch):
        safe_log.warning("the saved last_updated_epoch is not a whole number; it is recomputed from this sync")
        highest_epoch = None
    return cursor, highest_epoch, _loaded_records(state.get(STATE_LOADED))


def state_after(cursor, highest_epoch, loaded) -> dict:
    """The state to checkpoint: where the next sync starts, the highest epoch, and what it will receive again."""
    state = {STATE_CURSOR: cursor}
    if highest_epoch is not None:
        state[STATE_EPOCH] = highest_epoch
    if loaded:
        state[STATE_LOADED] = loaded.encode()
    return state


def _is_whole_number(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _loaded_records(text):
    try:
        return LoadedRecords.decode(text)
    except ValueError:
        safe_log.warning(f"the saved {STATE_LOADED} cannot be read; the records at the saved cursor are loaded again")
        return LoadedRecords()


class LoadedRecords:
    """Records already loaded, as (record_id, last_updated_epoch): which of a page's rows need no upsert.

    Each record_id is kept as an 8-byte digest beside its exact epoch, so a record whose epoch
    changed is never taken for one loaded. A record without an epoch is never remembered, and a
    digest seen with two epochs (the same record twice on a page, or two ids sharing a digest) is
    forgotten, so neither is ever skipped.
    """

    _ENTRY = struct.Struct(">8sq")

    def __init__(self, epochs: dict = None):
        self._epochs = dict(epochs or {})  # digest -> epoch
        self._ambiguous = set()
        self._overflowed = False

    def __len__(self):
        return len(self._epochs)

    def holds(self, row: dict) -> bool:
        """Whether this exact version of the record was loaded."""
        epoch = row.get("last_updated_epoch")
        return bool(self._epochs) and epoch is not None and self._epochs.get(_digest(row.get("record_id"))) == epoch

    def add(self, rows):
        """Remembers the rows' records; past MAX_LOADED_RECORDS, none (they are then loaded again)."""
        for row in rows:
            epoch = row.get("last_updated_epoch")
            if epoch is None:
                continue
            digest = _digest(row.get("record_id"))
            if digest in self._ambiguous:
                continue
            if self._epochs.setdefault(digest, epoch) != epoch:
                del self._epochs[digest]
                self._ambiguous.add(digest)
        if self._overflowed or len(self._epochs) > MAX_LOADED_RECORDS:
            self._epochs, self._overflowed = {}, True

    def encode(self) -> str:
        entries = b"".join(self._ENTRY.pack(digest, epoch) for digest, epoch in sorted(self._epochs.items()))
        return base64.b64encode(entries).decode("ascii")

    @classmethod
    def decode(cls, text):
        """The records a state's text names; none for None.

        Raises:
            ValueError: the text is not what encode() writes.
        """
        if text is None:
            return cls()
        if not isinstance(text, str):
            raise ValueError("not text")
        try:
            entries = base64.b64decode(text.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise ValueError("not base64") from None
        if len(entries) % cls._ENTRY.size or len(entries) > MAX_LOADED_RECORDS * cls._ENTRY.size:
            raise ValueError("not a whole number of entries, or too many")
        return cls(dict(cls._ENTRY.iter_unpack(entries)))


def _digest(record_id) -> bytes:
    return hashlib.blake2b(str(record_id).encode("utf-8", "surrogatepass"), digest_size=8).digest()

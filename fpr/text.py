"""Text that no destination can store, repaired: lone UTF-16 surrogates and NUL characters.

A lone surrogate raises inside the SDK's type coercion and would fail the whole sync; NUL is
dropped silently by some destinations and refused by others.
"""

import json  # JSON values are repaired through their text
import re  # surrogates

_SURROGATE = re.compile(r"[\ud800-\udfff]")
INVALID = object()  # what no column can hold


def repair_text(value: str) -> str:
    """The text with lone UTF-16 surrogates replaced by U+FFFD and NUL removed; the same object if none."""
    if value.isascii():
        return value.replace("\x00", "") if "\x00" in value else value
    if "\x00" not in value and not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))


def repair_json(value):
    """A JSON object or array with its text repaired as repair_text does; the same object if nothing needed it.

    Returns INVALID for what no JSON column can hold (NaN, infinities, nesting too deep to write).
    """
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (RecursionError, ValueError):
        return INVALID
    repaired = repair_text(text)
    return value if repaired is text else json.loads(repaired)

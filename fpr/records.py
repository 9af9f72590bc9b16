"""API records turned into rows whose values fit their column types and whose names a destination can take.

A value that does not fit its declared column becomes NULL; text no destination can store is
repaired (text.py); a field whose name no column can take is dropped (field_names.py); a record
without a usable record_id is skipped. Each is counted in RecordIssues and reported once. Fields
the schema does not declare are kept: decimals as text with a decimal point, which the destination
types DOUBLE, exactly; whole numbers as LONG.
"""

import json  # objects and arrays in a STRING column
import math  # finite numbers
import re  # dates and digits
from datetime import date  # dates go to the SDK as date objects

from fpr.body import HugeInteger
from fpr.field_names import ExtraFieldNames
from fpr.issues import FIELD_NAMES, RecordIssues
from fpr.text import INVALID, repair_json, repair_text

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_WHOLE_NUMBER = re.compile(r"-?\d{1,20}", re.ASCII)


class RecordNormaliser:
    """Turns one API record into a row, or None when it has no usable primary key.

    Args:
        columns: the declared columns, name -> SDK type.
        primary_key: the name of the primary-key field.
        issues: where defects are counted.
    """

    def __init__(self, columns: dict, primary_key: str, issues: RecordIssues):
        self.columns = columns
        self.primary_key = primary_key
        self.issues = issues
        self.extra_names = ExtraFieldNames(columns)

    def rows(self, records: list) -> list:
        """The rows of a page's records, skipping those without a usable primary key."""
        return [row for row in map(self, records) if row is not None]

    def __call__(self, raw: dict):
        record_id = self._record_id(raw)
        if record_id is None:
            self.issues.skip()
            return None
        row = {self.primary_key: record_id}  # already repaired and counted: not repaired a second time below
        for name, value in raw.items():
            if name == self.primary_key:
                continue
            column_type = self.columns.get(name)
            if _fits_as_is(column_type, value):  # the fast path: most values of a well-formed record
                row[name] = value
                continue
            if column_type is None:
                usable, refusal = self.extra_names.accept(name)
                if refusal:
                    self.issues.dropped_field(usable, record_id, refusal)
                    continue
                if usable is not name:
                    self.issues.repaired_text(FIELD_NAMES, record_id)
                name = usable
            row[name] = self._value(name, value, column_type, record_id)
        return row

    def _record_id(self, raw: dict):
        """The record's id as text, repaired if need be; None if it has none usable."""
        record_id = raw.get(self.primary_key)
        if isinstance(record_id, int) and not isinstance(record_id, bool):
            return str(record_id)
        if not isinstance(record_id, str) or not record_id.strip():
            return None
        repaired = repair_text(record_id)
        if repaired is not record_id:
            self.issues.repaired_text(self.primary_key, repaired)
        return repaired

    def _value(self, name: str, value, column_type, record_id: str):
        """The value as its column takes it; NULL, counted, if it cannot fit."""
        if value is None:
            return None
        if column_type is None:
            converted, column_type = undeclared_value(value)
        else:
            converted = _CONVERTERS[column_type](value)
        if converted is INVALID:
            self.issues.bad_value(name, record_id, column_type)
            return None
        if isinstance(converted, str):
            repaired = repair_text(converted)
        elif isinstance(converted, (dict, list)):
            repaired = repair_json(converted)
        else:
            return converted
        if repaired is INVALID:
            self.issues.bad_value(name, record_id, column_type)
            return None
        if repaired is not converted:
            self.issues.repaired_text(name, record_id)
        return repaired


def _fits_as_is(column_type, value) -> bool:
    """Whether a value can go to its declared column unchanged: ASCII text without NUL, a finite float."""
    if column_type == "STRING":
        return type(value) is str and value.isascii() and "\x00" not in value
    if column_type == "DOUBLE":
        return type(value) is float and value - value == 0.0  # false for NaN and infinities
    return False


def undeclared_value(value):
    """(value as sent to the destination, the type it lands as) for a field the schema does not declare."""
    if isinstance(value, HugeInteger):
        return INVALID, "LONG"
    if isinstance(value, (bool, str)):
        return value, "STRING"
    if isinstance(value, int):
        return (value if LONG_RANGE[0] <= value <= LONG_RANGE[1] else INVALID), "LONG"
    if isinstance(value, float):
        return (double_text(value) if math.isfinite(value) else INVALID), "DOUBLE"
    return value, "JSON"


def double_text(value: float) -> str:
    """The shortest text that reads back as exactly `value`, always with a decimal point (1e-05 -> 1.0e-05).

    A Python float would be sent as a 32-bit FLOAT; text with a decimal point is typed DOUBLE.
    """
    text = repr(value)
    if "." in text:
        return text
    mantissa, _, exponent = text.partition("e")  # a finite float's repr without a point has an exponent: 1e+16
    return f"{mantissa}.0e{exponent}"


def _to_double(value):
    """A finite float from a number or numeric text, or INVALID."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return INVALID
    try:
        number = float(value)  # text: surrounding whitespace allowed, as float() allows it
    except (ValueError, OverflowError):
        return INVALID
    return number if math.isfinite(number) else INVALID


def _whole_number(value, low: int, high: int):
    """A whole number within [low, high], from an int, a whole float or digit text; INVALID otherwise."""
    if isinstance(value, bool):
        return INVALID
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int) or not low <= value <= high:
        return INVALID
    return value


def _to_int(value):
    return _whole_number(value, *INT_RANGE)


def _to_long(value):
    return _whole_number(value, *LONG_RANGE)


def _to_date(value):
    # A date object, not its text: the SDK would parse the text again, far more slowly.
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return INVALID
    try:
        return date.fromisoformat(value)
    except ValueError:
        return INVALID


def _to_string(value):
    """Text for a STRING column: objects and arrays as JSON, booleans as true/false."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, sort_keys=True)
        except (RecursionError, ValueError):
            return INVALID
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CONVERTERS = {
    "STRING": _to_string,
    "DOUBLE": _to_double,
    "INT": _to_int,
    "LONG": _to_long,
    "NAIVE_DATE": _to_date,
}

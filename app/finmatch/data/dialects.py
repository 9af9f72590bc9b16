"""The SQL that differs between the engines, one class per engine.

Where DuckDB and Snowflake disagree, FinMatch writes the difference out here instead of relying on a
default: date formats, the UTC formatting of a timestamp, bitwise aggregates and the MD5 that chooses
Match's holdout.
"""


class DuckDBDialect:
    """SQL that differs in DuckDB, for the local warehouse."""

    def date(self):
        """A 'YYYY-MM-DD' parameter as a DATE, parsed with that format."""
        return "CAST(strptime(?, '%Y-%m-%d') AS DATE)"

    def utc_minute(self, timestamp):
        """A TIMESTAMP WITH TIME ZONE as 'YYYY-MM-DD HH:MM' in UTC, whatever the session's time zone."""
        return f"strftime({timestamp} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')"

    def bit_or(self, value):
        """The bitwise OR of a column's integers, as an aggregate."""
        return f"bit_or({value})"

    def has_bit(self, mask, bit):
        return f"({mask} & {int(bit)}) <> 0"

    def md5_first_digit_below(self, column, limit):
        """Whether the first hex digit of MD5(column) is below `limit`: the digest's first byte is the lowest byte of
        md5_number, so its first digit is bits 4-7; as SUBSTR(MD5(column), 1, 1) says, without writing out the hex."""
        return f"((md5_number({column}) >> 4) & 15) < {int(limit)}"

    # Customer profiles pack their product masks into one integer (profiles.profiles_sql).
    packs_masks = True
    # A value's position among a list's is one list_position (a parameter may be a list).
    has_lists = True


class SnowflakeDialect:
    """SQL that differs in Snowflake: formats are written out, never taken from the account's parameters."""

    def date(self):
        return "TO_DATE(?, 'YYYY-MM-DD')"

    def utc_minute(self, timestamp):
        return f"TO_VARCHAR(CONVERT_TIMEZONE('UTC', {timestamp}), 'YYYY-MM-DD HH24:MI')"

    def bit_or(self, value):
        return f"BITOR_AGG({value})"

    def has_bit(self, mask, bit):
        return f"BITAND({mask}, {int(bit)}) <> 0"

    def md5_first_digit_below(self, column, limit):
        digits = ", ".join(f"'{digit:x}'" for digit in range(int(limit)))
        return f"SUBSTR(MD5({column}), 1, 1) IN ({digits})"

    packs_masks = False
    has_lists = False

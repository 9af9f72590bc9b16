"""Which fields the schema does not declare may land as columns of their own.

Fields the API adds later still land, with an inferred type, unless a destination could not take
their name as a column: empty or without a letter or digit, unprintable, too long, Fivetran's own,
shaped like an email, or equal to another column once case, accents and punctuation are set aside
("Record ID" would overwrite record_id). At most MAX_EXTRA_COLUMNS are taken per sync.
"""

import re  # letters and digits of a name
import unicodedata  # names compared without accents

from fpr import safe_log
from fpr.text import repair_text

MAX_EXTRA_COLUMNS = 100  # distinct undeclared names taken per sync
MAX_FIELD_NAME_LENGTH = 255  # Snowflake's limit for a column name
MAX_REMEMBERED_NAMES = 10_000  # verdicts kept per sync; a server inventing names on every record cannot grow it
RESERVED_PREFIX = "fivetran"  # _fivetran_synced, _fivetran_deleted, _fivetran_id... belong to Fivetran


class ExtraFieldNames:
    """Decides, once per name per sync, whether an undeclared field name becomes a column.

    Args:
        declared: the column names the schema declares.
    """

    def __init__(self, declared):
        self.declared = len(declared)
        self.taken = {skeleton(name): name for name in declared}
        self.verdicts = {}  # name -> (name to use, refusal or None)

    def accept(self, name: str):
        """(the name to use, None) or (the name, why no column can take it)."""
        verdict = self.verdicts.get(name)
        if verdict is None:
            verdict = self._judge(name)
            if len(self.verdicts) < MAX_REMEMBERED_NAMES:
                self.verdicts[name] = verdict
        return verdict

    def _judge(self, name: str):
        repaired = repair_text(name)
        key = skeleton(repaired)
        if not key:
            return repaired, "no letter or digit"
        if not repaired.isprintable():
            return repaired, "unprintable characters"
        if len(repaired) > MAX_FIELD_NAME_LENGTH:
            return repaired, f"longer than {MAX_FIELD_NAME_LENGTH} characters"
        if key.startswith(RESERVED_PREFIX):
            return repaired, "reserved for Fivetran"
        if safe_log.EMAIL.search(repaired):
            return repaired, "looks like an email address"
        if key in self.taken:
            if self.taken[key] == repaired:  # taken earlier in this sync, its verdict no longer remembered
                return repaired, None
            return repaired, f"same column as '{safe_log.printable(self.taken[key])}'"
        if len(self.taken) - self.declared >= MAX_EXTRA_COLUMNS:
            return repaired, f"over {MAX_EXTRA_COLUMNS} new fields in one sync"
        self.taken[key] = repaired
        return repaired, None


def skeleton(name: str) -> str:
    """The letters and digits of a name, lower case, accents removed: names equal here land in one column."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())

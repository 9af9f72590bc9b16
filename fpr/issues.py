"""Record defects, counted through a sync and reported once at its end: counts, fields and record_ids, never values."""

from fpr import safe_log

SAMPLE_IDS = 5  # record_ids quoted per kind of defect
FIELD_NAMES = "field names"  # where repaired field names are counted


class RecordIssues:
    """Counts what the record normaliser had to do, and reports each kind of defect in one warning."""

    def __init__(self):
        self.skipped = 0
        self.bad_values = {}  # field -> [count, sample record_ids, column type]
        self.repaired = {}  # field -> [count, sample record_ids, None]
        self.dropped_fields = {}  # printable field name -> [count, sample record_ids, reason]

    def skip(self):
        self.skipped += 1

    def bad_value(self, name: str, record_id: str, column_type: str):
        self._count(self.bad_values, name, record_id, column_type)

    def repaired_text(self, name: str, record_id: str):
        self._count(self.repaired, name, record_id)

    def dropped_field(self, name: str, record_id: str, reason: str):
        self._count(self.dropped_fields, safe_log.printable(name), record_id, reason)

    def _count(self, counts: dict, name: str, record_id: str, detail=None):
        entry = counts.setdefault(name, [0, [], detail])
        entry[0] += 1
        if len(entry[1]) < SAMPLE_IDS:
            entry[1].append(safe_log.printable(record_id))

    def report(self):
        """One warning per kind of defect (shown in the dashboard; the sync goes on)."""
        if self.skipped:
            safe_log.sync_warning(f"{self.skipped} records had no usable record_id and were skipped")
        for name, (count, ids, column_type) in sorted(self.bad_values.items()):
            safe_log.sync_warning(
                f"{count} records had a value in '{safe_log.printable(name)}' that is not a valid {column_type}; "
                f"loaded as NULL (e.g. record_id {', '.join(ids)})"
            )
        if self.repaired:
            fields = ", ".join(
                f"{name if name == FIELD_NAMES else repr(safe_log.printable(name))} ({count})"
                for name, (count, _, _) in sorted(self.repaired.items())
            )
            safe_log.sync_warning(
                f"text that no destination can store was repaired in {fields}: lone UTF-16 surrogates became U+FFFD "
                f"and NUL characters were removed; the records loaded (e.g. record_id {_sample_ids(self.repaired)})"
            )
        if self.dropped_fields:
            fields = ", ".join(
                f"'{name}' ({count}, {reason})" for name, (count, _, reason) in sorted(self.dropped_fields.items())
            )
            safe_log.sync_warning(
                f"fields whose names no destination column can take were dropped: {fields}; the rest of each "
                f"record loaded (e.g. record_id {_sample_ids(self.dropped_fields)})"
            )


def _sample_ids(counts: dict) -> str:
    """Up to SAMPLE_IDS distinct record_ids from the samples of several counts."""
    ids = []
    for _, sample, _ in counts.values():
        ids.extend(record_id for record_id in sample if record_id not in ids)
    return ", ".join(ids[:SAMPLE_IDS])

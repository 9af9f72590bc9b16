"""Reading what a statement returns: NULL as None, whole numbers as int, dates as dates, and acceptance rates."""


def with_acceptance(frame):
    frame["acceptance_rate"] = [ratio(a, d) for a, d in zip(frame["accepted"], frame["decided"], strict=True)]
    return frame


def ratio(part, whole):
    return None if not whole else float(part) / float(whole)


def missing(value):
    """Whether a value a statement returned is NULL: None, NaN, NaT or pandas' NA."""
    import pandas as pd  # here: a sync imports these modules to build the derived tables, and it runs without pandas

    return value is None or pd.isna(value)


def number(value):
    return None if missing(value) else float(value)


def integer(value):
    return None if missing(value) else int(value)


def as_date(value):
    import pandas as pd

    return None if missing(value) else pd.Timestamp(value).date()

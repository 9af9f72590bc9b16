"""Reading what a statement returns: NULL as None, whole numbers as int, dates as dates, and acceptance rates."""

import pandas as pd


def with_acceptance(frame):
    frame["acceptance_rate"] = [ratio(a, d) for a, d in zip(frame["accepted"], frame["decided"], strict=True)]
    return frame


def ratio(part, whole):
    return None if not whole else float(part) / float(whole)


def number(value):
    return None if value is None or pd.isna(value) else float(value)


def integer(value):
    return None if value is None or pd.isna(value) else int(value)


def as_date(value):
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()

"""The cards, both compared periods and the charts' counts, answered locally from sums per day.

In Snowflake each of these is one statement over FPR_RECORDS (kpis.py, breakdowns.py). Locally (DuckDB) they
are answered from two statements instead, each much lighter on a table of millions of records:

- the sums the cards need (KPI_MEASURES), and the records, per recommendation date and status, for one
  choice of segments, products held, stages and statuses. They are kept for the warehouse version
  (DuckDBBackend.remembered), so that a change of dates, and both compared periods, are additions of
  days: no record is read again. The monthly chart and the ages of open recommendations follow from
  them too;
- the counts per status, stage, product held, segment, affinity band and score of the selection (dates
  included), for the other charts: kept per choice without dates, and for dates that keep most records,
  those counts less the records outside the dates (fine_counts).

Every figure is the same sum as its statement there, added up in another order.

*Who to act on* reads the most urgent open recommendations: locally the few thousand most urgent (every
one whose action score reaches the ACTION_TOP_ROWS-th highest, ties included) are kept once per warehouse
version, with every open recommendation of their customers. Any selection that finds enough of them there
has its list exactly from them, since every other record scores lower; a narrower one reads the table.
"""

from datetime import date

import pandas as pd

from finmatch.data.actions import RANKABLE, URGENT_ROWS, open_recommendations_sql, urgent_relations
from finmatch.data.breakdowns import FINE_KEYS, Breakdowns
from finmatch.data.daily import (
    COARSE_GRAIN,
    SCORE_TENTHS,
    band_column,
    bands_and_scores_sql,
    counts_sql,
    daily_sums_sql,
    day_sums_sql,
)
from finmatch.data.kpis import KPI_MEASURES, added, kpi_figures
from finmatch.data.sql import (
    ACCEPTED,
    AFFINITY_BANDS,
    AGE_BUCKETS,
    DECLINED,
    NO_DATE,
    OPEN_STATUSES,
    affinity_band_sql,
    ratio_sql,
)

DAY_SUMS_SQL = f"""
    SELECT product_recommendation_date AS day, product_recommendation_status AS status, count(*) AS records,
           {", ".join(KPI_MEASURES)}
    FROM {{table}} WHERE {{where}}
    GROUP BY product_recommendation_date, product_recommendation_status
"""
FINE_SQL = f"""
    SELECT {", ".join(FINE_KEYS)}, count(*) AS records
    FROM (
      SELECT product_recommendation_status AS status, customer_lifecycle_stage AS stage, product_type,
             customer_segment AS segment, {affinity_band_sql("customer_product_affinity")} AS band,
             {ratio_sql("LEAST(FLOOR(recommendation_score * 10), 9)", "10")} AS score_from
      FROM {{table}} WHERE {{where}}
    ) AS selected
    GROUP BY {", ".join(FINE_KEYS)}
"""
COUNTED = ("records", "decided", "accepted")


def day_sums(data, filters):
    """The KPI sums per recommendation date (a Timestamp, NaT for none) and status of the filters without their dates,
    with decided, accepted and still_open counted from the status; kept for this version of the warehouse."""
    undated = filters.without_dates()

    def compute():
        daily = daily_table(data, filters)
        if daily is None:
            frame = data.run(DAY_SUMS_SQL, undated)
        else:
            where, params = undated.where("TRUE", data.dialect)
            frame = data.backend.query(day_sums_sql(daily, where), params)
        return _with_status_counts(frame.assign(day=pd.to_datetime(frame["day"])))

    return data.backend.remembered(("day_sums", repr(undated)), compute)


def daily_table(data, filters=None):
    """The derived table of sums per day and filter values (daily.py) when it is current, else None: built when the
    page opens it would cost more than the statements it replaces. The smaller one, without the product recommended,
    unless the filters choose one."""
    if filters is not None and filters.products:
        return data.backend.derived("daily_sums_by_product", *daily_sums_sql(data.backend.table, data.live))
    return data.backend.derived("daily_sums", *daily_sums_sql(data.backend.table, data.live, COARSE_GRAIN))


def _with_status_counts(frame):
    status, records = frame["status"], frame["records"]
    return frame.assign(
        decided=records.where(status.isin([ACCEPTED, DECLINED]), 0),
        accepted=records.where(status == ACCEPTED, 0),
        still_open=records.where(status.isin(OPEN_STATUSES), 0),
    )


def _selected(days, filters):
    """The days within the filters' dates (every day, and records without a date, when there are none)."""
    keep = pd.Series(True, index=days.index)
    if filters.date_from:
        keep &= days["day"] >= pd.Timestamp(filters.date_from)
    if filters.date_to:
        keep &= days["day"] <= pd.Timestamp(filters.date_to)
    return days[keep]


def _within(days, period):
    after, up_to = (pd.Timestamp(day) for day in period)
    return (days["day"] > after) & (days["day"] <= up_to)


def kpis(data, filters):
    """FprData.kpis: the KPIs of the selection."""
    return kpi_figures(added(_selected(day_sums(data, filters), filters)))


def kpis_with_periods(data, filters, recent=None, before=None):
    """FprData.kpis_with_periods: (selection, recent, before) KPIs; the periods ignore the filters' dates."""
    days = day_sums(data, filters)
    selection = kpi_figures(added(_selected(days, filters)))
    if not (recent and before):
        return selection, None, None
    in_recent = _within(days, recent)
    in_before = _within(days, before) & ~in_recent  # a day in both counts as recent, as the statement's CASE says
    return selection, kpi_figures(added(days[in_recent])), kpi_figures(added(days[in_before]))


def breakdowns(data, filters, today):
    """FprData.breakdowns: the fine counts from one statement, or from the sums per day and filter values when they
    are current; months, ages and dates from the sums per day."""
    daily = daily_table(data, filters)
    if daily is None:
        fine, by_key = _with_status_counts(fine_counts(data, filters))[[*FINE_KEYS, *COUNTED]], None
    else:
        fine, by_key = counts_from_daily(data, daily, filters)
    days = _selected(day_sums(data, filters), filters)
    months = days.assign(month=[None if pd.isna(day) else date(day.year, day.month, 1) for day in days["day"]])
    months = months.groupby("month", dropna=False, sort=False)[list(COUNTED)].sum().reset_index()
    opened = days[days["status"].isin(OPEN_STATUSES)]
    ages = opened.assign(age_bucket=[age_bucket(day, today) for day in opened["day"]])
    ages = ages.groupby("age_bucket", sort=False)[list(COUNTED)].sum().reset_index()
    dated = days["day"].dropna()
    first, last = (dated.min(), dated.max()) if len(dated) else (None, None)
    return Breakdowns(fine, months, ages, first, last, by_key)


def counts_from_daily(data, daily, filters):
    """The charts' counts from the sums per day and filter values: per status, stage, product held and segment, and
    apart, per affinity band and per tenth of score (each with decided and accepted, from the status)."""
    where, params = filters.where("TRUE", data.dialect)
    fine = _with_status_counts(data.backend.query(counts_sql(daily, where), params))[
        ["status", "stage", "product_type", "segment", *COUNTED]
    ]
    per_status = data.backend.query(bands_and_scores_sql(daily, where), params)
    columns = {
        "band": [(band, band_column(band)) for band in AFFINITY_BANDS],
        "score_from": [(tenth / 10, f"score_{tenth}") for tenth in SCORE_TENTHS],
    }
    by_key = {
        key: _with_status_counts(
            pd.concat([per_status.assign(**{key: value, "records": per_status[column]}) for value, column in values])
        )[[key, *COUNTED]]
        for key, values in columns.items()
    }
    return fine, by_key


def fine_counts(data, filters):
    """Records per combination of FINE_KEYS in the selection.

    Those of a choice without dates are kept for the warehouse version. With dates that keep most of the
    records (as the sums per day count them), the records outside the dates are counted and taken away from
    those of the same choice without dates: the same integers, from far fewer records grouped.
    """
    undated = filters.without_dates()
    if undated == filters:
        return data.backend.remembered(("fine_counts", repr(undated)), lambda: data.run(FINE_SQL, filters))
    days = day_sums(data, filters)
    if 2 * int(_selected(days, filters)["records"].sum()) <= int(days["records"].sum()):
        return data.run(FINE_SQL, filters)
    where, params = undated.where(data.live, data.dialect)
    dated, dated_params = filters.date_range(data.dialect)
    outside = data.backend.query(
        FINE_SQL.format(
            table=data.backend.table,
            where=f"{where} AND (product_recommendation_date IS NULL OR NOT ({' AND '.join(dated)}))",
        ),
        [*params, *dated_params],
    )
    every = fine_counts(data, undated)
    both = pd.concat([every, outside.assign(records=-outside["records"])], ignore_index=True)
    counted = both.groupby(list(FINE_KEYS), dropna=False, sort=False)["records"].sum().reset_index()
    return counted[counted["records"] > 0].reset_index(drop=True)


def age_bucket(day, today):
    """The bucket of an open recommendation made on `day`, as age_bucket_sql names it on `today`."""
    if pd.isna(day):
        return NO_DATE
    age = (today - day.date()).days
    return next((label for label, upper in AGE_BUCKETS if upper is not None and age <= upper), AGE_BUCKETS[-1][0])


# How many of the most urgent open recommendations are kept (more when the last score is tied).
ACTION_TOP_ROWS = URGENT_ROWS


def action_relations(data):
    """(name, SQL, parameters) of the kept urgent recommendations and of every open one of their customers."""
    return urgent_relations(data.backend.table, data.live, ACTION_TOP_ROWS)


def open_recommendations(data, filters, today, rows):
    """FprData._open_recommendations from the kept urgent recommendations, or None when the selection has fewer than
    `rows` of them while the table has more open recommendations than were kept (the table must be read then)."""
    backend = data.backend
    (urgent, _), (customers, _) = (backend.relation(*build) for build in action_relations(data))
    where, params = filters.where("TRUE", data.dialect)
    sql = open_recommendations_sql(urgent, where, customers, where, rows, data.dialect)
    frame = backend.query(sql, [*params, *params, today.isoformat()])
    if len(frame) >= rows or _every_open_recommendation_kept(data):
        return frame
    return None


def _every_open_recommendation_kept(data):
    def compute():
        sql = (
            f"SELECT count(*) AS n FROM (SELECT 1 FROM {{table}} WHERE {{live}} AND {RANKABLE} LIMIT {ACTION_TOP_ROWS})"
        )
        return int(data.run(sql)["n"][0]) < ACTION_TOP_ROWS

    return data.backend.remembered(("every_open_recommendation_kept",), compute)

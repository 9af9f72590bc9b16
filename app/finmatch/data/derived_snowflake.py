"""The derived tables in Snowflake: dynamic tables over FPR_RECORDS, and whether the app may read them now.

`make deploy-app` creates one dynamic table per derived table of derived.py built for Snowflake (FINMATCH_<NAME>),
and records its fingerprint in FINMATCH_DERIVED (tools/finmatch_snowflake_sql.py). A dynamic table's definition is
fixed when it is created: the columns FPR_RECORDS had then (the live rows' condition), and the filter values then
(the profile codes and product bits). The app computes its own definition of each relation from what it reads now and
reads a dynamic table only when the fingerprints agree; a new segment, product or Fivetran column therefore makes the
app compute the relation itself until the next `make deploy-app`. Snowflake refreshes each table within its target
lag; one that is suspended, or further behind than twice its lag, is not read either.
"""

import re
from datetime import datetime, timedelta, timezone

from finmatch.data.derived import Catalog

CATALOG = "FINMATCH_DERIVED"
PREFIX = "FINMATCH_"
NOT_DEPLOYED = "No dynamic tables deployed: computed from FPR_RECORDS (`make deploy-app` creates them)."
LAG = re.compile(r"^\s*(\d+)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)


def dynamic_table_name(name):
    return PREFIX + name.upper()


def deployed_tables(backend):
    """The dynamic tables the app may read now, from the catalog and SHOW DYNAMIC TABLES (two statements, once)."""
    try:
        catalog = backend.query(f"SELECT name, fingerprint, target_lag FROM {CATALOG}")
    except Exception:  # noqa: BLE001 - no catalog: nothing was deployed, or the owner role cannot read it
        return Catalog({}, NOT_DEPLOYED, dynamic_table_name)
    if catalog.empty:
        return Catalog({}, NOT_DEPLOYED, dynamic_table_name)
    try:
        shown = backend.query(f"SHOW DYNAMIC TABLES LIKE '{PREFIX}%'")
    except Exception:  # noqa: BLE001
        return Catalog({}, "Dynamic tables could not be listed: computed from FPR_RECORDS.", dynamic_table_name)
    states = {str(row["name"]).upper(): row for _, row in shown.iterrows()}
    fresh, behind, as_of = {}, [], []
    for _, row in catalog.iterrows():
        state = states.get(dynamic_table_name(row["name"]))
        if state is not None and _fresh(state, row["target_lag"]):
            fresh[row["name"]] = row["fingerprint"]
            as_of.append(_utc(state["data_timestamp"]))
        else:
            behind.append(dynamic_table_name(row["name"]))
    lag = str(catalog["target_lag"].iloc[0])
    note = f"Dynamic tables read (target lag {lag})"
    note += f", data as of {min(as_of):%Y-%m-%d %H:%M} UTC." if as_of else "."
    if behind:
        note += f" Not read, suspended or behind their lag: {', '.join(sorted(behind))} (computed from FPR_RECORDS)."
    return Catalog(fresh, note, dynamic_table_name)


def _fresh(state, target_lag):
    """Running, and refreshed within twice the target lag (a lag Snowflake words otherwise is trusted as it is)."""
    if str(state.get("scheduling_state", "")).upper() not in ("RUNNING", "ACTIVE"):
        return False
    found = LAG.match(str(target_lag))
    refreshed = _utc(state.get("data_timestamp"))
    if refreshed is None:
        return False
    if not found:
        return True
    lag = timedelta(**{found.group(2).lower() + "s": int(found.group(1))})
    return datetime.now(timezone.utc) - refreshed <= 2 * lag


def _utc(value):
    """A timestamp as an aware UTC datetime (Snowflake returns data_timestamp with the session's time zone)."""
    if value is None or value != value:  # NULL, or NaT
        return None
    moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)

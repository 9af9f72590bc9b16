"""Every generated set of insights is kept, with its time, filters and model, in a store of the app's own.

Locally that is a DuckDB file of FinMatch's (FINMATCH_APP_DB), never the warehouse the connector
writes; the Snowflake table is covered in test_finmatch_in_snowflake.py.
"""

import json
from datetime import datetime, timedelta, timezone

import duckdb
from test_finmatch_app import button


def tables(path):
    with duckdb.connect(str(path), read_only=True) as db:
        return sorted(db.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall())


def test_each_generation_is_kept_outside_the_warehouse_listed_for_comparison_and_shown_step_by_step(
    app_on, finmatch_warehouse, tmp_path
):
    warehouse_tables = tables(finmatch_warehouse)
    at = app_on(finmatch_warehouse).run()
    started = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1)

    button(at, "Generate insights").click().run()
    at.sidebar.multiselect[0].set_value(["Retail"]).run()
    button(at, "Generate insights").click().run()

    assert not at.exception and not at.error
    with duckdb.connect(str(tmp_path / "finmatch_app.db"), read_only=True) as db:
        kept = db.execute(
            "SELECT generated_at, source, model, filters, sections FROM FINMATCH_INSIGHTS_HISTORY ORDER BY generated_at"
        ).fetchall()
    assert [(source, model, filters) for _, source, model, filters, _ in kept] == [
        ("computed by FinMatch", None, "All records"),
        ("computed by FinMatch", None, "Segment: Retail"),
    ]
    assert all(started <= generated <= datetime.now(timezone.utc).replace(tzinfo=None) for generated, *_ in kept)
    assert list(json.loads(kept[1][4])) == [
        "Overall performance",
        "Optimisation opportunities",
        "Financial impact",
        "Strategic recommendations",
    ]
    assert tables(finmatch_warehouse) == warehouse_tables

    [history] = [block for block in at.expander if block.label.startswith("History (2)")]
    listed = history.dataframe[0].value
    assert list(listed["Filters"]) == ["Segment: Retail", "All records"]
    compare = next(box for box in history.selectbox if box.label == "Compare with")
    assert "All records" in compare.options[0]
    earlier = "\n".join(block.value for block in history.markdown)
    assert "**Current**" in earlier and "**Earlier**" in earlier
    [status] = at.get("status")
    assert status.label == "Insights ready"
    assert [step.value for step in status.markdown] == [
        "Computing the figures over the table…",
        "Writing overall performance from the figures…",
        "Writing optimisation opportunities from the figures…",
        "Writing financial impact from the figures…",
        "Writing strategic recommendations from the figures…",
    ]

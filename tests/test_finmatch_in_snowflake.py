"""FinMatch's Snowflake path: the same SQL through a Snowpark session, and Cortex for the insights.

A stand-in session runs what the app sends on DuckDB, where FPR_RECORDS is a view of the
warehouse the connector wrote, and records every Cortex call with its prompt.
"""

import sys
import types

import duckdb
import pandas as pd
import pytest
from finmatch_insights import share

CORTEX_ANSWER = "Cortex says: act on the open high-affinity recommendations first."


class StandInSession:
    """What the app uses of a Snowpark Session: sql(query, params).to_pandas(), with upper-case column names."""

    def __init__(self, warehouse):
        self.connection = duckdb.connect()
        self.connection.execute(f"ATTACH '{warehouse}' AS source (READ_ONLY)")
        self.connection.execute("CREATE VIEW FPR_RECORDS AS SELECT * FROM source.tester.fpr_records")
        self.queries = []
        self.cortex_calls = []

    def sql(self, query, params=None):
        self.queries.append(query)
        return _Result(self, query, list(params or []))


class _Result:
    def __init__(self, session, query, params):
        self.session, self.query, self.params = session, query, params

    def to_pandas(self):
        if "SNOWFLAKE.CORTEX.COMPLETE" in self.query:
            model, prompt = self.params
            self.session.cortex_calls.append({"model": model, "prompt": prompt})
            return pd.DataFrame({"ANSWER": [f"{CORTEX_ANSWER} ({len(self.session.cortex_calls)})"]})
        result = self.session.connection.execute(self.query, self.params)
        names = [column[0].upper() for column in result.description]
        return pd.DataFrame.from_records(result.fetchall(), columns=names)


@pytest.fixture
def snowflake_session(finmatch_warehouse, monkeypatch, tmp_path):
    """Makes `snowflake.snowpark.context.get_active_session()` return the stand-in, as inside Snowflake."""
    session = StandInSession(finmatch_warehouse)
    context = types.ModuleType("snowflake.snowpark.context")
    context.get_active_session = lambda: session
    snowpark = types.ModuleType("snowflake.snowpark")
    snowpark.context = context
    snowflake = types.ModuleType("snowflake")
    snowflake.snowpark = snowpark
    monkeypatch.setitem(sys.modules, "snowflake", snowflake)
    monkeypatch.setitem(sys.modules, "snowflake.snowpark", snowpark)
    monkeypatch.setitem(sys.modules, "snowflake.snowpark.context", context)
    monkeypatch.setenv("FINMATCH_WAREHOUSE", str(tmp_path / "not-used.db"))  # proves DuckDB is not read
    return session


def test_in_snowflake_the_app_reads_fpr_records_through_the_session(app_on, snowflake_session, finmatch_warehouse):
    from test_finmatch_app import cards, expected_cards

    at = app_on(finmatch_warehouse)
    at.run()

    assert not at.exception
    assert "Source: Snowflake" in " ".join(caption.value for caption in at.sidebar.caption)
    assert cards(at) == expected_cards(finmatch_warehouse)
    assert all("tester." not in query for query in snowflake_session.queries)
    assert any("FROM FPR_RECORDS" in query for query in snowflake_session.queries)


def test_insights_in_snowflake_come_from_cortex_with_the_computed_statistics(
    app_on, snowflake_session, finmatch_warehouse
):
    at = app_on(finmatch_warehouse).run()
    at.sidebar.multiselect[0].set_value(["Retail"]).run()

    at.selectbox[0].set_value("mistral-large2").run()
    at.button[0].click().run()

    assert not at.exception
    calls = snowflake_session.cortex_calls
    assert [call["model"] for call in calls] == ["mistral-large2"] * 4
    with duckdb.connect(str(finmatch_warehouse), read_only=True) as db:
        records, acceptance = db.execute(
            "SELECT count(*), avg(CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END) "
            "FROM tester.fpr_records WHERE NOT coalesce(_fivetran_deleted, false) AND customer_segment = 'Retail'"
        ).fetchone()
    for call, focus in zip(
        calls, ["Overall performance", "Optimisation", "Financial impact", "Strategic"], strict=True
    ):
        assert focus in call["prompt"]
        assert f"Records in selection: {records} " in call["prompt"]
        assert f"Acceptance rate: {share(acceptance)}" in call["prompt"]
    text = "\n".join(block.value for block in at.markdown)
    assert f"{CORTEX_ANSWER} (1)" in text and f"{CORTEX_ANSWER} (4)" in text
    assert any("Snowflake Cortex (mistral-large2)" in caption.value for caption in at.caption)

"""FinMatch's Snowflake path: the same SQL through a Snowpark session, Cortex, roles and the history table.

A stand-in session runs what the app sends on DuckDB, where FPR_RECORDS is a view of the
warehouse the connector wrote (and where the history table is created beside it). It answers
AI_COMPLETE and IS_ROLE_IN_SESSION itself, records every statement, and can be told to fail.
"""

import sys
import types

import duckdb
import pandas as pd
import pytest
from finmatch_insights import share
from test_finmatch_app import LIVE, button, cards, charts, dataframe_with, expected_cards, explorer_frame

CORTEX_ANSWER = "Cortex says: act on the open high-affinity recommendations first."


class StandInSession:
    """What the app uses of a Snowpark Session: sql(query, params).to_pandas() / .collect()."""

    def __init__(self, warehouse):
        self.connection = duckdb.connect()
        self.connection.execute(f"ATTACH '{warehouse}' AS source (READ_ONLY)")
        self.connection.execute("CREATE VIEW FPR_RECORDS AS SELECT * FROM source.tester.fpr_records")
        self.queries = []
        self.cortex_calls = []
        self.roles = {"FINMATCH_VIEWER"}
        self.cortex_error = None
        self.role_check_error = None

    def sql(self, query, params=None):
        self.queries.append(query)
        return _Result(self, query, list(params or []))

    def answer(self, query, params):
        if "AI_COMPLETE" in query:
            if self.cortex_error:
                raise self.cortex_error
            model, prompt = params
            self.cortex_calls.append({"model": model, "prompt": prompt})
            return pd.DataFrame({"ANSWER": [f"{CORTEX_ANSWER} ({len(self.cortex_calls)})"]})
        if "IS_ROLE_IN_SESSION" in query:
            if self.role_check_error:
                raise self.role_check_error
            return pd.DataFrame({"ALLOWED": [any(role in self.roles for role in params)]})
        result = self.connection.execute(query, params)
        if result.description is None:
            return pd.DataFrame()
        names = [column[0].upper() for column in result.description]
        return pd.DataFrame.from_records(result.fetchall(), columns=names)


class _Result:
    def __init__(self, session, query, params):
        self.session, self.query, self.params = session, query, params

    def to_pandas(self):
        return self.session.answer(self.query, self.params)

    def collect(self):
        return self.session.answer(self.query, self.params).to_dict("records")


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
    return session


@pytest.fixture
def in_snowflake(app_on, snowflake_session, monkeypatch, tmp_path):
    """An AppTest of FinMatch inside the stand-in Snowflake; neither DuckDB file is ever read."""
    at = app_on(tmp_path / "not-used.db")
    monkeypatch.setenv("FINMATCH_APP_DB", str(tmp_path / "not-used-either.db"))
    return at


def history_rows(session):
    return session.connection.execute(
        "SELECT model, source, filters, sections FROM FINMATCH_INSIGHTS_HISTORY ORDER BY generated_at"
    ).fetchall()


def test_in_snowflake_the_app_reads_fpr_records_through_the_session(
    in_snowflake, snowflake_session, finmatch_warehouse, tmp_path
):
    at = in_snowflake.run()

    assert not at.exception and not at.error
    assert "Source: Snowflake" in " ".join(caption.value for caption in at.sidebar.caption)
    assert cards(at) == expected_cards(finmatch_warehouse)
    assert all("tester." not in query for query in snowflake_session.queries)
    assert any("FROM FPR_RECORDS" in query for query in snowflake_session.queries)
    assert not (tmp_path / "not-used.db").exists() and not (tmp_path / "not-used-either.db").exists()


def test_insights_come_from_ai_complete_with_the_default_model_and_are_kept_beside_fpr_records(
    in_snowflake, snowflake_session, finmatch_warehouse
):
    at = in_snowflake.run()
    at.sidebar.multiselect[0].set_value(["Retail"]).run()
    model = next(box for box in at.selectbox if box.label == "Cortex model")
    assert model.value == "claude-sonnet-4-6"

    button(at, "Generate insights").click().run()

    assert not at.exception and not at.warning
    calls = snowflake_session.cortex_calls
    assert [call["model"] for call in calls] == ["claude-sonnet-4-6"] * 4
    assert all("SNOWFLAKE.CORTEX.COMPLETE" not in query for query in snowflake_session.queries)
    with duckdb.connect(str(finmatch_warehouse), read_only=True) as db:
        records, accepted, decided = db.execute(
            "SELECT count(*), sum(CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN product_recommendation_status IN ('Accepted', 'Declined') THEN 1 ELSE 0 END) "
            f"{LIVE} AND customer_segment = 'Retail'"
        ).fetchone()
    for call, focus in zip(
        calls, ["Overall performance", "Optimisation", "Financial impact", "Strategic"], strict=True
    ):
        assert focus in call["prompt"]
        assert f"Records in selection: {records} " in call["prompt"]
        assert f"Acceptance rate (accepted / decided): {share(accepted / decided)}" in call["prompt"]
        assert "By segments" not in call["prompt"]  # filtered to one segment: nothing to compare
    text = "\n".join(block.value for block in at.markdown)
    assert f"{CORTEX_ANSWER} (1)" in text and f"{CORTEX_ANSWER} (4)" in text
    [(kept_model, source, filters, sections)] = history_rows(snowflake_session)
    assert (kept_model, source, filters) == ("claude-sonnet-4-6", "Snowflake Cortex", "Segment: Retail")
    assert f"{CORTEX_ANSWER} (4)" in sections


def test_another_model_can_be_chosen(in_snowflake, snowflake_session):
    at = in_snowflake.run()

    next(box for box in at.selectbox if box.label == "Cortex model").set_value("llama4-maverick").run()
    button(at, "Generate insights").click().run()

    assert {call["model"] for call in snowflake_session.cortex_calls} == {"llama4-maverick"}


def test_a_cortex_failure_is_a_short_message_with_computed_insights_and_no_other_tab_is_affected(
    in_snowflake, snowflake_session
):
    snowflake_session.cortex_error = RuntimeError(
        '100351 (P0000): Request failed for external function AI_COMPLETE: unknown model "claude-sonnet-4-6"\n'
        "  at line 1 position 7 ... (a long stack of details)"
    )
    at = in_snowflake.run()

    button(at, "Generate insights").click().run()

    assert not at.exception and not at.error
    [warning] = at.warning
    assert warning.value.startswith("Cortex could not write the insights (100351 (P0000): Request failed")
    assert "long stack" not in warning.value
    headings = [block.value.split("\n")[0] for block in at.markdown if block.value.startswith("####")]
    assert headings[:4] == [
        "#### Overall performance",
        "#### Optimisation opportunities",
        "#### Financial impact",
        "#### Strategic recommendations",
    ]
    assert any("computed by FinMatch" in caption.value for caption in at.caption)
    [status] = at.get("status")
    assert "Cortex failed: using the computed insights." in [step.value for step in status.markdown]
    assert len(at.metric) == 8 and len(charts(at)) == 7
    assert len(dataframe_with(at, "Action score")) == 50
    assert len(dataframe_with(at, "Estimated acceptance")) == 5
    assert len(explorer_frame(at)) == 25
    [(model, source, _, _)] = history_rows(snowflake_session)
    assert (model, source) == (None, "computed by FinMatch")


def test_customer_data_is_unmasked_only_for_a_configured_role_in_the_session(in_snowflake, snowflake_session):
    snowflake_session.roles = {"ANALYST", "FINMATCH_CUSTOMER_DATA"}
    at = in_snowflake.run()

    actions = dataframe_with(at, "Action score")
    assert all(value.startswith("CUST_") and "•" not in value for value in actions["Customer ID"])
    role_checks = [query for query in snowflake_session.queries if "IS_ROLE_IN_SESSION" in query]
    assert len(role_checks) == 1


@pytest.mark.parametrize("problem", ["role not held", "role check fails"])
def test_customer_data_stays_masked_without_the_role(in_snowflake, snowflake_session, problem):
    snowflake_session.roles = {"ANALYST"}
    if problem == "role check fails":
        snowflake_session.roles = {"FINMATCH_CUSTOMER_DATA"}
        snowflake_session.role_check_error = RuntimeError("READ SESSION is not granted")
    at = in_snowflake.run()

    actions = dataframe_with(at, "Action score")
    assert all("•" in value for value in actions["Customer ID"]) and all("•" in value for value in actions["Customer"])
    assert "only FINMATCH_CUSTOMER_DATA may see it" in " ".join(caption.value for caption in at.sidebar.caption)


def test_the_role_list_is_a_setting(in_snowflake, snowflake_session, monkeypatch):
    monkeypatch.setenv("FINMATCH_UNMASK_ROLES", "RISK_OFFICER, BRANCH_MANAGER")
    snowflake_session.roles = {"BRANCH_MANAGER"}
    at = in_snowflake.run()

    assert all("•" not in value for value in dataframe_with(at, "Action score")["Customer ID"])


def queries_during(session, action):
    before = len(session.queries)
    action()
    return len(session.queries) - before


def test_queries_per_interaction_are_few_and_a_repeat_costs_none(in_snowflake, snowflake_session):
    at = in_snowflake
    session = snowflake_session
    counts = {
        "first load": queries_during(session, at.run),
        "same page again": queries_during(session, at.run),
        "segment filter": queries_during(session, lambda: at.sidebar.multiselect[0].set_value(["Retail"]).run()),
        "explorer page 2": queries_during(
            session, lambda: next(b for b in at.number_input if b.label.startswith("Page")).set_value(2).run()
        ),
        "another customer in Match": queries_during(
            session,
            lambda: next(b for b in at.selectbox if b.label.startswith("Customer")).select_index(1).run(),
        ),
        "generate insights": queries_during(session, lambda: button(at, "Generate insights").click().run()),
        "back to all segments": queries_during(session, lambda: at.sidebar.multiselect[0].set_value([]).run()),
    }
    print(counts)

    assert not at.exception
    assert counts == {
        "first load": 22,  # one per figure, chart and list, the role check and the history listing
        "same page again": 0,
        "segment filter": 16,  # everything that depends on the filters, nothing else
        "explorer page 2": 1,
        "another customer in Match": 2,  # profile and ranking
        "generate insights": 11,  # 4 figures + 4 AI_COMPLETE + create, insert and list the history
        "back to all segments": 0,  # answered from the cache
    }

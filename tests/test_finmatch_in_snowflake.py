"""FinMatch's Snowflake path: the app through a Snowpark session, Cortex, the viewer's access, the history table.

A stand-in session plays Snowflake for the app. It parses every statement as Snowflake SQL with sqlglot
(a statement that does not parse fails the test that sent it), then runs sqlglot's DuckDB translation
on a DuckDB where FPR_RECORDS is a view of the warehouse the connector wrote. The translation keeps
Snowflake's meaning where the engines differ, NULLs first in a descending order among them, so the
figures the app shows here are those Snowflake would show.

It models owner's rights as Streamlit in Snowflake runs the app: CURRENT_ROLE names the owner's role
and IS_ROLE_IN_SESSION looks at the owner's roles, which here include the customer-data role (the
grant an owner might make to "fix" masking); CURRENT_USER names the viewer only when the owner role
holds READ SESSION, and fails otherwise. It answers AI_COMPLETE itself and records every statement.
"""

import dataclasses
import io
import re
import sys
import types
from collections import Counter

import duckdb
import pandas as pd
import pytest
import sqlglot
from conftest import APP_DIR
from sqlglot import exp
from streamlit.testing.v1 import AppTest
from test_finmatch_app import (
    LIVE,
    TABS,
    button,
    campaign_frame,
    cards,
    charts,
    choose_customer,
    choose_product,
    dataframe_with,
    expected_cards,
    explorer_frame,
    is_pseudonym,
)

CORTEX_ANSWER = "Cortex says: act on the open high-affinity recommendations first."
OWNER_ROLE = "FINMATCH_OWNER"
ALLOWED_VIEWER = "ALICE"
OTHER_VIEWER = "BOB"


class NoReadSession(RuntimeError):
    """What a context function raises under owner's rights when the owner role lacks READ SESSION."""


class StandInSession:
    """What the app uses of a Snowpark Session: sql(query, params).to_pandas() / .collect()."""

    def __init__(self, warehouse):
        self.connection = duckdb.connect()
        self.connection.execute(f"ATTACH '{warehouse}' AS source (READ_ONLY)")
        self.connection.execute("CREATE VIEW FPR_RECORDS AS SELECT * FROM source.tester.fpr_records")
        self.queries = []
        self.cortex_calls = []
        # Owner's rights: the role functions answer for the owner's roles, whoever views the app.
        self.owner_roles = {OWNER_ROLE, "FINMATCH_CUSTOMER_DATA"}
        self.viewer = OTHER_VIEWER
        self.read_session_granted = True
        self.cortex_error = None

    def sql(self, query, params=None):
        self.queries.append(query)
        return _Result(self, query, list(params or []))

    def answer(self, query, params):
        statement = sqlglot.parse_one(query, read="snowflake")  # a statement Snowflake could not parse fails here
        if any(isinstance(node, exp.Anonymous) and node.name.upper() == "AI_COMPLETE" for node in statement.walk()):
            return self._complete(params)
        translated = statement.transform(self._owner_rights).sql(dialect="duckdb")
        result = self.connection.execute(translated, params)
        if result.description is None:
            return pd.DataFrame()
        names = [column[0].upper() for column in result.description]
        return pd.DataFrame.from_records(result.fetchall(), columns=names)

    def _owner_rights(self, node):
        """Context functions as they answer inside an owner's-rights app."""
        if isinstance(node, exp.CurrentRole):
            return exp.Literal.string(OWNER_ROLE)
        if isinstance(node, exp.Anonymous) and node.name.upper() == "IS_ROLE_IN_SESSION":
            return exp.In(this=node.expressions[0], expressions=[exp.Literal.string(r) for r in self.owner_roles])
        if isinstance(node, exp.CurrentUser):
            if not self.read_session_granted:
                raise NoReadSession("Insufficient privileges to operate on session: READ SESSION is not granted")
            return exp.Null() if self.viewer is None else exp.Literal.string(self.viewer)
        return node

    def _complete(self, params):
        if self.cortex_error:
            raise self.cortex_error
        model, prompt = params
        self.cortex_calls.append({"model": model, "prompt": prompt})
        return pd.DataFrame({"ANSWER": [f"{CORTEX_ANSWER} ({len(self.cortex_calls)})"]})


class _Result:
    def __init__(self, session, query, params):
        self.session, self.query, self.params = session, query, params

    def to_pandas(self):
        return self.session.answer(self.query, self.params)

    def collect(self):
        return self.session.answer(self.query, self.params).to_dict("records")


def install_stand_in(session, monkeypatch):
    """Makes `snowflake.snowpark.context.get_active_session()` return `session`, as inside Snowflake."""
    context = types.ModuleType("snowflake.snowpark.context")
    context.get_active_session = lambda: session
    snowpark = types.ModuleType("snowflake.snowpark")
    snowpark.context = context
    snowflake = types.ModuleType("snowflake")
    snowflake.snowpark = snowpark
    monkeypatch.setitem(sys.modules, "snowflake", snowflake)
    monkeypatch.setitem(sys.modules, "snowflake.snowpark", snowpark)
    monkeypatch.setitem(sys.modules, "snowflake.snowpark.context", context)


def installed(session, monkeypatch):
    """The session as the app's active Snowpark session, with ALLOWED_VIEWER on the app's allow-list."""
    install_stand_in(session, monkeypatch)
    monkeypatch.setenv("FINMATCH_UNMASK_USERS", ALLOWED_VIEWER)
    return session


@pytest.fixture
def snowflake_session(finmatch_warehouse, monkeypatch):
    return installed(StandInSession(finmatch_warehouse), monkeypatch)


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
        assert f"Acceptance rate (accepted / decided): {accepted / decided:.1%}" in call["prompt"]
        assert "Acceptance by segment" not in call["prompt"]  # filtered to one segment: nothing to compare
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
    at = choose_customer(choose_product(in_snowflake.run()))

    button(at, "Generate insights").click().run()

    assert not at.exception and not at.error
    [warning] = [warning for warning in at.warning if warning.value.startswith("Cortex")]
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
    assert len(at.metric) == 8 and len(charts(at)) == 8
    assert len(dataframe_with(at, "Action score")) == 50
    assert len(dataframe_with(at, "Estimated acceptance")) > 0
    assert len(campaign_frame(at)) == 100
    assert len(explorer_frame(at)) == 25
    [(model, source, _, _)] = history_rows(snowflake_session)
    assert (model, source) == (None, "computed by FinMatch")


# ---------- customer data: decided on the viewer, under owner's rights ----------


def personal_values(at):
    """Every customer id and name the page shows in its tables."""
    frames = [dataframe_with(at, "Action score"), explorer_frame(at)]
    shown = [value for frame in frames for column in ("Customer ID", "Customer") for value in frame[column]]
    return shown + list(campaign_frame(at)["Customer ID"])


def masked(value):
    return "•" in value or is_pseudonym(value)


def test_an_allowed_viewer_sees_customer_data_everywhere_including_the_campaign_download(
    in_snowflake, snowflake_session, downloads
):
    snowflake_session.viewer = ALLOWED_VIEWER
    at = choose_product(in_snowflake.run())

    shown = personal_values(at)
    assert shown and not any(masked(value) for value in shown)
    listed = campaign_frame(at)
    exported = pd.read_csv(io.BytesIO(downloads["Download the campaign list as CSV"].encode()), encoding="utf-8-sig")
    assert list(exported["customer_id"]) == list(listed["Customer ID"])
    assert all(value.startswith("CUST_") for value in exported["customer_id"]) and not exported["pseudonymous"].any()
    assert f"Customer data shown: {ALLOWED_VIEWER} is allowed to see it." in " ".join(
        caption.value for caption in at.sidebar.caption
    )
    assert sum("CURRENT_USER" in query for query in snowflake_session.queries) == 1


def test_a_viewer_not_on_the_list_sees_masked_data_although_the_owners_role_holds_the_customer_data_role(
    in_snowflake, snowflake_session, downloads
):
    """IS_ROLE_IN_SESSION and CURRENT_ROLE answer for the owner: an app that trusted them would unmask here."""
    snowflake_session.viewer = OTHER_VIEWER
    at = choose_product(in_snowflake.run())

    shown = personal_values(at)
    assert shown and all(masked(value) for value in shown)
    for csv in downloads.values():
        assert not any(f"customer{number}@example.com" in csv for number in range(1, 751))
        assert "CUST_0" not in csv
    assert not any("IS_ROLE_IN_SESSION" in query or "CURRENT_ROLE" in query for query in snowflake_session.queries)
    assert f"Customer data masked: {OTHER_VIEWER} is not on the list" in " ".join(
        caption.value for caption in at.sidebar.caption
    )


@pytest.mark.parametrize("problem", ["READ SESSION not granted", "no user reported", "empty allow-list"])
def test_customer_data_stays_masked_when_the_viewer_cannot_be_established(
    in_snowflake, snowflake_session, monkeypatch, problem
):
    snowflake_session.viewer = ALLOWED_VIEWER
    if problem == "READ SESSION not granted":
        snowflake_session.read_session_granted = False
    elif problem == "no user reported":
        snowflake_session.viewer = None
    else:
        monkeypatch.setenv("FINMATCH_UNMASK_USERS", "")
    at = choose_product(in_snowflake.run())

    assert not at.exception
    shown = personal_values(at)
    assert shown and all(masked(value) for value in shown)
    assert "Customer data masked" in " ".join(caption.value for caption in at.sidebar.caption)


def test_the_allow_list_is_a_setting(in_snowflake, snowflake_session, monkeypatch):
    monkeypatch.setenv("FINMATCH_UNMASK_USERS", "RISK_OFFICER, BRANCH_MANAGER")
    snowflake_session.viewer = "BRANCH_MANAGER"
    at = in_snowflake.run()

    assert all("•" not in value for value in dataframe_with(at, "Action score")["Customer ID"])


# ---------- Snowflake SQL ----------


def every_interaction(at):
    """Drives every tab: filters, the explorer's pages and search, Match, a campaign, insights."""
    at.run()
    at.sidebar.multiselect[0].set_value(["Retail"]).run()
    at.sidebar.date_input[0].set_value((pd.Timestamp("2024-03-01").date(), pd.Timestamp("2025-02-28").date())).run()
    next(b for b in at.number_input if b.label.startswith("Page")).set_value(2).run()
    next(b for b in at.text_input if b.label.startswith("Search")).input("Product 1").run()
    next(b for b in at.selectbox if b.label.startswith("Customer")).select_index(1).run()
    product = next(b for b in at.selectbox if b.label == "Product to offer")
    product.select_index(len(product.options) - 1).run()
    next(b for b in at.multiselect if b.label == "Target segments").set_value(["Corporate"]).run()
    button(at, "Save the campaign members for the CRM").click().run()
    next(t for t in at.toggle if t.label == "Build the retention list").set_value(True).run()
    next(b for b in at.multiselect if b.label == "Segments").set_value(["Retail"]).run()
    next(b for b in at.number_input if b.label == "Days in stage, at least").set_value(0).run()
    button(at, "Save the retention members for the CRM").click().run()
    button(at, "Generate insights").click().run()
    at.sidebar.multiselect[0].set_value([]).run()
    return at


@dataclasses.dataclass
class Driven:
    """What driving every tab once in the stand-in Snowflake left: the statements sent, parsed, and the tabs."""

    queries: list
    parsed: dict  # each distinct statement, parsed as Snowflake SQL
    tabs: list
    failed: bool  # an exception or an error shown


@pytest.fixture(scope="module")
def every_tab_driven(finmatch_warehouse, tmp_path_factory):
    """Every tab driven once (five seconds), its statements read by each test below; nothing outlives the drive."""
    folder = tmp_path_factory.mktemp("every-tab")
    with pytest.MonkeyPatch.context() as monkeypatch:
        session = installed(StandInSession(finmatch_warehouse), monkeypatch)
        monkeypatch.setenv("FINMATCH_WAREHOUSE", str(folder / "not-used.db"))
        monkeypatch.setenv("FINMATCH_APP_DB", str(folder / "not-used-either.db"))
        monkeypatch.delenv("FINMATCH_SHOW_CUSTOMER_DATA", raising=False)
        at = every_interaction(AppTest.from_file(str(APP_DIR / "streamlit_app.py"), default_timeout=60))
    parsed = {}
    for query in dict.fromkeys(session.queries):
        try:
            parsed[query] = sqlglot.parse_one(query, read="snowflake")
        except sqlglot.errors.ParseError as error:  # pragma: no cover - the failure message is the point
            pytest.fail(f"not Snowflake SQL: {error}\n{query}")
    return Driven(list(session.queries), parsed, [tab.label for tab in at.tabs], bool(at.exception or at.error))


def test_every_statement_of_every_tab_parses_as_snowflake_sql(every_tab_driven):
    assert not every_tab_driven.failed
    # every question the app asks, each parsed (a statement that does not parse failed the drive)
    assert {question_of(query) for query in every_tab_driven.parsed} == set(QUESTIONS)
    assert every_tab_driven.tabs == TABS


def test_every_function_called_is_one_snowflake_has(every_tab_driven):
    """sqlglot parses an unknown function as an anonymous one without complaint: a DuckDB-only function sent
    to Snowflake would parse. Only AI_COMPLETE, which sqlglot does not model, may be anonymous."""
    anonymous = {
        node.name.upper()
        for statement in every_tab_driven.parsed.values()
        for node in statement.walk()
        if isinstance(node, exp.Anonymous)
    }
    assert anonymous == {"AI_COMPLETE"}


def test_every_order_by_says_where_nulls_go(every_tab_driven):
    """Each sort key (ORDER BY and window ORDER BY alike) is followed by NULLS FIRST or NULLS LAST in the text sent.

    sqlglot fills in the dialect's default when the text says nothing, so the text itself is counted.
    """
    unplaced = [
        query
        for query, statement in every_tab_driven.parsed.items()
        if len(NULL_PLACEMENT.findall(query)) != len(list(statement.find_all(exp.Ordered)))
    ]
    assert not unplaced, unplaced[:2]


NULL_PLACEMENT = re.compile(r"\bNULLS\s+(FIRST|LAST)\b", re.IGNORECASE)


def test_every_division_is_floating_point(every_tab_driven):
    for query, statement in every_tab_driven.parsed.items():
        for division in statement.find_all(exp.Div):
            assert _is_double(division.this) or _is_double(division.expression), (division.sql(), query)


def _is_double(node):
    """A DOUBLE cast, or an expression built on one (a sum or product with a DOUBLE term is a DOUBLE)."""
    if isinstance(node, exp.Paren):
        return _is_double(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this in (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT)
    if isinstance(node, exp.Add | exp.Mul | exp.Sub):
        return _is_double(node.this) or _is_double(node.expression)
    if isinstance(node, exp.Column):  # a column this app computed as a DOUBLE ratio
        return node.name in {"base_rate", "outcome", "accepted"}
    return False


def test_dates_and_timestamps_are_passed_with_explicit_formats(every_tab_driven):
    sent = "\n".join(every_tab_driven.queries)
    for statement in every_tab_driven.parsed.values():
        for cast in statement.find_all(exp.Cast):
            assert not isinstance(cast.this, exp.Placeholder), cast.sql(dialect="snowflake")
    assert "TO_DATE(?, 'YYYY-MM-DD')" in sent
    assert "TO_TIMESTAMP_NTZ(?, 'YYYY-MM-DD HH24:MI:SS.FF6')" in sent
    assert "TO_VARCHAR(CONVERT_TIMEZONE('UTC', max(_fivetran_synced)), 'YYYY-MM-DD HH24:MI')" in sent


def test_the_last_sync_is_shown_in_utc_as_the_database_formats_it(in_snowflake, finmatch_warehouse):
    at = in_snowflake.run()

    with duckdb.connect(str(finmatch_warehouse), read_only=True) as db:
        (synced,) = db.execute(
            f"SELECT strftime(max(_fivetran_synced) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') {LIVE}"
        ).fetchone()
    assert f"last synced {synced} UTC" in "\n".join(caption.value for caption in at.caption)


# ---------- statements per interaction ----------


# Each question the app asks Snowflake, told by a fragment of its statement. The first that matches names it: a
# campaign list computes the customers' profiles and Match's outcome cells inline, so it comes before them.
QUESTIONS = {
    "the columns": "LIMIT 0",
    "the filters' values": "'segments' AS field",
    "the date range": "min(product_recommendation_date) AS first_date",
    "the charts' counts": "GROUPING(month)",
    "the viewer": "CURRENT_USER()",
    "the dynamic tables deployed": "FROM FINMATCH_DERIVED",
    "the cards and both compared periods": "in_selection, period",
    "the freshness": "AS latest_epoch",
    "the action list": "WITH urgent AS",
    "a campaign list and its suppression counts": "WITH candidates AS",
    "a product's training sample": "AS record_hash",
    "the products' outcomes": "AS stale_open",
    "the retention list": "WITH matching AS",
    "the pseudonym key table": "CREATE TABLE IF NOT EXISTS FINMATCH_PSEUDONYM_KEY",
    "a new pseudonym key": "INSERT INTO FINMATCH_PSEUDONYM_KEY",
    "the pseudonym key": "SELECT pseudonym_key",
    "the members table": "CREATE TABLE IF NOT EXISTS FINMATCH_CAMPAIGN_MEMBERS",
    "a campaign's earlier members": "DELETE FROM FINMATCH_CAMPAIGN_MEMBERS",
    "campaign members": "INSERT INTO FINMATCH_CAMPAIGN_MEMBERS",
    "a customer's profile": "MAX_BY(profile_code",
    "a customer's products": "'recommended' AS kind",
    "Match's outcome cells": "AS held_out",
    "an explorer page": "last_updated_epoch DESC",
    "the records a search matches": "count(*) AS n ",
    "the history listing": "FROM FINMATCH_INSIGHTS_HISTORY ORDER BY",
    "the history table": "CREATE TABLE IF NOT EXISTS FINMATCH_INSIGHTS_HISTORY",
    "a history entry": "INSERT INTO FINMATCH_INSIGHTS_HISTORY",
    "the cards of one selection": "SELECT count(*) AS records",
    "the opportunity figures": "AS open_high_affinity",
    "acceptance by one dimension": "AS value, count(*) AS records",
    "a Cortex answer": "AI_COMPLETE(",
}


def question_of(statement):
    """The question a statement asks (a statement that matches none fails the test: each must be accounted for)."""
    found = [name for name, fragment in QUESTIONS.items() if fragment in statement]
    assert found, statement
    return found[0]


def questions_during(session, action):
    """{question: statements sent} while `action` runs."""
    before = len(session.queries)
    action()
    return Counter(question_of(statement) for statement in session.queries[before:])


# What each interaction must ask, question by question: every statement is accounted for, and none is sent twice.
# The page, once per session or per filter choice.
PAGE = [
    "the columns",
    "the dynamic tables deployed",  # none here: the rest of the list is asked of FPR_RECORDS (see the masking tests)
    "the filters' values",
    "the date range",
    "the charts' counts",
    "the viewer",
]
# Each tab on a first load, in the order of the tabs.
TAB_QUESTIONS = {
    "Overview": ["the cards and both compared periods", "the freshness"],  # its charts use the page's counts
    "Distributions": [],  # the page's counts
    "Who to act on": ["the action list"],
    "Campaigns": [],  # nothing before a product is chosen
    "Retention": [],  # nothing before the list is asked for
    "Match": [],  # nothing before a customer is chosen
    "Insights": ["the history listing"],  # nothing is computed before Generate insights
    "Data explorer": ["an explorer page"],
}
# The products' rates (once a day), the product's model (its training sample), the list and its counts in one
# statement, and the key of masked ids (drawn on first use: the table is created and a key inserted).
FIRST_PRODUCT = [
    "the products' outcomes",
    "a product's training sample",
    "a campaign list and its suppression counts",
    "the pseudonym key table",
    "the pseudonym key",
    "a new pseudonym key",
    "the pseudonym key",
]
FIRST_CUSTOMER = ["a customer's profile", "a customer's products", "Match's outcome cells"]
# The questions whose answer depends on the sidebar's filters, once a product and a customer are chosen. Campaigns
# and Match's outcome cells look at every record whatever the filters; Match's customer does change, since the
# picker restarts at the top of the filtered action list.
FILTERED = [
    "the charts' counts",
    "the cards and both compared periods",
    "the action list",
    "a customer's profile",
    "a customer's products",
    "an explorer page",
]
FOCUS_AREAS = 4  # Overall performance, Optimisation opportunities, Financial impact, Strategic recommendations
DIMENSIONS = 3  # product recommended, segment, lifecycle stage
GENERATE_INSIGHTS = Counter(
    {
        "the cards of one selection": 2,  # the selection's and the portfolio's (the action list is already cached)
        "the opportunity figures": 1,
        "acceptance by one dimension": DIMENSIONS,
        "a Cortex answer": FOCUS_AREAS,
        "the history table": 1,
        "a history entry": 1,
        "the history listing": 1,  # read again to list the new entry
    }
)


def test_each_interaction_asks_only_what_it_changes_and_a_repeat_asks_nothing(in_snowflake, snowflake_session):
    at = in_snowflake
    session = snowflake_session

    first_load = questions_during(session, at.run)
    assert first_load == Counter(PAGE + [question for tab in TABS for question in TAB_QUESTIONS[tab]])
    assert questions_during(session, at.run) == Counter()  # every answer is cached
    assert questions_during(session, lambda: choose_product(at)) == Counter(FIRST_PRODUCT)
    assert questions_during(session, lambda: choose_customer(at)) == Counter(FIRST_CUSTOMER)
    segment = questions_during(session, lambda: at.sidebar.multiselect[0].set_value(["Retail"]).run())
    assert segment == Counter(FILTERED)
    page = next(b for b in at.number_input if b.label.startswith("Page"))
    assert questions_during(session, lambda: page.set_value(2).run()) == Counter(["an explorer page"])
    customer = next(b for b in at.selectbox if b.label.startswith("Customer"))
    assert questions_during(session, lambda: customer.select_index(1).run()) == Counter(
        ["a customer's profile", "a customer's products"]
    )
    product = next(b for b in at.selectbox if b.label == "Product to offer")
    assert questions_during(session, lambda: product.select_index(1).run()) == Counter(
        ["a product's training sample", "a campaign list and its suppression counts"]
    )
    assert questions_during(session, lambda: button(at, "Generate insights").click().run()) == GENERATE_INSIGHTS
    assert questions_during(session, lambda: at.sidebar.multiselect[0].set_value([]).run()) == Counter()  # cached
    assert not at.exception

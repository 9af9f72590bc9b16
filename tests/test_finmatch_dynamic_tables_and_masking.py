"""FinMatch's Snowflake objects: the dynamic tables it reads and the masking policy on customer data.

Every statement `make deploy-app` runs before the upload (tools/finmatch_snowflake_sql.py) runs here on the
stand-in session of test_finmatch_in_snowflake.py, which parses each as Snowflake SQL. What sqlglot cannot parse
(a masking policy, SHOW DYNAMIC TABLES) the stand-in carries out as Snowflake documents it:

- a dynamic table is created by running its query at once (INITIALIZE = ON_CREATE), as its refresh would run: as
  Snowflake's special SYSTEM user, so a masking policy deciding on CURRENT_USER() masks for it;
- a masking policy's body is parsed as Snowflake SQL and applied to the column it is set on, evaluated for the user
  of each query: the viewer (READ SESSION granted) or nobody (not granted), and with the role functions answering for
  the app's owner, whose roles include the customer-data role;
- SHOW DYNAMIC TABLES lists each with its target lag, refresh mode, state and the time of its data.

Then FinMatch runs on it, as a banker would use it, with the tables deployed and without them.
"""

import re
import sys
from datetime import datetime, timedelta, timezone

import duckdb
import pandas as pd
import pytest
import sqlglot
from conftest import ROOT
from sqlglot import exp
from test_finmatch_app import campaign_frame, cards, choose_customer, choose_product, dataframe_with, expected_cards
from test_finmatch_in_snowflake import (
    ALLOWED_VIEWER,
    OTHER_VIEWER,
    StandInSession,
    installed,
)

sys.path.insert(0, str(ROOT / "tools"))

import finmatch_snowflake_sql as deploy_sql  # noqa: E402

from finmatch.data.derived import for_engine  # noqa: E402
from finmatch.data.derived_snowflake import dynamic_table_name  # noqa: E402

POLICY = re.compile(
    r"^CREATE MASKING POLICY IF NOT EXISTS (\w+) AS \((\w+) VARCHAR\) RETURNS VARCHAR -> (.+)$", re.DOTALL
)
POLICY_BODY = re.compile(r"^ALTER MASKING POLICY (\w+) SET BODY -> (.+)$", re.DOTALL)
SET_POLICY = re.compile(r"^ALTER TABLE FPR_RECORDS MODIFY COLUMN (\w+) SET MASKING POLICY (\w+) FORCE$")
SHOW = re.compile(r"^SHOW DYNAMIC TABLES LIKE '(\w+)%'$")
DROP = re.compile(r"^DROP DYNAMIC TABLE IF EXISTS (\w+)$")
DYNAMIC = re.compile(r"TARGET_LAG = '([^']+)' WAREHOUSE = \w+ REFRESH_MODE = (\w+)")
REFRESHING_USER = "SYSTEM"  # dynamic table refreshes run as their owner role with this special user


class GovernedStandIn(StandInSession):
    """The stand-in session, carrying out masking policies and dynamic tables as well."""

    def __init__(self, warehouse):
        super().__init__(warehouse)
        self.connection.execute("CREATE TABLE _query_user (name VARCHAR)")
        self.policies, self.protected, self.dynamic = {}, {}, {}

    def answer(self, query, params):
        self._set_query_user(self._user())
        text = query.strip()
        for pattern, carry_out in (
            (POLICY, self._create_policy),
            (POLICY_BODY, self._set_body),
            (SET_POLICY, self._protect),
            (SHOW, self._show),
            (DROP, self._drop),
        ):
            found = pattern.match(text)
            if found:
                return carry_out(*found.groups())
        if text.startswith("CREATE OR REPLACE DYNAMIC TABLE"):
            return self._create_dynamic(text)
        return super().answer(query, params)

    def _user(self):
        return self.viewer if self.read_session_granted else None

    def _set_query_user(self, user):
        self.connection.execute("DELETE FROM _query_user")
        self.connection.execute("INSERT INTO _query_user VALUES (?)", [user])

    def _create_policy(self, name, argument, body):
        assert argument == "value"
        self.policies.setdefault(name, sqlglot.parse_one(body, read="snowflake"))
        return pd.DataFrame()

    def _set_body(self, name, body):
        self.policies[name] = sqlglot.parse_one(body, read="snowflake")
        self._protect_again()
        return pd.DataFrame()

    def _protect(self, column, policy):
        assert policy in self.policies, f"{policy} set on {column} before it exists"
        self.protected[column.lower()] = policy
        self._protect_again()
        return pd.DataFrame()

    def _protect_again(self):
        """FPR_RECORDS as a view whose protected columns are their policies' bodies, for the user of each query."""
        if not self.protected:
            return
        replaced = ", ".join(
            f"{self._body_on(self.policies[policy], column)} AS {column}" for column, policy in self.protected.items()
        )
        self.connection.execute(
            f"CREATE OR REPLACE VIEW FPR_RECORDS AS SELECT * REPLACE ({replaced}) FROM source.tester.fpr_records"
        )

    def _body_on(self, body, column):
        def rewrite(node):
            if isinstance(node, exp.Column) and node.name.lower() == "value":
                return exp.column(column)
            if isinstance(node, exp.CurrentUser):
                return sqlglot.parse_one("(SELECT name FROM _query_user)", read="duckdb")
            return self._owner_rights(node) if not isinstance(node, exp.CurrentUser) else node

        return body.transform(rewrite).sql(dialect="duckdb")

    def _create_dynamic(self, text):
        lag, mode = DYNAMIC.search(text).groups()
        statement = sqlglot.parse_one(text, read="snowflake")
        name = statement.this.name
        self._set_query_user(REFRESHING_USER)
        self.connection.execute(f"CREATE OR REPLACE TABLE {name} AS {statement.expression.sql(dialect='duckdb')}")
        self.dynamic[name] = {
            "name": name,
            "target_lag": lag,
            "refresh_mode": mode,
            "scheduling_state": "RUNNING",
            "data_timestamp": pd.Timestamp(datetime.now(timezone.utc)),
        }
        return pd.DataFrame()

    def _drop(self, name):
        self.connection.execute(f"DROP TABLE IF EXISTS {name}")
        self.dynamic.pop(name, None)
        return pd.DataFrame()

    def _show(self, prefix):
        rows = [row for name, row in self.dynamic.items() if name.startswith(prefix)]
        return pd.DataFrame(rows, columns=["name", "target_lag", "refresh_mode", "scheduling_state", "data_timestamp"])

    def run_all(self, statements):
        for statement in statements:
            self.sql(statement).collect()


def columns_and_vocabulary(session):
    """What tools/deploy_app.py reads of FPR_RECORDS first, with the same statements."""
    columns = {row["COLUMN_NAME"].lower() for row in session.sql(deploy_sql.columns_sql()).collect()}
    rows = session.sql(deploy_sql.vocabulary_sql(columns)).collect()
    return columns, deploy_sql.vocabulary_from([(row["FIELD"], row["VALUE"]) for row in rows])


def reads(sent, table):
    """Whether a statement sent reads `table` (FROM it or JOIN it)."""
    return re.search(rf"\b(FROM|JOIN) {table}\b", sent) is not None


def deploy(session, **environ):
    columns, vocabulary = columns_and_vocabulary(session)
    statements = deploy_sql.deploy_statements(vocabulary, columns, "BANK_WH", environ)
    session.run_all(statements)
    return statements


@pytest.fixture
def governed(finmatch_warehouse, monkeypatch):
    return installed(GovernedStandIn(finmatch_warehouse), monkeypatch)


@pytest.fixture
def app_in(app_on, monkeypatch, tmp_path):
    """A new viewer's page: nothing cached from an earlier one (the same session answers them all here)."""
    from finmatch.data.cache import forget_everything

    def make():
        forget_everything()
        at = app_on(tmp_path / "not-used.db")
        monkeypatch.setenv("FINMATCH_APP_DB", str(tmp_path / "not-used-either.db"))
        return at

    return make


def test_every_statement_runs_and_creates_one_dynamic_table_per_derived_table_with_no_name_or_email(governed):
    statements = deploy(governed)

    expected = {dynamic_table_name(derived.name) for derived in for_engine("snowflake")}
    assert set(governed.dynamic) == expected
    assert all(
        sqlglot.parse_one(statement, read="snowflake") is not None for statement in statements
    )  # each parsed (a Command for what sqlglot does not model, carried out above)
    catalog = governed.sql("SELECT name, target_lag, refresh_mode FROM FINMATCH_DERIVED").to_pandas()
    assert sorted(catalog["NAME"]) == sorted(derived.name for derived in for_engine("snowflake"))
    assert set(catalog["TARGET_LAG"]) == {"1 hour"}
    assert {row["refresh_mode"] for row in governed.dynamic.values()} == {"INCREMENTAL", "FULL"}
    for name in governed.dynamic:
        columns = {
            column[0].lower() for column in governed.connection.execute(f"SELECT * FROM {name} LIMIT 0").description
        }
        assert not columns & {"customer_name", "customer_email"}, name
    assert "REFRESH_MODE = AUTO" not in " ".join(statements)


def test_the_target_lag_is_a_setting_and_a_lag_snowflake_cannot_read_is_refused(governed):
    deploy(governed, FINMATCH_TARGET_LAG="15 minutes")
    assert {row["target_lag"] for row in governed.dynamic.values()} == {"15 minutes"}

    with pytest.raises(deploy_sql.BadSetting, match="FINMATCH_TARGET_LAG"):
        deploy_sql.deploy_statements({}, set(), "BANK_WH", {"FINMATCH_TARGET_LAG": "1 hour'; DROP TABLE FPR_RECORDS"})


def protected_names(session):
    return [row["CUSTOMER_NAME"] for row in session.sql("SELECT customer_name FROM FPR_RECORDS LIMIT 5").collect()]


def test_the_policy_masks_names_and_emails_for_every_user_not_listed_although_the_owner_role_holds_every_role(
    governed,
):
    deploy(governed)

    governed.viewer = OTHER_VIEWER  # the owner's roles include the customer-data role: no role function may unmask
    assert set(protected_names(governed)) == {"••••••"}
    governed.sql(f"INSERT INTO FINMATCH_CUSTOMER_DATA_USERS VALUES ('{ALLOWED_VIEWER}')").collect()
    assert set(protected_names(governed)) == {"••••••"}
    governed.viewer = ALLOWED_VIEWER
    assert all(name.startswith("Customer ") or "•" not in name for name in protected_names(governed))
    assert "••••••" not in protected_names(governed)
    governed.read_session_granted = False  # CURRENT_USER() cannot name the viewer: nobody is on the list
    assert set(protected_names(governed)) == {"••••••"}
    emails = governed.sql("SELECT DISTINCT customer_email FROM FPR_RECORDS").to_pandas()
    assert list(emails["CUSTOMER_EMAIL"]) == ["••••••"]


def test_deploying_again_keeps_the_list_and_sets_each_body_again(governed):
    deploy(governed)
    governed.sql(f"INSERT INTO FINMATCH_CUSTOMER_DATA_USERS VALUES ('{ALLOWED_VIEWER}')").collect()
    deploy(governed)

    governed.viewer = ALLOWED_VIEWER
    assert "••••••" not in protected_names(governed)


def campaign_and_match(at):
    at = choose_customer(choose_product(at.run()))
    return campaign_frame(at), dataframe_with(at, "Estimated acceptance"), cards(at)


def test_the_app_reads_the_dynamic_tables_and_shows_the_same_figures_as_without_them(
    governed, app_in, finmatch_warehouse
):
    without = campaign_and_match(app_in())
    deploy(governed)
    governed.queries.clear()
    at = app_in()
    with_tables = campaign_and_match(at)

    for shown, before in zip(with_tables[:2], without[:2], strict=True):  # names: masked by the policy now
        personal = [column for column in ("Customer", "Email") if column in shown]
        pd.testing.assert_frame_equal(shown.drop(columns=personal), before.drop(columns=personal))
    assert with_tables[2] == without[2] == expected_cards(finmatch_warehouse)
    sent = "\n".join(governed.queries)
    for derived in for_engine("snowflake"):
        assert reads(sent, dynamic_table_name(derived.name)), derived.name
    note = " ".join(caption.value for caption in at.sidebar.caption)
    assert "Dynamic tables read (target lag 1 hour), data as of" in note


def test_names_shown_with_the_tables_come_from_fpr_records_under_the_policy(governed, app_in, downloads):
    deploy(governed)
    governed.sql(f"INSERT INTO FINMATCH_CUSTOMER_DATA_USERS VALUES ('{ALLOWED_VIEWER}')").collect()
    governed.viewer = OTHER_VIEWER
    masked = dataframe_with(app_in().run(), "Action score")
    assert all("•" in name for name in masked["Customer"])
    assert not re.search(r"customer\d+@example\.com", downloads["Download as CSV"])

    governed.viewer = ALLOWED_VIEWER
    shown = dataframe_with(app_in().run(), "Action score")
    assert all(name.startswith("Customer ") for name in shown["Customer"])
    assert re.search(r"customer\d+@example\.com", downloads["Download as CSV"])


def test_a_suspended_or_late_table_and_one_defined_differently_are_not_read(governed, app_in):
    columns, vocabulary = columns_and_vocabulary(governed)
    fewer = {**vocabulary, "products": vocabulary["products"][:-1]}  # a product recommended after the deploy
    governed.run_all(deploy_sql.deploy_statements(fewer, columns, "BANK_WH", {}))
    governed.dynamic["FINMATCH_FILTER_VALUES"]["scheduling_state"] = "SUSPENDED"
    old = pd.Timestamp(datetime.now(timezone.utc) - timedelta(hours=3))
    governed.dynamic["FINMATCH_OUTCOME_CELLS"]["data_timestamp"] = old
    governed.queries.clear()

    at = choose_product(app_in().run())

    sent = "\n".join(governed.queries)
    for late in ("FINMATCH_FILTER_VALUES", "FINMATCH_OUTCOME_CELLS", "FINMATCH_CUSTOMER_PROFILES"):
        assert not reads(sent, late), late
    assert reads(sent, "FINMATCH_CUSTOMER_FEATURES")  # coded by segment and stage alone: the same definition
    note = " ".join(caption.value for caption in at.sidebar.caption)
    assert "Not read, suspended or behind their lag: FINMATCH_FILTER_VALUES, FINMATCH_OUTCOME_CELLS" in note
    assert "Computed instead, as defined differently now: customer_profiles." in note
    assert len(campaign_frame(at)) == 100


def test_without_dynamic_tables_the_app_says_it_computes_from_fpr_records(governed, app_in):
    at = app_in().run()

    note = " ".join(caption.value for caption in at.sidebar.caption)
    assert "No dynamic tables deployed: computed from FPR_RECORDS" in note
    names = [dynamic_table_name(derived.name) for derived in for_engine("snowflake")]
    assert not any(name in query for query in governed.queries for name in names)


def test_pseudonymised_ids_mask_the_id_stably_and_no_per_customer_table_holds_them(
    governed, app_in, finmatch_warehouse
):
    statements = deploy(governed, FINMATCH_PSEUDONYMISE_IDS="1")
    governed.sql(f"INSERT INTO FINMATCH_CUSTOMER_DATA_USERS VALUES ('{ALLOWED_VIEWER}')").collect()

    assert "DROP DYNAMIC TABLE IF EXISTS FINMATCH_CUSTOMER_PROFILES" in statements
    assert "FINMATCH_CUSTOMER_PROFILES" not in governed.dynamic
    governed.viewer = OTHER_VIEWER
    ids = governed.sql("SELECT customer_id FROM FPR_RECORDS ORDER BY record_id LIMIT 3").to_pandas()["CUSTOMER_ID"]
    with duckdb.connect(str(finmatch_warehouse), read_only=True) as db:
        real = [
            row[0]
            for row in db.execute("SELECT customer_id FROM tester.fpr_records ORDER BY record_id LIMIT 3").fetchall()
        ]
        digests = [db.execute("SELECT sha256(?)", [value]).fetchone()[0] for value in real]
    assert list(ids) == [f"ANON_{digest}" for digest in digests]  # the same customer, the same pseudonym, every time
    governed.viewer = ALLOWED_VIEWER
    at = choose_product(app_in().run())
    assert all(customer.startswith("CUST_") for customer in campaign_frame(at)["Customer ID"])

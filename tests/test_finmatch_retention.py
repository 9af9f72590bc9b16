"""The retention list: customers ranked by value at risk (churn probability x balance, each averaged over the
customer's records), narrowed as a retention manager narrows it, equal to SQL written here, on both engines."""

import pytest
from test_finmatch_app import sql
from test_finmatch_campaign import FEATURES, campaign_tools
from test_finmatch_in_snowflake import StandInSession

from finmatch.analysis.retention import Retention
from finmatch.data.retention import RetentionFilters


def expected(warehouse, where, size):
    return sql(
        warehouse,
        FEATURES + f" SELECT customer_id, churn * balance FROM customers WHERE {where} "
        f"ORDER BY churn * balance DESC, customer_id LIMIT {size}",
    )


@pytest.mark.parametrize("engine", ["locally", "in Snowflake"])
def test_the_list_follows_every_filter_as_the_sql_says(finmatch_warehouse, engine):
    session = StandInSession(finmatch_warehouse) if engine == "in Snowflake" else None
    retention = Retention(campaign_tools(finmatch_warehouse, session)[0])
    filters = RetentionFilters(
        min_churn=0.7,
        max_satisfaction=0.3,
        codes=retention.codes_for((), ("Engaged", "Inactive", "Lead")),
        min_stage_days=-200,
        max_stage_days=300,
        size=25,
    )

    listed = retention.build(filters)

    where = (
        "churn >= 0.7 AND satisfaction <= 0.3 AND stage IN ('Engaged', 'Inactive', 'Lead') "
        "AND stage_age_days BETWEEN -200 AND 300"
    )
    rows = expected(finmatch_warehouse, where, 25)
    assert list(listed.ranked["customer_id"]) == [customer for customer, _ in rows]
    assert list(listed.ranked["expected_value"]) == pytest.approx([value for _, value in rows], rel=1e-12)
    (matching, total) = sql(
        finmatch_warehouse, FEATURES + f" SELECT count(*), sum(churn * balance) FROM customers WHERE {where}"
    )[0]
    assert (listed.matching, listed.total_at_risk) == (matching, pytest.approx(total, rel=1e-12))
    assert set(listed.ranked["stage"]) <= {"Engaged", "Inactive", "Lead"} and 0 < len(listed.ranked) <= 25
    assert listed.ranked["reason"].str.startswith("churn ").all()

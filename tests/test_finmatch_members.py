"""Campaign members, unit by unit: the control group, the campaign id, the CSV a CRM reads, the members table and the
pseudonym key, each against values written here."""

import csv
import hmac
import io
from datetime import datetime

import pandas as pd
import pytest

from finmatch.analysis.export import campaign_id, control_flags, csv_bytes, members
from finmatch.data.members import NAMES, LocalMembers

CREATED = datetime(2026, 12, 4, 9, 30, 15)
HEADER = {
    "campaign_id": "XSELL-INSURANCE-20261204-abcdef12",
    "kind": "cross-sell",
    "product": "Insurance",
    "created_at": CREATED,
    "model_version": "base rate",
}


def ranked(count):
    return pd.DataFrame(
        {
            "customer_id": [f"CUST_{number:06d}" for number in range(count)],
            "score": [0.5] * count,
            "low": [0.4] * count,
            "high": [0.6] * count,
            "expected_value": [1234.5] * count,
            "value_low": [1000.25] * count,
            "value_high": [1500.0] * count,
            "reason": ["balance $1,000, most at stake"] * count,
        }
    )


@pytest.mark.parametrize(("size", "share", "held"), [(200, 0.10, 20), (200, 0.25, 50), (7, 0.10, 1), (10, 0.0, 0)])
def test_the_control_group_is_exactly_the_chosen_share(size, share, held):
    flags = control_flags("campaign", [f"c{number}" for number in range(size)], share)

    assert sum(flags) == held and len(flags) == size


def test_the_control_group_is_the_same_for_the_same_campaign_and_another_for_another():
    customers = [f"c{number}" for number in range(200)]

    first = control_flags("campaign-1", customers, 0.1)
    assert control_flags("campaign-1", customers, 0.1) == first
    assert control_flags("campaign-1", list(reversed(customers)), 0.1) == list(reversed(first))
    assert control_flags("campaign-2", customers, 0.1) != first


def test_a_campaign_id_names_its_kind_product_and_day_and_changes_with_its_choices():
    one = campaign_id("cross-sell", "Savings Account", CREATED, "target", 0.1)

    assert one.startswith("XSELL-SAVINGS-ACCOUNT-20261204-") and len(one.rsplit("-", 1)[1]) == 8
    assert campaign_id("cross-sell", "Savings Account", CREATED, "target", 0.1) == one
    assert campaign_id("cross-sell", "Savings Account", CREATED, "target", 0.2) != one
    assert campaign_id("retention", "retention", CREATED).startswith("RETAIN-RETENTION-20261204-")


def test_members_carry_every_column_with_pseudonyms_when_a_key_is_given():
    rows = members(ranked(3), HEADER, 0.0, key="k")

    assert tuple(rows.columns) == NAMES
    assert list(rows["rank"]) == [1, 2, 3]
    assert list(rows["customer_id"]) == [
        "FM-" + hmac.new(b"k", f"CUST_{n:06d}".encode(), "sha256").hexdigest()[:16] for n in range(3)
    ]
    assert rows["pseudonymous"].all() and not rows["control_group"].any()
    assert list(members(ranked(3), HEADER, 0.0)["customer_id"]) == ["CUST_000000", "CUST_000001", "CUST_000002"]


def test_the_csv_has_a_byte_order_mark_unquoted_numbers_and_iso_times():
    data = csv_bytes(members(ranked(2), HEADER, 0.5, key="k"))

    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, first = rows[0], rows[1]
    assert header == list(NAMES)
    assert first[header.index("created_at")] == "2026-12-04T09:30:15Z"
    assert first[header.index("expected_value_low")] == "1000.25" and first[header.index("score")] == "0.5"
    assert first[header.index("reason")] == "balance $1,000, most at stake"
    assert '"balance $1,000, most at stake"' in text and '"0' not in text
    assert [row[header.index("control_group")] for row in rows[1:]].count("1") == 1
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert frame["expected_value"].dtype == float and frame["rank"].dtype == "int64"


def test_saved_members_replace_their_campaigns_earlier_rows_and_the_key_is_drawn_once(tmp_path):
    store = LocalMembers(tmp_path / "app.db")
    rows = members(ranked(5), HEADER, 0.2, key="k")

    store.save(rows)
    store.save(rows)
    kept = store.read(HEADER["campaign_id"])

    assert len(kept) == 5 and list(kept["customer_id"]) == list(rows["customer_id"])
    assert list(kept["control_group"]) == list(rows["control_group"])
    key = store.key()
    assert len(key) == 64 and store.key() == key
    assert LocalMembers(tmp_path / "other.db").key() != key


def test_in_snowflake_members_are_inserted_as_the_same_rows_and_the_key_is_kept_beside_fpr_records(
    finmatch_warehouse,
):
    from test_finmatch_in_snowflake import StandInSession

    from finmatch.data.backends import SnowparkBackend
    from finmatch.data.members import SnowflakeMembers

    session = StandInSession(finmatch_warehouse)
    store = SnowflakeMembers(SnowparkBackend(session))
    rows = members(ranked(300), HEADER, 0.1, key=store.key())

    store.save(rows)
    store.save(rows)
    kept = store.read(HEADER["campaign_id"])

    assert list(kept["customer_id"]) == list(rows["customer_id"]) and len(kept) == 300
    assert list(kept["control_group"]) == list(rows["control_group"]) and int(kept["control_group"].sum()) == 30
    assert list(pd.to_datetime(kept["created_at"])) == [pd.Timestamp(CREATED)] * 300
    assert store.key() == store.key()
    assert sum("INSERT INTO FINMATCH_CAMPAIGN_MEMBERS" in query for query in session.queries) == 4  # 2 saves x 2

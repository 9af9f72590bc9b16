"""Property: no value and no field name in a record can make a sync fail, or hold the next one back.

Hypothesis generates records whose declared fields hold anything JSON can carry (text with lone
surrogates and control characters, numbers of any magnitude, booleans, nesting) and which carry
extra fields with arbitrary names and values. A scripted /fpr_data on loopback serves them; every
record with a usable record_id must land, once, and the state must move past every page, so that the
next sync goes on from there (tests/test_under_the_real_fivetran_debug.py runs that next sync).
"""

import json
import tempfile
from pathlib import Path

import pytest
from conftest import Project, sample_record, scripted_configuration
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scripted_api import ScriptedApi

from connector import COLUMNS
from fpr.text import repair_text

NASTY_TEXT = [
    "Jos\ud800",
    "\udfff",
    "a\x00b",
    "\x07\x1b[31m",
    "NaN",
    "Infinity",
    "true",
    "1.5",
    "0012",
    "2024-13-45",
    "2024-01-01T10:00:00+99:00",
    "9999-12-31T23:59:59-23:59",
    "",
    "person@example.com",
]
any_text = st.one_of(st.text(st.characters(exclude_categories=[]), max_size=12), st.sampled_from(NASTY_TEXT))
any_number = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-05, 1e16, 5e-324, 2.5e-308, 1.7976931348623157e308, 2**63, -(2**63) - 1, 2**70]),
)
scalars = st.one_of(st.none(), st.booleans(), any_number, any_text)
any_value = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(any_text, inner, max_size=3)),
    max_leaves=6,
)
records = st.fixed_dictionaries(
    {
        "id": st.one_of(st.integers(1, 40).map(lambda n: f"rec-{n}"), any_text, st.integers(-5, 5), st.none()),
        "declared": st.dictionaries(st.sampled_from(sorted(COLUMNS)), any_value, max_size=6),
        "extra": st.dictionaries(any_text, any_value, max_size=4),
    }
)


def build_record(number, spec):
    record = {**sample_record(number), **spec["declared"], **spec["extra"]}
    record["record_id"] = spec["id"]
    return record


def usable_id(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return repair_text(value)
    return None


@pytest.fixture(scope="module")
def server():
    with ScriptedApi() as api:
        yield api


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: HYPOTHESIS_PROFILE (conftest.py)
@given(pages=st.lists(st.lists(records, min_size=1, max_size=4), min_size=1, max_size=2))
def test_no_record_can_fail_a_sync_or_hold_its_state_back(server, pages):
    bodies, number = [], 0
    for position, specs in enumerate(pages):
        page_records = []
        for spec in specs:
            number += 1
            page_records.append(build_record(number, spec))
        bodies.append({"fpr_records": page_records, "next_cursor": f"c{position + 1}", "has_more": True})
    bodies.append({"fpr_records": [], "next_cursor": "end", "has_more": False})
    expected_ids = {usable_id(record["record_id"]) for body in bodies for record in body["fpr_records"]} - {None}
    server.reset()
    for body in bodies:
        server.answer(200, json.dumps(body), {"Content-Type": "application/json"})

    with tempfile.TemporaryDirectory() as folder:
        project = Project(Path(folder) / "project")
        result = project.sync(scripted_configuration(server))
        assert result.ok, result.output
        landed = [row[0] for row in project.query("SELECT record_id FROM tester.fpr_records")] if expected_ids else []

    assert sorted(landed) == sorted(expected_ids)
    assert result.state["next_cursor"] == "end"  # the next sync starts after every poisoned page

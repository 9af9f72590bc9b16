"""Property: whatever the API sends and whatever state a sync starts from, the sync loads exactly the valid
records or fails clearly, saves the right cursor, and never loops.

Hypothesis draws the starting state (none, this connector's, the lab connector's, values of the wrong
type), then pages: record ids and cursors from all of Unicode (duplicated across pages, repeating and
cycling), `has_more` in every form the connector reads (booleans, "true"/"false" in any case and
spacing, 1/0, absent) and in forms it must refuse, empty pages, bodies of the wrong shape, defective
values, and error statuses before a page (retried or fatal). A scripted /fpr_data on loopback serves
them in order; the outcome is compared with a model of the rules in the README's Pagination, Data
handling and Error handling sections, written here without the connector's code.
"""

import tempfile
from pathlib import Path

import pytest
from conftest import Project, sample_record, scripted_configuration
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scripted_api import ScriptedApi

from fpr.state import STATE_LOADED as LOADED
from fpr.state import LoadedRecords

END_PAGE_CURSOR = "end=="
EPOCH = sample_record(0)["last_updated_epoch"]  # every record drawn here carries this epoch
ABSENT = "absent"
RETRIED, FATAL = (429, 500, 502, 503, 504, 408), {401: "the API key was rejected (HTTP 401)", 404: "no FPR API at"}

# Text from all of Unicode except lone surrogates (no UTF-8 request can carry one; the normaliser's own
# tests cover them) and NUL (removed from ids by the normaliser, which the model would have to repeat).
unicode_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=12)
ids = st.lists(unicode_text, min_size=1, max_size=5, unique=True)
has_more_forms = st.sampled_from(
    [True, False, "true", "false", " TRUE ", "False", 1, 0, ABSENT, "yes", 2, None, [True]]
)
LEADING_ON = [True, "true", " TRUE ", 1, ABSENT]  # forms that say there is more (ABSENT: when a cursor follows)
STARTS = [
    {},
    {"next_cursor": "saved="},
    {"next_cursor": "saved=", "last_updated_epoch": 1700000000},
    {"next_cursor": 42},
    {"next_cursor": "", "last_updated_epoch": "soon"},
]


@st.composite
def scenarios(draw):
    """(starting state, pages): most pages lead on to the next, so that long chains, repeats and cycles are common."""
    pool = draw(ids)
    cursors = draw(st.lists(unicode_text, min_size=1, max_size=3, unique=True))
    defects = st.sampled_from([None] * 6 + ["blank_id", "bad_balance"])
    page = st.fixed_dictionaries(
        {
            "shape": st.sampled_from(["ok"] * 20 + ["not_object", "no_records"]),
            "records": st.one_of(
                st.lists(st.tuples(st.sampled_from(pool), defects), min_size=1, max_size=4), st.just([])
            ),
            "next_cursor": st.one_of(st.sampled_from(cursors), st.sampled_from(cursors), st.none()),
            "has_more": st.one_of(st.sampled_from(LEADING_ON), has_more_forms),
            "before": st.sampled_from([()] * 12 + [(503,), (429, 500), (401,), (404,)]),
        }
    )
    start = draw(st.sampled_from(STARTS))
    return start, draw(st.lists(page, min_size=1, max_size=8))


def page_of(ids_and_cursor, has_more=True, before=()):
    record_ids, next_cursor = ids_and_cursor
    records = [(record_id, None) for record_id in record_ids]
    return {"shape": "ok", "records": records, "next_cursor": next_cursor, "has_more": has_more, "before": before}


def build(pages):
    """The scripted answers: (status, body) for each attempt, in order; a body's records carry their position."""
    answers, position = [], 0
    for spec in pages:
        for status in spec["before"]:
            answers.append((status, {"error": f"http_{status}"}))
        records = []
        for record_id, defect in spec["records"]:
            position += 1
            record = {**sample_record(0), "record_id": record_id, "customer_transaction_count": position}
            if defect == "blank_id":
                record["record_id"] = " \t "
            elif defect == "bad_balance":
                record["account_balance"] = "N/A"
            records.append(record)
        body = {"fpr_records": records, "next_cursor": spec["next_cursor"]}
        if spec["has_more"] != ABSENT:
            body["has_more"] = spec["has_more"]
        if spec["shape"] == "not_object":
            body = records
        elif spec["shape"] == "no_records":
            body = {"data": records}
        answers.append((200, body))
    return answers + [(200, {"fpr_records": [], "next_cursor": END_PAGE_CURSOR, "has_more": False})]


def read_has_more(value, cursor):
    """has_more as the README says it is read: (more?, error fragment or None)."""
    if value == ABSENT or value is None:
        return bool(cursor), None
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true", None
    if isinstance(value, int) and value in (0, 1):
        return bool(value), None
    return None, f"has_more is a {type(value).__name__} that is neither true nor false"


def expected_outcome(start, answers):
    """(rows by record_id, error fragment or None, requests made, saved state) under the documented rules."""
    cursor = start.get("next_cursor") if isinstance(start.get("next_cursor"), str) else None
    cursor = cursor or None
    epoch = start.get("last_updated_epoch") if isinstance(start.get("last_updated_epoch"), int) else None
    rows, seen, saved, requests, number = {}, {cursor} if cursor else set(), {}, 0, 0
    loaded_after_cursor = set()  # the records the next sync, sent the saved cursor, receives again
    for status, body in answers:
        requests += 1
        if status in RETRIED:
            continue
        number += 1
        if status in FATAL:
            return rows, f"page {number}: {FATAL[status]}", requests, saved
        if not isinstance(body, dict):
            return rows, f"page {number}: the response is a JSON list", requests, saved
        if "fpr_records" not in body:
            return rows, f"page {number}: the response has no 'fpr_records' list", requests, saved
        records, next_cursor = body["fpr_records"], body.get("next_cursor")
        more, error = read_has_more(body.get("has_more", ABSENT), next_cursor)
        if error:
            return rows, f"page {number}: {error}", requests, saved
        last = not records or not more
        if not last and not next_cursor:
            return rows, f"page {number} says has_more: true but gives no next_cursor", requests, saved
        if not last and next_cursor in seen:
            return rows, f"page {number} returned a cursor already seen in this sync", requests, saved
        usable = [record for record in records if record["record_id"].strip()]
        for record in usable:
            rows[record["record_id"]] = record
        if usable:
            epoch = EPOCH if epoch is None else max(epoch, EPOCH)
        cursor = next_cursor or cursor
        loaded_after_cursor = set() if next_cursor else loaded_after_cursor | {r["record_id"] for r in usable}
        saved = {"next_cursor": cursor, **({"last_updated_epoch": epoch} if epoch is not None else {})}
        if loaded_after_cursor:
            saved[LOADED] = loaded_after_cursor
        if last:
            return rows, None, requests, saved
        seen.add(next_cursor)
    raise AssertionError("the model ran past the end page")


@pytest.fixture(scope="module")
def server():
    with ScriptedApi() as api:
        yield api


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: HYPOTHESIS_PROFILE (conftest.py)
@given(scenario=scenarios())
# Cases that run every time, whatever is drawn: each form of has_more read as "more", a cycle back to an
# earlier cursor, a saved cursor handed back, a retried status before a fatal one, Unicode everywhere.
@example(scenario=({}, [page_of((["a"], "c1"), " TRUE "), page_of((["b"], "c2"), 1), page_of((["c"], "c3"), "true")]))
@example(scenario=({}, [page_of((["a"], "c1"), ABSENT), page_of((["b"], "c1"), "false")]))
@example(scenario=({}, [page_of((["a"], "c1")), page_of((["b"], "c2")), page_of((["c"], "c1"))]))
@example(scenario=({"next_cursor": "saved="}, [page_of((["a"], "saved="))]))
@example(scenario=({}, [page_of((["a"], "c1"), before=(503,)), page_of((["b"], "c2"), before=(404,))]))
@example(
    scenario=({"next_cursor": "ß=\u2028"}, [page_of((["é", "記録"], "😀 & = +"), "True"), page_of((["é"], None), 0)])
)
def test_a_sync_loads_exactly_the_valid_records_saves_the_right_cursor_and_never_loops(server, scenario):
    start, pages = scenario
    answers = build(pages)
    expected_rows, expected_error, expected_requests, expected_state = expected_outcome(start, answers)
    server.reset()
    for status, body in answers:
        server.answer(status, json=body)

    with tempfile.TemporaryDirectory() as folder:
        project = Project(Path(folder) / "project")
        result = project.sync(scripted_configuration(server), state=start)
        first_request = server.calls[0].params if server.calls else {}
        requests_made = len(server.calls)
        landed = {}
        if project.query("SELECT count(*) FROM information_schema.tables WHERE table_name = 'fpr_records'") == [(1,)]:
            landed = {row["record_id"]: row for row in project.rows()}

    start_cursor = start.get("next_cursor") if isinstance(start.get("next_cursor"), str) else None
    assert first_request.get("cursor") == ([start_cursor] if start_cursor else None)
    assert requests_made == expected_requests  # never loops, never reads past the end, retries what it should
    if expected_error is None:
        assert result.ok, result.output
    else:
        assert not result.ok
        assert expected_error in result.output
    remembered = LoadedRecords.decode(result.state.pop(LOADED, None))
    expected_remembered = expected_state.pop(LOADED, set())
    assert result.state == expected_state
    assert len(remembered) == len(expected_remembered)
    assert all(remembered.holds({"record_id": id_, "last_updated_epoch": EPOCH}) for id_ in expected_remembered)
    assert set(landed) == set(expected_rows)
    for record_id, record in expected_rows.items():
        row = landed[record_id]
        assert row["customer_transaction_count"] == record["customer_transaction_count"]  # the latest version
        assert row["account_balance"] == (None if record["account_balance"] == "N/A" else record["account_balance"])

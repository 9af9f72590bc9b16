"""Full, incremental and resumable syncs from the local FPR API into DuckDB."""

from conftest import (
    API_KEY,
    Project,
    as_served,
    configuration_for,
    served_records,
    upserts_reported,
)

from connector import COLUMNS

DUCKDB_TYPES = {"STRING": "VARCHAR", "DOUBLE": "DOUBLE", "INT": "INTEGER", "LONG": "BIGINT", "NAIVE_DATE": "DATE"}


def test_full_sync_loads_every_record_exactly_as_served(api, project):
    result = project.sync(configuration_for(api))

    assert result.ok, result.output
    table = {row["record_id"]: as_served(row) for row in project.rows()}
    assert len(table) == 750
    assert table == served_records(api)  # floats compared with ==: not one digit of money lost


def test_full_sync_declares_all_29_columns_with_their_types(api, project):
    project.sync(configuration_for(api))

    types = project.column_types()
    expected = {name: DUCKDB_TYPES[kind] for name, kind in COLUMNS.items()}
    assert {name: types[name] for name in COLUMNS} == expected
    assert len(COLUMNS) == 29
    assert set(types) - set(COLUMNS) == {"_fivetran_deleted", "_fivetran_synced"}


def test_full_sync_has_no_duplicate_record_ids(api, project):
    project.sync(configuration_for(api, page_size=37))

    assert project.query("SELECT count(*), count(DISTINCT record_id) FROM tester.fpr_records") == [(750, 750)]


def test_full_sync_logs_progress_per_page_and_a_summary(api, project):
    result = project.sync(configuration_for(api))

    assert "page 1: 100 records, 100 in total" in result.output
    assert "page 8: 50 records, 750 in total" in result.output
    assert "sync finished: 9 pages, 750 records" in result.output
    assert API_KEY not in result.output
    assert "customer1@example.com" not in result.output


def test_a_whole_sync_travels_on_one_kept_alive_connection(api, project):
    result = project.sync(configuration_for(api))

    assert result.ok, result.output
    assert api.requests_served == 9
    assert api.connections_accepted == 1


def test_the_default_page_size_is_the_apis_largest(api, project):
    result = project.sync({"base_url": api.base_url, "api_key": API_KEY})

    assert result.ok, result.output
    assert "page 1: 200 records, 200 in total" in result.output
    assert api.requests_served == 5  # 200, 200, 200, 150 and the empty end page
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(750,)]


def test_final_state_holds_the_end_cursor_and_highest_epoch(api, project):
    result = project.sync(configuration_for(api))

    assert set(result.state) == {"next_cursor", "last_updated_epoch"}
    assert result.state["next_cursor"].startswith("gAAAAA")
    assert result.state["last_updated_epoch"] == project.max_epoch()


def test_second_sync_without_changes_loads_nothing(api, project):
    project.sync(configuration_for(api))
    synced_before = project.rows("record_id, CAST(_fivetran_synced AS VARCHAR) AS synced")

    second = project.sync(configuration_for(api))

    assert second.ok, second.output
    assert upserts_reported(second.output) == 0
    assert "sync finished: 1 pages, 0 records" in second.output
    assert project.rows("record_id, CAST(_fivetran_synced AS VARCHAR) AS synced") == synced_before


def test_incremental_sync_upserts_exactly_the_inserted_and_updated_records(api, project):
    project.sync(configuration_for(api))
    first_sync_ended = project.query("SELECT CAST(max(_fivetran_synced) AS VARCHAR) FROM tester.fpr_records")[0][0]
    changed = api.dataset.apply_changes(insert=5, update=10)

    second = project.sync(configuration_for(api))

    assert second.ok, second.output
    assert upserts_reported(second.output) == 15
    table = {row["record_id"]: as_served(row) for row in project.rows()}
    assert len(table) == 755
    assert table == served_records(api)
    touched = project.query(f"SELECT record_id FROM tester.fpr_records WHERE _fivetran_synced > '{first_sync_ended}'")
    assert {record_id for (record_id,) in touched} == set(changed["inserted"] + changed["updated"])


def test_records_updated_twice_between_syncs_land_in_their_latest_version(api, project):
    project.sync(configuration_for(api))
    api.dataset.apply_changes(update=300)
    api.dataset.apply_changes(update=300)

    second = project.sync(configuration_for(api))

    assert second.ok, second.output
    assert {row["record_id"]: as_served(row) for row in project.rows()} == served_records(api)


def test_resumes_from_last_checkpoint_after_crash(make_api, project, tmp_path):
    failing = make_api(faults="4+=status:401")
    crashed = project.sync(configuration_for(failing))

    assert not crashed.ok
    assert "API key was rejected (HTTP 401)" in crashed.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(300,)]
    assert crashed.state["last_updated_epoch"] == project.max_epoch()

    failing.faults.exact.clear()
    failing.faults.from_on.clear()
    resumed = project.sync(configuration_for(failing))

    assert resumed.ok, resumed.output
    assert upserts_reported(resumed.output) == 450
    clean = Project(tmp_path / "clean")
    clean.sync(configuration_for(make_api()))
    assert [as_served(row) for row in project.rows()] == [as_served(row) for row in clean.rows()]


def test_older_service_end_style_syncs_fully_then_incrementally(make_api, project):
    older = make_api(end_style="older")

    first = project.sync(configuration_for(older))
    assert first.ok, first.output
    assert project.query("SELECT count(*) FROM tester.fpr_records") == [(750,)]
    assert len(first.state["next_cursor"]) == 32  # the old service's hex cursor, kept though the last page had null

    changed = older.dataset.apply_changes(insert=3, update=4)
    second = project.sync(configuration_for(older))

    assert second.ok, second.output
    table = {row["record_id"]: as_served(row) for row in project.rows()}
    assert table == served_records(older)
    assert set(changed["inserted"] + changed["updated"]) <= set(table)
    # the last page is read again (its cursor was the last non-null one): only the 7 changes are written
    assert upserts_reported(second.output) == 7
    assert "records already loaded at the saved position were skipped" in second.output


def test_lab_connector_state_with_only_a_cursor_carries_on(api, project):
    first = project.sync(configuration_for(api))
    api.dataset.apply_changes(insert=2)

    second = project.sync(configuration_for(api), state={"next_cursor": first.state["next_cursor"]})

    assert second.ok, second.output
    assert upserts_reported(second.output) == 2
    assert second.state["last_updated_epoch"] == project.max_epoch()


def test_a_page_size_of_200_and_of_1_load_the_same_table(make_api, project, tmp_path):
    server = make_api(size=20)
    project.sync(configuration_for(server, page_size=200))
    single = Project(tmp_path / "single")
    result = single.sync(configuration_for(server, page_size=1))

    assert "sync finished: 21 pages, 20 records" in result.output
    assert [as_served(row) for row in project.rows()] == [as_served(row) for row in single.rows()]

"""Figures for speed and memory, measured side by side in one run.

    python tools/benchmark.py [--records 5000]

1. A full sync of the local FPR API into DuckDB through the SDK's runner, in this process:
   records per second, and the connector's own share of the time (fetching, decoding and
   normalising the same pages, measured alone) beside the SDK's (upserts and checkpoints).
2. The local API with a million records: memory it holds, beside the memory the JSON of
   just 10,000 of those records would take; and how fast it serves pages from the end.
"""

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import connector as fpr_connector  # noqa: E402
from fpr_local_api import Dataset, LocalFprApi  # noqa: E402

API_KEY = "benchmark-key"


def quiet_sdk(home):
    import os

    import fivetran_connector_sdk_cli.connector as cli_connector
    import fivetran_connector_sdk_core.runner as core_runner

    os.environ["HOME"] = home
    os.environ["DO_NOT_TRACK"] = "1"
    cli_connector.check_newer_version = lambda *args, **kwargs: None
    cli_connector.validate_requirements_file = lambda *args, **kwargs: None
    core_runner.check_newer_version = lambda *args, **kwargs: None


def full_sync_seconds(server, folder, page_size):
    project = Path(folder) / "project"
    project.mkdir()
    (project / "connector.py").symlink_to(ROOT / "connector.py")
    (project / "requirements.txt").write_text("# none\n")
    configuration = {"base_url": server.base_url, "api_key": API_KEY, "page_size": str(page_size)}
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        fpr_connector.connector.debug(project_path=str(project), configuration=configuration, state={})
    return time.perf_counter() - started


def connector_share_seconds(server, page_size):
    """The connector's own work for a full sync, without the SDK: fetch, decode, check, normalise."""
    settings = fpr_connector.validate_configuration(
        {"base_url": server.base_url, "api_key": API_KEY, "page_size": str(page_size)}
    )
    issues = fpr_connector.RecordIssues()
    started = time.perf_counter()
    with fpr_connector.FprClient(settings) as client:
        cursor, number = None, 0
        while True:
            number += 1
            page = fpr_connector.parse_page(client.get_page(cursor, number), number)
            for raw in page.records:
                fpr_connector.normalise_record(raw, issues)
            if not page.records or not page.has_more:
                break
            cursor = page.next_cursor
    return time.perf_counter() - started


def sync_figures(records, page_size):
    with tempfile.TemporaryDirectory() as folder, LocalFprApi(Dataset(size=records, seed=1), api_key=API_KEY) as api:
        quiet_sdk(folder)
        total = full_sync_seconds(api, folder, page_size)
        own = connector_share_seconds(api, page_size)
    print(f"Full sync of {records:,} records, page size {page_size}, through the SDK's local runner")
    print(f"  whole sync                 : {total:6.2f} s   {records / total:8,.0f} records/s")
    print(f"  connector's own work alone : {own:6.2f} s   {records / own:8,.0f} records/s", end="")
    print("  (HTTP, JSON, checks; the local API serves from this process too)")
    print(f"  connector's share of a sync: {own / total:6.1%}   (the rest is the SDK writing to DuckDB)")


def api_memory_figures():
    tracemalloc.start()
    dataset = Dataset(size=1_000_000, seed=1)
    dataset.apply_changes(insert=1_000, update=1_000)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()

    tracemalloc.start()
    sample = json.dumps([record for _, record in dataset.records_after(0, 10_000)])
    json_for_10k = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del sample

    started = time.perf_counter()
    pages = 50
    for index in range(pages):
        dataset.records_after(999_000 + index * 20, 200)
    per_page = (time.perf_counter() - started) / pages

    print("Local FPR API with 1,000,000 records (+1,000 inserted, 1,000 updated)")
    print(f"  memory held by the dataset : {held / 1e6:8.2f} MB")
    print(f"  JSON of 10,000 records     : {json_for_10k / 1e6:8.2f} MB   ({json_for_10k / held:,.0f}x the dataset)")
    print(f"  one 200-record page at end : {per_page * 1000:8.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=200)
    args = parser.parse_args()
    sync_figures(args.records, args.page_size)
    print()
    api_memory_figures()


if __name__ == "__main__":
    main()

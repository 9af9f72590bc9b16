"""One timed sync in a fresh process, for tools/benchmark.py.

    python tools/benchmark_run.py sdk PROJECT_DIR CONFIGURATION_JSON RESULT_JSON
    python tools/benchmark_run.py free PROJECT_DIR CONFIGURATION_JSON RESULT_JSON
    python tools/benchmark_run.py chain - CONFIGURATION_JSON RESULT_JSON
    python tools/benchmark_run.py dlt CONFIGURATION_JSON WORK_DIR RESULT_JSON

sdk: imports PROJECT_DIR/connector.py and runs `connector.connector.debug()` from an empty
state, the call `fivetran debug` makes, with the SDK's network checks (PyPI version,
pipreqs) turned off as the tests do: without internet they only add waiting.
free: the connector's update() alone, with the SDK's operations (upsert, checkpoint) made free:
the connector as it would run beside a destination that costs nothing.
chain: the API's own cursor chain, walked by a bare requests client that decodes each page and
does nothing else: the least time any client can take for the same records.
dlt: the same API through dlt's rest_api source into DuckDB, as a peer.

Writes {"ok", "seconds", "max_rss_mb"} to RESULT_JSON: the time of the sync alone (imports
excluded) and the peak resident memory of this whole process.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path


def quiet_sdk():
    import fivetran_connector_sdk_cli.connector as cli_connector
    import fivetran_connector_sdk_core.runner as core_runner

    os.environ.setdefault("DO_NOT_TRACK", "1")
    cli_connector.check_newer_version = lambda *args, **kwargs: None
    cli_connector.validate_requirements_file = lambda *args, **kwargs: None
    core_runner.check_newer_version = lambda *args, **kwargs: None


def prepare_sdk_sync(project, configuration_path):
    """Imports the project's connector; returns a call that runs one sync and says whether it succeeded.

    PROJECT_DIR/connector.py may be a link: the module is imported from the folder it links to,
    so modules beside it are found; files/ is written in PROJECT_DIR.
    """
    quiet_sdk()
    sys.path.insert(0, str((Path(project) / "connector.py").resolve().parent))
    import connector

    configuration = json.loads(Path(configuration_path).read_text())

    def sync():
        try:
            connector.connector.debug(project_path=str(project), configuration=configuration, state={})
        except SystemExit as exit_:
            return exit_.code in (0, None)
        return True

    return sync


def prepare_free_sync(project, configuration_path):
    """The connector's update() with every SDK operation a no-op, and its log quiet."""
    sys.path.insert(0, str((Path(project) / "connector.py").resolve().parent))
    from fivetran_connector_sdk import Logging, Operations

    import connector

    for name in ("upsert", "checkpoint", "warning"):
        setattr(Operations, name, staticmethod(lambda *args, **kwargs: None))
    Logging.LOG_LEVEL = Logging.Level.SEVERE  # the log of a run outside the SDK's runner: errors only
    configuration = json.loads(Path(configuration_path).read_text())

    def sync():
        connector.update(configuration, {})
        return True

    return sync


def prepare_chain_walk(configuration_path):
    """A bare client on /fpr_data: one request after another, each page decoded, nothing else done."""
    import requests

    configuration = json.loads(Path(configuration_path).read_text())
    session = requests.Session()
    session.headers["x-api-key"] = configuration["api_key"]

    def walk():
        cursor = None
        while True:
            params = {"page_size": configuration["page_size"], **({"cursor": cursor} if cursor else {})}
            page = session.get(configuration["base_url"] + "/fpr_data", params=params, timeout=60).json()
            cursor = page["next_cursor"]
            if not page["fpr_records"] or not page["has_more"]:
                return True

    return walk


def prepare_dlt_sync(configuration_path, work_dir):
    """dlt's rest_api source on /fpr_data (cursor paging, merge on record_id) into a DuckDB file."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    configuration = json.loads(Path(configuration_path).read_text())
    source = rest_api_source(
        {
            "client": {
                "base_url": configuration["base_url"],
                "headers": {"x-api-key": configuration["api_key"]},
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "next_cursor",
                    "cursor_param": "cursor",
                    "has_more_path": "has_more",  # the last page still carries a cursor
                    "stop_after_empty_page": True,
                },
            },
            "resources": [
                {
                    "name": "fpr_records",
                    "primary_key": "record_id",
                    "write_disposition": "merge",
                    "endpoint": {
                        "path": "fpr_data",
                        "params": {"page_size": int(configuration["page_size"])},
                        "data_selector": "fpr_records",
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="fpr_benchmark",
        pipelines_dir=str(Path(work_dir) / "pipelines"),
        destination=dlt.destinations.duckdb(str(Path(work_dir) / "warehouse.duckdb")),
        dataset_name="tester",
    )

    def sync():
        pipeline.run(source)
        return True

    return sync


def main():
    kind, first, second, result_path = sys.argv[1:]
    preparers = {
        "sdk": lambda: prepare_sdk_sync(first, second),
        "free": lambda: prepare_free_sync(first, second),
        "chain": lambda: prepare_chain_walk(second),
        "dlt": lambda: prepare_dlt_sync(first, second),
    }
    sync = preparers[kind]()
    started = time.perf_counter()
    ok = sync()
    seconds = time.perf_counter() - started
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    Path(result_path).write_text(json.dumps({"ok": ok, "seconds": seconds, "max_rss_mb": max_rss_mb}))


if __name__ == "__main__":
    main()

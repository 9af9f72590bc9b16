"""One local sync, end to end: start the local FPR API, run `fivetran debug` against it, say what landed.

Used by `make sync`. The connector runs from build/connector (see tools/stage.py), so the
warehouse and the state land in build/connector/files/. When the sync succeeds, the tables FinMatch derives
from fpr_records are built into the warehouse (app/finmatch/data/derived_local.py), and the summary says how long
that took. The state carries over between runs, so a
second run loads only what changed; `--insert` and `--update` start the API with
that many records inserted and updated, to show an incremental sync.

    python tools/local_sync.py [--insert N] [--update M] [--records N] [--end-style older]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import sdk_cli
from stage import LOCAL_PROJECT, stage_local_project

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))  # FinMatch's definitions of its derived tables

from finmatch.data.derived_local import build_derived  # noqa: E402

FILES = LOCAL_PROJECT / "files"
LOCAL_API_KEY = "local-dev-key"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=750, help="records in the local API (default 750)")
    parser.add_argument("--insert", type=int, default=0, help="records the API inserts before serving")
    parser.add_argument("--update", type=int, default=0, help="records the API updates before serving")
    parser.add_argument("--end-style", choices=["newer", "older"], default="newer")
    parser.add_argument("--page-size", default="200")
    return parser.parse_args()


def start_api(args):
    command = [
        sys.executable,
        "-m",
        "fpr_local_api",
        "--port",
        "0",
        "--records",
        str(args.records),
        "--insert",
        str(args.insert),
        "--update",
        str(args.update),
        "--end-style",
        args.end_style,
        "--api-key",
        LOCAL_API_KEY,
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    banner = process.stdout.readline().strip()
    if "listening on " not in banner:
        process.kill()
        sys.exit(f"the local FPR API did not start: {banner or 'no output'}")
    print(banner, flush=True)
    return process, banner.split("listening on ")[1].split()[0]


def run_fivetran_debug(project, configuration_path):
    """Runs `fivetran debug`, showing its output live; returns its exit code and output."""
    command = [sdk_cli.fivetran(), "debug", str(project), "--configuration", str(configuration_path)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=sdk_cli.environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return process.wait(), "".join(lines)


def upserts(output):
    for line in output.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 2 and parts[0].endswith("Upserts"):
            return int(parts[1])
    return 0


def derived_tables(code):
    """Builds FinMatch's derived tables after a successful sync; says what was built, or why not, in one line."""
    warehouse = FILES / "warehouse.db"
    if code != 0 or not warehouse.exists():
        return "not built (the sync did not succeed)"
    try:
        return build_derived(warehouse).summary()
    except duckdb.Error as error:  # FinMatch computes them itself meanwhile: the sync's result stands
        # the error's type only: DuckDB's message may quote a value of a record
        return f"not built ({type(error).__name__}); FinMatch computes them itself"


def summary(code, output, derived):
    warehouse = FILES / "warehouse.db"
    state_file = FILES / "state.json"
    print("\n" + "=" * 72)
    print(f"Local sync {'succeeded' if code == 0 else 'FAILED'}")
    print(f"  rows loaded by this sync : {upserts(output)}")
    if warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as db:
            tables = db.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'fpr_records'")
            total = db.execute("SELECT count(*) FROM tester.fpr_records").fetchone()[0] if tables.fetchone()[0] else 0
        print(f"  rows in fpr_records      : {total}")
    print(f"  FinMatch's tables        : {derived}")
    if state_file.exists():
        print(f"  state                    : {state_file.read_text().strip()}")
    print(f"  warehouse                : {warehouse.relative_to(ROOT)}")
    print("  open the warehouse       : make query   (or: make app, or the DuckDB CLI's duckdb -ui)")
    print("  see an incremental sync  : make sync-changes   (5 inserted, 10 updated records)")
    print("=" * 72)


def main():
    args = parse_args()
    project = stage_local_project()
    api, base_url = start_api(args)
    try:
        FILES.mkdir(exist_ok=True)
        configuration_path = FILES / "local_configuration.json"
        configuration = {"base_url": base_url, "api_key": LOCAL_API_KEY, "page_size": args.page_size}
        configuration_path.write_text(json.dumps(configuration, indent=2) + "\n")
        code, output = run_fivetran_debug(project, configuration_path)
    finally:
        api.terminate()
        api.wait(timeout=10)
    summary(code, output, derived_tables(code))
    sys.exit(code)


if __name__ == "__main__":
    main()

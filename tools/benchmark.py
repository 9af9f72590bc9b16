"""Speed and memory figures, measured side by side in one run (make benchmark).

    python tools/benchmark.py [--quick] [--repeats N] [--records N] [--page-size N] ...

Every sync runs in a fresh process (tools/benchmark_run.py) through the debug() of the
module's `connector` object, the call `fivetran debug` makes, against the local FPR API
running in a process of its own. The contenders:

- the SDK floor: tools/sdk_floor/connector.py, the least a connector can do (pages,
  upserts with the same declared types, checkpoints after each page, one after the other);
- this connector: connector.py at the repository root, used only as `fivetran debug` uses it;
- dlt's rest_api source into DuckDB, a peer, when dlt is installed (it is no requirement);
- with a free destination: the connector's update() with the SDK's operations made no-ops,
  beside the API's own cursor chain walked by a bare client (the least any client can take);
- with --baseline REF: the connector as it was at git revision REF, run exactly as this one, so
  that a change is judged against its predecessor in the same run, on the same machine state.

Printed: the time of a sync at no added latency and each contender's ratio to the floor;
the share of added latency (150 ms a request) each contender hides; with a free destination
and the same latency, the connector's time beside the cursor chain's; the peak memory of the
connector's and the floor's syncs at two sizes and their ratio; the local API's own
throughput; and the goals read against them. Syncs are interleaved (the order is reversed
on every other pass) and each time is the best of --repeats passes, so that a busy machine
slows every contender alike. About 4 minutes (5 with dlt); --quick takes under one.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # fpr_local_api, for the dataset's memory figure
RUNNER = ROOT / "tools" / "benchmark_run.py"
API_KEY = "benchmark-key"
SYNC_TIMEOUT_SECONDS = 900
API_PASSES = 5  # the API's figure is the best of these passes over its records

# The goals the figures are read against.
GOAL_FLOOR_RATIO = 0.90
GOAL_LATENCY_HIDDEN = 0.80
GOAL_MEMORY_RATIO = 1.15
GOAL_API_RECORDS_PER_SECOND = 20_000
GOAL_FREE_RATIO = 1.05


@dataclass(frozen=True)
class Contender:
    name: str
    kind: str  # "sdk": connector.debug(); "free": update() with free operations; "chain": a bare client; "dlt"
    source: Path = None


FLOOR = Contender("SDK floor (tools/sdk_floor)", "sdk", ROOT / "tools" / "sdk_floor" / "connector.py")
CONNECTOR = Contender("connector (connector.py)", "sdk", ROOT / "connector.py")
DLT = Contender("dlt rest_api -> DuckDB", "dlt")
FREE = Contender("connector, destination free", "free", ROOT / "connector.py")
CHAIN = Contender("the API's cursor chain", "chain")


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    requests: int


class LocalApi:
    """The local FPR API in a process of its own, optionally with the same latency on every request."""

    def __init__(self, records, latency=0.0):
        self.records = records
        self.latency = latency
        self._process = None
        self.base_url = None

    def __enter__(self):
        command = [sys.executable, "-m", "fpr_local_api", "--port", "0", "--records", str(self.records)]
        command += ["--api-key", API_KEY]
        if self.latency:
            command += ["--faults", f"1+=latency:{self.latency}"]
        self._process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        banner = self._process.stdout.readline()
        self.base_url = banner.split("listening on ")[1].split()[0]
        return self

    def __exit__(self, *exc):
        self._process.terminate()
        self._process.wait(timeout=30)

    def cpu_seconds(self):
        """CPU time the API's process has used so far (Linux /proc; NaN elsewhere)."""
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def requests_served(self):
        status = requests.get(self.base_url + "/_admin/status", headers={"x-api-key": API_KEY}, timeout=30)
        return status.json()["requests"]


def run_sync(contender, api, page_size):
    """One full sync in a fresh process; its time, peak memory and the requests it made."""
    with tempfile.TemporaryDirectory(prefix="fpr-benchmark-") as folder:
        folder = Path(folder)
        configuration = folder / "configuration.json"
        configuration.write_text(
            json.dumps({"base_url": api.base_url, "api_key": API_KEY, "page_size": str(page_size)})
        )
        result = folder / "result.json"
        before = api.requests_served()
        log = folder / "output.log"
        with log.open("w") as output:
            arguments = _runner_arguments(contender, folder, configuration)
            process = subprocess.run(
                [sys.executable, str(RUNNER), *arguments, str(result)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HOME": str(folder), "DO_NOT_TRACK": "1"},
                timeout=SYNC_TIMEOUT_SECONDS,
            )
        outcome = json.loads(result.read_text()) if result.exists() else {"ok": False}
        if process.returncode != 0 or not outcome["ok"]:
            tail = "\n".join(log.read_text().splitlines()[-25:])
            raise RuntimeError(f"{contender.name}: the sync failed (exit {process.returncode}):\n{tail}")
        return Run(outcome["seconds"], outcome["max_rss_mb"], api.requests_served() - before)


def _runner_arguments(contender, folder, configuration):
    if contender.kind == "dlt":
        return ["dlt", str(configuration), str(folder)]
    if contender.kind == "chain":
        return ["chain", "-", str(configuration)]
    project = folder / "project"
    project.mkdir()
    (project / "connector.py").symlink_to(contender.source)  # imported from where it lives, with its neighbours
    (project / "requirements.txt").write_text("# none\n")
    return [contender.kind, str(project), str(configuration)]


def best_of(plan, repeats, progress):
    """Runs every (key, contender, api, page_size) of `plan` `repeats` times, interleaved.

    Returns:
        {key: [Run, ...]} in the order they ran.
    """
    runs = {key: [] for key, *_ in plan}
    for number in range(repeats):
        for key, contender, api, page_size in plan if number % 2 == 0 else reversed(plan):
            run = run_sync(contender, api, page_size)
            runs[key].append(run)
            setting = " ".join(str(part) for part in key[1:])
            progress(f"pass {number + 1}/{repeats}  {contender.name:30} {setting:>18}  {run.seconds:7.2f} s")
    return runs


def fastest(runs):
    return min(runs, key=lambda run: run.seconds)


def latency_hidden(no_latency, with_latency, latency):
    """The share of the added latency (requests x latency) that did not lengthen the sync."""
    added = with_latency.seconds - no_latency.seconds
    return 1 - added / (with_latency.requests * latency)


def share_of(hidden, hideable):
    """`hidden` as a share of `hideable`, printed; "-" when nothing could be hidden (a run slowed by other work)."""
    return f"{hidden / hideable:.0%}" if hideable > 0 else "-"


def latency_hideable(no_latency, empty, with_latency, latency):
    """The most of the added latency any client can hide when it must follow a cursor chain.

    Page n+1 can only be asked for once page n's answer (its cursor) is in, so requests cannot
    overlap one another: only the time spent on pages (no_latency - empty: writing them, and
    fetching them without added latency) can run while the next answer is awaited.
    """
    work = max(no_latency.seconds - empty.seconds, 0.0)
    return min(1.0, work / (with_latency.requests * latency))


def api_throughput(records, page_size, passes):
    """The local API alone: one client paging through `records` over HTTP, JSON decoded.

    Returns:
        (records/s end to end, best of `passes`; records per second of the server's CPU time).
    """
    best, served, cpu_seconds = 0.0, 0, 0.0
    with LocalApi(records) as api, requests.Session() as session:
        session.headers["x-api-key"] = API_KEY
        cpu_before = api.cpu_seconds()
        for _ in range(passes):
            started, received = time.perf_counter(), _read_all(session, api.base_url, page_size)
            best = max(best, received / (time.perf_counter() - started))
            served += received
        cpu_seconds = api.cpu_seconds() - cpu_before
    return best, served / cpu_seconds if cpu_seconds else float("nan")


def dataset_megabytes(records=1_000_000, changes=1_000):
    """Memory the local API's dataset holds for `records` records after `changes` inserts and updates."""
    from fpr_local_api import Dataset

    tracemalloc.start()
    dataset = Dataset(size=records, seed=1)
    dataset.apply_changes(insert=changes, update=changes)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del dataset
    return held / 1e6


def _read_all(session, base_url, page_size):
    received, cursor = 0, None
    while True:
        params = {"page_size": page_size, **({"cursor": cursor} if cursor else {})}
        page = session.get(base_url + "/fpr_data", params=params, timeout=60).json()
        received += len(page["fpr_records"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return received


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one pass at smaller sizes: a minute, rougher figures")
    parser.add_argument("--repeats", type=int, default=3, help="passes; each figure is the best (default 3)")
    parser.add_argument("--records", type=int, default=10_000, help="records of the no-latency sync (default 10,000)")
    parser.add_argument("--page-size", type=int, default=200, help="page size of the no-latency sync (default 200)")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds added to each request (default 0.15)")
    parser.add_argument("--latency-records", type=int, default=3_000, help="records of the latency syncs (3,000)")
    parser.add_argument("--latency-page-size", type=int, default=100, help="page size of the latency syncs (100)")
    parser.add_argument(
        "--memory-records", type=int, nargs=2, default=(10_000, 100_000), help="the two sizes of the memory figure"
    )
    parser.add_argument("--api-records", type=int, default=20_000, help="records of the API's own figure (20,000)")
    parser.add_argument(
        "--free-page-sizes",
        type=int,
        nargs="+",
        default=(200, 100),
        help="page sizes of the free-destination syncs; the first is the connector's default (200 100)",
    )
    parser.add_argument("--no-dlt", action="store_true", help="leave dlt out even when it is installed")
    parser.add_argument("--baseline", metavar="REF", help="also run the connector as it was at this git revision")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.records, args.latency_records = 1, 3_000, 1_000
        args.memory_records, args.api_records = (3_000, 30_000), 10_000
    return args


def contenders(args, baseline=None):
    peers = [FLOOR, CONNECTOR]
    if baseline is not None:
        peers.append(baseline)
    if not args.no_dlt and importlib.util.find_spec("dlt") is not None:
        peers.append(DLT)
    return peers


@contextlib.contextmanager
def baseline_contender(ref):
    """The connector (connector.py and, where it had one, its fpr package) as it was at git revision `ref`,
    extracted into a temporary folder; None without a revision."""
    if ref is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="fpr-baseline-") as folder:
        listed = subprocess.run(
            ["git", "ls-tree", "--name-only", ref, "connector.py", "fpr"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        archive = subprocess.run(["git", "archive", ref, *listed], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Contender(f"connector at {ref[:12]}", "sdk", Path(folder) / "connector.py")


# The settings each contender syncs under.
PLAIN = "no latency"  # --records, --page-size
SHORT = "short"  # --latency-records, --latency-page-size, no latency
SHORT_SLOW = "short, latency"  # the same with --latency added to each request
EMPTY = "empty"  # an API with no records: what a sync costs before any record moves
FREE_SLOW = "free, latency"  # --latency-records with --latency, a free destination, page of --free-page-sizes


def measure(args, progress, baseline=None):
    """Every sync of the comparison, interleaved; returns {(contender, setting): [Run, ...]}."""
    peers = contenders(args, baseline)
    with (
        LocalApi(args.records) as plain_api,
        LocalApi(args.latency_records) as short_api,
        LocalApi(args.latency_records, latency=args.latency) as slow_api,
        LocalApi(0) as empty_api,
    ):
        plan = []
        for peer in peers:
            plan.append(((peer, PLAIN), peer, plain_api, args.page_size))
            plan.append(((peer, SHORT), peer, short_api, args.latency_page_size))
            plan.append(((peer, SHORT_SLOW), peer, slow_api, args.latency_page_size))
            plan.append(((peer, EMPTY), peer, empty_api, args.latency_page_size))
        plan.append(((CHAIN, FREE_SLOW, args.free_page_sizes[0]), CHAIN, slow_api, args.free_page_sizes[0]))
        for page_size in args.free_page_sizes:
            plan.append(((FREE, FREE_SLOW, page_size), FREE, slow_api, page_size))
        return best_of(plan, args.repeats, progress), peers


def memory_runs(args, timed, progress, baseline=None):
    """Peak memory of the connector's and the floor's syncs at the two --memory-records sizes.

    A size that the timed no-latency syncs already ran at is not run again: their median is used.

    Returns:
        {(contender, size): peak MB}
    """
    peaks = {}
    for size in args.memory_records:
        for peer in (CONNECTOR, FLOOR, *filter(None, [baseline])):
            if size == args.records:
                peaks[(peer, size)] = statistics.median(run.max_rss_mb for run in timed[(peer, PLAIN)])
                continue
            with LocalApi(size) as api:
                peaks[(peer, size)] = run_sync(peer, api, args.page_size).max_rss_mb
            progress(f"memory      {peer.name:30} {size:>9,} records  {peaks[(peer, size)]:7.1f} MB")
    return peaks


@dataclass
class Figures:
    floor_ratio: float
    latency_hidden: dict
    latency_hideable: dict
    memory_ratio: float
    free_ratio: float
    api_rate: float
    api_cpu_rate: float
    dataset_mb: float


def report(args, runs, peers, memory, api_rates):
    """The printed comparison, and the goals read against it."""
    best = {key: fastest(found) for key, found in runs.items()}
    small, large = args.memory_records
    figures = Figures(
        floor_ratio=best[(CONNECTOR, PLAIN)].seconds / best[(FLOOR, PLAIN)].seconds,
        latency_hidden={
            peer: latency_hidden(best[(peer, SHORT)], best[(peer, SHORT_SLOW)], args.latency) for peer in peers
        },
        latency_hideable={
            peer: latency_hideable(best[(peer, SHORT)], best[(peer, EMPTY)], best[(peer, SHORT_SLOW)], args.latency)
            for peer in peers
        },
        memory_ratio=memory[(CONNECTOR, large)] / memory[(CONNECTOR, small)],
        free_ratio=best[(FREE, FREE_SLOW, args.free_page_sizes[0])].seconds
        / best[(CHAIN, FREE_SLOW, args.free_page_sizes[0])].seconds,
        api_rate=api_rates[0],
        api_cpu_rate=api_rates[1],
        dataset_mb=api_rates[2],
    )
    sections = [
        _speed_lines(args, best, peers),
        _latency_lines(args, best, peers, figures),
        _free_lines(args, best),
        _memory_lines(args, memory, peers),
        *_baseline_lines(args, best, peers, memory, figures),
        _api_lines(args, best, figures),
        [_dlt_line(peers)],
        _goal_lines(args, figures),
    ]
    return "\n\n".join("\n".join(section) for section in sections)


def _speed_lines(args, best, peers):
    floor = best[(FLOOR, PLAIN)].seconds
    lines = [
        f"Sync of {args.records:,} records, page {args.page_size}, no added latency "
        f"(best of {args.repeats}; each sync in a fresh process through connector.debug())"
    ]
    for peer in peers:
        run = best[(peer, PLAIN)]
        ratio = "" if peer is FLOOR else f"  {run.seconds / floor:5.2f}x the floor"
        lines.append(f"  {peer.name:30} {run.seconds:7.2f} s {args.records / run.seconds:8,.0f} records/s{ratio}")
    return lines


def _latency_lines(args, best, peers, figures):
    requests_made = best[(FLOOR, SHORT_SLOW)].requests
    lines = [
        f"Sync of {args.latency_records:,} records, page {args.latency_page_size}, with {args.latency * 1000:.0f} ms "
        f"added to each request ({requests_made} requests: {requests_made * args.latency:.2f} s of latency)",
        f"  {'':30} {'no latency':>10} {'latency':>10} {'added':>9} {'hidden':>7} {'at most':>8} {'of that':>8}",
    ]
    for peer in peers:
        quick_run, slow_run = best[(peer, SHORT)], best[(peer, SHORT_SLOW)]
        hidden, ceiling = figures.latency_hidden[peer], figures.latency_hideable[peer]
        lines.append(
            f"  {peer.name:30} {quick_run.seconds:8.2f} s {slow_run.seconds:8.2f} s "
            f"{slow_run.seconds - quick_run.seconds:7.2f} s {hidden:7.0%} {ceiling:8.0%} {share_of(hidden, ceiling):>8}"
        )
    lines.append("  hidden  = 1 - (time with latency - time without) / (requests x latency)")
    lines.append("  at most = (time without latency - time of a sync of no records) / (requests x latency), capped at")
    lines.append("            100%: the next page's cursor comes with this page's answer, so requests cannot overlap")
    lines.append("            one another; only the work on pages can run while an answer is awaited")
    return lines


def _free_lines(args, best):
    default = args.free_page_sizes[0]
    chain = best[(CHAIN, FREE_SLOW, default)]
    lines = [
        f"A free destination: update() with upsert and checkpoint made no-ops, {args.latency_records:,} records, "
        f"{args.latency * 1000:.0f} ms added to each request",
        f"  {CHAIN.name + f', page {default}':42} {chain.seconds:7.2f} s  {chain.requests:4} requests  "
        "(a bare client: each page decoded, nothing else)",
    ]
    for page_size in args.free_page_sizes:
        run = best[(FREE, FREE_SLOW, page_size)]
        label = f"connector, page {page_size}" + (" (its default)" if page_size == default else "")
        ratio = run.seconds / chain.seconds
        lines.append(f"  {label:42} {run.seconds:7.2f} s  {run.requests:4} requests  {ratio:5.2f}x the chain")
    return lines


def _memory_lines(args, memory, peers):
    small, large = args.memory_records
    lines = [
        f"Peak memory of a sync's process (max RSS), page {args.page_size}",
        f"  {'':30} {small:>9,} {large:>9,} records",
    ]
    for peer in (peer for peer in peers if (peer, small) in memory):
        low, high = memory[(peer, small)], memory[(peer, large)]
        lines.append(f"  {peer.name:30} {low:6.1f} MB {high:6.1f} MB   {high / low:.2f}x   {high - low:+6.1f} MB")
    own = (memory[(CONNECTOR, large)] - memory[(CONNECTOR, small)]) - (memory[(FLOOR, large)] - memory[(FLOOR, small)])
    lines.append(f"  growth of the connector beyond the floor's: {own:+.1f} MB (the floor's is the SDK's runner)")
    return lines


def _baseline_lines(args, best, peers, memory, figures):
    """The connector beside its predecessor (--baseline), figure by figure: a section, or none."""
    baseline = next((peer for peer in peers if peer.name.startswith("connector at")), None)
    if baseline is None:
        return []
    small, large = args.memory_records
    now, then = best[(CONNECTOR, PLAIN)].seconds, best[(baseline, PLAIN)].seconds
    floor = best[(FLOOR, PLAIN)].seconds
    memory_now, memory_then = memory[(CONNECTOR, large)], memory[(baseline, large)]
    hidden_now, hidden_then = figures.latency_hidden[CONNECTOR], figures.latency_hidden[baseline]
    return [
        [
            f"This connector beside the {baseline.name}",
            f"  {'':34} {'now':>9} {'then':>9}",
            f"  {'no latency, / the floor':34} {now / floor:8.2f}x {then / floor:8.2f}x   now / then {now / then:.2f}x",
            f"  {'latency hidden':34} {hidden_now:9.0%} {hidden_then:9.0%}",
            f"  {f'peak memory at {large:,} records':34} {memory_now:6.1f} MB {memory_then:6.1f} MB   "
            f"now / then {memory_now / memory_then:.2f}x",
            f"  {f'memory at {large:,} / at {small:,}':34} {figures.memory_ratio:8.2f}x "
            f"{memory_then / memory[(baseline, small)]:8.2f}x",
        ]
    ]


def _api_lines(args, best, figures):
    times = figures.api_rate / (args.records / best[(CONNECTOR, PLAIN)].seconds)
    return [
        f"Local FPR API alone ({args.api_records:,} records, page 200, one client, JSON over HTTP, "
        f"best of {API_PASSES})",
        f"  end to end       {figures.api_rate:9,.0f} records/s  {times:4.0f}x the connector's sync rate",
        f"  per CPU second   {figures.api_cpu_rate:9,.0f} records/s  of the server's own CPU time (a core to itself)",
        f"  dataset memory   {figures.dataset_mb:9.2f} MB for 1,000,000 records with 1,000 inserted and 1,000 updated",
    ]


def _dlt_line(peers):
    if DLT not in peers:
        return "dlt not installed: no peer figures (they appear when dlt[duckdb] is importable)"
    from importlib.metadata import version

    return f"dlt {version('dlt')}: rest_api source (cursor paginator, merge on record_id) into DuckDB, as run above"


def _goal_lines(args, figures):
    small, large = args.memory_records
    hidden = figures.latency_hidden[CONNECTOR]
    goals = [
        (
            f"connector / floor, no latency <= {GOAL_FLOOR_RATIO:.2f}x",
            f"{figures.floor_ratio:.2f}x",
            figures.floor_ratio <= GOAL_FLOOR_RATIO,
        ),
        (
            f"latency hidden by the connector >= {GOAL_LATENCY_HIDDEN:.0%}",
            f"{hidden:.0%}",
            hidden >= GOAL_LATENCY_HIDDEN,
        ),
        (
            f"  ... of what a cursor chain allows >= {GOAL_LATENCY_HIDDEN:.0%}",
            share_of(hidden, figures.latency_hideable[CONNECTOR]),
            hidden >= GOAL_LATENCY_HIDDEN * figures.latency_hideable[CONNECTOR],
        ),
        (
            f"memory at {large:,} / at {small:,} <= {GOAL_MEMORY_RATIO:.2f}x",
            f"{figures.memory_ratio:.2f}x",
            figures.memory_ratio <= GOAL_MEMORY_RATIO,
        ),
        (
            f"free destination: connector / chain <= {GOAL_FREE_RATIO:.2f}x",
            f"{figures.free_ratio:.2f}x",
            figures.free_ratio <= GOAL_FREE_RATIO,
        ),
        (
            f"local API >= {GOAL_API_RECORDS_PER_SECOND:,} records/s",
            f"{figures.api_rate:,.0f}",
            figures.api_rate >= GOAL_API_RECORDS_PER_SECOND,
        ),
    ]
    return ["Goals"] + [f"  {text:45} {figure:>10}   {'met' if met else 'NOT met'}" for text, figure, met in goals]


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; syncs run one at a time", flush=True)

    def progress(text):
        print(f"  [{time.perf_counter() - started:6.0f} s] {text}", flush=True)

    with baseline_contender(args.baseline) as baseline:
        runs, peers = measure(args, progress, baseline)
        memory = memory_runs(args, runs, progress, baseline)
    api_rates = (*api_throughput(args.api_records, 200, passes=API_PASSES), dataset_megabytes())
    print(report(args, runs, peers, memory, api_rates))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

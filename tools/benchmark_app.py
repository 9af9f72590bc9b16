"""FinMatch's speed on a large warehouse: the time of a first load and of each interaction (make benchmark-app).

    python tools/benchmark_app.py [--rows 10000000] [--warehouse PATH] [--figures FILE] [--repeats N]
                                  [--think SECONDS] [--match-first] [--no-derived]

Without --warehouse it builds a DuckDB warehouse of --rows records shaped like the one `make sync`
writes (tester.fpr_records, the connector's column types), generated in SQL, and keeps it in
build/benchmark/ for the next run. Then it builds FinMatch's derived tables into it, as `make sync` does
when a sync ends, and prints how long that took (and, once both sizes have been measured, how that time
grew from 10 to 100 million records); --no-derived times the app without them. The app runs in this
process through Streamlit's AppTest, the same script `make app` serves, with an empty cache at the first
load (its modules imported before, as a running server has them). Each
interaction is what a person does in the page; its time is from the widget change to the end of
the rerun. The first choices (a campaign product, a customer in Match) are made as soon as the page
is up unless --think says how long a person reads first: their times include any wait for the
tables the app builds in the background. The figures are printed, not judged: they depend on the
machine. Each step also shows the processor time this process used (every thread's), and the load
average before and after the passes, since other work on the same cores lengthens the times without
changing the work.

--figures writes every figure the app shows (cards, captions, tables, messages) after each step to
a JSON file, so that two versions of the app can be compared on the same warehouse.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app" / "streamlit_app.py"
BENCHMARK_FOLDER = ROOT / "build" / "benchmark"
sys.path.insert(0, str(APP.parent))  # the app's own modules, as `streamlit run` finds them

from finmatch.data.derived_local import build_derived  # noqa: E402

GENERATOR_VERSION = 1  # bump when the generated data changes, so an old warehouse is rebuilt

# Goals on a 2-core machine with the derived tables in place: (first load, each interaction) in seconds, by the
# largest warehouse each applies to.
GOALS = ((10_000_000, (1.0, 0.5)), (100_000_000, (2.0, 1.0)))
BUILD_TIMES = BENCHMARK_FOLDER / "derived-build-seconds.json"

# About five records per customer: a customer is recommended several products over time.
RECORDS_PER_CUSTOMER = 5

GENERATOR_SQL = """
CREATE SCHEMA IF NOT EXISTS tester;
CREATE OR REPLACE TABLE tester.fpr_records AS
WITH numbered AS (
  SELECT i, CAST(hash(i) >> 1 AS BIGINT) AS h1, CAST(hash(i + {rows}) >> 1 AS BIGINT) AS h2,
         CAST(hash(i + 2 * {rows}) >> 1 AS BIGINT) AS h3, CAST((hash(i) >> 1) % {customers} AS BIGINT) AS customer
  FROM range({rows}) AS r(i)
)
SELECT
  md5(CAST(i AS VARCHAR)) AS record_id,
  'CUST_' || lpad(CAST(customer AS VARCHAR), 7, '0') AS customer_id,
  'Customer ' || CAST(customer + 1 AS VARCHAR) AS customer_name,
  'customer' || CAST(customer + 1 AS VARCHAR) || '@example.com' AS customer_email,
  ['Retail', 'Commercial', 'Small Business', 'Private Banking', 'Corporate'][1 + CAST(hash(customer) % 5 AS BIGINT)]
    AS customer_segment,
  ['Lead', 'Onboarding', 'Engaged', 'Converted', 'Inactive'][1 + h1 % 5] AS customer_lifecycle_stage,
  DATE '2024-01-01' + CAST((h1 >> 8) % 540 AS INTEGER) AS customer_lifecycle_stage_transition_date,
  50 + 249950 * ((h1 >> 16) % 1000000) / 1000000.0 AS account_balance,
  'Transaction History ' || CAST(1 + (h2 % 50) AS VARCHAR) AS transaction_history,
  10 + 19990 * ((h2 >> 8) % 1000000) / 1000000.0 AS customer_transaction_value,
  CAST((h2 >> 16) % 501 AS INTEGER) AS customer_transaction_count,
  'PROD_' || lpad(CAST((h2 >> 24) % 1000 AS VARCHAR), 6, '0') AS product_id,
  'Product ' || CAST(1 + (h2 >> 32) % 1000 AS VARCHAR) AS product_name,
  ['Savings Account', 'Checking Account', 'Loan', 'Credit Card', 'Mortgage', 'Investment Account',
   'Insurance'][1 + (h2 >> 40) % 7] AS product_type,
  ['No Collateral Required', 'Fixed Rate', 'Variable Rate', 'No Annual Fee', 'Flexible Repayment',
   'Low Interest'][1 + (h2 >> 44) % 6] AS product_terms,
  50000 * ((h3 % 1000000) / 1000000.0) AS product_sales_amount,
  DATE '2024-01-01' + CAST((h3 >> 20) % 540 AS INTEGER) AS product_sales_date,
  ['Insurance', 'Credit Card', 'Loan', 'Mortgage', 'Investment', 'Savings Account'][1 + (h3 >> 30) % 6]
    AS product_recommendation,
  DATE '2024-01-01' + CAST((h3 >> 34) % 540 AS INTEGER) AS product_recommendation_date,
  ['Accepted', 'Pending', 'In Progress', 'Declined'][1 + (h3 >> 44) % 4] AS product_recommendation_status,
  ((h3 >> 46) % 1000000) / 1000000.0 AS recommendation_score,
  'Product Usage ' || CAST(1 + h1 % 10 AS VARCHAR) AS customer_product_usage,
  ((h1 >> 36) % 1000000) / 1000000.0 AS customer_product_affinity,
  'Product Affinity Trend ' || CAST(1 + (h1 >> 4) % 10 AS VARCHAR) AS customer_product_affinity_trend,
  'Product Usage Trend ' || CAST(1 + (h1 >> 12) % 10 AS VARCHAR) AS customer_product_usage_trend,
  'Product Interest ' || CAST(1 + (h2 >> 52) % 10 AS VARCHAR) AS customer_product_interests,
  ((h2 >> 12) % 1000000) / 1000000.0 AS customer_satisfaction_score,
  ((h1 >> 24) % 1000000) / 1000000.0 AS customer_churn_probability,
  CAST(1748797200 + 3 * i AS BIGINT) AS last_updated_epoch,
  (h1 % 1000) = 0 AS _fivetran_deleted,
  TIMESTAMPTZ '2025-06-02 08:00:00+00' + to_seconds(CAST(i % 3600 AS BIGINT)) AS _fivetran_synced
FROM numbered;
CREATE OR REPLACE TABLE tester.benchmark_info AS SELECT {version} AS generator_version, {rows} AS rows_generated;
"""


def build_warehouse(rows):
    """A warehouse of `rows` generated records, reused when a previous run built the same one."""
    BENCHMARK_FOLDER.mkdir(parents=True, exist_ok=True)
    path = BENCHMARK_FOLDER / f"warehouse-{rows}.db"
    if path.exists() and _generated_as_asked(path, rows):
        print(f"warehouse: {path} ({rows:,} rows, built earlier)")
        return path
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    customers = max(rows // RECORDS_PER_CUSTOMER, 1)
    with duckdb.connect(str(path)) as connection:
        connection.execute(GENERATOR_SQL.format(rows=rows, customers=customers, version=GENERATOR_VERSION))
    print(f"warehouse: {path} ({rows:,} rows, built in {time.perf_counter() - started:.1f} s)")
    return path


def _generated_as_asked(path, rows):
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            found = connection.execute("SELECT generator_version, rows_generated FROM tester.benchmark_info").fetchone()
    except duckdb.Error:
        return False
    return found == (GENERATOR_VERSION, rows)


# ---------- the page, driven as a person would ----------


def widget(elements, label_start):
    """The first widget whose label starts with `label_start`, or None when this version of the app has none."""
    return next((element for element in elements if element.label.startswith(label_start)), None)


def other_option(box):
    """The index of an option of a select box other than the chosen one."""
    current = box.index if box.index is not None else 0
    return 1 if current == 0 and len(box.options) > 1 else 0


def interactions(at, match_first=False, think=0.0):
    """(name, action) pairs; an action returns False when this version of the app has no such widget.

    The first two choose the first campaign product and the first customer in Match, which the app computes nothing
    for until they are chosen: the first of them is chosen as soon as the page is up (or `think` seconds later), so
    its time includes any wait for the per-customer tables still being built in the background.
    """

    def choose_segment():
        box = widget(at.sidebar.multiselect, "Customer segment")
        box.set_value([box.options[0]])
        return True

    def all_segments():
        widget(at.sidebar.multiselect, "Customer segment").set_value([])
        return True

    def next_explorer_page():
        page = widget(at.number_input, "Page")
        if page is None:
            return False
        page.set_value(page.value + 1)
        return True

    def search_explorer():
        box = widget(at.text_input, "Search")
        if box is None:
            return False
        box.input("Product 12")
        return True

    def first_campaign():
        box = widget(at.selectbox, "Product to offer")
        if box is None or box.value is not None:  # a version that lists a product from the start
            return False
        box.select_index(0)
        return True

    def first_customer():
        box = widget(at.selectbox, "Customer")
        if box is None or box.value is not None:
            return False
        box.select_index(0)
        return True

    def another_customer():
        box = widget(at.selectbox, "Customer")
        if box is None or len(box.options) < 2:
            return False
        box.select_index(other_option(box))
        return True

    def campaign_product():
        box = widget(at.selectbox, "Product to offer")
        if box is None or len(box.options) < 2:
            return False
        box.select_index(other_option(box))
        return True

    def campaign_size():
        box = widget(at.number_input, "Customers in the list")
        if box is None:
            return False
        box.set_value(box.value + 100)
        return True

    def save_members():
        box = widget(at.button, "Save the campaign members")
        if box is None:
            return False
        box.click()
        return True

    def retention_list():
        box = widget(at.toggle, "Build the retention list")
        if box is None:
            return False
        box.set_value(True)
        return True

    def date_range():
        box = at.sidebar.date_input[0] if at.sidebar.date_input else None
        if box is None:
            return False
        first, last = box.value
        box.set_value((first, first.replace(year=first.year + 1)))
        return True

    when = "at once" if not think else f"{think:g} s after the page is up"
    firsts = [(f"first campaign list, chosen {when}", first_campaign), ("first customer in Match", first_customer)]
    if match_first:
        firsts = [(f"first customer in Match, chosen {when}", first_customer), ("first campaign list", first_campaign)]
    return [
        *firsts,
        ("choose a segment", choose_segment),
        ("next explorer page", next_explorer_page),
        ("search the explorer", search_explorer),
        ("another customer in Match", another_customer),
        ("campaign list for another product", campaign_product),
        ("a longer campaign list", campaign_size),
        ("save the campaign members", save_members),
        ("the retention list", retention_list),
        ("a recommendation date range", date_range),
        ("back to all segments", all_segments),
    ]


def figures(at):
    """Every figure the page shows, as text: cards, captions, markdown, messages and tables."""
    shown = {
        "metrics": [[metric.label, metric.value, metric.delta] for metric in at.metric],
        "captions": [caption.value for caption in at.caption],
        "markdown": [block.value for block in at.markdown],
        "messages": [
            [kind, element.value] for kind in ("info", "success", "warning", "error") for element in getattr(at, kind)
        ],
        "tables": [frame.value.astype(str).to_dict("split") for frame in at.dataframe],
        "charts": [chart_rows(chart) for chart in at.get("vega_lite_chart") or at.get("arrow_vega_lite_chart")],
    }
    return json.loads(json.dumps(shown, default=str))


def chart_rows(chart):
    """The rows a chart draws, by layer data (Streamlit sends them as Arrow streams beside the spec)."""
    import pyarrow

    return sorted(
        (pyarrow.ipc.open_stream(dataset.data.data).read_all().to_pandas().astype(str).to_dict("split")["data"])
        for dataset in chart.proto.datasets
    )


def cpu_seconds():
    """Processor time of this process so far, every thread's (DuckDB's included)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def run_once(warehouse, record_figures, match_first=False, think=0.0):
    """One pass: a first load with an empty cache, then every interaction, the first of them `think` seconds after
    the page is up. Returns (seconds, processor seconds) of each step, and the figures shown."""
    import logging

    import streamlit as st

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # AppTest runs without a server, and says so
    from streamlit.testing.v1 import AppTest

    # Imported before the clock starts, as a running server has them imported after its first page: a first load
    # is a new viewer's page, not the server's start.
    import finmatch.tabs.insights  # noqa: F401
    from finmatch.data.backends import forget_derived_data

    st.cache_data.clear()
    forget_derived_data()  # what Reload data does: tables derived in memory are computed again
    at = AppTest.from_file(str(APP), default_timeout=600)
    times, shown = {}, {}
    started, processor = time.perf_counter(), cpu_seconds()
    at.run()
    times["first load"] = (time.perf_counter() - started, cpu_seconds() - processor)
    _check(at, "first load")
    if record_figures:
        shown["first load"] = figures(at)
    time.sleep(think)  # a person reading the page before the first choice; nothing is timed meanwhile
    for name, action in interactions(at, match_first, think):
        started, processor = time.perf_counter(), cpu_seconds()
        if not action():
            continue
        at.run()
        times[name] = (time.perf_counter() - started, cpu_seconds() - processor)
        _check(at, name)
        if record_figures:
            shown[name] = figures(at)
    return times, shown


def _check(at, step):
    if at.exception:
        raise SystemExit(f"the app failed during '{step}': {at.exception[0].message}")
    if at.error:
        raise SystemExit(f"the app showed an error during '{step}': {at.error[0].value}")


def goals_for(rows):
    return next((goals for largest, goals in GOALS if rows <= largest), GOALS[-1][1])


def build_derived_tables(warehouse, rows):
    """Builds the derived tables as a sync's end does; returns the line to print, with the growth since the other
    size when both were measured on this machine."""
    loads = os.getloadavg()
    built = build_derived(warehouse)
    measured = json.loads(BUILD_TIMES.read_text()) if BUILD_TIMES.exists() else {}
    measured[str(rows)] = built.total
    BUILD_TIMES.write_text(json.dumps(measured, indent=1))
    line = f"{built.summary()}; load average before {loads[0]:.2f} {loads[1]:.2f} {loads[2]:.2f}"
    sizes = sorted((int(size), seconds) for size, seconds in measured.items())
    if len(sizes) > 1:
        (small, small_seconds), (large, large_seconds) = sizes[0], sizes[-1]
        line += (
            f"\n  growth: {small_seconds:.1f} s at {small:,} rows, {large_seconds:.1f} s at {large:,} rows "
            f"(x{large_seconds / small_seconds:.1f} for x{large / small:.0f} the rows)"
        )
    return line


def report(rows, passes, loads, derived):
    """Each step's best time (and median), with the processor time of this process in that best pass: on a machine
    whose cores other work shares, time can exceed the goal while the work done stays the same."""
    print(f"\nFinMatch on {rows:,} rows, best of {len(passes)} pass(es), seconds:")
    print(f"  derived tables: {derived}")
    names = list(passes[0])
    first_goal, interaction_goal = goals_for(rows)
    for name in names:
        values = sorted(times[name] for times in passes if name in times)
        goal = first_goal if name == "first load" else interaction_goal
        best, processor = values[0]
        spread = f"  (median {statistics.median(value for value, _ in values):.2f})" if len(values) > 1 else ""
        verdict = "within" if best <= goal else "OVER"
        print(f"  {name:<36} {best:6.2f}{spread}   processor {processor:5.2f}   goal {goal:.1f} s: {verdict}")
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}".format(*loads))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="records to generate (default 10,000,000)")
    parser.add_argument("--warehouse", type=Path, help="an existing warehouse instead of a generated one")
    parser.add_argument("--figures", type=Path, help="write every figure shown after each step to this JSON file")
    parser.add_argument("--repeats", type=int, default=1, help="passes; each time is the best of them")
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds between the page being up and the first choice (default 0)"
    )
    parser.add_argument(
        "--match-first", action="store_true", help="choose a customer in Match before the first campaign product"
    )
    parser.add_argument("--no-derived", action="store_true", help="time the app without the derived tables")
    arguments = parser.parse_args()

    warehouse = arguments.warehouse or build_warehouse(arguments.rows)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute("SELECT count(*) FROM tester.fpr_records").fetchone()[0]
    if arguments.no_derived:
        with duckdb.connect(str(warehouse)) as connection:
            connection.execute("DROP SCHEMA IF EXISTS finmatch CASCADE")
        derived = "none (--no-derived): the app computes them itself"
    else:
        derived = build_derived_tables(warehouse, rows)
    print(f"derived tables: {derived}", flush=True)
    os.environ["FINMATCH_WAREHOUSE"] = str(warehouse.resolve())
    os.environ.pop("FINMATCH_SHOW_CUSTOMER_DATA", None)
    passes, shown = [], None
    loads = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["FINMATCH_APP_DB"] = str(Path(scratch) / "finmatch_app.db")
        for number in range(arguments.repeats):
            record = arguments.figures is not None and number == 0
            times, figures_shown = run_once(warehouse, record, arguments.match_first, arguments.think)
            passes.append(times)
            shown = shown or figures_shown
    report(rows, passes, (*loads, *os.getloadavg()), derived)
    if arguments.figures:
        arguments.figures.write_text(json.dumps(shown, indent=1, sort_keys=True))
        print(f"figures written to {arguments.figures}")


if __name__ == "__main__":
    main()

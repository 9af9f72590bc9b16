"""FinMatch in a real browser: headless Chromium loads the running app on loopback.

`.ci/run` installs Debian's chromium. Elsewhere the test is skipped when chromium is
missing, but in CI (CI=true) a missing browser is a failure, not a skip. Screenshots of every
tab go to a temporary folder of the test, or to FINMATCH_SCREENSHOTS when it names one.

Every tab is checked against SQL on the test's warehouse, as the page shows it to a viewer without
access to customer data. Tables are read from the cells the data grid lists for assistive technology:
the rows and columns on screen, and the row count of the whole table.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
import requests
from conftest import APP_DIR, SOFT_DELETED
from test_finmatch_app import LIVE
from test_finmatch_campaign import HELD_AS, expected_by_balance, expected_counts
from test_finmatch_exports import key_in, pseudonym

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS_ENV = "FINMATCH_SCREENSHOTS"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 90


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Running:
    url: str
    app_db: Path


@pytest.fixture
def running_app(finmatch_warehouse, tmp_path):
    port = free_port()
    log = (tmp_path / "streamlit.log").open("w")
    command = [sys.executable, "-m", "streamlit", "run", str(APP_DIR / "streamlit_app.py")]
    command += ["--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port)]
    command += ["--browser.gatherUsageStats", "false"]
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "FINMATCH_WAREHOUSE": str(finmatch_warehouse),
        "FINMATCH_APP_DB": str(tmp_path / "finmatch_app.db"),
    }
    env.pop("FINMATCH_SHOW_CUSTOMER_DATA", None)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:  # wait for the health endpoint, not for a guessed time
        try:
            if requests.get(url + "/_stcore/health", timeout=2).text == "ok":
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"streamlit did not start: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield Running(url, tmp_path / "finmatch_app.db")
    process.terminate()
    process.wait(timeout=30)
    log.close()


@pytest.fixture
def browser_page():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run should have installed Debian's chromium")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1700})
        yield page
        browser.close()


def show_tab(page, name):
    page.get_by_role("tab", name=name).click()
    page.locator('[role="tabpanel"]:visible').first.wait_for(state="visible")


@pytest.fixture
def screenshots(tmp_path):
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, folder, name):
    page.screenshot(path=str(folder / f"finmatch_{name}.png"), full_page=True)


def test_every_tab_renders_in_chromium_with_figures_equal_to_sql(
    running_app, browser_page, finmatch_warehouse, screenshots
):
    page = browser_page
    page.goto(running_app.url)

    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg')
    assert page.locator('[data-testid="stMetric"]').count() == 8
    with duckdb.connect(str(finmatch_warehouse), read_only=True) as db:
        (acceptance,) = db.execute(
            "SELECT sum(CASE WHEN product_recommendation_status = 'Accepted' THEN 1 ELSE 0 END) "
            "/ sum(CASE WHEN product_recommendation_status IN ('Accepted', 'Declined') THEN 1 ELSE 0 END) "
            "FROM tester.fpr_records WHERE NOT coalesce(_fivetran_deleted, false)"
        ).fetchone()
    acceptance_card = page.locator('[data-testid="stMetric"]', has_text="Acceptance rate")
    assert f"{acceptance:.1%}" in acceptance_card.inner_text()
    assert page.get_by_text("Deploy", exact=True).count() == 0
    screenshot(page, screenshots, "overview")

    show_tab(page, "Distributions")
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 8
    screenshot(page, screenshots, "distributions")

    show_tab(page, "Who to act on")
    check_who_to_act_on(page, finmatch_warehouse)
    screenshot(page, screenshots, "actions")

    show_tab(page, "Campaigns")
    check_campaigns(page, finmatch_warehouse, running_app.app_db)
    screenshot(page, screenshots, "campaigns")

    show_tab(page, "Retention")
    check_retention(page)
    screenshot(page, screenshots, "retention")

    show_tab(page, "Match")
    check_match(page, finmatch_warehouse)
    screenshot(page, screenshots, "match")

    show_tab(page, "Data explorer")
    check_explorer(page, finmatch_warehouse)
    screenshot(page, screenshots, "explorer")

    show_tab(page, "Insights")
    page.get_by_role("button", name="Generate insights").click()
    page.get_by_role("heading", name="Optimisation opportunities").first.wait_for(timeout=60_000)
    screenshot(page, screenshots, "insights")

    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


# ---------- each tab, against SQL ----------


def query(warehouse, statement):
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return db.execute(statement).fetchall()


def visible_panel(page):
    return page.locator('[role="tabpanel"]:visible').first


def grid(panel, position=0):
    """The data grid at `position` in the panel, once drawn."""
    table = panel.locator('[data-testid="stDataFrame"]').nth(position).locator('table[role="grid"]')
    table.wait_for(state="attached", timeout=60_000)
    return table


def grid_rows(table):
    """Rows of the whole table, header excluded."""
    return int(table.get_attribute("aria-rowcount")) - 1


def grid_headers(table):
    return table.locator('th[role="columnheader"]').all_inner_texts()


def grid_column(table, column):
    """The cells of a column on screen, top to bottom (the grid lists only the rows it draws)."""
    cells = table.locator(f'td[role="gridcell"][aria-colindex="{column + 1}"]')
    return cells.all_inner_texts()


def choose(panel, page, label, option):
    """Picks `option` (a name, or a pattern its name matches) in the select box labelled `label`."""
    panel.locator('[data-testid="stSelectbox"]', has_text=label).locator('[role="combobox"]').click()
    page.get_by_role("option", name=option, exact=isinstance(option, str)).first.click()


def masked_as(shown, customer_id):
    """Whether `shown` is `customer_id` masked: the prefix and last two characters kept, the rest hidden."""
    prefix = customer_id.rpartition("_")[0]
    return "•" in shown and shown.startswith(prefix) and shown.endswith(customer_id[-2:])


def percent(text):
    return float(text.rstrip("%"))


def check_who_to_act_on(page, warehouse):
    """The action list: its 50 customers, each with its most urgent open recommendation's score and age (days since
    the recommendation, as SQL counts them), the ageing chart beside it."""
    panel = visible_panel(page)
    table = grid(panel)
    expected = most_urgent(warehouse, 50)
    assert grid_rows(table) == len(expected) == 50
    assert grid_headers(table)[:4] == ["Rank", "Action score", "Why", "Customer ID"]
    scores, reasons, customers = (grid_column(table, column) for column in (1, 2, 3))
    assert len(reasons) >= 5  # at least the first five rows are on screen
    for (customer, score, age), shown_score, why, shown_customer in zip(
        expected, scores, reasons, customers, strict=False
    ):
        assert float(shown_score) == pytest.approx(score, abs=0.05)
        assert why.endswith(f" · open {age} days")
        assert masked_as(shown_customer, customer)
    assert panel.locator('[data-testid="stVegaLiteChart"]').count() == 1  # open recommendations by age


def most_urgent(warehouse, rows):
    """(customer id, action score, days open) of the most urgent open recommendations, as the action list ranks them."""
    today = datetime.now(timezone.utc).date()
    return query(
        warehouse,
        "SELECT customer_id, round(100 * (0.5 * customer_churn_probability + 0.3 * customer_product_affinity "
        f"+ 0.2 * recommendation_score), 1) AS s, DATE '{today}' - product_recommendation_date {LIVE} "
        f"AND product_recommendation_status IN ('Pending', 'In Progress') ORDER BY s DESC, record_id LIMIT {rows}",
    )


def check_campaigns(page, warehouse, app_db):
    """Nothing before a product is chosen; then the counts and the ranked list of SQL, under the pseudonyms of the
    app's key, in a table that fits a 1,400-pixel screen without scrolling sideways."""
    panel = visible_panel(page)
    panel.get_by_text("Choose a product to offer").wait_for(timeout=60_000)
    assert panel.locator('[data-testid="stDataFrame"]').count() == 0
    choose(panel, page, "Product to offer", "Investment")
    panel.get_by_text("customers considered").wait_for(timeout=60_000)  # the prompt also speaks of "already hold"

    counts = expected_counts(warehouse, "Investment")
    text = panel.inner_text()
    assert (
        f"{sum(counts.values()):,} customers considered (every customer) · {counts['hold']:,} already hold Investment"
    ) in text
    assert f"{counts['high_churn']:,} likely to leave (retention first) · {counts['eligible']:,} eligible" in text
    table = grid(panel)
    expected = expected_by_balance(warehouse, "Investment", 100)
    assert grid_rows(table) == len(expected) == min(counts["eligible"], 100)
    assert grid_headers(table)[:3] == ["Rank", "Customer ID", "Segment · stage"]
    [(key,)] = key_in(app_db)
    shown = grid_column(table, 1)
    assert len(shown) >= 5
    assert shown == [pseudonym(key, customer) for customer, _ in expected[: len(shown)]]
    scroller = panel.locator('[data-testid="stDataFrame"]').first.locator(".dvn-scroller").first
    width, visible = scroller.evaluate("element => [element.scrollWidth, element.clientWidth]")
    assert width <= visible, f"the campaign table scrolls sideways at 1,400 px: {width} > {visible}"


def check_retention(page):
    """Nothing before the list is asked for; then the list."""
    panel = visible_panel(page)
    panel.get_by_text("Build the retention list").first.wait_for(timeout=60_000)
    assert panel.locator('[data-testid="stDataFrame"]').count() == 0
    panel.get_by_text("Build the retention list").first.click()
    table = grid(panel)
    assert grid_headers(table)[-1] == "Value at risk"


def check_match(page, warehouse):
    """Nothing before a customer is chosen; then the top customer of Who to act on, with their latest profile and the
    products they were never offered and do not hold, best estimate first, each inside its interval."""
    panel = visible_panel(page)
    panel.get_by_text("Choose a customer").first.wait_for(timeout=60_000)
    assert panel.locator('[data-testid="stDataFrame"]').count() == 0
    choose(panel, page, "Customer", re.compile(r"^1\. "))
    table = grid(panel)

    [(customer, _, _)] = most_urgent(warehouse, 1)
    [(segment, stage)] = query(
        warehouse,
        f"SELECT customer_segment, customer_lifecycle_stage {LIVE} AND customer_id = '{customer}' "
        "ORDER BY last_updated_epoch DESC LIMIT 1",
    )
    header = next(line for line in panel.inner_text().splitlines() if f" · {segment} · {stage} · " in line)
    assert masked_as(header.split(" · ")[0], customer)

    offered = {
        product
        for (product,) in query(
            warehouse, f"SELECT DISTINCT product_recommendation {LIVE} AND customer_id = '{customer}'"
        )
    }
    held_types = {
        kind for (kind,) in query(warehouse, f"SELECT DISTINCT product_type {LIVE} AND customer_id = '{customer}'")
    }
    decided = dict(
        query(
            warehouse,
            f"SELECT product_recommendation, count(*) {LIVE} "
            "AND product_recommendation_status IN ('Accepted', 'Declined') AND product_recommendation IS NOT NULL "
            "GROUP BY 1",
        )
    )
    expected = {product for product in decided if product not in offered and not held_types & set(HELD_AS[product])}
    assert grid_headers(table)[:3] == ["Product", "Estimated acceptance", "90% likely range"]
    products, estimates, intervals = (grid_column(table, column) for column in (0, 1, 2))
    assert grid_rows(table) == len(products) and set(products) == expected
    assert [percent(value) for value in estimates] == sorted((percent(value) for value in estimates), reverse=True)
    for estimate, interval in zip(estimates, intervals, strict=True):
        low, high = (percent(end) for end in interval.split(" – "))
        assert low <= percent(estimate) <= high
    if "Product: answered offers" in grid_headers(table):
        column = grid_headers(table).index("Product: answered offers")
        assert [int(value) for value in grid_column(table, column)] == [decided[product] for product in products]


def check_explorer(page, warehouse):
    """The first page of the records: 25 of every live record, the most recently changed first."""
    panel = visible_panel(page)
    table = grid(panel)
    (records,) = query(warehouse, f"SELECT count(*) {LIVE}")[0]
    assert records == 750 - SOFT_DELETED
    panel.get_by_text(f"Rows 1–25 of {records:,}, most recently changed first.").wait_for()
    assert grid_rows(table) == 25
    assert grid_headers(table)[0] == "Record ID"
    newest = [record for (record,) in query(warehouse, f"SELECT record_id {LIVE} ORDER BY last_updated_epoch DESC")]
    shown = grid_column(table, 0)
    assert len(shown) >= 5
    (cutoff,) = query(
        warehouse, f"SELECT last_updated_epoch {LIVE} ORDER BY last_updated_epoch DESC LIMIT 1 OFFSET 24"
    )[0]
    within = {record for (record,) in query(warehouse, f"SELECT record_id {LIVE} AND last_updated_epoch >= {cutoff}")}
    assert set(shown) <= within and shown[0] in newest[: len(within)]

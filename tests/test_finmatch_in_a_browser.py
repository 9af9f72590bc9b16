"""FinMatch in a real browser: headless Chromium loads the running app on loopback.

`.ci/run` installs Debian's chromium. Elsewhere the test is skipped when chromium is
missing, but in CI (CI=true) a missing browser is a failure, not a skip. Screenshots of every
tab go to a temporary folder of the test, or to FINMATCH_SCREENSHOTS when it names one.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests
from conftest import APP_DIR

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
    yield url
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
    page.goto(running_app)

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

    show_tab(page, "Campaigns")
    page.get_by_text("already hold").first.wait_for(timeout=60_000)
    assert page.get_by_text("eligible").count() >= 1
    screenshot(page, screenshots, "campaigns")

    for name, file_name in (("Who to act on", "actions"), ("Match", "match"), ("Data explorer", "explorer")):
        show_tab(page, name)
        screenshot(page, screenshots, file_name)

    show_tab(page, "Insights")
    page.get_by_role("button", name="Generate insights").click()
    page.get_by_role("heading", name="Optimisation opportunities").first.wait_for(timeout=60_000)
    screenshot(page, screenshots, "insights")

    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0

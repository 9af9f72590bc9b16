"""FinMatch is pinned to versions Streamlit in Snowflake offers, and tested on exactly those.

app/environment.yml is what Snowflake installs; app/requirements-sis.txt is what `make test-app-sis`
installs to run the FinMatch tests again. Under that target (FINMATCH_SIS_PINS=1) the running
interpreter must hold exactly the pinned versions, so a green run proves the app works on them.
"""

import os
import re
from importlib.metadata import version

import pytest
from conftest import APP_DIR

PINNED = ("streamlit", "altair", "pandas", "numpy", "scikit-learn", "scipy")
# Streamlit versions Streamlit in Snowflake supports (Snowflake release notes up to Nov 20, 2025).
SIS_STREAMLIT_VERSIONS = {"1.42.0", "1.44.0", "1.45.1", "1.46.0", "1.47.0", "1.48.0", "1.49.1", "1.50.0", "1.51.0"}


def conda_pins():
    pins = {}
    for line in (APP_DIR / "environment.yml").read_text().splitlines():
        found = re.fullmatch(r"\s*-\s*([a-z0-9_-]+)=([0-9.]+)\s*", line)
        if found:
            pins[found[1]] = found[2]
    return pins


def pip_pins():
    pins = {}
    for line in (APP_DIR / "requirements-sis.txt").read_text().splitlines():
        found = re.fullmatch(r"([a-z0-9_-]+)==([0-9.]+)", line.strip())
        if found:
            pins[found[1]] = found[2]
    return pins


def test_environment_yml_pins_a_streamlit_that_snowflake_offers_with_its_altair_and_pandas():
    pins = conda_pins()

    assert set(PINNED) <= set(pins)
    assert pins["streamlit"] in SIS_STREAMLIT_VERSIONS
    assert pins["python"] == "3.11"
    assert int(pins["altair"].split(".")[0]) < 6 and int(pins["pandas"].split(".")[0]) < 3  # streamlit's own bounds


def test_the_sis_test_environment_pins_the_same_versions():
    conda, pip = conda_pins(), pip_pins()

    assert {name: pip[name] for name in PINNED} == {name: conda[name] for name in PINNED}


@pytest.mark.skipif(os.environ.get("FINMATCH_SIS_PINS") != "1", reason="only under make test-app-sis")
def test_these_tests_run_on_exactly_the_pinned_versions():
    conda = conda_pins()

    assert {name: version(name) for name in PINNED} == {name: conda[name] for name in PINNED}

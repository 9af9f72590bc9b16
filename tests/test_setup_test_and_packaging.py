"""The commands around the connector: staging by copy, the setup form from the command line, the package check.

`make configuration` runs `fivetran configuration build/connector`, which asks for each field
and saves configuration.json with the API key encrypted; `make check-connection` runs the
form's "Test connection" on such a file (tools/check_connection.py). Here both run as real
SDK commands against the local FPR API, the first one typed into a terminal as a person would.
"""

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pexpect
import pytest
from conftest import API_KEY, ROOT, configuration_for
from fivetran_connector_sdk_common.constants import ENCRYPTED_VALUE_PREFIX, LAST_VERSION_CHECK_FILE, ROOT_LOCATION

from connector import configuration_form

sys.path.insert(0, str(ROOT / "tools"))
import package  # noqa: E402
from stage import DEPLOYED_FILES, DEPLOYED_PACKAGES, deployed_modules, stage  # noqa: E402

FIVETRAN = Path(sys.executable).parent / "fivetran"


@pytest.fixture
def sdk_env(tmp_path):
    """The environment for the SDK's commands: a HOME of their own, where `fivetran configuration`
    keeps its encryption key, and where the SDK's version check has just run (its own six-hour
    cache), so that no PyPI request is attempted."""
    home = tmp_path / "home"
    (home / ROOT_LOCATION).mkdir(parents=True)
    (home / ROOT_LOCATION / LAST_VERSION_CHECK_FILE).write_text(str(int(time.time())))
    return {**os.environ, "HOME": str(home), "DO_NOT_TRACK": "1"}


def check_connection(configuration_path, env):
    """Runs tools/check_connection.py (make check-connection CONFIGURATION=...); returns its output and exit code."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_connection.py"), str(configuration_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    return result.stdout, result.returncode


def fill_in_the_form(project, answers, env):
    """Runs `fivetran configuration PROJECT` in a terminal and answers each field's prompt."""
    labels = {field.name: field.label for field in configuration_form()._fields}
    session = pexpect.spawn(str(FIVETRAN), ["configuration", str(project)], env=env, encoding="utf-8", timeout=60)
    for name, answer in answers.items():
        session.expect_exact(f"{labels[name]}: ")  # answer only once asked: the hidden prompt drops earlier typing
        session.sendline(answer)
    session.expect(pexpect.EOF)
    session.close()
    return session.exitstatus, session.before


def test_staging_copies_the_deployed_files_and_keeps_local_output_unless_fresh(tmp_path):
    folder = tmp_path / "connector"
    folder.mkdir()
    (folder / "connector.py").symlink_to(ROOT / "connector.py")  # as the former layout left it

    stage(folder)

    for name in [*DEPLOYED_FILES, *deployed_modules()]:
        assert not (folder / name).is_symlink()
        assert (folder / name).read_bytes() == (ROOT / name).read_bytes()
    (folder / "files").mkdir()
    (folder / "files" / "state.json").write_text("{}")
    (folder / "configuration.json").write_text("{}")
    stage(folder)
    assert (folder / "files" / "state.json").exists() and (folder / "configuration.json").exists()
    stage(folder, fresh=True)
    assert sorted(path.name for path in folder.iterdir()) == sorted(DEPLOYED_FILES + DEPLOYED_PACKAGES)


def test_the_form_saves_the_key_encrypted_and_check_connection_passes_with_it(api, tmp_path, sdk_env):
    project = stage(tmp_path / "connector")
    answers = {"base_url": api.base_url, "api_key": API_KEY, "page_size": "50"}

    code, transcript = fill_in_the_form(project, answers, sdk_env)

    assert code == 0, transcript
    saved_text = (project / "configuration.json").read_text()
    saved = json.loads(saved_text)
    assert saved["api_key"].startswith(ENCRYPTED_VALUE_PREFIX)
    assert API_KEY not in saved_text + transcript
    assert saved["base_url"] == api.base_url and saved["page_size"] == "50"

    output, code = check_connection(project / "configuration.json", sdk_env)

    assert code == 0, output
    assert "[connection_test - Test connection]: PASSED" in output
    assert API_KEY not in output


def test_check_connection_fails_with_the_forms_message_for_a_rejected_key(api, tmp_path, sdk_env):
    configuration = tmp_path / "wrong-key.json"
    configuration.write_text(json.dumps({**configuration_for(api), "api_key": "wrong-key-5e1b"}))

    output, code = check_connection(configuration, sdk_env)

    assert code != 0
    assert "the API key was rejected (HTTP 401)" in output
    assert "wrong-key-5e1b" not in output


def test_check_connection_of_a_missing_file_says_so(tmp_path, sdk_env):
    output, code = check_connection(tmp_path / "nowhere.json", sdk_env)

    assert code == 2
    assert "no file at" in output


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return path


def test_the_package_check_flags_planted_files_and_secrets(tmp_path):
    expected = {name: "code" for name in package.expected_listing()}
    clean = write_zip(tmp_path / "clean.zip", expected)
    leaky = write_zip(tmp_path / "leaky.zip", {**expected, "configuration.json": f'{{"api_key": "{package.CANARY}"}}'})
    short = write_zip(tmp_path / "short.zip", {"connector.py": "code"})

    assert package.problems_with(clean) == []
    assert package.problems_with(leaky) == [
        "unexpected entry: configuration.json",
        "configuration.json holds the planted secret",
    ]
    assert f"missing entry: {package.FORM_FILE}" in package.problems_with(short)

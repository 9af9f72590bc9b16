"""`make deploy` (tools/deploy.py): the key stays in the environment, settings are kept unless replaced.

The key must never be on a command line (any process list shows it) nor printed; a redeploy
without CONFIGURATION must keep the connection's settings, so neither --configuration nor a
configuration.json in the deployed folder may reach `fivetran deploy`; the Python runtime is pinned.
`fivetran deploy` itself is replaced by a recorder here: it would need Fivetran's API.
"""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import deploy  # noqa: E402
from stage import stage  # noqa: E402

KEY = "ZmFrZS1rZXk6ZmFrZS1zZWNyZXQ-canary"  # base64-like, recognisable


@pytest.fixture
def recorded_deploy(monkeypatch, tmp_path):
    """Runs tools/deploy.py's main() with `fivetran deploy` recorded instead of run; returns what it was given."""
    calls = []
    monkeypatch.setattr(deploy, "PACKAGE_PROJECT", tmp_path / "package")
    monkeypatch.setattr(deploy, "stage_package", lambda: stage(tmp_path / "package", fresh=True))
    monkeypatch.setattr(
        deploy.subprocess,
        "run",
        lambda argv, env, **_: calls.append((argv, env)) or subprocess.CompletedProcess(argv, 0),
    )
    monkeypatch.setenv("FIVETRAN_API_KEY", KEY)
    monkeypatch.delenv("FIVETRAN_DESTINATION_NAME", raising=False)
    monkeypatch.delenv("FIVETRAN_CONNECTION_NAME", raising=False)

    def run(*argv):
        code = deploy.main(["--destination", "snowflake_fpr", "--connection", "fpr_records", *argv])
        return code, calls

    return run


def test_without_a_key_it_says_what_to_set_and_exits_2(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "deploy.py"), "--destination", "d", "--connection", "c"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )

    assert result.returncode == 2
    assert "FIVETRAN_API_KEY is not set in the environment" in result.stderr
    assert "read -rs FIVETRAN_API_KEY" in result.stderr  # says how to set it without typing it on a command line


def test_without_destination_or_connection_it_exits_2(recorded_deploy, monkeypatch, capsys):
    code = deploy.main(["--destination", "snowflake_fpr"])

    assert code == 2
    assert "DESTINATION and CONNECTION must both be given" in capsys.readouterr().err


def test_the_key_reaches_fivetran_deploy_through_the_environment_only(recorded_deploy, capsys):
    code, calls = recorded_deploy()

    assert code == 0
    [(argv, env)] = calls
    assert KEY not in " ".join(argv)
    assert "--api-key" not in argv
    assert env["FIVETRAN_API_KEY"] == KEY
    printed = capsys.readouterr()
    assert KEY not in printed.out + printed.err
    assert "API key from FIVETRAN_API_KEY" in printed.out


def test_the_make_recipe_never_names_the_key(monkeypatch):
    monkeypatch.setenv("FIVETRAN_API_KEY", KEY)
    dry_run = subprocess.run(
        ["make", "--dry-run", "deploy", "DESTINATION=d", "CONNECTION=c"], capture_output=True, text=True, cwd=ROOT
    )

    assert "tools/deploy.py" in dry_run.stdout
    assert KEY not in dry_run.stdout + dry_run.stderr


def test_a_redeploy_without_configuration_keeps_the_connection_settings(recorded_deploy, monkeypatch, tmp_path):
    monkeypatch.setenv("FIVETRAN_CONFIGURATION", str(tmp_path / "elsewhere.json"))
    (tmp_path / "package").mkdir()
    (tmp_path / "package" / "configuration.json").write_text('{"api_key": "left over"}')

    code, [(argv, env)] = recorded_deploy()

    assert code == 0
    assert "--configuration" not in argv
    assert "FIVETRAN_CONFIGURATION" not in env
    deployed_folder = tmp_path / "package"
    assert argv[2] == str(deployed_folder)
    assert sorted(path.name for path in deployed_folder.iterdir()) == ["connector.py", "fpr", "requirements.txt"]


def test_a_given_configuration_is_passed_as_an_absolute_path(recorded_deploy, tmp_path):
    configuration = tmp_path / "fpr.json"
    configuration.write_text(json.dumps({"base_url": "https://fpr.example.com", "api_key": "k", "page_size": "100"}))

    code, [(argv, _)] = recorded_deploy("--configuration", str(configuration))

    assert code == 0
    assert argv[argv.index("--configuration") + 1] == str(configuration.resolve())


def test_the_template_configuration_is_refused(recorded_deploy, capsys):
    code, calls = recorded_deploy("--configuration", str(ROOT / "configuration.json"))

    assert code == 2
    assert calls == []
    assert "still holds template placeholders for api_key, base_url" in capsys.readouterr().err


def test_the_python_runtime_is_pinned(recorded_deploy):
    code, [(argv, _)] = recorded_deploy()

    assert argv[argv.index("--python-version") + 1] == "3.11"  # the Python CI runs the tests on

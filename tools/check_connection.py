"""Runs the setup form's "Test connection" on a configuration file: `make check-connection`.

    python tools/check_connection.py [CONFIGURATION]

It runs `fivetran configuration <folder> --test`, which reads <folder>/configuration.json,
decrypts the API key if `fivetran configuration` encrypted it, and runs the form's tests:
the same request Fivetran's "Test connection" button makes. Without an argument it tests
build/connector/configuration.json, the file `make configuration` writes. A file given
elsewhere is tested from a temporary copy of the connector, so that it never lands in
build/connector, where `fivetran debug` would pick it up.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import sdk_cli
from stage import LOCAL_PROJECT, ROOT, stage, stage_local_project

CONFIGURATION_JSON = "configuration.json"


def run_setup_test(project: Path) -> int:
    """Runs the form's tests against project/configuration.json; returns the SDK's exit code."""
    command = [sdk_cli.fivetran(), "configuration", str(project), "--test"]
    return subprocess.run(command, cwd=ROOT, env=sdk_cli.environment(), check=False).returncode


def check_file(configuration: Path) -> int:
    if not configuration.is_file():
        print(f"make check-connection: no file at {configuration}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fpr-check-") as folder:
        project = stage(Path(folder) / "connector")
        shutil.copyfile(configuration, project / CONFIGURATION_JSON)
        os.chmod(project / CONFIGURATION_JSON, 0o600)
        return run_setup_test(project)


def check_local_project() -> int:
    project = stage_local_project()
    if not (project / CONFIGURATION_JSON).is_file():
        relative = (LOCAL_PROJECT / CONFIGURATION_JSON).relative_to(ROOT)
        print(
            f"make check-connection: no {relative} yet. Write it with `make configuration`, "
            "or name a file: make check-connection CONFIGURATION=path/to/configuration.json",
            file=sys.stderr,
        )
        return 2
    return run_setup_test(project)


def main(argv) -> int:
    if argv and argv[0]:
        return check_file(Path(argv[0]).expanduser().resolve())
    return check_local_project()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Deploys the connector to Fivetran from build/package: `make deploy`.

    export FIVETRAN_API_KEY        # base64 of key:secret, from Fivetran's API key page
    python tools/deploy.py --destination NAME --connection NAME [--configuration FILE]

The API key is read from FIVETRAN_API_KEY and reaches `fivetran deploy` through the
environment, which the SDK reads: it is never on a command line (where any process list
shows it) and never printed. `--configuration` is passed on only when it is given:
without it, a redeploy keeps the settings the connection already has in Fivetran.
FIVETRAN_CONFIGURATION is not passed on either, for the same reason. The Python runtime
is pinned to PYTHON_VERSION, the version CI runs the tests with.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import sdk_cli
from stage import PACKAGE_PROJECT, ROOT, stage_package

PYTHON_VERSION = "3.11"
KEY_VARIABLE = "FIVETRAN_API_KEY"
SETTINGS_HELP = """make deploy needs:
  FIVETRAN_API_KEY  in the environment: your Fivetran API key (base64 of key:secret), e.g.
                    read -rs FIVETRAN_API_KEY && export FIVETRAN_API_KEY
  DESTINATION       the destination's name (or FIVETRAN_DESTINATION_NAME in the environment)
  CONNECTION        the connection's name (or FIVETRAN_CONNECTION_NAME in the environment)
  CONFIGURATION     optional: a configuration file for the first deploy or to replace the
                    connection's settings; without it a redeploy keeps them"""


class SettingsError(Exception):
    """A setting is missing or unusable; the message says which, never a secret's value."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--destination", default=os.environ.get("FIVETRAN_DESTINATION_NAME", ""))
    parser.add_argument("--connection", default=os.environ.get("FIVETRAN_CONNECTION_NAME", ""))
    parser.add_argument("--configuration", default="", help="configuration file; omit it to keep the settings")
    parser.add_argument("--check-python", action="store_true", help="check that this Python is the pinned one")
    return parser.parse_args(argv)


def deploy_command(project, args, environ):
    """The `fivetran deploy` command line and its environment.

    Args:
        project: the staged folder to deploy.
        args: parsed arguments (destination, connection, configuration).
        environ: the environment to start from; it must hold FIVETRAN_API_KEY.

    Returns:
        (argv, env): argv never holds the key; env does, under FIVETRAN_API_KEY.

    Raises:
        SettingsError: the key, the destination or the connection is missing, or the
            configuration file cannot be used.
    """
    if not environ.get(KEY_VARIABLE, "").strip():
        raise SettingsError(f"{KEY_VARIABLE} is not set in the environment")
    if not args.destination.strip() or not args.connection.strip():
        raise SettingsError("DESTINATION and CONNECTION must both be given")
    argv = [sdk_cli.fivetran(), "deploy", str(project), "--destination", args.destination]
    argv += ["--connection", args.connection, "--python-version", PYTHON_VERSION]
    if args.configuration:
        argv += ["--configuration", str(_usable_configuration(Path(args.configuration)))]
    if not sys.stdin.isatty():
        argv.append("--non-interactive")  # nobody to answer the SDK's prompts: keep their defaults
    env = sdk_cli.environment({name: value for name, value in environ.items() if name != "FIVETRAN_CONFIGURATION"})
    return argv, env


def _usable_configuration(path: Path) -> Path:
    """The configuration file's absolute path, once it is known to be a JSON object without template placeholders."""
    path = path.expanduser().resolve()
    if not path.is_file():
        raise SettingsError(f"CONFIGURATION: no file at {path}")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SettingsError(f"CONFIGURATION: {path} is not readable JSON ({type(error).__name__})") from None
    if not isinstance(values, dict):
        raise SettingsError(f"CONFIGURATION: {path} must hold a JSON object")
    placeholders = sorted(
        name for name, value in values.items() if isinstance(value, str) and value.startswith("<YOUR_")
    )
    if placeholders:
        raise SettingsError(f"CONFIGURATION: {path} still holds template placeholders for {', '.join(placeholders)}")
    return path


def check_python() -> int:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != PYTHON_VERSION:
        print(f"the tests run on Python {running}, but make deploy pins Python {PYTHON_VERSION} (tools/deploy.py)")
        return 1
    print(f"make deploy pins Python {PYTHON_VERSION}, the version the tests run on")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.check_python:
        return check_python()
    try:
        command, env = deploy_command(PACKAGE_PROJECT, args, os.environ)
    except SettingsError as error:
        print(f"make deploy: {error}\n\n{SETTINGS_HELP}", file=sys.stderr)
        return 2
    stage_package()
    shown = " ".join(command[1:]).replace(str(ROOT) + os.sep, "")
    print(f"fivetran {shown}   (API key from {KEY_VARIABLE})", flush=True)
    return subprocess.run(command, env=env, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

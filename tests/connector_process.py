"""Runs one sync in a separate Python process, as `fivetran debug` would, for tests that need a real process.

    python tests/connector_process.py PROJECT_DIR CONFIGURATION_JSON

PROJECT_DIR must hold a copy of the connector (connector.py and fpr/): it is imported from there, so crash
reports see its frames as the connector's own. The state is read from
PROJECT_DIR/files/state.json when present. Offline-only SDK checks are skipped and
retry waits are not slept, so a run takes about a second.

With FPR_TEST_BUG=1 the record normaliser raises an error whose message holds a
record's email, standing for a bug in the connector.
"""

import json
import os
import sys
from pathlib import Path


def main():
    project, configuration_path = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path.insert(0, str(project))
    os.environ.setdefault("DO_NOT_TRACK", "1")

    import fivetran_connector_sdk_cli.connector as cli_connector
    import fivetran_connector_sdk_core.runner as core_runner

    cli_connector.check_newer_version = lambda *args, **kwargs: None
    cli_connector.validate_requirements_file = lambda *args, **kwargs: None
    core_runner.check_newer_version = lambda *args, **kwargs: None

    import connector
    import fpr.client

    fpr.client.pause = lambda seconds, stop: None
    if os.environ.get("FPR_TEST_BUG") == "1":

        def buggy(self, raw):
            raise KeyError(f"unexpected field for {raw.get('customer_email')}")

        connector.RecordNormaliser.__call__ = buggy

    state_file = project / "files" / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    configuration = json.loads(configuration_path.read_text())
    connector.connector.debug(project_path=str(project), configuration=configuration, state=state)


if __name__ == "__main__":
    main()

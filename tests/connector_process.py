"""Runs one sync in a separate Python process, as `fivetran debug` would, for tests that need a real process.

    python tests/connector_process.py PROJECT_DIR CONFIGURATION_JSON

PROJECT_DIR must hold a copy of the connector (connector.py and fpr/): it is imported from there, so crash
reports see its frames as the connector's own. The state is read from
PROJECT_DIR/files/state.json when present. Offline-only SDK checks are skipped and
retry waits are not slept, so a run takes about a second.

With FPR_TEST_BUG=1 the record normaliser raises an error whose message holds a
record's email, standing for a bug in the connector.

With FPR_TEST_REAL_WAITS=1 retry waits are slept for real (and end early when the sync stops).

With FPR_TEST_SIGNAL_BEFORE_STATE=<signal>:<n> (SIGINT:2, SIGTERM:2) the process sends itself that
signal at checkpoint n, once the SDK has committed its rows and before it saves its state: a stop
that lands between the two steps of a local checkpoint.

With FPR_TEST_PEAK_MEMORY_FILE=<path> the process writes its peak resident memory in KiB (VmHWM) to
that file as it exits. Not the wait status's ru_maxrss: Linux counts in it the memory of the
process that started this one, so a test process grown large would be reported as this one's peak.
"""

import atexit
import itertools
import json
import os
import re
import signal
import sys
from pathlib import Path


def main():
    project, configuration_path = Path(sys.argv[1]), Path(sys.argv[2])
    sys.path.insert(0, str(project))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if os.environ.get("FPR_TEST_PEAK_MEMORY_FILE"):
        atexit.register(write_peak_memory, Path(os.environ["FPR_TEST_PEAK_MEMORY_FILE"]))

    import fivetran_connector_sdk_cli.connector as cli_connector
    import fivetran_connector_sdk_core.runner as core_runner

    cli_connector.check_newer_version = lambda *args, **kwargs: None
    cli_connector.validate_requirements_file = lambda *args, **kwargs: None
    core_runner.check_newer_version = lambda *args, **kwargs: None

    import connector
    import fpr.client

    if os.environ.get("FPR_TEST_REAL_WAITS") != "1":
        fpr.client.pause = lambda seconds, stop: None
    if os.environ.get("FPR_TEST_SIGNAL_BEFORE_STATE"):
        signal_before_state(*os.environ["FPR_TEST_SIGNAL_BEFORE_STATE"].split(":"))
    if os.environ.get("FPR_TEST_BUG") == "1":

        def buggy(self, raw):
            raise KeyError(f"unexpected field for {raw.get('customer_email')}")

        connector.RecordNormaliser.__call__ = buggy

    state_file = project / "files" / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    configuration = json.loads(configuration_path.read_text())
    connector.connector.debug(project_path=str(project), configuration=configuration, state=state)


def write_peak_memory(path):
    """Writes this process's own high-water mark of resident memory, in KiB."""
    status = Path("/proc/self/status").read_text()
    path.write_text(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1))


def signal_before_state(name, checkpoint):
    """Sends this process signal `name` when checkpoint number `checkpoint` is about to save its state.

    The SDK's checkpoint commits the rows (flush), then writes the state with _write_atomically;
    nothing else calls that function before the sync ends.
    """
    import fivetran_connector_sdk_core.runner as core_runner

    write_state, count = core_runner._write_atomically, itertools.count(1)

    def write_state_after_the_signal(path, text):
        if next(count) == int(checkpoint):
            os.kill(os.getpid(), getattr(signal, name))
        write_state(path, text)

    core_runner._write_atomically = write_state_after_the_signal


if __name__ == "__main__":
    main()

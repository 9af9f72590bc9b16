"""The API key and personal data never leave through a side door, whatever goes wrong.

Every scenario runs the connector in its own process (so crash reports are written as
in production) with a recognisable key and recognisable customer names and emails, then
searches everything the run left behind: its output, the state, crash reports and every
other file of the project folder. The key must not be in the warehouse either.
"""

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from conftest import process_project, start_connector_process

from fpr_local_api import Dataset, LocalFprApi
from fpr_local_api.faults import FaultPlan

CANARY_KEY = "canary-key-QX7T-4d1f9b2e"
CANARY_DOMAIN = "leak-check.invalid"
CANARY_NAME = "Canarysurname"

SCENARIOS = {
    "clean sync": {},
    "401 mid-sync": {"faults": "3+=status:401"},
    "403": {"faults": "2=status:403"},
    "404": {"faults": "1=status:404"},
    "422 echoing the key": {"faults": "2=status:422;echo-key=1"},
    "503 until retries run out": {"faults": "2+=status:503"},
    "429 with Retry-After, then fine": {"faults": "2=status:429;retry-after=1"},
    "dropped connection": {"faults": "2=drop"},
    "truncated body": {"faults": "2=truncate"},
    "HTML 200": {"faults": "2=html"},
    "redirect to another host": {"faults": "2=redirect:http://127.0.0.2:9/steal"},
    "cursor expired once": {"faults": "3=cursor_expired"},
    "cursor rejected twice": {"faults": "2=cursor_expired,4=cursor_expired"},
    "cursor cycle": {"faults": "3=cycle"},
    "has_more without cursor": {"faults": "2=no_cursor"},
    "body not an object": {"faults": "2=not_object"},
    "no fpr_records": {"faults": "2=no_records_key"},
    "non-object record": {"faults": "2=non_object_record"},
    "bad records": {"faults": "2=bad_records"},
    "older end style": {"end_style": "older"},
    "a bug in the connector": {"env": {"FPR_TEST_BUG": "1"}},
}


class ProcessRun:
    def __init__(self, project, code, output):
        self.project = project
        self.code = code
        self.output = output

    def leftovers(self):
        """(path, bytes) of every file the run left in its project folder, but the warehouse."""
        for path in sorted(self.project.rglob("*")):
            if path.is_file() and not path.name.startswith("warehouse.db") and path.name != "connector.py":
                yield path, path.read_bytes()


def run_in_process(tmp_path, server, env=None, name="project", **overrides):
    configuration = {"base_url": server.base_url, "api_key": CANARY_KEY, "page_size": "100", **overrides}
    project, configuration_path = process_project(tmp_path, name, configuration)
    process = start_connector_process(project, configuration_path, tmp_path, env)
    output, _ = process.communicate(timeout=120)
    return ProcessRun(project, process.returncode, output)


def canary_api(faults=None, end_style="newer"):
    dataset = Dataset(
        size=450,
        seed=5,
        email_template="person{number}@" + CANARY_DOMAIN,
        name_template="Ann " + CANARY_NAME + "{number}",
    )
    return LocalFprApi(dataset, api_key=CANARY_KEY, faults=FaultPlan(faults) if faults else None, end_style=end_style)


def assert_no_leak(run):
    for secret in (CANARY_KEY, CANARY_DOMAIN, CANARY_NAME):
        assert secret not in run.output, f"{secret!r} printed"
        for path, content in run.leftovers():
            assert secret.encode() not in content, f"{secret!r} in {path.relative_to(run.project)}"
    warehouse = run.project / "files" / "warehouse.db"
    if warehouse.exists():
        assert CANARY_KEY.encode() not in warehouse.read_bytes()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_key_or_personal_data_escapes(tmp_path, scenario):
    options = SCENARIOS[scenario]
    with canary_api(options.get("faults"), options.get("end_style", "newer")) as server:
        run = run_in_process(tmp_path, server, options.get("env"))

    assert_no_leak(run)
    assert "SYNC" in run.output  # the run really happened and reported


def test_a_failed_run_leaves_a_crash_report_that_is_checked(tmp_path):
    with canary_api("3+=status:401") as server:
        run = run_in_process(tmp_path, server)

    reports = list((run.project / "crash-reports").glob("*"))
    assert run.code != 0
    assert len(reports) == 1
    report = reports[0].read_text()
    assert "the API key was rejected (HTTP 401)" in report
    assert "Locals:" in report  # the connector's frame is in it, with its variables, and still nothing leaks
    assert_no_leak(run)


def test_a_bug_is_reported_by_type_and_place_without_its_message(tmp_path):
    with canary_api() as server:
        run = run_in_process(tmp_path, server, {"FPR_TEST_BUG": "1"})

    assert run.code != 0
    assert "unexpected KeyError at connector_process.py:" in run.output
    assert "the sync stopped at its last checkpoint" in run.output
    assert_no_leak(run)


CANARY_PASSWORD = "pw-Zq81-canary"


@pytest.mark.parametrize(
    "base_url",
    [
        f"https://reader:{CANARY_PASSWORD}@fpr.example.test/",
        f"https://fpr.example.test/?token={CANARY_PASSWORD}",
        f"https://fpr.example.test/#{CANARY_PASSWORD}",
    ],
)
def test_a_base_url_carrying_a_secret_is_refused_and_the_secret_is_written_nowhere(tmp_path, base_url):
    with canary_api() as server:
        run = run_in_process(tmp_path, server, base_url=base_url)

    assert run.code != 0
    assert "configuration 'base_url' must not carry credentials, a query or a fragment" in run.output
    reports = list((run.project / "crash-reports").glob("*"))
    assert len(reports) == 1
    assert CANARY_PASSWORD not in run.output
    for path, content in run.leftovers():
        assert CANARY_PASSWORD.encode() not in content, path
    assert_no_leak(run)


def test_tls_certificates_are_verified(tmp_path, project):
    """A server with a self-signed certificate is refused: the key is never sent over an unverified channel."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    seen_keys = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen_keys.append(self.headers.get("x-api-key"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        result = project.sync({"base_url": f"https://localhost:{port}", "api_key": CANARY_KEY, "page_size": "10"})
    finally:
        server.shutdown()
        server.server_close()

    assert not result.ok
    assert f"page 1: the TLS certificate of localhost:{port} is not trusted" in result.output
    assert result.state == {}
    assert seen_keys == []

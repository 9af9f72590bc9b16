"""The local FPR API keeps the hosted service's contract: auth, paging, cursors, ordering, changes."""

import base64
import codecs
import contextlib
import email.utils
import hashlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests
from conftest import API_KEY, ROOT, served_records

from fpr_local_api import Dataset, LocalFprApi, hostile
from fpr_local_api.cursor import CursorCodec, InvalidCursor
from fpr_local_api.faults import (
    CONTROL_TEXT,
    LEAKED_TOKEN,
    POISON_FIELD_NAMES,
    POISON_FIELD_VALUE,
    POISON_NUMBERS,
    FaultPlan,
)


def get(server, key=API_KEY, **params):
    headers = {"x-api-key": key} if key is not None else {}
    return requests.get(server.base_url + "/fpr_data", params=params, headers=headers, timeout=10)


def test_requests_without_the_right_key_get_401_with_a_json_error(api):
    for key in (None, "", "wrong-key"):
        response = get(api, key=key)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


def test_the_older_api_key_header_name_is_not_accepted(api):
    response = requests.get(api.base_url + "/fpr_data", headers={"api_key": API_KEY}, timeout=10)

    assert response.status_code == 401


@pytest.mark.parametrize("page_size", ["0", "201", "-1", "abc", ""])
def test_page_size_outside_1_to_200_gets_400(api, page_size):
    response = get(api, page_size=page_size)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_page_size"


def test_page_size_defaults_to_100_and_allows_1_to_200(api):
    assert len(get(api).json()["fpr_records"]) == 100
    assert len(get(api, page_size=1).json()["fpr_records"]) == 1
    assert len(get(api, page_size=200).json()["fpr_records"]) == 200


def test_the_response_has_exactly_the_three_documented_keys(api):
    body = get(api, page_size=5).json()

    assert set(body) == {"fpr_records", "next_cursor", "has_more"}
    assert len(body["fpr_records"][0]) == 29


def test_cursors_are_fernet_like_tokens_with_padding(api):
    cursor = get(api, page_size=5).json()["next_cursor"]

    assert cursor.startswith("gAAAAA")
    assert "=" in cursor
    base64.urlsafe_b64decode(cursor)


def test_a_tampered_cursor_gets_400(api):
    cursor = get(api, page_size=5).json()["next_cursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor))
    raw[30] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode()

    for bad in (tampered, cursor[:-6] + "AAAA==", "not-a-cursor", "0123456789abcdef0123456789abcdef"):
        response = get(api, cursor=bad)
        assert response.status_code == 400
        assert "cursor" in response.json()["error"]


def test_hex_cursors_round_trip_and_reject_forgeries():
    codec = CursorCodec(b"secret", style="hex")
    cursor = codec.encode(1234)

    assert len(cursor) == 32 and int(cursor, 16) >= 0
    assert codec.decode(cursor) == (1234, None)
    with pytest.raises(InvalidCursor):
        codec.decode(cursor[:-1] + ("0" if cursor[-1] != "0" else "1"))


def test_newer_end_style_ends_with_an_empty_page_carrying_a_cursor(make_api):
    server = make_api(size=250)
    bodies, cursor = [], None
    while True:
        body = get(server, page_size=100, **({"cursor": cursor} if cursor else {})).json()
        bodies.append(body)
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break

    assert [len(body["fpr_records"]) for body in bodies] == [100, 100, 50, 0]
    assert [body["has_more"] for body in bodies] == [True, True, True, False]
    assert bodies[-1]["next_cursor"]


def test_older_end_style_ends_with_a_null_cursor_on_the_last_page(make_api):
    server = make_api(size=250, end_style="older")
    bodies, cursor = [], None
    while True:
        body = get(server, page_size=100, **({"cursor": cursor} if cursor else {})).json()
        bodies.append(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert [len(body["fpr_records"]) for body in bodies] == [100, 100, 50]
    assert [body["has_more"] for body in bodies] == [True, True, False]
    assert all(len(body["next_cursor"]) == 32 for body in bodies[:-1])


def test_records_look_like_the_seed_sample(api):
    record = get(api, page_size=1).json()["fpr_records"][0]

    assert record["customer_id"] == "CUST_000000"
    assert record["customer_name"] == "Customer 1"
    assert record["customer_email"] == "customer1@example.com"
    assert record["product_recommendation_status"] in {"Accepted", "Pending", "In Progress", "Declined"}
    assert 0 <= record["recommendation_score"] <= 1
    assert isinstance(record["customer_transaction_count"], int)
    assert len(record["product_sales_date"]) == 10


# sha256 of the JSON (sorted keys) of the 2,000 records of seed 42, then of the 118 records changed by
# two batches of changes. Records are rebuilt from the seed on demand, so any change to how they are
# drawn would silently change every dataset that tests and benchmarks rely on.
SEED_42_DIGEST = "572cecd8a3816ec0966333069013a7f43d7eaf869bfb8206d296bf16a50fe3d0"


def test_the_records_of_seed_42_never_change():
    dataset = Dataset(size=2000, seed=42)
    initial = [record for _, record in dataset.records_after(0, 2000)]
    dataset.apply_changes(insert=20, update=50)
    dataset.apply_changes(update=50)
    changed = [record for _, record in dataset.records_after(2000, 500)]

    digest = hashlib.sha256(json.dumps(initial + changed, sort_keys=True).encode()).hexdigest()

    assert len(changed) == 118
    assert digest == SEED_42_DIGEST


def test_the_same_seed_gives_the_same_records_and_another_seed_does_not():
    assert Dataset(10, seed=1).record(3) == Dataset(10, seed=1).record(3)
    assert Dataset(10, seed=1).record(3)["record_id"] != Dataset(10, seed=2).record(3)["record_id"]


def test_a_saved_end_cursor_returns_exactly_the_changed_records_in_their_latest_version(api):
    everything = served_records(api)
    end_cursor = _end_cursor(api)
    first = api.dataset.apply_changes(insert=5, update=10)
    second = api.dataset.apply_changes(update=10)

    changed = _read_from(api, end_cursor)

    expected_ids = set(first["inserted"] + first["updated"] + second["updated"])
    assert [record["record_id"] for record in changed] == list(dict.fromkeys(r["record_id"] for r in changed))
    assert {record["record_id"] for record in changed} == expected_ids
    current = served_records(api)
    assert all(record == current[record["record_id"]] for record in changed)
    assert all(current[rid]["last_updated_epoch"] > everything[rid]["last_updated_epoch"] for rid in first["updated"])


def test_changes_posted_to_the_admin_endpoint_are_served(api):
    end_cursor = _end_cursor(api)

    response = requests.post(
        api.base_url + "/_admin/changes", json={"insert": 2, "update": 3}, headers={"x-api-key": API_KEY}, timeout=10
    )

    assert response.status_code == 200
    assert len(response.json()["inserted"]) == 2 and len(response.json()["updated"]) == 3
    assert len(_read_from(api, end_cursor)) == 5


def test_the_spec_endpoint_describes_fpr_data_as_openapi(api):
    spec = requests.get(api.base_url + "/fpr_api_spec", timeout=10).json()

    assert spec["openapi"].startswith("3.")
    assert "/fpr_data" in spec["paths"]
    assert len(spec["components"]["schemas"]["FprRecord"]["properties"]) == 29


def test_a_million_records_are_paged_without_building_them_all():
    dataset = Dataset(size=1_000_000, seed=3)
    dataset.apply_changes(insert=10, update=10)

    tail = dataset.records_after(999_990, 200)

    seqs = [seq for seq, _ in tail]
    assert seqs == sorted(seqs) and len({record["record_id"] for _, record in tail}) == len(tail)
    assert len(tail) == 30  # the last 10 initial records, then 10 updates and 10 inserts
    assert tail[-1][1]["customer_id"] == "CUST_1000009"


def test_the_command_line_starts_with_changes_applied(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "fpr_local_api", "--port", "0", "--records", "20", "--insert", "3", "--update", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        base_url = banner.split("listening on ")[1].split()[0]
        status = requests.get(base_url + "/_admin/status", headers={"x-api-key": "local-dev-key"}, timeout=10)
        assert status.json() == {"records": 23, "last_seq": 25, "requests": 0}
    finally:
        process.terminate()
        process.wait(timeout=60)


def _end_cursor(server):
    cursor = None
    while True:
        body = get(server, page_size=200, **({"cursor": cursor} if cursor else {})).json()
        cursor = body["next_cursor"] or cursor
        if not body["has_more"]:
            return cursor


def _read_from(server, cursor):
    records = []
    while True:
        body = get(server, page_size=3, cursor=cursor).json()
        records += body["fpr_records"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return records


def test_records_serialise_with_ten_decimals_like_the_hosted_service(api):
    raw = get(api, page_size=50).text
    balances = [record["account_balance"] for record in json.loads(raw)["fpr_records"]]

    assert all(round(value, 10) == value for value in balances)
    assert max(len(repr(value).split(".")[1]) for value in balances) == 10


def test_a_fresh_server_serves_the_same_data_for_the_same_seed():
    with LocalFprApi(Dataset(30, seed=9)) as one, LocalFprApi(Dataset(30, seed=9)) as two:
        assert _plain(one) == _plain(two)


def _plain(server):
    return requests.get(server.base_url + "/fpr_data", headers={"x-api-key": "local-dev-key"}, timeout=10).json()[
        "fpr_records"
    ]


# --------------------------------------------------------------------------- hostile faults, on the wire
#
# Each fault is checked over a raw socket or http.client, never through the connector: these tests
# pin what the server sends, byte for byte, so that the connector's tests can rely on it.


@contextlib.contextmanager
def hostile_api(rules, size=250, api_key=API_KEY):
    with LocalFprApi(Dataset(size=size, seed=7), api_key=api_key, faults=FaultPlan(rules)) as server:
        yield server


def open_page(server, page_size=5, key=API_KEY, cursor=None):
    """Sends GET /fpr_data with http.client; returns the connection and its response (body unread)."""
    address = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    query = urlencode({"page_size": page_size, **({"cursor": cursor} if cursor else {})})
    connection.request("GET", f"/fpr_data?{query}", headers={"x-api-key": key})
    return connection, connection.getresponse()


def fetch(server, page_size=5, key=API_KEY, cursor=None):
    """(status, headers, raw body bytes) of one GET /fpr_data; the body is not decoded in any way."""
    connection, response = open_page(server, page_size, key, cursor)
    try:
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def raw_request(server, page_size=5):
    """A socket that has sent GET /fpr_data and not read anything yet."""
    address = urlsplit(server.base_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    request = f"GET /fpr_data?page_size={page_size} HTTP/1.1\r\nHost: local\r\nx-api-key: {API_KEY}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def read_until(sock, marker):
    data = b""
    while marker not in data:
        piece = sock.recv(65536)
        assert piece, f"connection closed before {marker!r}"
        data += piece
    return data


def wait_for(condition, seconds=60):
    """Polls `condition` until it is true or `seconds` pass; returns its last value. Bounded, not a sleep."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    return condition()


def nesting_depth(data):
    depth = deepest = 0
    for byte in data:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


@pytest.mark.parametrize("fault", ["slow_headers:60", "slow_body:60"])
def test_slow_faults_send_one_byte_then_wait(fault):
    with hostile_api(f"1={fault}") as server:
        sock = raw_request(server)
        received = read_until(sock, b"\r\n\r\n") if fault.startswith("slow_body") else b""
        if not received or received.endswith(b"\r\n\r\n"):
            received += sock.recv(65536)
        sock.settimeout(1)  # the next byte is 60 s away
        with pytest.raises(TimeoutError):
            sock.recv(65536)
        sock.close()

    if fault.startswith("slow_headers"):
        assert received == b"H"
    else:
        head, body = received.split(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"{"


@pytest.mark.parametrize("fault", ["slow_headers:0.001", "slow_body:0.001"])
def test_slow_faults_deliver_the_normal_page_in_the_end(fault):
    with hostile_api(f"1={fault}") as server:
        status, headers, body = fetch(server, page_size=1)
        _, _, normal = fetch(server, page_size=1)

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body) == len(normal)
    assert json.loads(body)["fpr_records"] == json.loads(normal)["fpr_records"]


@pytest.mark.parametrize("fault", ["slow_headers:0.01", "slow_body:0.01"])
def test_slow_writers_stop_as_soon_as_the_client_goes_away(fault):
    with hostile_api(f"1={fault}") as server:
        sock = raw_request(server, page_size=200)
        sock.recv(1)
        sock.close()

        assert wait_for(lambda: server.faults.streams)
        (number, name, outcome, sent) = server.faults.streams[0]

    assert (number, name, outcome) == (1, fault.split(":")[0], "client gone")
    assert sent < 1000  # of a page of about 170 KB


def test_a_pausing_fault_ends_when_the_server_stops():
    with hostile_api("1=slow_body:600") as server:
        sock = raw_request(server)
        read_until(sock, b"\r\n\r\n")
    sock.close()

    assert wait_for(lambda: server.faults.streams)
    assert server.faults.streams[0][2] == "server stopped"


def test_endless_streams_a_chunked_page_that_never_ends_without_growing_the_server():
    with hostile_api("1=endless", size=50) as server:
        tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0]
        connection, response = open_page(server, page_size=50)
        head = response.read(200_000)
        received = len(head) + sum(len(response.read(65536)) for _ in range(500))  # 33 MB more
        peak = tracemalloc.get_traced_memory()[1] - start
        tracemalloc.stop()
        connection.close()

        assert wait_for(lambda: server.faults.streams)
        outcome = server.faults.streams[0]
        records = json.loads(fetch(server, page_size=50)[2])["fpr_records"]

    assert response.status == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.headers["Content-Type"] == "application/json"
    unit = ", ".join(json.dumps(record) for record in records) + ", "
    assert head.startswith(b'{"fpr_records": [' + (unit * 2).encode())
    assert received > 30_000_000 and peak < 2_000_000
    assert outcome[:3] == (1, "endless", "client gone") and outcome[3] >= received


def test_a_gzip_bomb_is_small_on_the_wire_and_unpacks_to_the_size_asked():
    with hostile_api("1=gzip_bomb:64") as server:
        status, headers, wire = fetch(server)

    unpacked, first, last, only_spaces = _unpack(wire)
    assert status == 200
    assert headers["Content-Encoding"] == "gzip" and headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(wire) < 100_000
    assert unpacked == 64 * 2**20
    assert first.startswith(b'{"fpr_records": [ ') and last.endswith(b' ], "next_cursor": null, "has_more": false}')
    assert only_spaces


def test_a_gibibyte_gzip_bomb_is_about_one_megabyte_built_once_without_holding_it_unpacked(monkeypatch):
    monkeypatch.setattr(hostile, "_bombs", {})  # built here, even if another test asked for this size before
    tracemalloc.start()
    bomb = hostile.gzip_bomb(1024)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert 900_000 < len(bomb) < 1_200_000
    assert peak < 16 * 2**20
    assert hostile.gzip_bomb(1024) is bomb


def _unpack(wire):
    """(unpacked size, its first and last 64 bytes, whether all between is spaces), 1 MiB at a time."""
    inflater = zlib.decompressobj(31)
    size, first, last, only_spaces = 0, b"", b"", True
    pending = wire
    while pending:
        piece = inflater.decompress(pending, 2**20)
        pending = inflater.unconsumed_tail
        if not first:
            first = piece[:64]
            piece_for_check = piece[64:]
        else:
            piece_for_check = piece
        only_spaces = only_spaces and not piece_for_check[:-64].strip(b" ")
        last = (last + piece)[-64:]
        size += len(piece)
    return size, first, last, only_spaces


def test_a_big_page_is_legitimate_json_of_the_size_asked_and_a_sync_through_it_completes():
    with hostile_api("1+=big_page:2", size=250) as server:
        pages, cursor = [], None
        while True:
            status, headers, body = fetch(server, page_size=100, cursor=cursor)
            assert status == 200 and int(headers["Content-Length"]) == len(body)
            page = json.loads(body)
            pages.append((len(body), page))
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        expected = served_records(server)

    assert [size for size, _ in pages[:3]] == [2_000_000] * 3
    records = [record for _, page in pages for record in page["fpr_records"]]
    assert [len(page["fpr_records"]) for _, page in pages] == [100, 100, 50, 0]
    assert {record["record_id"] for record in records} == set(expected)
    for record in records:
        original = expected[record["record_id"]]
        assert record["transaction_history"].startswith(original["transaction_history"] + " | ")
        assert {**record, "transaction_history": None} == {**original, "transaction_history": None}


def test_a_big_page_is_streamed_not_held_by_the_server():
    with hostile_api("1=big_page:30") as server:
        tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0]
        connection, response = open_page(server, page_size=100)
        received = sum(len(piece) for piece in iter(lambda: response.read(65536), b""))
        peak = tracemalloc.get_traced_memory()[1] - start
        tracemalloc.stop()
        connection.close()

    assert received == 30_000_000
    assert peak < 8_000_000


def test_poison_values_are_sent_as_json_escapes_and_extreme_numbers():
    with hostile_api("1=poison_values") as server:
        _, _, raw = fetch(server)
        _, _, normal = fetch(server)

    records, plain = json.loads(raw)["fpr_records"], json.loads(normal)["fpr_records"]
    assert b'"customer_name": "Jos\\ud800"' in raw
    assert b'"product_terms": "Fixed \\udfff Rate"' in raw
    assert b'"transaction_history": "Deposit\\u0000 12.50\\u0001' in raw
    for literal in (b"1e-05", b"1e+16", b"5e-324", b"1.7976931348623157e+308", b"1099511627776"):
        assert literal in raw
    assert str(2**70).encode() in raw
    assert records[0]["customer_name"] == "Jos\ud800"
    assert records[1]["product_terms"] == "Fixed \udfff Rate"
    assert "\x00" in records[2]["transaction_history"] == CONTROL_TEXT
    assert {name: records[3][name] for name in POISON_NUMBERS} == POISON_NUMBERS
    assert records[4] == plain[4]
    assert [record["record_id"] for record in records] == [record["record_id"] for record in plain]


def test_poison_values_on_a_short_page_poison_the_records_there_are():
    with hostile_api("1=poison_values") as server:
        records = json.loads(fetch(server, page_size=2)[2])["fpr_records"]

    assert len(records) == 2
    assert records[0]["customer_name"] == "Jos\ud800"
    assert records[1]["product_terms"] == "Fixed \udfff Rate"


def test_poison_field_names_add_every_unusable_name_to_every_record():
    with hostile_api("1=poison_field_names") as server:
        _, _, raw = fetch(server)
        _, _, normal = fetch(server)

    records, plain = json.loads(raw)["fpr_records"], json.loads(normal)["fpr_records"]
    assert set(POISON_FIELD_NAMES) == {"", "bad\ud800name", "   ", "a.b", "Record ID", "_fivetran_synced"} | {
        hostile.LONG_FIELD_NAME,
        "person@example.com",
    }
    assert len(hostile.LONG_FIELD_NAME) == 300
    assert b'"": "plain value"' in raw and b'"bad\\ud800name": "plain value"' in raw
    for record, original in zip(records, plain, strict=True):
        assert record == {**original, **dict.fromkeys(POISON_FIELD_NAMES, POISON_FIELD_VALUE)}


def test_an_error_quotes_a_real_customer_the_key_in_three_forms_and_a_token():
    key = "k3y/with+odd=chars&more"
    with hostile_api("1=error_quoting_pii:422", api_key=key) as server:
        status, headers, raw = fetch(server, key=key)
        _, _, normal = fetch(server, key=key)

    customer = json.loads(normal)["fpr_records"][0]
    message = json.loads(raw)["message"]
    assert status == 422 and headers["Content-Type"] == "application/json"
    for secret in (
        customer["customer_email"],
        customer["customer_name"],
        key,
        quote(key, safe=""),
        base64.b64encode(key.encode()).decode(),
        LEAKED_TOKEN,
    ):
        assert secret in message
    assert quote(key, safe="") != key
    assert len(LEAKED_TOKEN) == 40 and len(base64.b64decode(LEAKED_TOKEN)) == 30


def test_html_login_is_a_200_login_form_and_html_stays_a_maintenance_page():
    with hostile_api("1=html_login,2=html") as server:
        login = fetch(server)
        maintenance = fetch(server)

    assert login[0] == 200 and login[1]["Content-Type"] == "text/html; charset=utf-8"
    assert b"<form" in login[2] and b'type="password"' in login[2]
    assert maintenance[0] == 200 and maintenance[1]["Content-Type"] == "text/html"
    assert b"unavailable" in maintenance[2] and b"<form" not in maintenance[2]


@pytest.mark.parametrize(("charset", "raw_name"), [("iso-8859-1", b"Jos\xe9 M\xfcller"), ("utf-16", None)])
def test_a_page_in_another_charset_says_so_and_carries_letters_beyond_ascii(charset, raw_name):
    with hostile_api(f"1=charset:{charset}") as server:
        _, headers, raw = fetch(server)
        _, _, normal = fetch(server)

    records, plain = json.loads(raw.decode(charset))["fpr_records"], json.loads(normal)["fpr_records"]
    assert headers["Content-Type"] == f"application/json; charset={charset}"
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert records[0]["customer_name"] == "José Müller"
    assert records[0] == {**plain[0], "customer_name": "José Müller"} and records[1:] == plain[1:]
    if raw_name:
        assert raw_name in raw
    else:
        assert raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE)


def test_deep_json_nests_the_records_list_as_deep_as_asked():
    with hostile_api("1=deep_json:100000") as server:
        status, headers, raw = fetch(server)

    assert status == 200 and headers["Content-Type"] == "application/json"
    assert raw == b'{"fpr_records": ' + b"[" * 100_000 + b"]" * 100_000 + b', "next_cursor": null, "has_more": false}'
    assert nesting_depth(raw) == 100_001  # the lists inside the page object


def test_has_more_string_sends_true_and_false_as_text():
    with hostile_api("1+=has_more_string", size=5) as server:
        first = fetch(server, page_size=5)[2]
        last = fetch(server, page_size=5, cursor=json.loads(first)["next_cursor"])[2]

    assert b'"has_more": "true"' in first and json.loads(first)["has_more"] == "true"
    assert b'"has_more": "false"' in last and json.loads(last)["has_more"] == "false"


@pytest.mark.parametrize(
    "rule",
    ["1=slow_body:abc", "1=slow_headers:-1", "1=gzip_bomb:0", "1=deep_json:0", "1=big_page:nan", "1=charset:no-such"]
    + ["1=charset:ascii", "1=error_quoting_pii:200", "1=no_such_fault"]
    + ["1=status:429;retry-after=40;wait-header=X-Wait", "1=status:429;reset-epoch=soon"],
)
def test_a_fault_with_an_unusable_argument_is_refused_when_the_plan_is_read(rule):
    with pytest.raises(ValueError):
        FaultPlan(rule)


@pytest.mark.parametrize(
    ("options", "header", "expected"),
    [
        ("retry-after=40", "Retry-After", "40"),
        ("retry-after=soon", "Retry-After", "soon"),  # as written: tests send malformed values on purpose
        ("retry-after=40;wait-header=RateLimit-Reset", "RateLimit-Reset", "40"),
        ("retry-after=40;wait-header=RateLimit", "RateLimit", '"default";r=0;t=40'),
        ("retry-after=40;wait-header=X-Rate-Limit-Reset", "X-Rate-Limit-Reset", "40"),
        ("retry-after=1.5;wait-header=X-RateLimit-Reset-After", "X-RateLimit-Reset-After", "1.5"),
    ],
)
def test_a_status_fault_names_its_wait_in_the_header_it_is_asked_to(make_api, options, header, expected):
    server = make_api(size=5, faults=f"1=status:429;{options}")

    response = get(server)

    assert response.status_code == 429
    assert response.headers[header] == expected
    assert header == "Retry-After" or "Retry-After" not in response.headers


def test_a_status_fault_sends_an_epoch_time_or_a_date_that_many_seconds_ahead(make_api):
    server = make_api(
        size=5, faults="1=status:503;reset-epoch=40;wait-header=X-RateLimit-Reset,2=status:429;retry-after-date=40"
    )
    before = int(time.time())

    epoch = int(get(server).headers["X-RateLimit-Reset"])
    date = email.utils.parsedate_to_datetime(get(server).headers["Retry-After"]).timestamp()

    assert before + 40 <= epoch <= time.time() + 40
    assert before + 40 <= date <= time.time() + 40

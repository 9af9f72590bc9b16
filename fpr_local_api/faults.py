"""Scripted and random misbehaviour of GET /fpr_data, for tests and demonstrations.

A plan maps request numbers (1 = the first /fpr_data request the server sees) to
faults. Written as text, rules are separated by commas:

    "3=status:503"              request 3 answers 503
    "2=status:429;retry-after=1" request 2 answers 429 with Retry-After: 1
    "4+=status:401"             request 4 and every later one answer 401
    "5=drop"                    request 5: the connection is closed with no answer

Faults that answer instead of the API:
    status:<code>[;retry-after=<s>|;retry-after-date=<s>][;echo-key=1]
                       an error with a JSON body (echo-key: the body repeats the key sent)
    latency:<s>        wait, then answer normally
    stall:<s>          send the headers and half the body, then wait
    drop               close the connection without a response
    truncate           promise more bytes than are sent, then close
    html               200 with an HTML page
    redirect:<url>     302 to another address
    cursor_expired     410 whose body says the cursor expired
Faults that alter a normal page:
    no_cursor          has_more true with no next_cursor
    cycle              next_cursor is the first cursor this plan handed out (A->B->A)
    same_cursor        next_cursor is the cursor of the request (A->A)
    bad_records        one record loses record_id, one gets "N/A" in account_balance,
                       one gets a malformed date, one gets an undeclared field
    not_object         the body is a JSON list
    no_records_key     the body has no fpr_records
    non_object_record  one item of fpr_records is a string
"""

import json
import random
import socket
import threading
import time
from email.utils import formatdate

ANSWERING = {"status", "latency", "stall", "drop", "truncate", "html", "redirect", "cursor_expired"}
REWRITING = {"no_cursor", "cycle", "same_cursor", "bad_records", "not_object", "no_records_key", "non_object_record"}


class Fault:
    """One fault: a name, an optional argument and options such as retry-after."""

    def __init__(self, text):
        head, *options = text.split(";")
        name, _, argument = head.partition(":")
        if name not in ANSWERING | REWRITING:
            raise ValueError(f"unknown fault {name!r}")
        self.name = name
        self.argument = argument
        self.options = dict(option.split("=", 1) for option in options)

    def __repr__(self):
        return f"Fault({self.name}:{self.argument})"


class FaultPlan:
    """Which request gets which fault.

    Args:
        rules: text as in the module docstring, or None.
        rate: probability that any other request gets a fault drawn from `random_faults`.
        random_faults: fault texts to draw from.
        seed: seed of the random draws, for repeatable runs.
    """

    def __init__(self, rules=None, rate=0.0, random_faults=(), seed=0):
        self.exact = {}
        self.from_on = []
        for rule in filter(None, (part.strip() for part in (rules or "").split(","))):
            where, _, fault = rule.partition("=")
            if where.endswith("+"):
                self.from_on.append((int(where[:-1]), Fault(fault)))
            else:
                self.exact[int(where)] = Fault(fault)
        self.rate = rate
        self.random_faults = [Fault(text) for text in random_faults]
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.first_cursor = None
        self.applied = []  # (request number, fault name), for tests to assert on

    def fault_for(self, number):
        if number in self.exact:
            return self.exact[number]
        for start, fault in self.from_on:
            if number >= start:
                return fault
        with self._lock:
            if self.random_faults and self._random.random() < self.rate:
                return self._random.choice(self.random_faults)
        return None

    def on_request(self, number, handler):
        """Answers the request itself and returns True, or returns False to let the API answer."""
        fault = self.fault_for(number)
        if fault is None or fault.name not in ANSWERING:
            return False
        self.applied.append((number, fault.name))
        if fault.name == "latency":
            _pause(float(fault.argument))
            return False
        _ANSWERS[fault.name](fault, handler)
        return True

    def rewrite_page(self, number, body, request_cursor=None):
        """The page the API computed, altered by this request's fault if it has one."""
        if self.first_cursor is None and body.get("next_cursor"):
            self.first_cursor = body["next_cursor"]
        fault = self.fault_for(number)
        if fault is None or fault.name not in REWRITING:
            return body
        self.applied.append((number, fault.name))
        return _REWRITES[fault.name](self, body, request_cursor)


def _pause(seconds):
    threading.Event().wait(seconds)  # not time.sleep, which a client's tests may stub out in-process


def _status(fault, handler):
    code = int(fault.argument)
    headers = {}
    if "retry-after" in fault.options:
        headers["Retry-After"] = fault.options["retry-after"]
    if "retry-after-date" in fault.options:
        headers["Retry-After"] = formatdate(time.time() + float(fault.options["retry-after-date"]), usegmt=True)
    body = {"error": f"http_{code}", "message": f"injected HTTP {code}"}
    if "echo-key" in fault.options:  # a careless server that repeats the credentials it was sent
        body["message"] += f" for key {handler.headers.get('x-api-key')}"
    handler.send_json(code, body, headers)


def _stall(fault, handler):
    payload = json.dumps({"fpr_records": [], "next_cursor": None, "has_more": False}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload[: len(payload) // 2])
    handler.wfile.flush()
    _pause(float(fault.argument or 30))
    handler.close_connection = True


def _drop(fault, handler):
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def _truncate(fault, handler):
    payload = b'{"fpr_records": [{"record_id": "cut'
    handler.send_raw(200, payload, "application/json", declared_length=len(payload) + 500)
    handler.close_connection = True


def _html(fault, handler):
    page = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
    handler.send_raw(200, page, "text/html")


def _redirect(fault, handler):
    target = fault.argument or "http://127.0.0.2:9/fpr_data"
    handler.send_raw(302, b"", "text/plain", {"Location": target})


def _cursor_expired(fault, handler):
    handler.send_json(410, {"error": "cursor_expired", "message": "cursor has expired; start again without a cursor"})


_ANSWERS = {
    "status": _status,
    "stall": _stall,
    "drop": _drop,
    "truncate": _truncate,
    "html": _html,
    "redirect": _redirect,
    "cursor_expired": _cursor_expired,
}


def _no_cursor(plan, body, request_cursor):
    return {**body, "next_cursor": None, "has_more": True}


def _cycle(plan, body, request_cursor):
    return {**body, "next_cursor": plan.first_cursor, "has_more": True}


def _same_cursor(plan, body, request_cursor):
    return {**body, "next_cursor": request_cursor, "has_more": True}


def _bad_records(plan, body, request_cursor):
    records = [dict(record) for record in body["fpr_records"]]
    defects = [
        lambda record: record.pop("record_id"),
        lambda record: record.update(account_balance="N/A"),
        lambda record: record.update(product_sales_date="31/01/2024"),
        lambda record: record.update(loyalty_tier="Gold", loyalty_points_value=1234.5678901234),
    ]
    for record, defect in zip(records, defects, strict=False):
        defect(record)
    return {**body, "fpr_records": records}


def _not_object(plan, body, request_cursor):
    return body["fpr_records"]


def _no_records_key(plan, body, request_cursor):
    return {"data": body["fpr_records"], "next_cursor": body["next_cursor"], "has_more": body["has_more"]}


def _non_object_record(plan, body, request_cursor):
    return {**body, "fpr_records": body["fpr_records"] + ["not a record"]}


_REWRITES = {
    "no_cursor": _no_cursor,
    "cycle": _cycle,
    "same_cursor": _same_cursor,
    "bad_records": _bad_records,
    "not_object": _not_object,
    "no_records_key": _no_records_key,
    "non_object_record": _non_object_record,
}

"""Scripted and random misbehaviour of GET /fpr_data, for tests and demonstrations.

A plan maps request numbers (1 = the first /fpr_data request the server sees) to
faults. Written as text, rules are separated by commas; a fault is a name, an
optional ":" argument, and options as ";name=value":

    "3=status:503"              request 3 answers 503
    "2=status:429;retry-after=1" request 2 answers 429 with Retry-After: 1
    "2=status:429;retry-after=40;wait-header=RateLimit-Reset"
                                request 2 answers 429 with RateLimit-Reset: 40
    "4+=status:401"             request 4 and every later one answer 401
    "5=drop"                    request 5: the connection is closed with no answer

Faults that answer instead of the API (no key check, no page):
    status:<code>[;retry-after=<s>|;retry-after-date=<s>|;reset-epoch=<s>][;wait-header=<name>][;echo-key=1]
                       an error with a JSON body (echo-key: the body repeats the key sent), naming a wait:
                       <s> as written, an HTTP date or an epoch time <s> seconds ahead, in Retry-After or
                       in the header wait-header names (one of WAIT_HEADERS; RateLimit gets the IETF
                       draft's structured form, "default";r=0;t=<s>)
    latency:<s>        wait, then answer normally
    changes:<n>        update <n> existing records (each takes the next change sequence number), then answer
                       normally: from some request on ("2+=changes:300"), data that changes faster than it is read
    stall:<s>          send the headers and half the body, then wait
    drop               close the connection without a response
    truncate           promise more bytes than are sent, then close
    html               200 text/html: a maintenance page
    html_login         200 text/html: a login form, as a proxy or single sign-on page answers
    waf_block          403 text/html from a web application firewall: Cloudflare's "Attention Required!"
                       page, with its Server: cloudflare and cf-ray headers; the key is never looked at
    redirect:<url>     302 to another address
    cursor_expired     410 whose body says the cursor expired
    gzip_bomb:<MiB>    200 application/json, Content-Encoding: gzip; about 1 KB on the wire per MiB
                       that unpacks to exactly <MiB> MiB (decimals allowed): a page whose record list
                       is all spaces ({"fpr_records": [   ...   ], ...}), valid JSON once unpacked.
                       Compressed once per size, 1 MiB at a time, then cached
    deep_json:<depth>  200 application/json whose fpr_records is <depth> nested lists ([[[...]]])
    fresh_cursor_loop  the first page of the dataset again, has_more true and a next_cursor never sent before
                       (whatever cursor the request carries): a chain that goes on forever without a new record
Faults that alter a normal page (the key is checked first):
    no_cursor          has_more true with no next_cursor
    cycle              next_cursor is the first cursor this plan handed out (A->B->A)
    same_cursor        next_cursor is the cursor of the request (A->A)
    bad_records        one record loses record_id, one gets "N/A" in account_balance,
                       one gets a malformed date, one gets an undeclared field
    not_object         the body is a JSON list
    no_records_key     the body has no fpr_records
    non_object_record  one item of fpr_records is a string
    has_more_string    has_more is the string "true" or "false" instead of a boolean
    key_in_cursor[:<form>]
                       next_cursor is the x-api-key the request sent, in <form>: raw (the default), base64
                       or url (URL-encoded), followed by the page's own cursor
    unsendable_cursor[:<kind>]
                       next_cursor is one no request can carry back, of <kind>: surrogate (the default:
                       "x\\ud800y", a lone UTF-16 surrogate, valid as that JSON escape) or long
                       (UNSENDABLE_CURSOR_LENGTH characters)
    poison_values      record 1: customer_name "Jos\\ud800" (a lone UTF-16 surrogate, sent as that
                       JSON escape); record 2: a lone surrogate (\\udfff) in product_terms; record 3:
                       control characters and a NUL in transaction_history (CONTROL_TEXT); record 4:
                       the undeclared fields of POISON_NUMBERS (1e-05, 1e+16, 5e-324,
                       1.7976931348623157e+308, 2**40, 2**70). Pages of fewer records get the first ones.
    poison_field_names every record also gets each field of POISON_FIELD_NAMES ("", "bad\\ud800name",
                       "   ", "a.b", "Record ID", "_fivetran_synced", a 300-character name, an email),
                       each with the value POISON_FIELD_VALUE
Faults that send the normal page in a hostile way (the key is checked first):
    slow_headers:<s>   the status line and headers one byte every <s> seconds, then the body
    slow_body:<s>[;framing=<f>]
                       normal headers, then the body one byte every <s> s, framed as <f> says: keep-alive
                       (the default: Content-Length), close (Content-Length and Connection: close), http10
                       (an HTTP/1.0 answer without Content-Length, ended by closing) or chunked (a chunk a byte)
    interim:<status>[;count=<n>]
                       <n> (1) interim answers of <status> (103 Early Hints by default) before the page
    many_headers:<n>   the page with <n> extra Set-Cookie header lines, as a proxy or firewall may add them
    two_lengths:<form> the page with its length declared twice, the connection kept open: repeated (two
                       equal Content-Length lines), listed (one "Content-Length: N, N" line) or conflicting
                       (two lines that differ)
    endless            200 application/json, Transfer-Encoding: chunked: {"fpr_records": [ then the
                       page's records (the first record of the dataset if the page has none),
                       repeated until the client disconnects; memory stays at one page
    big_page:<MB>      the page, exactly <MB> x 1,000,000 bytes long: each record's transaction_history
                       is its own text followed by filler. next_cursor and has_more are unchanged, so a
                       sync through it completes. A page without records is sent as it is.
    charset:<name>     the page encoded in <name> (Python's codec: utf-16 starts with a byte-order mark),
                       Content-Type: application/json; charset=<name>; the first record's customer_name
                       is the first of CHARSET_NAMES that <name> can encode ("José Müller" for Latin-1)
    error_quoting_pii:<status>
                       an error of that status (400 to 599; 400 if omitted) whose JSON body quotes
                       the name and email of the first record of the page (of the dataset's first
                       record if the page has none), the x-api-key sent (raw, URL-encoded with
                       quote(safe=""), base64) and LEAKED_TOKEN, in "message" and in fields of their own

Slow and endless writers pause with _pause (never time.sleep), stop as soon as a write fails
(the client went away) or the server stops, and record how they ended in FaultPlan.streams.
"""

import base64
import json
import random
import socket
import threading
import time
import uuid
from email.utils import formatdate
from urllib.parse import parse_qs, quote, urlsplit

from fpr_local_api import hostile
from fpr_local_api.hostile import (  # noqa: F401  (re-exported: tests name them from here)
    CHARSET_NAMES,
    CONTROL_TEXT,
    LEAKED_TOKEN,
    POISON_FIELD_NAMES,
    POISON_FIELD_VALUE,
    POISON_NUMBERS,
)

ANSWERING = {
    "status",
    "latency",
    "changes",
    "stall",
    "drop",
    "truncate",
    "html",
    "html_login",
    "waf_block",
    "redirect",
    "cursor_expired",
    "gzip_bomb",
    "deep_json",
    "fresh_cursor_loop",
}
REWRITING = {
    "no_cursor",
    "cycle",
    "same_cursor",
    "bad_records",
    "not_object",
    "no_records_key",
    "non_object_record",
    "has_more_string",
    "poison_values",
    "poison_field_names",
    "key_in_cursor",
    "unsendable_cursor",
}
SENDING = {
    "slow_headers",
    "slow_body",
    "endless",
    "big_page",
    "charset",
    "error_quoting_pii",
    "interim",
    "many_headers",
    "two_lengths",
}

UNSENDABLE_CURSOR_LENGTH = 10_000
UNSENDABLE_CURSORS = {
    "surrogate": "x\ud800y",
    "long": "x" * UNSENDABLE_CURSOR_LENGTH,
}

# The headers a status fault can name its wait in (;wait-header=), as APIs send them.
WAIT_HEADERS = (
    "Retry-After",
    "RateLimit-Reset",
    "RateLimit",
    "X-RateLimit-Reset",
    "X-Rate-Limit-Reset",
    "X-RateLimit-Reset-After",
)

# Faults whose argument is checked when the plan is read, so a typo fails at start, not mid-test.
_ARGUMENTS = {
    "gzip_bomb": hostile.positive_number,
    "deep_json": hostile.positive_integer,
    "slow_headers": hostile.seconds,
    "slow_body": hostile.seconds,
    "big_page": hostile.positive_number,
    "charset": hostile.charset,
    "error_quoting_pii": hostile.http_status,
    "interim": hostile.interim_status,
    "many_headers": hostile.positive_integer,
    "two_lengths": lambda form: hostile.one_of(form, hostile.LENGTH_FORMS),
    "key_in_cursor": lambda form: hostile.one_of(form or "raw", ("raw", "base64", "url")),
    "unsendable_cursor": lambda kind: hostile.one_of(kind or "surrogate", tuple(UNSENDABLE_CURSORS)),
    "changes": hostile.positive_integer,
}
# Options checked the same way: fault name -> option -> check.
_OPTIONS = {
    "status": {
        "wait-header": lambda name: hostile.one_of(name, WAIT_HEADERS),
        "retry-after-date": float,
        "reset-epoch": float,
    },
    "slow_body": {"framing": lambda framing: hostile.one_of(framing, hostile.FRAMINGS)},
    "interim": {"count": hostile.positive_integer},
}


class Fault:
    """One fault: a name, an optional argument and options such as retry-after.

    Raises:
        ValueError: unknown name, or an argument the fault cannot use.
    """

    def __init__(self, text):
        head, *options = text.split(";")
        name, _, argument = head.partition(":")
        if name not in ANSWERING | REWRITING | SENDING:
            raise ValueError(f"unknown fault {name!r}")
        self.name = name
        self.argument = argument
        self.value = _ARGUMENTS[name](argument) if name in _ARGUMENTS else argument
        self.options = dict(option.split("=", 1) for option in options)
        for option, value in self.options.items():
            check = _OPTIONS.get(name, {}).get(option)
            if check is not None:
                check(value)

    def __repr__(self):
        return f"Fault({self.name}:{self.argument})"


class FaultPlan:
    """Which request gets which fault.

    The server asks fault_for() once per request, then hands that fault to answer(),
    rewrite_page() and send_page() in turn; each acts only on faults of its kind.

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
        self.streams = []  # (request number, fault name, how it ended, bytes of body sent) of slow/endless writers

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

    def answer(self, number, fault, handler):
        """Answers the request itself and returns True, or returns False to let the API answer."""
        if fault is None or fault.name not in ANSWERING:
            return False
        self.applied.append((number, fault.name))
        if fault.name == "latency":
            _pause(float(fault.argument), handler.stopping)
            return False
        if fault.name == "changes":
            handler.api.dataset.apply_changes(update=fault.value)
            return False
        _ANSWERS[fault.name](fault, handler)
        return True

    def rewrite_page(self, number, fault, body, request_cursor=None, sent_key=""):
        """The page the API computed, altered by this request's fault if it has one."""
        if self.first_cursor is None and body.get("next_cursor"):
            self.first_cursor = body["next_cursor"]
        if fault is None or fault.name not in REWRITING:
            return body
        self.applied.append((number, fault.name))
        if fault.name == "key_in_cursor":
            return _key_in_cursor(fault, body, sent_key)
        if fault.name == "unsendable_cursor":
            return {**body, "next_cursor": UNSENDABLE_CURSORS[fault.value]}
        return _REWRITES[fault.name](self, body, request_cursor)

    def send_page(self, number, fault, body, handler):
        """Sends the page in this request's hostile way and returns True, or returns False to send it plainly."""
        if fault is None or fault.name not in SENDING:
            return False
        self.applied.append((number, fault.name))
        outcome = hostile.SENDERS[fault.name](
            fault.value, body, handler, lambda seconds: _pause(seconds, handler.stopping), fault.options
        )
        if outcome is not None:
            self.streams.append((number, fault.name, *outcome))
        return True


def _pause(seconds, until=None):
    """Waits `seconds`, or less if `until` (an Event: the server stopping) is set. Returns whether it is set.

    Not time.sleep, which a client's tests may stub out in-process.
    """
    return (until or threading.Event()).wait(seconds)


def _status(fault, handler):
    code = int(fault.argument)
    headers = _wait_header(fault.options)
    body = {"error": f"http_{code}", "message": f"injected HTTP {code}"}
    if "echo-key" in fault.options:  # a careless server that repeats the credentials it was sent
        body["message"] += f" for key {handler.headers.get('x-api-key')}"
    handler.send_json(code, body, headers)


def _wait_header(options):
    """The header naming the wait, as the status fault's options ask: {} when they name none."""
    if "retry-after-date" in options:
        value = formatdate(time.time() + float(options["retry-after-date"]), usegmt=True)
    elif "reset-epoch" in options:
        value = str(int(time.time() + float(options["reset-epoch"])))
    elif "retry-after" in options:
        value = options["retry-after"]  # as written, so that tests can send malformed values
    else:
        return {}
    name = options.get("wait-header", "Retry-After")
    return {name: f'"default";r=0;t={value}' if name == "RateLimit" else value}


def _stall(fault, handler):
    payload = json.dumps({"fpr_records": [], "next_cursor": None, "has_more": False}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload[: len(payload) // 2])
    handler.wfile.flush()
    _pause(float(fault.argument or 30), handler.stopping)
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


def _html_login(fault, handler):
    handler.send_raw(200, hostile.LOGIN_PAGE, "text/html; charset=utf-8")


def _waf_block(fault, handler):
    handler.send_raw(
        403, hostile.WAF_PAGE, "text/html; charset=UTF-8", {"Server": "cloudflare", "CF-RAY": "8f3a2b1c4d5e6f70-AMS"}
    )


def _redirect(fault, handler):
    target = fault.argument or "http://127.0.0.2:9/fpr_data"
    handler.send_raw(302, b"", "text/plain", {"Location": target})


def _cursor_expired(fault, handler):
    handler.send_json(410, {"error": "cursor_expired", "message": "cursor has expired; start again without a cursor"})


def _gzip_bomb(fault, handler):
    handler.send_raw(200, hostile.gzip_bomb(fault.value), "application/json", {"Content-Encoding": "gzip"})


def _deep_json(fault, handler):
    handler.send_raw(200, hostile.deep_json(fault.value), "application/json")


def _fresh_cursor_loop(fault, handler):
    query = parse_qs(urlsplit(handler.path).query)
    page_size = int((query.get("page_size") or ["100"])[-1])
    records = [record for _, record in handler.api.dataset.records_after(0, page_size)]
    handler.send_json(200, {"fpr_records": records, "next_cursor": f"loop-{uuid.uuid4().hex}", "has_more": True})


_ANSWERS = {
    "status": _status,
    "stall": _stall,
    "drop": _drop,
    "truncate": _truncate,
    "html": _html,
    "html_login": _html_login,
    "waf_block": _waf_block,
    "redirect": _redirect,
    "cursor_expired": _cursor_expired,
    "gzip_bomb": _gzip_bomb,
    "deep_json": _deep_json,
    "fresh_cursor_loop": _fresh_cursor_loop,
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


def _has_more_string(plan, body, request_cursor):
    return {**body, "has_more": "true" if body.get("has_more") else "false"}


def _poison_values(plan, body, request_cursor):
    return {**body, "fpr_records": hostile.poison_values(body["fpr_records"])}


def _poison_field_names(plan, body, request_cursor):
    return {**body, "fpr_records": hostile.poison_field_names(body["fpr_records"])}


def _key_in_cursor(fault, body, sent_key):
    forms = {
        "raw": sent_key,
        "base64": base64.b64encode(sent_key.encode()).decode(),
        "url": quote(sent_key, safe=""),
    }
    return {**body, "next_cursor": forms[fault.value] + (body.get("next_cursor") or "")}


_REWRITES = {
    "no_cursor": _no_cursor,
    "cycle": _cycle,
    "same_cursor": _same_cursor,
    "bad_records": _bad_records,
    "not_object": _not_object,
    "no_records_key": _no_records_key,
    "non_object_record": _non_object_record,
    "has_more_string": _has_more_string,
    "poison_values": _poison_values,
    "poison_field_names": _poison_field_names,
}

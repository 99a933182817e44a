#!/usr/bin/env python3
"""Soak test: the cupi-gateway binary in front of its embedded simulator, under mixed load.

Starts the gateway (no --upstream: embedded simulator, extra generated port groups,
--max-request-body 64 KiB, other settings default) on a free loopback port and runs --clients
threads for --duration seconds, each mixing good requests (lists with query/sort/paging, single
items, HEAD, XML, /healthz, /metrics, PUTs of unique MWI codes) with bad ones (broken JSON,
unknown / read-only / wrongly typed fields, wrong or missing credentials, `..` and `%2e%2e`
paths, a DOCTYPE body, an oversized body, unknown methods, unknown ids, unsupported media type,
absolute-form targets, CONNECT). Beside them run hostile clients, one thread each (see
`HOSTILE_KINDS`): connections that never send a byte, uploads trickled a few bytes at a time,
bodies stalled half-sent, unique 1 KB extension methods, pathological XML bodies (repeated
sibling pairs, deep-then-wide nesting, attribute floods), and a /healthz probe. What the
hostile clients themselves get depends on which limits the gateway has (a header-read timeout
closes idle connections, a body timeout answers 408), so their outcomes are counted and
printed, not checked; each attempt is bounded in time and they all stop with the load. It checks:

- every answer has the exact status, and for errors the JSON error shape with the exact
  `errors[0].code`, expected for its kind; anything else (503 included: 8 clients stay far
  below the gateway's upstream queue of 100) or a transport error is "unexpected";
- no lost writes: each client owns one port group, so every PUT answered 204 is read back at
  once (read-your-write), and at the end each owned group holds its client's last
  acknowledged codes while the groups nobody writes are unchanged;
- flat memory: VmRSS of the gateway process at the end of the load is at most 10% above
  VmRSS right after the warm-up (--warmup, default 20% of the run), both read with every
  client parked between requests, so that what is in flight at that instant does not count;
- /healthz stays responsive beside the hostile clients: every probe is answered 200 within
  `HEALTHZ_CEILING` seconds;
- the gateway is still alive at the end and exits 0 on SIGTERM (graceful drain).

It prints its figures and exits 1 if any check fails. Python 3.11 standard library only,
loopback only. Run it against a built binary:

    cargo build && python3 tests/soak/soak.py --binary target/debug/cupi-gateway
    python3 tests/soak/soak.py --binary target/release/cupi-gateway --duration 15
    python3 tests/soak/soak.py --binary target/debug/cupi-gateway --hostile none

`.ci/run` runs it for 15 s on the debug build.
"""

import argparse
import base64
import http.client
import json
import os
import queue
import random
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict

GOOD_AUTH = "Basic " + base64.b64encode(b"admin:password").decode()
BAD_AUTH = "Basic " + base64.b64encode(b"admin:wrong").decode()
JSON = {"Content-Type": "application/json"}
XML = {"Content-Type": "application/xml"}
# --max-request-body for the soak, below the default 1 MiB on purpose: freeing a 1 MiB
# buffer makes glibc raise its mmap and trim thresholds, after which each arena may keep up
# to 2 MiB of free heap or give it back, depending on which request freed last. That swung
# RSS after 15 s by -3% to +7% from run to run (measured: none of it growth); 64 KiB buffers
# stay under the default thresholds. The 413 path is the same at any limit.
MAX_REQUEST_BODY = 64 * 1024
RSS_TOLERANCE = 0.10
# A port that exists in every simulator (Cisco's PhoneSystem-1, port 1).
SEED_PORT = "2806ecdc-0a3d-43f3-a2c8-93d786fa506b"


class Unexpected(Exception):
    """An answer that is not the one its request kind must get."""


class Transport(Exception):
    """No complete HTTP answer at all (reset, timeout, malformed response)."""


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise Unexpected(f"not JSON ({e}): {self.body[:200]!r}") from None

    def error_code(self):
        body = self.json()
        try:
            return body["errors"][0]["code"]
        except (KeyError, IndexError, TypeError):
            raise Unexpected(f"not the JSON error shape: {self.body[:200]!r}") from None


def expect(answer, status, code=None):
    """Exact status, and for errors the exact `errors[0].code` in the JSON error shape."""
    if answer.status != status:
        raise Unexpected(f"status {answer.status}, expected {status}: {answer.body[:300]!r}")
    if code is not None:
        if not answer.headers.get("content-type", "").startswith("application/json"):
            raise Unexpected(f"content-type {answer.headers.get('content-type')!r} on an error")
        got = answer.error_code()
        if got != code:
            raise Unexpected(f"error code {got!r}, expected {code!r}: {answer.body[:300]!r}")
    return answer


class Client(threading.Thread):
    """One simulated frontend: its own keep-alive connection, its own port group to write."""

    def __init__(self, index, soak, group_id, initial):
        super().__init__(name=f"client-{index}", daemon=True)
        self.index = index
        self.soak = soak
        self.group_id = group_id
        self.rng = random.Random(soak.seed * 1000 + index)
        # Clients keep the JSESSIONID they are given, as CUPI clients should. Basic auth alone
        # makes the simulator open a session per request, and its session table (capped at
        # 10,000, in the gateway's process) then grows for a minute or more: bounded, not
        # the gateway's, but enough to blur the RSS verdict.
        self.cookie = None
        self.conn = None
        self.requests_on_conn = 0
        self.kind = ""
        self.previous = None  # the last exchange on the current connection, for diagnosis
        self.parked = threading.Event()
        self.seq = 0
        self.last_acked = initial
        self.in_doubt = []  # writes whose answer never came: they may or may not have landed
        self.acked = self.verified = self.lost = 0
        self.counts = Counter()
        self.latencies = defaultdict(list)
        self.unexpected = []

    # -- transport ---------------------------------------------------------------------------

    def send(self, method, target, body=None, headers=None, auth=GOOD_AUTH, fresh=False):
        """One request, raw target as given (http.client does not normalise paths)."""
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = auth
            if self.cookie and auth == GOOD_AUTH:
                headers["Cookie"] = self.cookie
        # A new connection now and then, so accepting and closing connections is soaked too.
        if fresh or self.conn is None or self.requests_on_conn >= 100:
            self.close()
            self.conn = http.client.HTTPConnection(self.soak.host, self.soak.port, timeout=15)
            self.requests_on_conn = 0
            self.previous = None
        self.requests_on_conn += 1
        start = time.monotonic()
        try:
            self.conn.request(method, target, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise Transport(f"{type(e).__name__}: {e} on {method} {target[:80]}; request "
                            f"{self.requests_on_conn} on its connection, the one before: "
                            f"{self.previous}") from None
        finally:
            self.counts[self.kind] += 1
            self.latencies[self.kind].append(time.monotonic() - start)
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        self.previous = (f"{method} {target[:80]} -> {answer.status} "
                         f"connection: {answer.headers.get('connection')}")
        if auth == GOOD_AUTH:
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("JSESSIONID="):
                    self.cookie = value.split(";", 1)[0]
        if fresh or response.will_close:
            self.close()
        return answer

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # -- the request kinds: each sends one request and checks its one expected answer -------

    def list_portgroups(self):
        n = self.soak.generated
        rows = self.rng.choice([0, 1, 3, 5, 50])
        page = self.rng.randint(1, max(1, -(-n // rows))) if rows else 1
        order = self.rng.choice(["asc", "desc"])
        target = (
            "/vmrest/portgroups?query=(DisplayName%20startswith%20Generated)"
            f"&sort=(DisplayName%20{order})&rowsPerPage={rows}&pageNumber={page}"
        )
        body = expect(self.send("GET", target), 200).json()
        items = body.get("PortGroup")
        # rowsPerPage=0 is a count: still an array, empty (lists are always arrays).
        want = 0 if rows == 0 else max(0, min(rows, n - (page - 1) * rows))
        if body.get("@total") != n or not isinstance(items, list) or len(items) != want:
            raise Unexpected(f"{target}: @total {body.get('@total')}, PortGroup "
                             f"{str(items)[:80]}, expected {n} and {want} items")
        names = [g["DisplayName"] for g in items]
        if names != sorted(names, reverse=order == "desc"):
            raise Unexpected(f"{target}: not sorted {order}: {names}")

    def list_ports(self):
        body = expect(self.send("GET", "/vmrest/ports?rowsPerPage=4&pageNumber=1"), 200).json()
        items = body.get("Port")
        if body.get("@total") != self.soak.total_ports or not isinstance(items, list) \
                or len(items) != 4:
            raise Unexpected(f"ports list: @total {body.get('@total')}, expected "
                             f"{self.soak.total_ports}")

    def get_portgroup(self):
        group = self.rng.choice(self.soak.all_groups)
        body = expect(self.send("GET", f"/vmrest/portgroups/{group}"), 200).json()
        if body.get("ObjectId") != group:
            raise Unexpected(f"asked for {group}, got {body.get('ObjectId')}")

    def get_port_xml(self):
        # XML clients get CUPI's XML untouched; the client's own request id comes back.
        rid = f"soak-{uuid.uuid4()}"
        answer = expect(self.send("GET", f"/vmrest/ports/{SEED_PORT}",
                                  headers={"Accept": "application/xml", "X-Request-Id": rid}),
                        200)
        if not answer.body.startswith(b"<") or answer.headers.get("x-request-id") != rid:
            raise Unexpected(f"XML port: {answer.body[:80]!r}, "
                             f"x-request-id {answer.headers.get('x-request-id')!r}")

    def head(self):
        target = self.rng.choice(["/vmrest/ports", f"/vmrest/portgroups/{self.group_id}"])
        expect(self.send("HEAD", target), 200)

    def healthz(self):
        expect(self.send("GET", "/healthz", auth=None, fresh=True), 200)

    def metrics(self):
        answer = expect(self.send("GET", "/metrics", auth=None), 200)
        if b"cupi_gateway_requests_total" not in answer.body:
            raise Unexpected("no cupi_gateway_requests_total in /metrics")

    def write(self):
        """PUT unique codes to the client's own group, then read them back at once."""
        self.seq += 1
        on = f"{self.index + 1:02d}{self.seq:07d}"
        codes = (on, on[::-1])
        form = self.rng.choice(["json", "wrapped", "xml"])
        self.kind = "put_" + form
        if form == "json":
            body, headers = json.dumps({"MwiOnCode": on, "MwiOffCode": codes[1]}), JSON
        elif form == "wrapped":
            body = json.dumps({"PortGroup": {"MwiOnCode": on, "MwiOffCode": codes[1]}})
            headers = JSON
        else:
            body = (f"<PortGroup><MwiOnCode>{on}</MwiOnCode>"
                    f"<MwiOffCode>{codes[1]}</MwiOffCode></PortGroup>")
            headers = XML
        try:
            expect(self.send("PUT", f"/vmrest/portgroups/{self.group_id}", body, headers), 204)
        except (Transport, Unexpected):
            self.in_doubt.append(codes)
            raise
        self.acked += 1
        self.last_acked, self.in_doubt = codes, []
        # Read-your-write: nobody else writes this group, so the codes must be there now.
        self.kind = "verify_write"
        body = expect(self.send("GET", f"/vmrest/portgroups/{self.group_id}"), 200).json()
        seen = (body.get("MwiOnCode"), body.get("MwiOffCode"))
        if seen != codes:
            self.lost += 1
            raise Unexpected(f"lost write on {self.group_id}: PUT {codes} got 204, "
                             f"GET shows {seen}")
        self.verified += 1

    def bad_put(self, body, headers, status, code):
        expect(self.send("PUT", f"/vmrest/portgroups/{self.group_id}", body, headers),
               status, code)

    def bad_json(self):
        self.bad_put('{"MwiOnCode": ', JSON, 400, "invalid_json")

    def unknown_field(self):
        self.bad_put('{"MwiOnCode": "1", "Soak": "x"}', JSON, 400, "unknown_field")

    def wrong_type(self):
        self.bad_put('{"MwiOnCode": 12}', JSON, 400, "invalid_type")

    def read_only_field(self):
        self.bad_put('{"DisplayName": "renamed"}', JSON, 400, "read_only_field")

    def doctype(self):
        body = ('<!DOCTYPE PortGroup [<!ENTITY x "999">]>'
                "<PortGroup><MwiOnCode>&x;</MwiOnCode></PortGroup>")
        self.bad_put(body, XML, 400, "xml_doctype_not_allowed")

    def oversized(self):
        self.bad_put(self.soak.oversized_body, JSON, 413, "payload_too_large")

    # The next two are refused before their body is read: the gateway reads and drops the
    # small body so the keep-alive connection carries on (a regression test for that).
    def unsupported_media_type(self):
        self.bad_put("MwiOnCode=1", {"Content-Type": "text/plain"}, 415,
                     "unsupported_media_type")

    def port_write(self):
        expect(self.send("PUT", f"/vmrest/ports/{SEED_PORT}", '{"HuntOrder": 1}', JSON),
               405, "method_not_allowed")

    def wrong_credentials(self):
        expect(self.send("GET", "/vmrest/ports", auth=BAD_AUTH), 401, "unauthorized")

    def no_credentials(self):
        expect(self.send("GET", f"/vmrest/portgroups/{self.group_id}", auth=None),
               401, "unauthorized")

    def traversal(self):
        target = self.rng.choice(["/vmrest/../cuadmin/home.do", "/vmrest/%2e%2e/cuadmin/home.do",
                                  "/vmrest/ports/%2F..%2Fcuadmin"])
        expect(self.send("GET", target), 400, "invalid_path")

    def unknown_method(self):
        method, target = self.rng.choice([
            ("FROB", f"/vmrest/portgroups/{self.group_id}"),
            ("DELETE", f"/vmrest/portgroups/{self.group_id}"),
            ("POST", "/vmrest/ports"),
        ])
        expect(self.send(method, target), 405, "method_not_allowed")

    def unknown_id(self):
        # A new id every time: nothing keyed by the path (metrics labels, say) may grow.
        kind = self.rng.choice(["portgroups", "ports"])
        expect(self.send("GET", f"/vmrest/{kind}/{uuid.uuid4()}"), 404, "NOT_FOUND")

    def not_served(self):
        expect(self.send("GET", f"/soak/{uuid.uuid4()}"), 404, "not_found")

    def absolute_form(self):
        expect(self.send("GET", "http://evil.example.com/vmrest/ports", fresh=True),
               400, "invalid_request_target")

    def connect(self):
        expect(self.send("CONNECT", "evil.example.com:443", fresh=True),
               400, "invalid_request_target")

    # Relative weights: mostly good traffic, every bad kind often enough to be soaked too.
    MIX = {
        "list_portgroups": 10, "list_ports": 6, "get_portgroup": 10, "get_port_xml": 4,
        "head": 4, "healthz": 3, "metrics": 1, "write": 12,
        "bad_json": 2, "unknown_field": 2, "wrong_type": 2, "read_only_field": 2,
        "doctype": 2, "oversized": 1, "unsupported_media_type": 1, "wrong_credentials": 2,
        "no_credentials": 1, "traversal": 2, "unknown_method": 2, "port_write": 1,
        "unknown_id": 2, "not_served": 1, "absolute_form": 1, "connect": 1,
    }

    def run(self):
        kinds = list(self.MIX)
        weights = list(self.MIX.values())
        while not self.soak.stop.is_set():
            if not self.soak.running.is_set():  # quiet for an RSS reading: park, keep the conn
                self.parked.set()
                self.soak.running.wait()
                self.parked.clear()
                continue
            # `kind` names the request for the counts; a write renames its PUT and its GET.
            self.kind = self.rng.choices(kinds, weights)[0]
            try:
                getattr(self, self.kind)()
            except (Unexpected, Transport) as e:
                self.unexpected.append((time.monotonic(), self.kind, str(e)))
        self.close()


# -- hostile clients -------------------------------------------------------------------------

# Longest one hostile attempt holds its connection open, in seconds: short enough that every
# hostile client parks within a few seconds for an RSS reading and stops soon after the load.
HOSTILE_HOLD = 3.0
# Socket timeout for hostile sends and reads, so no attempt can hang on a gateway that neither
# answers nor closes.
HOSTILE_TIMEOUT = 10.0
# Every /healthz probe must be answered within this (generous: 2 cores shared by everyone).
HEALTHZ_CEILING = 2.0
CODE_IN_BODY = re.compile(rb'"code"\s*:\s*"([^"]{1,60})"')


def summarise(data):
    """A raw HTTP answer as `status code` (`408 request_timeout`), or what came instead."""
    if not data:
        return "closed, no answer"
    head = data.split(b"\r\n", 1)[0].split(b" ")
    if len(head) < 2 or not head[0].startswith(b"HTTP/"):
        return "not HTTP"
    code = CODE_IN_BODY.search(data)
    return head[1].decode() + (f" {code.group(1).decode()}" if code else "")


def read_answer(sock, wait):
    """Reads until the gateway closes (every hostile request says `Connection: close`)."""
    sock.settimeout(wait)
    data = b""
    try:
        while len(data) < 65536:
            chunk = sock.recv(8192)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        if not data:
            return f"no answer within {wait:.0f} s"
    except ConnectionResetError:
        if not data:
            return "reset, no answer"
    return summarise(data)


def request_head(method, target, length, content_type="application/json"):
    return (f"{method} {target} HTTP/1.1\r\nHost: soak\r\nAuthorization: {GOOD_AUTH}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n"
            "Connection: close\r\n\r\n").encode()


def nowhere():
    """A port group id no simulator holds: a hostile body that got through would write nothing."""
    return f"/vmrest/portgroups/{uuid.uuid4()}"


def never_send(h):
    """Four connections that never send a byte, held up to HOSTILE_HOLD s: closed by the
    gateway (a header-read timeout) or still open when the client gives up."""
    socks = [socket.create_connection(h.address, timeout=HOSTILE_TIMEOUT) for _ in range(4)]
    outcomes = []
    try:
        deadline = time.monotonic() + HOSTILE_HOLD
        waiting = list(socks)
        while waiting and time.monotonic() < deadline:
            readable, _, _ = select.select(waiting, [], [], deadline - time.monotonic())
            for sock in readable:
                waiting.remove(sock)
                outcomes.append(read_answer(sock, 1.0) + " (closed by the gateway)")
        outcomes += [f"still open after {HOSTILE_HOLD:.0f} s"] * len(waiting)
    finally:
        for sock in socks:
            sock.close()
    return outcomes


def slow_upload(h):
    """A body trickled 4 bytes every 150 ms (about 2.5 s in all): it fails validation, so
    nothing is written whatever the gateway does with it."""
    body = ('{"MwiOnCode": "1", "Soak": "' + "x" * 40 + '"}').encode()
    with socket.create_connection(h.address, timeout=HOSTILE_TIMEOUT) as sock:
        sock.sendall(request_head("PUT", nowhere(), len(body)))
        for i in range(0, len(body), 4):
            if select.select([sock], [], [], 0.15)[0]:
                return [read_answer(sock, 1.0) + " (before the body ended)"]
            sock.sendall(body[i:i + 4])
        return [read_answer(sock, HOSTILE_HOLD)]


def stalled_body(h):
    """Announces 1,000 bytes, sends 100, then nothing: answered (408) or held."""
    with socket.create_connection(h.address, timeout=HOSTILE_TIMEOUT) as sock:
        sock.sendall(request_head("PUT", nowhere(), 1000) + b'{"MwiOnCode": "' + b"1" * 85)
        return [read_answer(sock, HOSTILE_HOLD)]


def extension_methods(h):
    """Five unique 1 KB extension methods on one keep-alive connection: each a new label set
    for the metrics unless methods outside the standard set share one."""
    conn = http.client.HTTPConnection(*h.address, timeout=HOSTILE_TIMEOUT)
    outcomes = []
    try:
        for _ in range(5):
            h.seq += 1
            conn.request(f"X{h.seq:0>1023}", "/vmrest/ports")
            response = conn.getresponse()
            outcomes.append(summarise(f"HTTP/1.1 {response.status} \r\n".encode()
                                      + response.read()))
            if response.will_close:
                break
    finally:
        conn.close()
    return outcomes


def pathological_bodies():
    """XML bodies that are costly to parse, each under the soak's --max-request-body but one."""
    pair = "<MwiOnCode>1</MwiOnCode><MwiOffCode>2</MwiOffCode>"

    def wrap(inner):
        return f"<PortGroup>{inner}</PortGroup>".encode()

    return {
        "sibling pairs 400 KB": wrap(pair * (400 * 1024 // len(pair))),
        "sibling pairs 60 KB": wrap(pair * (60 * 1024 // len(pair))),
        "deep then wide": wrap("<a>" * 500 + "<b/>" * 12000 + "</a>" * 500),
        "attribute flood": ("<PortGroup " + " ".join(f'a{i}="x"' for i in range(6000))
                            + "/>").encode(),
    }


def pathological_xml(h):
    """One pathological XML body, PUT in one go to a group that does not exist."""
    name = h.rng.choice(sorted(h.soak.pathological))
    body = h.soak.pathological[name]
    with socket.create_connection(h.address, timeout=HOSTILE_TIMEOUT) as sock:
        try:
            sock.sendall(request_head("PUT", nowhere(), len(body), "application/xml") + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (413, say) before the body was all sent: read what it said
        return [f"{name}: {read_answer(sock, HOSTILE_TIMEOUT)}"]


def probe_healthz(h):
    """/healthz on a fresh connection; a late or wrong answer is a violation, not an outcome."""
    start = time.monotonic()
    conn = http.client.HTTPConnection(*h.address, timeout=HEALTHZ_CEILING * 2)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as e:
        status = type(e).__name__
    finally:
        conn.close()
    took = time.monotonic() - start
    h.slowest = max(h.slowest, took)
    if status != 200 or took > HEALTHZ_CEILING:
        h.violations.append(f"/healthz answered {status} after {took:.2f} s")
    return [str(status)]


# The hostile clients, one thread each: the attempt it repeats and its pause between attempts.
HOSTILE_KINDS = {
    "never_send": (never_send, 0.1),
    "slow_upload": (slow_upload, 0.2),
    "stalled_body": (stalled_body, 0.2),
    "extension_methods": (extension_methods, 0.2),
    "pathological_xml": (pathological_xml, 0.3),
    "healthz_probe": (probe_healthz, 0.25),
}


class Hostile(threading.Thread):
    """Repeats one hostile attempt until the soak stops, counting what the gateway did.

    It parks like the good clients for an RSS reading, but with its sockets closed: what is
    measured then is what the gateway kept of the hostile traffic.
    """

    def __init__(self, kind, soak):
        super().__init__(name=f"hostile-{kind}", daemon=True)
        self.kind = kind
        self.soak = soak
        self.attempt, self.pause = HOSTILE_KINDS[kind]
        self.address = (soak.host, soak.port)
        self.rng = random.Random(soak.seed * 1000 + 500 + len(kind))
        self.parked = threading.Event()
        self.seq = 0
        self.attempts = 0
        self.longest = 0.0
        self.slowest = 0.0
        self.outcomes = Counter()
        self.violations = []
        self.crashed = None

    def run(self):
        try:
            while not self.soak.stop.is_set():
                if not self.soak.running.is_set():
                    self.parked.set()
                    self.soak.running.wait()
                    self.parked.clear()
                    continue
                start = time.monotonic()
                try:
                    outcomes = self.attempt(self)
                except socket.timeout:
                    outcomes = ["client timeout"]
                except (OSError, http.client.HTTPException) as e:
                    outcomes = [type(e).__name__]
                self.attempts += 1
                self.longest = max(self.longest, time.monotonic() - start)
                self.outcomes.update(outcomes)
                self.soak.stop.wait(self.pause)
        except Exception as e:  # a bug in this script: reported as a failure, not hidden
            self.crashed = f"{type(e).__name__}: {e}"
            self.parked.set()


class Soak:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.host = "127.0.0.1"
        self.stop = threading.Event()
        self.running = threading.Event()
        self.running.set()
        self.rss = []  # (seconds since load start, VmRSS kB, threads)
        self.oversized_body = json.dumps({"MwiOnCode": "9" * (MAX_REQUEST_BODY + 4096)})
        self.pathological = pathological_bodies()

    # -- the gateway process -----------------------------------------------------------------

    def start_gateway(self):
        self.log = tempfile.NamedTemporaryFile(prefix="soak-gateway-", suffix=".log", delete=False)
        cmd = [self.args.binary, "--listen", "127.0.0.1:0",
               "--simulator-port-groups", str(self.args.clients + 2),
               "--max-request-body", str(MAX_REQUEST_BODY)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        lines = queue.Queue()

        def drain():  # keep reading so the gateway never blocks on a full stdout pipe
            for line in self.proc.stdout:
                lines.put(line)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    sys.exit(f"the gateway exited with {self.proc.returncode}; "
                             f"log: {self.log.name}")
                continue
            if line.startswith("cupi-gateway listening on http://"):
                host, port = line.split("http://", 1)[1].strip().rsplit(":", 1)
                self.port = int(port)
                print(f"gateway pid {self.proc.pid} on {host}:{port}: {' '.join(cmd)}")
                return
        self.proc.kill()
        sys.exit("the gateway did not print its address within 30 s")

    @staticmethod
    def report_hostile(hostiles):
        """Prints what each hostile client got; returns the failures (late /healthz, a crash)."""
        failures = []
        if hostiles:
            print(f"hostile clients (outcomes recorded, not checked; each attempt held at most "
                  f"{HOSTILE_HOLD:.0f} s):")
        for h in hostiles:
            outcomes = ", ".join(f"{n}x {o}" for o, n in h.outcomes.most_common(6))
            print(f"  {h.kind:<20}{h.attempts:>5} attempts, longest {h.longest:.2f} s: {outcomes}")
            if h.crashed:
                failures.append(f"hostile client {h.kind} crashed: {h.crashed}")
            if h.kind == "healthz_probe":
                print(f"  /healthz probes {h.attempts}, slowest {h.slowest:.3f} s "
                      f"(ceiling {HEALTHZ_CEILING:.0f} s), late or failed {len(h.violations)}")
                if h.violations:
                    failures.append(f"/healthz: {len(h.violations)} probes late or failed, "
                                    f"first: {h.violations[0]}")
        return failures

    def get_json(self, target):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        conn.request("GET", target, headers={"Authorization": GOOD_AUTH})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        if response.status != 200:
            raise Unexpected(f"GET {target}: {response.status} {body[:200]!r}")
        return json.loads(body)

    def get_raw(self, target):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        conn.request("GET", target)
        body = conn.getresponse().read()
        conn.close()
        return body

    def status_field(self, name):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {name} in /proc/{self.proc.pid}/status")

    def sample_rss(self, t0):
        """RSS under load, for the timeline and the trend (not for the verdict)."""
        while not self.stop.is_set():
            if self.running.is_set():
                try:
                    self.rss.append((time.monotonic() - t0, self.status_field("VmRSS")))
                except (OSError, RuntimeError):
                    return  # the process is gone; reported by the liveness check
            self.stop.wait(0.2)

    def quiet_rss(self, clients):
        """VmRSS (kB) with every client parked between requests, connections kept open.

        Under load, RSS swings by megabytes with what is in flight at the instant of reading
        (an oversized body alone is 1 MiB); with nothing in flight, what is left is what the
        gateway keeps: caches, pools, allocator arenas and anything leaked. Both figures the
        verdict compares are taken this way.
        """
        self.running.clear()
        for c in clients:
            if not c.parked.wait(30):
                raise RuntimeError(f"{c.name} did not park within 30 s")
        time.sleep(0.5)  # let the gateway finish writing and free what the last requests held
        samples = []
        for _ in range(5):
            samples.append(self.status_field("VmRSS"))
            time.sleep(0.1)
        return max(samples)

    # -- the run -----------------------------------------------------------------------------

    def run(self):
        args = self.args
        self.start_gateway()
        failures = []
        try:
            groups = self.get_json("/vmrest/portgroups")["PortGroup"]
            generated = [g for g in groups if g["DisplayName"].startswith("Generated-")]
            self.generated = len(generated)
            self.total_ports = self.get_json("/vmrest/ports?rowsPerPage=0")["@total"]
            self.all_groups = [g["ObjectId"] for g in groups]
            initial = {g["ObjectId"]: (g["MwiOnCode"], g["MwiOffCode"]) for g in groups}
            owned = [g["ObjectId"] for g in generated[: args.clients]]
            clients = [Client(i, self, gid, initial[gid]) for i, gid in enumerate(owned)]
            hostiles = [Hostile(kind, self) for kind in args.hostile]
            everyone = clients + hostiles

            t0 = time.monotonic()
            sampler = threading.Thread(target=self.sample_rss, args=(t0,), daemon=True)
            sampler.start()
            for c in everyone:
                c.start()
            time.sleep(args.warmup)
            paused = time.monotonic()
            rss_warm = self.quiet_rss(everyone)
            threads_warm = self.status_field("Threads")
            metrics_warm = self.get_raw("/metrics")
            self.running.set()
            paused = time.monotonic() - paused  # the pause does not count as load
            time.sleep(max(0.0, args.duration + paused - (time.monotonic() - t0)))
            elapsed = time.monotonic() - t0 - paused
            rss_end = self.quiet_rss(everyone)
            threads_end = self.status_field("Threads")
            metrics_end = self.get_raw("/metrics")
            self.stop.set()
            self.running.set()
            for c in everyone:
                c.join(30)
            sampler.join(5)
            hwm = self.status_field("VmHWM")

            # Final state: each owned group holds its client's last acknowledged codes (or a
            # later write whose answer was lost in transport); nobody else's group moved.
            final = {g["ObjectId"]: (g["MwiOnCode"], g["MwiOffCode"])
                     for g in self.get_json("/vmrest/portgroups")["PortGroup"]}
            final_lost = 0
            for c in clients:
                if final[c.group_id] not in [c.last_acked] + c.in_doubt:
                    final_lost += 1
                    failures.append(f"lost write: {c.group_id} holds {final[c.group_id]}, "
                                    f"last 204 was {c.last_acked}")
            for gid in set(self.all_groups) - set(owned):
                if final[gid] != initial[gid]:
                    failures.append(f"group nobody wrote changed: {gid} {initial[gid]} -> "
                                    f"{final[gid]}")
        except (OSError, RuntimeError, Unexpected, http.client.HTTPException):
            if self.proc.poll() is None:
                raise
            # It died under load: that is the finding, not the traceback of what noticed it.
            self.stop.set()
            self.running.set()
            print(f"FAIL: the gateway died during the soak (exit {self.proc.returncode}); "
                  f"its log: {self.log.name}")
            return 1
        finally:
            self.stop.set()
            self.running.set()  # parked clients must see the stop too
            alive = self.proc.poll() is None
            if alive:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    code = self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    code = "no exit within 15 s of SIGTERM"
            else:
                code = self.proc.returncode

        # -- figures -------------------------------------------------------------------------
        counts = Counter()
        latencies = defaultdict(list)
        unexpected = []
        for c in clients:
            counts.update(c.counts)
            for kind, values in c.latencies.items():
                latencies[kind].extend(values)
            unexpected.extend(c.unexpected)
        total = sum(counts.values())
        acked = sum(c.acked for c in clients)
        verified = sum(c.verified for c in clients)
        lost = sum(c.lost for c in clients) + final_lost

        print(f"\nduration {elapsed:.1f} s (warm-up {args.warmup:.1f} s), {args.clients} clients, "
              f"seed {self.seed}")
        print(f"requests {total}, {total / elapsed:.0f} req/s, unexpected {len(unexpected)}")
        print(f"  {'kind':<24}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for kind in sorted(counts, key=lambda k: -counts[k]):
            values = sorted(latencies[kind]) or [0.0]
            p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
            print(f"  {kind:<24}{counts[kind]:>8}{statistics.median(values) * 1000:>9.1f}"
                  f"{p99 * 1000:>9.1f}{values[-1] * 1000:>9.1f}")
        by_kind = Counter(kind for _, kind, _ in unexpected)
        for t, kind, message in sorted(unexpected)[:10]:
            print(f"  UNEXPECTED at {t - t0:.1f} s, {kind}: {message}")
        if unexpected:
            print(f"  unexpected by kind: {dict(by_kind)}")
            failures.append(f"{len(unexpected)} unexpected answers")
        print(f"writes acknowledged {acked}, verified {verified}, lost {lost}")
        failures += self.report_hostile(hostiles)
        if lost and not any(f.startswith("lost") for f in failures):
            failures.append(f"{lost} lost writes")

        print(f"RSS (clients parked) after warm-up {rss_warm} kB, at end {rss_end} kB, ratio "
              f"{rss_end / rss_warm:.3f} (limit {1 + RSS_TOLERANCE:.2f}); "
              f"peak (VmHWM) {hwm} kB; threads {threads_warm} then {threads_end}")
        after = [(t, kb) for t, kb in self.rss if t >= args.warmup]
        if len(after) >= 2:
            ts, kbs = zip(*after)
            slope = statistics.linear_regression(ts, kbs).slope * 60
            print(f"RSS under load after warm-up: min {min(kbs)} kB, max {max(kbs)} kB, "
                  f"trend {slope:+.0f} kB/min")
        step = max(1, -(-len(self.rss) // 12))
        print("RSS under load (s: kB): " + ", ".join(
            f"{t:.0f}: {kb}" for t, kb in self.rss[::step]))
        lines_warm, lines_end = metrics_warm.count(b"\n"), metrics_end.count(b"\n")
        print(f"/metrics after warm-up {len(metrics_warm)} B ({lines_warm} lines), "
              f"at end {len(metrics_end)} B ({lines_end} lines)")
        if rss_end > rss_warm * (1 + RSS_TOLERANCE):
            failures.append(f"RSS grew {rss_end / rss_warm - 1:.1%} after warm-up")

        print(f"gateway alive at end: {alive}; exit on SIGTERM: {code}")
        if not alive:
            failures.append("the gateway died during the soak")
        if code != 0:
            failures.append(f"graceful shutdown: exit {code}, expected 0")

        if failures:
            print("FAIL: " + "; ".join(failures))
            print(f"gateway log kept: {self.log.name}")
            return 1
        os.unlink(self.log.name)
        print("PASS")
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--binary", required=True, help="path to the cupi-gateway binary")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before the first RSS figure (default: 20%% of --duration)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the request mix")
    parser.add_argument("--hostile", default="all",
                        help="comma-separated hostile clients to run, 'all' (default) or 'none': "
                             + ", ".join(HOSTILE_KINDS))
    args = parser.parse_args()
    kinds = {"all": list(HOSTILE_KINDS), "none": []}
    args.hostile = kinds.get(args.hostile, args.hostile.split(","))
    unknown = set(args.hostile) - set(HOSTILE_KINDS)
    if unknown:
        parser.error(f"unknown hostile clients: {', '.join(sorted(unknown))}")
    if args.warmup is None:
        args.warmup = 0.2 * args.duration
    if not 0 < args.warmup < args.duration - 2:
        parser.error("the warm-up must end at least 2 s before --duration")
    sys.exit(Soak(args).run())


if __name__ == "__main__":
    main()

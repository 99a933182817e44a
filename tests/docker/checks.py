"""What tests/docker/run.sh asks of the gateway running in its container, over HTTP.

Usage: python3 checks.py <base URL of the gateway> [api|frontend|load]

- api: typed JSON from /vmrest/ports and /vmrest/portgroups, a JSON PUT round trip, /healthz,
  /readyz, /metrics;
- frontend: the compose stack's page and /vmrest through its nginx, which hands it to the sidecar;
- load: a few hundred concurrent GETs, so the caller can read the peak RSS afterwards.

Standard library only; any failure raises, which exits non-zero with the reason.
"""

import base64
import concurrent.futures
import json
import random
import sys
import urllib.error
import urllib.request

AUTH = "Basic " + base64.b64encode(b"admin:password").decode()
PORT_GROUP = "035853ce-f4e6-4de2-bda2-84acf827a555"  # PhoneSystem-1, from Cisco's page


def request(base, path, method="GET", body=None, auth=True):
    """Returns (status, headers, body bytes); HTTP error statuses are answers, not exceptions."""
    headers = {"Authorization": AUTH} if auth else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def get_json(base, path):
    status, headers, body = request(base, path)
    assert status == 200, f"GET {path}: {status} {body[:300]!r}"
    assert headers["Content-Type"].startswith("application/json"), headers["Content-Type"]
    return json.loads(body)


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print(f"   ok: {message}")


def api(base):
    ports = get_json(base, "/vmrest/ports")
    port = ports["Port"][0]
    check(type(ports["@total"]) is int, f"/vmrest/ports: @total is a JSON number ({ports['@total']})")
    check(isinstance(ports["Port"], list), "/vmrest/ports: Port is an array")
    check(type(port["PortNumInGroup"]) is int, "/vmrest/ports: PortNumInGroup is a JSON number")
    check(
        type(port["SkinnyDoMediaEncryption"]) is bool,
        "/vmrest/ports: SkinnyDoMediaEncryption is a JSON boolean",
    )

    code = str(random.randint(100, 999))
    path = f"/vmrest/portgroups/{PORT_GROUP}"
    status, _, body = request(base, path, "PUT", {"MwiOnCode": code})
    check(status == 204, f"PUT {path} {{MwiOnCode: {code}}}: {status} {body[:200]!r}")
    group = get_json(base, path)
    check(str(group["MwiOnCode"]) == code, f"GET {path}: MwiOnCode is now {group['MwiOnCode']}")
    check(type(group["EnableMWI"]) is bool, "the port group's EnableMWI is a JSON boolean")

    status, _, body = request(base, "/healthz", auth=False)
    check(status == 200, f"/healthz: {status}")
    status, _, body = request(base, "/readyz", auth=False)
    check(status == 200, f"/readyz: {status} (the simulator container is reachable)")
    status, headers, body = request(base, "/metrics", auth=False)
    text = body.decode()
    check(status == 200 and "cupi_gateway_requests_total" in text, "/metrics: cupi_gateway_requests_total")
    check(
        any(line.startswith("cupi_gateway_") and 'status="204"' in line for line in text.splitlines()),
        "/metrics: the PUT's 204 is counted",
    )


def frontend(base):
    status, headers, body = request(base, "/", auth=False)
    check(status == 200 and b"/vmrest/portgroups" in body, "the frontend serves its page")
    groups = get_json(base, "/vmrest/portgroups")
    check(
        isinstance(groups["PortGroup"], list) and type(groups["@total"]) is int,
        f"/vmrest/portgroups through nginx and the sidecar: typed JSON, {groups['@total']} groups",
    )
    status, _, _ = request(base, "/vmrest/portgroups", auth=False)
    check(status == 401, f"without credentials: {status} (the simulator's answer, passed through)")


def load(base):
    paths = ["/vmrest/ports", "/vmrest/portgroups", f"/vmrest/portgroups/{PORT_GROUP}"] * 100
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda p: request(base, p)[0], paths))
    check(all(s == 200 for s in statuses), f"{len(statuses)} GETs, 16 at a time: all 200")


if __name__ == "__main__":
    base_url, what = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "api")
    {"api": api, "frontend": frontend, "load": load}[what](base_url)

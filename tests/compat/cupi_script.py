#!/usr/bin/env python3
"""A CUPI script written the way public Unity Connection scripts are written.

It talks to Unity Connection's own JSON mode: `requests`, HTTP Basic auth,
`Accept: application/json`, certificate checks off, `@total` read as a string, and the
usual workaround for a list of one coming back as a bare object. Nothing in it knows about
cupi-gateway: tests/compat/run.sh points it at the gateway started with `--cupi-compat`, and it
must run unchanged. It lists the port groups and their ports, reads a port group, changes its
MWI-on code with an unwrapped JSON PUT, reads it back, and puts the old value back.

Usage: cupi_script.py SERVER [USER PASSWORD]   (SERVER is host or host:port)
Exit status 0 when every step did what Unity Connection would do.
"""
import sys

import requests
import urllib3
from requests.auth import HTTPBasicAuth

urllib3.disable_warnings()  # self-signed certificate, as on most Unity Connection servers

server = sys.argv[1] if len(sys.argv) > 1 else "cuc.example.com"
username = sys.argv[2] if len(sys.argv) > 2 else "admin"
password = sys.argv[3] if len(sys.argv) > 3 else "password"

base_url = "https://" + server + "/vmrest"
auth = HTTPBasicAuth(username, password)
headers = {"Accept": "application/json"}


def get(path, params=None):
    r = requests.get(base_url + path, headers=headers, auth=auth, params=params, verify=False)
    if r.status_code != 200:
        sys.exit("GET %s failed: %s %s" % (path, r.status_code, r.text))
    return r.json()


def as_list(data, key):
    """CUPI gives one item as a bare object and no key at all for none."""
    items = data.get(key, [])
    if isinstance(items, dict):
        items = [items]
    return items


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)


# --- port groups -------------------------------------------------------------------------
data = get("/portgroups")
total = int(data["@total"])
check(isinstance(data["@total"], str), "@total is a string in CUPI's JSON")
port_groups = as_list(data, "PortGroup")
check(len(port_groups) == total, "%d port groups listed, @total says %d" % (len(port_groups), total))
print("%d port group(s)" % total)
for pg in port_groups:
    print("  %s  %s  ports=%s  mwi=%s" % (pg["ObjectId"], pg["DisplayName"], pg["PortCount"], pg["EnableMWI"]))

pg_id = port_groups[0]["ObjectId"]

# --- its ports: all of them, one page of one, and the count only --------------------------
query = {"query": "(MediaPortGroupObjectId is %s)" % pg_id}
ports = as_list(get("/ports", query), "Port")
check(len(ports) == int(port_groups[0]["PortCount"]), "PortCount and the port list disagree")
for port in ports:
    enabled = port["CapEnabled"] == "true"
    print("  port %s %s enabled=%s" % (port["PortNumInGroup"], port["DisplayName"], enabled))

one = get("/ports", dict(query, rowsPerPage="1", pageNumber="1"))
check(isinstance(one.get("Port"), dict), "a page of one port is a bare object")
check(as_list(one, "Port")[0]["ObjectId"] == ports[0]["ObjectId"], "the first page holds the first port")

count = get("/ports", dict(query, rowsPerPage="0"))
check("Port" not in count, "a count-only list has no Port key")
print("  count only: %s" % count["@total"])

# --- one port group: read, change, read back, restore -------------------------------------
pg = get("/portgroups/" + pg_id)
old_code = pg.get("MwiOnCode", "")
print("MwiOnCode before: %r" % old_code)


def put_mwi_on(code):
    r = requests.put(
        base_url + "/portgroups/" + pg_id,
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        auth=auth,
        json={"MwiOnCode": code},
        verify=False,
    )
    if r.status_code != 204:
        sys.exit("PUT failed: %s %s" % (r.status_code, r.text))


new_code = "9" + (old_code or "0")
put_mwi_on(new_code)
after = get("/portgroups/" + pg_id)["MwiOnCode"]
print("MwiOnCode after PUT: %r" % after)
check(after == new_code, "read back %r, expected %r" % (after, new_code))

put_mwi_on(old_code)
check(get("/portgroups/" + pg_id).get("MwiOnCode", "") == old_code, "the old code is back")
print("MwiOnCode restored: %r" % old_code)
print("OK")

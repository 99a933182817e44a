#!/usr/bin/env python3
"""A CUPI script written the way public Unity Connection XML scripts are written.

It reads Unity Connection's XML: `requests`, HTTP Basic auth, no `Accept` header of its own
(so requests sends `*/*`, to which Unity Connection answers XML), the bodies parsed with
`xml.etree.ElementTree` (`fromstring`, and `iterparse` for a list read as a stream),
`total` read with `root.get('total')`, and certificates verified (`verify=True`): the trust
comes from the environment (`REQUESTS_CA_BUNDLE`), as on a host that trusts the server's CA.
Nothing in it knows about cupi-gateway: tests/compat/run.sh points it at the gateway started
with `--cupi-compat`, and it must run unchanged. It lists the port groups and their ports (all,
a page, the count only), reads a port group by its URI, changes its MWI-on code with an XML
PUT, reads it back, and puts the old value back.

Usage: cupi_xml_script.py SERVER [USER PASSWORD]   (SERVER is host or host:port)
Exit status 0 when every step did what Unity Connection would do.
"""
import io
import sys
import xml.etree.ElementTree as ET

import requests
from requests.auth import HTTPBasicAuth

server = sys.argv[1] if len(sys.argv) > 1 else "cuc.example.com"
username = sys.argv[2] if len(sys.argv) > 2 else "admin"
password = sys.argv[3] if len(sys.argv) > 3 else "password"

origin = "https://" + server
base_url = origin + "/vmrest"
auth = HTTPBasicAuth(username, password)


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)


def fetch(url, params=None):
    r = requests.get(url, auth=auth, params=params, verify=True)
    if r.status_code != 200:
        sys.exit("GET %s failed: %s %s" % (url, r.status_code, r.text))
    return r.content


def get(path, params=None):
    return ET.fromstring(fetch(base_url + path, params))


def text(element, tag):
    found = element.find(tag)
    return "" if found is None or found.text is None else found.text


# --- port groups -------------------------------------------------------------------------
root = get("/portgroups")
check(root.tag == "PortGroups", "the list's root is %r" % root.tag)
total = int(root.get("total"))
port_groups = root.findall("PortGroup")
check(len(port_groups) == total, "%d port groups listed, total says %d" % (len(port_groups), total))
print("%d port group(s)" % total)
for pg in port_groups:
    print("  %s  %s  ports=%s  mwi=%s" % (text(pg, "ObjectId"), text(pg, "DisplayName"),
                                         text(pg, "PortCount"), text(pg, "EnableMWI")))

first = port_groups[0]
pg_id = text(first, "ObjectId")
pg_uri = text(first, "URI")
check(pg_uri.endswith("/" + pg_id), "the URI %r names the port group %s" % (pg_uri, pg_id))

# --- its ports: all of them (read as a stream), one page of one, and the count only --------
query = {"query": "(MediaPortGroupObjectId is %s)" % pg_id}
ports = []
listed_total = None
for event, element in ET.iterparse(io.BytesIO(fetch(base_url + "/ports", query)), events=("start", "end")):
    if event == "start" and element.tag == "Ports":
        listed_total = int(element.get("total"))
    elif event == "end" and element.tag == "Port":
        ports.append({"ObjectId": text(element, "ObjectId"), "PortNumInGroup": text(element, "PortNumInGroup"),
                      "DisplayName": text(element, "DisplayName"), "CapEnabled": text(element, "CapEnabled")})
check(listed_total == len(ports), "total %r, %d ports listed" % (listed_total, len(ports)))
check(len(ports) == int(text(first, "PortCount")), "PortCount and the port list disagree")
for port in ports:
    print("  port %s %s enabled=%s" % (port["PortNumInGroup"], port["DisplayName"], port["CapEnabled"] == "true"))

page = get("/ports", dict(query, rowsPerPage="1", pageNumber="1"))
check(int(page.get("total")) == len(ports), "a page's total is the whole count")
check(len(page.findall("Port")) == 1, "a page of one holds one port")
check(text(page.find("Port"), "ObjectId") == ports[0]["ObjectId"], "the first page holds the first port")

count = get("/ports", dict(query, rowsPerPage="0"))
check(len(count) == 0, "a count-only list has no Port elements")
check(int(count.get("total")) == len(ports), "the count-only total")
print("  count only: %s" % count.get("total"))

# --- one port group, by its URI: read, change, read back, restore -------------------------
pg = ET.fromstring(fetch(origin + pg_uri))
check(pg.tag == "PortGroup", "the port group's root is %r" % pg.tag)
check(text(pg, "ObjectId") == pg_id, "the URI gives the port group")
old_code = text(pg, "MwiOnCode")
print("MwiOnCode before: %r" % old_code)


def put_mwi_on(code):
    body = ET.Element("PortGroup")
    ET.SubElement(body, "MwiOnCode").text = code
    r = requests.put(
        origin + pg_uri,
        headers={"Content-Type": "application/xml"},
        auth=auth,
        data=ET.tostring(body, encoding="utf-8"),
        verify=True,
    )
    if r.status_code != 204:
        sys.exit("PUT failed: %s %s" % (r.status_code, r.text))


def mwi_on_code():
    return text(ET.fromstring(fetch(origin + pg_uri)), "MwiOnCode")


new_code = "9" + (old_code or "0")
put_mwi_on(new_code)
after = mwi_on_code()
print("MwiOnCode after PUT: %r" % after)
check(after == new_code, "read back %r, expected %r" % (after, new_code))

put_mwi_on(old_code)
check(mwi_on_code() == old_code, "the old code is back")
print("MwiOnCode restored: %r" % old_code)
print("OK")

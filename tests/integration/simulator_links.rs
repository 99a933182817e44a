//! Every link in the simulator's data answers. A frontend that follows `PhoneSystemURI` or
//! `MediaPortGroupTemplateObjectId` must not meet a 404, so a crawler starts at the list
//! resources and follows every `…URI` field and every `…ObjectId` that names a served resource,
//! through the gateway in front of the simulator, in XML and in JSON. The rest pins the shape of
//! the resources that exist for those links (phone systems, port group templates, port group
//! servers and codecs): CUPI lists with `total`, paging, query and sort, by-id, 404s, and
//! read-only refusals. The OpenAPI document does not describe them, so the gateway forwards them
//! with the untyped mapping.

use std::collections::{BTreeMap, HashSet, VecDeque};

use crate::support::*;
use cupi_simulator::SimulatorConfig;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;

/// Collection path segment, list element, item element.
const RESOURCES: &[(&str, &str, &str)] = &[
    ("portgroups", "PortGroups", "PortGroup"),
    ("ports", "Ports", "Port"),
    ("phonesystems", "PhoneSystems", "PhoneSystem"),
    (
        "portgrouptemplates",
        "PortGroupTemplates",
        "PortGroupTemplate",
    ),
    ("portgroupservers", "PortGroupServers", "PortGroupServer"),
    ("portgroupcodecs", "PortGroupCodecs", "PortGroupCodec"),
];

/// `…ObjectId` fields that name a record of a served top-level resource, and its segment.
/// `VmsServerObjectId`, `RtpCodecDefObjectId` and `MediaSipSecurityProfileObjectId` name
/// resources the simulator does not serve; `ObjectId` is the record itself (its `URI` is followed).
const ID_LINKS: &[(&str, &str)] = &[
    ("MediaSwitchObjectId", "phonesystems"),
    ("MediaPortGroupTemplateObjectId", "portgrouptemplates"),
    ("MediaPortGroupObjectId", "portgroups"),
];

/// Where the crawl starts: the top-level lists.
const START: [&str; 4] = [
    "/vmrest/portgroups",
    "/vmrest/ports",
    "/vmrest/phonesystems",
    "/vmrest/portgrouptemplates",
];

/// The lists under every port group. CUPI documents them, but no port group field links them.
const PORT_GROUP_LISTS: [&str; 2] = ["portgroupservers", "portgroupcodecs"];

const SEED_SWITCH_ID: &str = "05186ad4-572c-48d1-aaa6-ac22280c8702";
const SEED_TEMPLATE_ID: &str = "90dd306f-b8af-46b6-8289-f13437cc1e5e";

/// The element `path` answers with, and whether it is a list: `/vmrest/a` and
/// `/vmrest/a/{id}/b` are lists, `/vmrest/a/{id}` and `/vmrest/a/{id}/b/{id}` items.
fn expected_root(path: &str) -> Option<(&'static str, bool)> {
    let segments: Vec<&str> = path.strip_prefix("/vmrest/")?.split('/').collect();
    let list = segments.len() % 2 == 1;
    let segment = segments[if list {
        segments.len() - 1
    } else {
        segments.len() - 2
    }];
    let &(_, collection, item) = RESOURCES.iter().find(|(s, _, _)| *s == segment)?;
    Some((if list { collection } else { item }, list))
}

/// The root element's name and every leaf element's (name, text), in document order.
fn xml_fields(body: &str) -> (String, Vec<(String, String)>) {
    let mut reader = Reader::from_str(body);
    let mut root = String::new();
    let mut open: Vec<(String, String)> = Vec::new();
    let mut fields = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) if root.is_empty() => {
                root = e.name().into_inner().to_string();
                open.push((root.clone(), String::new()));
            }
            Event::Start(e) => {
                let name = e.name().into_inner().to_string();
                open.push((name, String::new()));
            }
            Event::Empty(e) => {
                let name = e.name().into_inner().to_string();
                fields.push((name, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, text)) = open.last_mut() {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::End(_) => fields.extend(open.pop()),
            Event::Eof => break,
            _ => {}
        }
    }
    (root, fields)
}

/// Every (key, string value) anywhere in a JSON document.
fn json_fields(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(s) => out.push((key.clone(), s.clone())),
                    other => json_fields(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| json_fields(v, out)),
        _ => {}
    }
}

/// Checks that `body` is the expected root for `path` and returns its fields, or says why not.
fn read_answer(path: &str, json: bool, body: &str) -> Result<Vec<(String, String)>, String> {
    let (root, list) = expected_root(path).ok_or(format!("{path}: not a served path"))?;
    if !json {
        let (got, fields) = xml_fields(body);
        if got != root {
            return Err(format!("{path}: root <{got}>, expected <{root}>"));
        }
        if list && !body.contains(&format!("<{root} total=\"")) {
            return Err(format!("{path}: list without total"));
        }
        return Ok(fields);
    }
    let value: Value = serde_json::from_str(body).map_err(|e| format!("{path}: {e}"))?;
    let shaped = if list {
        let item = &root[..root.len() - 1];
        value["@total"].is_u64() && value[item].is_array()
    } else {
        value.get("@total").is_none() && value["URI"] == path
    };
    if !shaped {
        return Err(format!("{path}: not a {root} in JSON: {value}"));
    }
    let mut fields = Vec::new();
    json_fields(&value, &mut fields);
    Ok(fields)
}

/// GET with Basic auth and this `Accept`.
async fn get_accepting(url: &str, accept: &str) -> reqwest::Response {
    client()
        .get(url)
        .basic_auth(AUTH.0, Some(AUTH.1))
        .header("accept", accept)
        .send()
        .await
        .unwrap()
}

/// Follows every link from [`START`] through the gateway at `base`; returns how many paths
/// answered as each root element, and every failure.
async fn crawl(base: &str, accept: &str) -> (BTreeMap<&'static str, usize>, Vec<String>) {
    let json = accept.contains("json");
    let mut queue: VecDeque<String> = START.iter().map(|p| p.to_string()).collect();
    let mut seen: HashSet<String> = queue.iter().cloned().collect();
    let mut answered = BTreeMap::new();
    let mut failures = Vec::new();
    while let Some(path) = queue.pop_front() {
        let response = get_accepting(&format!("{base}{path}"), accept).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        if status != 200 {
            failures.push(format!("{path}: {status} {body}"));
            continue;
        }
        let fields = match read_answer(&path, json, &body) {
            Ok(fields) => fields,
            Err(failure) => {
                failures.push(failure);
                continue;
            }
        };
        *answered.entry(expected_root(&path).unwrap().0).or_insert(0) += 1;
        let mut links = Vec::new();
        for (name, value) in fields.into_iter().filter(|(_, v)| !v.is_empty()) {
            if name.ends_with("URI") {
                links.push(value);
            } else if let Some((_, segment)) = ID_LINKS.iter().find(|(n, _)| *n == name) {
                links.push(format!("/vmrest/{segment}/{value}"));
            }
        }
        if let ["portgroups", _] = path
            .trim_start_matches("/vmrest/")
            .split('/')
            .collect::<Vec<_>>()[..]
        {
            links.extend(PORT_GROUP_LISTS.iter().map(|list| format!("{path}/{list}")));
        }
        for link in links {
            if !link.starts_with("/vmrest/") {
                failures.push(format!("{path}: link {link:?} is not a /vmrest path"));
            } else if seen.insert(link.clone()) {
                queue.push_back(link);
            }
        }
    }
    (answered, failures)
}

const GENERATED_GROUPS: usize = 4;

async fn stack() -> (String, String) {
    let simulator = start_simulator(SimulatorConfig {
        generated_port_groups: GENERATED_GROUPS,
        ..SimulatorConfig::default()
    })
    .await;
    let gateway = start_gateway(&simulator, GatewayOptions::default()).await;
    (simulator, gateway)
}

#[tokio::test]
async fn every_link_in_the_data_answers_through_the_gateway_in_xml_and_json() {
    let (_, gateway) = stack().await;
    let groups = 1 + GENERATED_GROUPS;
    // Seed and generated groups use three phone systems and two of the three templates; every
    // group has two ports, two servers and two codecs.
    let expected: BTreeMap<&str, usize> = [
        ("PortGroups", 1),
        ("PortGroup", groups),
        ("Ports", 1),
        ("Port", 2 * groups),
        ("PhoneSystems", 1),
        ("PhoneSystem", 3),
        ("PortGroupTemplates", 1),
        ("PortGroupTemplate", 3),
        ("PortGroupServers", groups),
        ("PortGroupServer", 2 * groups),
        ("PortGroupCodecs", groups),
        ("PortGroupCodec", 2 * groups),
    ]
    .into_iter()
    .collect();
    for accept in ["application/xml", "application/json"] {
        let (answered, failures) = crawl(&gateway, accept).await;
        assert!(
            failures.is_empty(),
            "{accept}: {} links failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert_eq!(answered, expected, "{accept}");
    }
}

/// The simulator's own XML for `path`, after checking the status.
async fn simulator_xml(simulator: &str, path: &str, status: u16) -> String {
    let response = get(&format!("{simulator}{path}")).await;
    assert_eq!(response.status(), status, "{path}");
    response.text().await.unwrap()
}

fn count(body: &str, element: &str) -> usize {
    body.matches(&format!("<{element}>")).count()
}

#[tokio::test]
async fn related_lists_have_total_and_support_paging_query_and_sort() {
    let (simulator, _) = stack().await;
    let body = simulator_xml(&simulator, "/vmrest/phonesystems", 200).await;
    assert!(body.contains(r#"<PhoneSystems total="3">"#), "{body}");
    assert_eq!(count(&body, "PhoneSystem"), 3);

    let servers = format!("/vmrest/portgroups/{PORT_GROUP_ID}/portgroupservers");
    let body = simulator_xml(&simulator, &servers, 200).await;
    assert!(body.contains(r#"<PortGroupServers total="2">"#), "{body}");
    assert!(body.contains("<MediaRemoteServiceEnum>100</MediaRemoteServiceEnum>"));
    let page = simulator_xml(
        &simulator,
        &format!("{servers}?rowsPerPage=1&pageNumber=2"),
        200,
    )
    .await;
    assert!(page.contains(r#"<PortGroupServers total="2">"#), "{page}");
    assert_eq!(count(&page, "PortGroupServer"), 1);
    assert!(page.contains("<Precedence>2</Precedence>"), "{page}");
    let only_count = simulator_xml(&simulator, &format!("{servers}?pageNumber=0"), 200).await;
    assert!(
        only_count.ends_with(r#"<PortGroupServers total="2"/>"#),
        "{only_count}"
    );

    let sip = "/vmrest/portgrouptemplates?query=(CopyTelephonyIntegrationMethodEnum%20is%202)";
    let body = simulator_xml(&simulator, sip, 200).await;
    assert!(body.contains(r#"<PortGroupTemplates total="1">"#), "{body}");
    assert!(body.contains("<TemplateDescriptionDefault>SIP</TemplateDescriptionDefault>"));

    let codecs =
        format!("/vmrest/portgroups/{PORT_GROUP_ID}/portgroupcodecs?sort=(Preference%20desc)");
    let body = simulator_xml(&simulator, &codecs, 200).await;
    let g729 = body.find("G.729").expect("G.729 listed");
    let g711 = body.find("G.711 mu-law").expect("G.711 listed");
    assert!(
        g729 < g711,
        "descending preference puts G.729 first: {body}"
    );

    let bad = simulator_xml(&simulator, "/vmrest/phonesystems?sort=(Nope%20asc)", 400).await;
    assert!(bad.contains("<code>INVALID_PARAMETER</code>"), "{bad}");
}

#[tokio::test]
async fn related_records_by_id_and_unknown_ids() {
    let (simulator, _) = stack().await;
    let template = format!("/vmrest/portgrouptemplates/{SEED_TEMPLATE_ID}");
    let body = simulator_xml(&simulator, &template, 200).await;
    assert!(
        body.contains(&format!("<PortGroupTemplate><URI>{template}</URI>")),
        "{body}"
    );
    assert!(
        body.contains("<CopyTelephonyIntegrationMethodEnum>1</CopyTelephonyIntegrationMethodEnum>")
    );

    let system = format!("/vmrest/phonesystems/{SEED_SWITCH_ID}");
    let body = simulator_xml(&simulator, &system, 200).await;
    assert!(
        body.contains("<DisplayName>PhoneSystem</DisplayName>"),
        "{body}"
    );

    // A server of the seed group, asked for under another group, is not there.
    let servers = simulator_xml(
        &simulator,
        &format!("/vmrest/portgroups/{PORT_GROUP_ID}/portgroupservers"),
        200,
    )
    .await;
    let server_uri = servers
        .split("<URI>")
        .nth(1)
        .and_then(|rest| rest.split("</URI>").next())
        .unwrap()
        .to_string();
    let body = simulator_xml(&simulator, &server_uri, 200).await;
    assert!(
        body.contains(&format!("<PortGroupServer><URI>{server_uri}</URI>")),
        "{body}"
    );
    let other_group = simulator_xml(&simulator, "/vmrest/portgroups", 200).await;
    let other_id = other_group
        .split("<ObjectId>")
        .filter_map(|rest| rest.split("</ObjectId>").next())
        .find(|id| *id != PORT_GROUP_ID && id.len() == 36)
        .unwrap()
        .to_string();
    let server_id = server_uri.rsplit('/').next().unwrap();
    for (path, missing) in [
        (
            format!("/vmrest/portgroups/{other_id}/portgroupservers/{server_id}"),
            "PortGroupServer not found",
        ),
        (
            "/vmrest/phonesystems/nope".to_string(),
            "PhoneSystem not found",
        ),
        (
            "/vmrest/portgrouptemplates/nope".to_string(),
            "PortGroupTemplate not found",
        ),
        (
            format!("/vmrest/portgroups/{PORT_GROUP_ID}/portgroupcodecs/nope"),
            "PortGroupCodec not found",
        ),
        (
            "/vmrest/portgroups/nope/portgroupcodecs".to_string(),
            "PortGroup not found",
        ),
        (
            "/vmrest/portgroups/nope/portgroupservers/x".to_string(),
            "PortGroup not found",
        ),
    ] {
        let body = simulator_xml(&simulator, &path, 404).await;
        assert!(
            body.contains("<code>NOT_FOUND</code>") && body.contains(missing),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn related_resources_are_read_only_like_ports() {
    let (simulator, gateway) = stack().await;
    let paths = [
        "/vmrest/phonesystems".to_string(),
        format!("/vmrest/phonesystems/{SEED_SWITCH_ID}"),
        format!("/vmrest/portgrouptemplates/{SEED_TEMPLATE_ID}"),
        format!("/vmrest/portgroups/{PORT_GROUP_ID}/portgroupservers"),
        format!("/vmrest/portgroups/{PORT_GROUP_ID}/portgroupcodecs"),
    ];
    for path in &paths {
        for method in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let write = |url: String, content_type, body| {
                let method = method.clone();
                async move { send(method, &url, content_type, body).await }
            };
            // The simulator answers CUPI's XML error ...
            let direct = write(format!("{simulator}{path}"), "application/xml", "<X/>").await;
            assert_eq!(direct.status(), 405, "{method} {path}");
            assert_eq!(direct.headers()["allow"], "GET", "{method} {path}");
            let body = direct.text().await.unwrap();
            assert!(body.contains("<code>METHOD_NOT_ALLOWED</code>"), "{body}");
            // ... and a JSON client of the gateway gets the gateway's error shape.
            let through = write(format!("{gateway}{path}"), "application/json", "{}").await;
            assert_eq!(through.status(), 405, "{method} {path} via the gateway");
            assert_eq!(error_code(through).await, "METHOD_NOT_ALLOWED");
        }
    }
}

#[tokio::test]
async fn the_gateway_forwards_them_untyped_in_json_and_untouched_in_xml() {
    let (simulator, gateway) = stack().await;
    let servers = format!("/vmrest/portgroups/{PORT_GROUP_ID}/portgroupservers");
    let body = json(get(&format!("{gateway}{servers}")).await).await;
    assert_eq!(body["@total"], 2);
    let items = body["PortGroupServer"]
        .as_array()
        .expect("an array of servers");
    assert_eq!(items.len(), 2);
    // Not in the OpenAPI document, so nothing is typed: numbers stay strings, empties "".
    assert_eq!(items[0]["Port"], "2000");
    assert_eq!(items[0]["HostOrIPAddressV6"], "");
    assert_eq!(items[0]["MediaPortGroupObjectId"], PORT_GROUP_ID);

    let one = json(get(&format!("{gateway}{servers}?rowsPerPage=1")).await).await;
    assert_eq!(
        one["PortGroupServer"].as_array().map(Vec::len),
        Some(1),
        "{one}"
    );

    let system = format!("/vmrest/phonesystems/{SEED_SWITCH_ID}");
    let object = json(get(&format!("{gateway}{system}")).await).await;
    assert_eq!(object["URI"], system.as_str());
    assert_eq!(object["DefaultTRaPSwitch"], "true");

    for path in [
        servers.as_str(),
        system.as_str(),
        "/vmrest/portgrouptemplates",
    ] {
        let direct = simulator_xml(&simulator, path, 200).await;
        let through = get_accepting(&format!("{gateway}{path}"), "application/xml").await;
        assert_eq!(through.status(), 200);
        assert_eq!(through.text().await.unwrap(), direct, "{path}");
    }
}

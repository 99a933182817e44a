//! In-process tests of the CUPI simulator (`cupi_simulator`), driven through
//! `tower::ServiceExt::oneshot`, plus one over real TCP via `serve`.

use axum::body::Body;
use axum::Router;
use cupi_simulator::{
    generated_port_group_xml, generated_port_groups_xml, generated_ports_xml, router, serve,
    SimulatorConfig,
};
use http::{header, HeaderMap, Method, Request, StatusCode};
use tower::ServiceExt;

/// `admin:password`.
const AUTH: &str = "Basic YWRtaW46cGFzc3dvcmQ=";
const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;
const GROUP_ID: &str = "035853ce-f4e6-4de2-bda2-84acf827a555";
const PORT1: &str = "2806ecdc-0a3d-43f3-a2c8-93d786fa506b";
const PORT2: &str = "f87ad180-7d06-48c9-b9bd-e6b5cd2311bc";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::AUTHORIZATION, AUTH)
        .body(Body::empty())
        .unwrap()
}

fn put(uri: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::put(uri).header(header::AUTHORIZATION, AUTH);
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn app() -> Router {
    router(SimulatorConfig::default())
}

fn app_with(groups: usize, per_group: usize) -> Router {
    router(SimulatorConfig {
        generated_port_groups: groups,
        ports_per_generated_group: per_group,
        ..SimulatorConfig::default()
    })
}

/// Texts of every `<tag>…</tag>` in order.
fn values(body: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    body.split(&open)
        .skip(1)
        .map(|s| s[..s.find(&close).unwrap()].to_string())
        .collect()
}

/// Element names directly inside the first `<item>` element (records are flat and their
/// text is escaped, so every `<` starts a tag).
fn field_names(body: &str, item: &str) -> Vec<String> {
    let start = body.find(&format!("<{item}>")).unwrap() + item.len() + 2;
    let end = start + body[start..].find(&format!("</{item}>")).unwrap();
    body[start..end]
        .split('<')
        .filter(|tag| !tag.is_empty() && !tag.starts_with('/'))
        .map(|tag| tag[..tag.find(['>', '/']).unwrap()].to_string())
        .collect()
}

fn assert_xml(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(reply.header(header::CONTENT_TYPE), "application/xml");
    assert!(reply.body.starts_with(DECL), "{}", reply.body);
}

fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_xml(reply, status);
    assert!(
        reply.body.contains(&format!(
            "<ErrorDetails><errors><code>{code}</code><message>"
        )),
        "{}",
        reply.body
    );
    assert!(reply.body.ends_with("</message></errors></ErrorDetails>"));
}

const LIST_GROUP_FIELDS: &[&str] = &[
    "URI",
    "MediaPortGroupTemplateObjectId",
    "MediaSwitchObjectId",
    "PhoneSystemURI",
    "TelephonyIntegrationMethodEnum",
    "EnableMWI",
    "DisplayName",
    "CcmDoAutoFailback",
    "MwiOnCode",
    "MwiOffCode",
    "MwiRetryCountOnSuccess",
    "MwiRetryIntervalOnSuccessMs",
    "ObjectId",
    "SipTransportProtocolEnum",
    "SipRegisterWithProxyServer",
    "SipDoAuthenticate",
    "SkinnyDevicePrefix",
    "MwiMinRequestIntervalMs",
    "MwiMaxConcurrentRequests",
    "MediaSwitchDisplayName",
    "PortCount",
    "SipDoSRTP",
    "SipTLSModeEnum",
    "ResetStatusEnum",
];

#[tokio::test]
async fn lists_port_groups_in_page_order_with_fixed_typos() {
    let r = send(&app(), get("/vmrest/portgroups")).await;
    assert_xml(&r, StatusCode::OK);
    let expected = format!(
        "{DECL}<PortGroups total=\"1\"><PortGroup><URI>/vmrest/portgroups/{GROUP_ID}</URI>\
         <MediaPortGroupTemplateObjectId>90dd306f-b8af-46b6-8289-f13437cc1e5e</MediaPortGroupTemplateObjectId>\
         <MediaSwitchObjectId>05186ad4-572c-48d1-aaa6-ac22280c8702</MediaSwitchObjectId>"
    );
    assert!(r.body.starts_with(&expected), "{}", r.body);
    assert!(r.body.ends_with("</PortGroup></PortGroups>"));
    assert_eq!(field_names(&r.body, "PortGroup"), LIST_GROUP_FIELDS);
    for part in [
        "<MwiOnCode/><MwiOffCode/>",
        "<SipRegisterWithProxyServer>false</SipRegisterWithProxyServer>",
        "<SipDoAuthenticate>false</SipDoAuthenticate>",
        "<SipDoSRTP>true</SipDoSRTP>",
        "<SkinnyDevicePrefix>test-VI</SkinnyDevicePrefix>",
        "<PortCount>2</PortCount>",
        "<MwiRetryIntervalOnSuccessMs>5</MwiRetryIntervalOnSuccessMs>",
    ] {
        assert!(r.body.contains(part), "missing {part}");
    }
    assert!(!r.body.contains(">>"));
    assert!(
        !r.body.contains("DelayBeforeOpeningMs"),
        "list shows full fields"
    );
}

#[tokio::test]
async fn lists_ports_with_pimg_port_number() {
    let r = send(&app(), get("/vmrest/ports")).await;
    assert_xml(&r, StatusCode::OK);
    assert!(r.body.starts_with(&format!(
        "{DECL}<Ports total=\"2\"><Port><URI>/vmrest/ports/{PORT1}</URI>"
    )));
    assert_eq!(values(&r.body, "ObjectId"), [PORT1, PORT2]);
    assert_eq!(values(&r.body, "PimgPortNumber"), ["1", "2"]);
    assert_eq!(values(&r.body, "CapDeliverAmis"), ["false", "false"]);
    assert_eq!(
        values(&r.body, "SkinnyDoMediaEncryption"),
        ["false", "false"]
    );
    assert_eq!(
        values(&r.body, "DisplayName"),
        ["PhoneSystem-1-001", "PhoneSystem-1-002"]
    );
    assert!(!r.body.contains("PingPortNumber") && !r.body.contains(">>"));
    let names = field_names(&r.body, "Port");
    assert_eq!(names.len(), 27);
    assert_eq!(names.first().unwrap(), "URI");
    assert_eq!(names.last().unwrap(), "VmsServerName");
}

#[tokio::test]
async fn get_by_id_returns_full_object() {
    let r = send(&app(), get(&format!("/vmrest/portgroups/{GROUP_ID}"))).await;
    assert_xml(&r, StatusCode::OK);
    assert!(r.body.starts_with(&format!("{DECL}<PortGroup><URI>")));
    assert!(r.body.ends_with("<EnableAGC>true</EnableAGC></PortGroup>"));
    let names = field_names(&r.body, "PortGroup");
    assert_eq!(&names[..LIST_GROUP_FIELDS.len()], LIST_GROUP_FIELDS);
    assert_eq!(names.len(), LIST_GROUP_FIELDS.len() + 16);
    for part in [
        "<DelayBeforeOpeningMs>0</DelayBeforeOpeningMs>",
        "<MediaSipSecurityProfileObjectId/>",
        "<NoiseFreeEnable>false</NoiseFreeEnable>",
        "<OutgoingGuardTimeMs>200</OutgoingGuardTimeMs>",
        "<RecordingDTMFClipMs>170</RecordingDTMFClipMs>",
        "<RecordingToneExtraClipMs>350</RecordingToneExtraClipMs>",
        "<SipContactLineName/>",
        "<SipDoDtmfRfc2833>true</SipDoDtmfRfc2833>",
        "<SipDoDtmfKPML>false</SipDoDtmfKPML>",
        "<WaitForCallInfoMs>1500</WaitForCallInfoMs>",
    ] {
        assert!(r.body.contains(part), "missing {part}");
    }

    let r = send(&app(), get(&format!("/vmrest/ports/{PORT2}"))).await;
    assert_xml(&r, StatusCode::OK);
    assert!(r
        .body
        .starts_with(&format!("{DECL}<Port><URI>/vmrest/ports/{PORT2}</URI>")));
    assert!(r.body.contains("<PortNumInGroup>2</PortNumInGroup>"));
}

#[tokio::test]
async fn unknown_ids_and_paths_are_404_error_details() {
    let app = app();
    for uri in [
        "/vmrest/portgroups/00000000-0000-0000-0000-000000000000",
        "/vmrest/ports/nope",
        "/vmrest/users",
        "/vmrest/phonesystems/05186ad4-572c-48d1-aaa6-ac22280c8702/axlservers",
        &format!("/vmrest/portgroups/{GROUP_ID}/portgroupservers/nope"),
        "/vmrest/portgroups/nope/portgroupcodecs",
    ] {
        let r = send(&app, get(uri)).await;
        assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

async fn total(app: &Router, uri: &str) -> String {
    let r = send(app, get(uri)).await;
    assert_xml(&r, StatusCode::OK);
    let at = r.body.find("total=\"").expect("total attribute") + 7;
    r.body[at..at + r.body[at..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn query_is_and_startswith() {
    let app = app_with(3, 2);
    let q = |s: &str| format!("/vmrest/portgroups?query={s}");
    assert_eq!(total(&app, "/vmrest/portgroups").await, "4");
    assert_eq!(
        total(&app, &q("(displayname%20startswith%20PhoneSystem)")).await,
        "1"
    );
    assert_eq!(total(&app, &q("(DISPLAYNAME+startswith+gener)")).await, "3");
    assert_eq!(
        total(&app, &q("(DisplayName%20is%20Generated-00002)")).await,
        "1"
    );
    assert_eq!(
        total(&app, &q("(DisplayName%20is%20Generated-0000)")).await,
        "0"
    );
    // Generated group 3 is on the seed phone system (k % 3 == 0).
    assert_eq!(
        total(
            &app,
            &q("(MediaSwitchObjectId%20is%2005186ad4-572c-48d1-aaa6-ac22280c8702)")
        )
        .await,
        "2"
    );
    // Booleans as 1/0 and true/false; generated group 4 would be the first with EnableMWI false.
    assert_eq!(total(&app, &q("(EnableMWI%20is%201)")).await, "4");
    assert_eq!(total(&app, &q("(enablemwi%20is%200)")).await, "0");
    assert_eq!(total(&app, &q("(EnableMwi%20is%20true)")).await, "4");
    // CcmDoAutoFailback: seed true, generated k odd => 1 and 3 true, 2 false.
    assert_eq!(total(&app, &q("(CcmDoAutoFailback%20is%200)")).await, "1");

    let r = send(&app, get(&q("(DisplayName%20is%20Generated-00002)"))).await;
    assert_eq!(values(&r.body, "DisplayName"), ["Generated-00002"]);

    let r = send(
        &app,
        get(&format!(
            "/vmrest/ports?query=(MediaPortGroupObjectId%20is%20{GROUP_ID})"
        )),
    )
    .await;
    assert_eq!(values(&r.body, "ObjectId"), [PORT1, PORT2]);
    let r = send(
        &app,
        get("/vmrest/ports?query=(portnumingroup%20is%202)&sort=(DisplayName%20asc)"),
    )
    .await;
    assert_eq!(values(&r.body, "PortNumInGroup"), ["2", "2", "2", "2"]);

    // A value with spaces: nothing matches, but it parses.
    assert_eq!(
        total(&app, &q("(DisplayName%20is%20Phone%20System%201)")).await,
        "0"
    );
    // Empty result is a self-closing list.
    let r = send(&app, get(&q("(DisplayName+startswith+zzz)"))).await;
    assert_eq!(r.body, format!("{DECL}<PortGroups total=\"0\"/>"));

    for bad in [
        "(NoSuchColumn%20is%201)",
        "DisplayName%20is%20x",
        "(DisplayName%20contains%20x)",
        "(DisplayName%20is)",
        "(DisplayName",
    ] {
        let r = send(&app, get(&q(bad))).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_PARAMETER");
    }
}

#[tokio::test]
async fn sort_asc_desc_numeric_and_stable() {
    let app = app();
    let r = send(&app, get("/vmrest/ports?sort=(PortNumInGroup%20desc)")).await;
    assert_eq!(values(&r.body, "ObjectId"), [PORT2, PORT1]);
    let r = send(&app, get("/vmrest/ports?sort=(portnumingroup+ASC)")).await;
    assert_eq!(values(&r.body, "ObjectId"), [PORT1, PORT2]);

    // 12 ports in one generated group: numeric order puts 10, 11, 12 after 9.
    let app = app_with(1, 12);
    let q =
        "/vmrest/ports?query=(DisplayName%20startswith%20Generated)&sort=(PimgPortNumber%20desc)";
    let r = send(&app, get(q)).await;
    let nums = values(&r.body, "PimgPortNumber");
    assert_eq!(
        nums,
        ["12", "11", "10", "9", "8", "7", "6", "5", "4", "3", "2", "1"]
    );
    // Stable: equal keys keep their original order.
    let r = send(&app, get("/vmrest/ports?sort=(VmsServerName%20desc)")).await;
    let ids = values(&r.body, "ObjectId");
    assert_eq!(&ids[..2], [PORT1, PORT2]);
    // Case-insensitive text order.
    let r = send(&app, get("/vmrest/portgroups?sort=(DisplayName%20desc)")).await;
    assert_eq!(
        values(&r.body, "DisplayName"),
        ["PhoneSystem-1", "Generated-00001"]
    );

    for bad in [
        "(Nope%20asc)",
        "(DisplayName%20sideways)",
        "DisplayName%20asc",
        "()",
    ] {
        let r = send(&app, get(&format!("/vmrest/portgroups?sort={bad}"))).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_PARAMETER");
    }
}

#[tokio::test]
async fn paging_and_count_only() {
    let app = app_with(4, 2); // 2 + 8 = 10 ports
    let r = send(&app, get("/vmrest/ports?rowsPerPage=3&pageNumber=2")).await;
    assert_xml(&r, StatusCode::OK);
    assert!(
        r.body.contains("<Ports total=\"10\">"),
        "total is the whole match count"
    );
    assert_eq!(
        values(&r.body, "DisplayName"),
        [
            "Generated-00001-002",
            "Generated-00002-001",
            "Generated-00002-002"
        ]
    );
    let r = send(&app, get("/vmrest/ports?rowsPerPage=3&pageNumber=4")).await;
    assert_eq!(r.body.matches("<Port>").count(), 1);
    let r = send(&app, get("/vmrest/ports?rowsPerPage=3&pageNumber=5")).await;
    assert_eq!(r.body, format!("{DECL}<Ports total=\"10\"/>"));

    for count_only in [
        "rowsPerPage=0",
        "pageNumber=0",
        "rowsPerPage=0&pageNumber=1",
    ] {
        let r = send(&app, get(&format!("/vmrest/ports?{count_only}"))).await;
        assert_xml(&r, StatusCode::OK);
        assert_eq!(r.body, format!("{DECL}<Ports total=\"10\"/>"));
    }
    let r = send(
        &app,
        get("/vmrest/portgroups?rowsPerPage=0&query=(DisplayName%20startswith%20Gen)"),
    )
    .await;
    assert_eq!(r.body, format!("{DECL}<PortGroups total=\"4\"/>"));

    for bad in ["rowsPerPage=x", "pageNumber=-1", "rowsPerPage=1.5"] {
        let r = send(&app, get(&format!("/vmrest/ports?{bad}"))).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_PARAMETER");
    }
}

#[tokio::test]
async fn basic_auth_is_required() {
    let app = app();
    let no_auth = Request::get("/vmrest/ports").body(Body::empty()).unwrap();
    let wrong = Request::get("/vmrest/ports")
        .header(header::AUTHORIZATION, "Basic YWRtaW46d3Jvbmc=") // admin:wrong
        .body(Body::empty())
        .unwrap();
    let garbage = Request::get("/vmrest/ports")
        .header(header::AUTHORIZATION, "Bearer abc")
        .body(Body::empty())
        .unwrap();
    for request in [no_auth, wrong, garbage] {
        let r = send(&app, request).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.header(header::WWW_AUTHENTICATE),
            "Basic realm=\"Cisco Unity Connection\""
        );
        assert!(r.header(header::CONTENT_TYPE).starts_with("text/html"));
        assert!(r.body.contains("HTTP Status 401"));
        assert!(!r.body.contains("<Port>"));
        assert!(r.headers.get(header::SET_COOKIE).is_none());
    }

    // Credentials come from the config.
    let app = router(SimulatorConfig {
        username: "ccmadmin".into(),
        password: "s3cret".into(),
        ..SimulatorConfig::default()
    });
    assert_eq!(
        send(&app, get("/vmrest/ports")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let ok = Request::get("/vmrest/ports")
        .header(header::AUTHORIZATION, "Basic Y2NtYWRtaW46czNjcmV0") // ccmadmin:s3cret
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, ok).await.status, StatusCode::OK);
}

#[tokio::test]
async fn session_cookie_authenticates_without_basic_auth() {
    let app = app();
    let r = send(&app, get("/vmrest/portgroups")).await;
    assert_eq!(r.status, StatusCode::OK);
    let cookies: Vec<&str> = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let sso = cookies
        .iter()
        .find(|c| c.starts_with("JSESSIONIDSSO="))
        .unwrap();
    assert!(sso.ends_with("; Path=/; Secure; HttpOnly"), "{sso}");
    let session = cookies
        .iter()
        .find(|c| c.starts_with("JSESSIONID="))
        .unwrap();
    assert!(
        session.ends_with("; Path=/vmrest; Secure; HttpOnly"),
        "{session}"
    );
    let id = &session["JSESSIONID=".len()..session.find(';').unwrap()];
    assert!(
        id.len() >= 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );

    // The cookie alone is enough, and no new cookies are issued.
    let with_cookie = Request::get("/vmrest/ports")
        .header(header::COOKIE, format!("JSESSIONIDSSO=x; JSESSIONID={id}"))
        .body(Body::empty())
        .unwrap();
    let r = send(&app, with_cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<Ports total=\"2\">"));
    assert!(r.headers.get(header::SET_COOKIE).is_none());

    // A cookie the simulator never issued is not.
    let forged = Request::get("/vmrest/ports")
        .header(
            header::COOKIE,
            "JSESSIONID=0123456789ABCDEF0123456789ABCDEF",
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, forged).await.status, StatusCode::UNAUTHORIZED);

    // A fresh simulator does not know the first one's session.
    let other = Request::get("/vmrest/ports")
        .header(header::COOKIE, format!("JSESSIONID={id}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&router(SimulatorConfig::default()), other)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn put_updates_mwi_codes() {
    let app = app();
    let uri = format!("/vmrest/portgroups/{GROUP_ID}");
    let body =
        "<PortGroup>\n  <MwiOnCode>678</MwiOnCode>\n  <MwiOffCode>876</MwiOffCode>\n</PortGroup>";
    let r = send(&app, put(&uri, Some("application/xml"), body)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(r.body.is_empty());

    let r = send(&app, get(&uri)).await;
    assert!(
        r.body
            .contains("<MwiOnCode>678</MwiOnCode><MwiOffCode>876</MwiOffCode>"),
        "{}",
        r.body
    );
    let r = send(&app, get("/vmrest/portgroups")).await;
    assert!(r
        .body
        .contains("<MwiOnCode>678</MwiOnCode><MwiOffCode>876</MwiOffCode>"));

    // One field at a time, text/xml with parameters, entities resolved and re-escaped.
    let body = r#"<?xml version="1.0" encoding="UTF-8"?><PortGroup><MwiOffCode>9&amp;&#x31;&lt;</MwiOffCode></PortGroup>"#;
    let r = send(&app, put(&uri, Some("text/xml; charset=utf-8"), body)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = send(&app, get(&uri)).await;
    assert!(
        r.body
            .contains("<MwiOnCode>678</MwiOnCode><MwiOffCode>9&amp;1&lt;</MwiOffCode>"),
        "{}",
        r.body
    );

    // Clearing with an empty element.
    let r = send(
        &app,
        put(
            &uri,
            Some("application/xml"),
            "<PortGroup><MwiOnCode/></PortGroup>",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(&app, get(&uri)).await;
    assert!(r.body.contains("<MwiOnCode/>"));
}

#[tokio::test]
async fn put_rejects_other_fields_and_bad_xml() {
    let app = app();
    let uri = format!("/vmrest/portgroups/{GROUP_ID}");
    let cases = [
        ("<PortGroup><DisplayName>x</DisplayName></PortGroup>", "DisplayName"),
        ("<PortGroup><MwiOnCode>1</MwiOnCode><PortCount>9</PortCount></PortGroup>", "PortCount"),
        ("<Port><MwiOnCode>1</MwiOnCode></Port>", "root element"),
        ("<PortGroup><MwiOnCode>1</MwiOffCode></PortGroup>", "malformed"),
        ("<PortGroup><MwiOnCode>1</MwiOnCode>", "end of document"),
        (
            "<!DOCTYPE PortGroup [<!ENTITY x \"1\">]><PortGroup><MwiOnCode>&x;</MwiOnCode></PortGroup>",
            "DOCTYPE",
        ),
        ("<PortGroup><MwiOnCode>&bogus;</MwiOnCode></PortGroup>", "entity"),
    ];
    for (body, needle) in cases {
        let r = send(&app, put(&uri, Some("application/xml"), body)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_PARAMETER");
        assert!(r.body.contains(needle), "{needle} not in {}", r.body);
    }
    // Nothing was changed by the rejected PUTs (the second case had a valid field first).
    let r = send(&app, get(&uri)).await;
    assert!(r.body.contains("<MwiOnCode/>"));

    let r = send(
        &app,
        put(
            "/vmrest/portgroups/unknown-id",
            Some("application/xml"),
            "<PortGroup><MwiOnCode>1</MwiOnCode></PortGroup>",
        ),
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn put_requires_xml_content_type() {
    let app = app();
    let uri = format!("/vmrest/portgroups/{GROUP_ID}");
    let body = "<PortGroup><MwiOnCode>678</MwiOnCode></PortGroup>";
    for ct in [None, Some("application/json"), Some("text/plain")] {
        let r = send(&app, put(&uri, ct, body)).await;
        assert_error(
            &r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        );
    }
    let r = send(&app, get(&uri)).await;
    assert!(r.body.contains("<MwiOnCode/>"));
}

#[tokio::test]
async fn writes_elsewhere_are_405_with_allow() {
    let app = app();
    let cases = [
        (Method::PUT, format!("/vmrest/ports/{PORT1}"), "GET"),
        (Method::DELETE, format!("/vmrest/ports/{PORT1}"), "GET"),
        (Method::PATCH, format!("/vmrest/ports/{PORT1}"), "GET"),
        (Method::POST, "/vmrest/ports".to_string(), "GET"),
        (Method::POST, "/vmrest/portgroups".to_string(), "GET"),
        (
            Method::DELETE,
            format!("/vmrest/portgroups/{GROUP_ID}"),
            "GET, PUT",
        ),
        (
            Method::POST,
            format!("/vmrest/portgroups/{GROUP_ID}"),
            "GET, PUT",
        ),
    ];
    for (method, uri, allow) in cases {
        let request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(header::AUTHORIZATION, AUTH)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from("<Port><HuntOrder>1</HuntOrder></Port>"))
            .unwrap();
        let r = send(&app, request).await;
        assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
        assert_eq!(r.header(header::ALLOW), allow, "{method} {uri}");
    }
    // Ports are unchanged.
    let r = send(&app, get(&format!("/vmrest/ports/{PORT1}"))).await;
    assert!(r.body.contains("<HuntOrder>0</HuntOrder>"));
}

#[test]
fn generated_ports_xml_counts_and_ids() {
    let xml = generated_ports_xml(1000);
    assert!(xml.starts_with(&format!("{DECL}<Ports total=\"1000\"><Port><URI>")));
    assert!(xml.ends_with("</Port></Ports>"));
    assert_eq!(xml.matches("<Port>").count(), 1000);
    let mut ids = values(&xml, "ObjectId");
    assert_eq!(ids.len(), 1000);
    assert!(ids
        .iter()
        .all(|id| id.len() == 36 && id.matches('-').count() == 4));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "ids are unique");
    assert_eq!(xml, generated_ports_xml(1000), "deterministic");
    assert_eq!(values(&xml, "PortNumInGroup")[..4], ["1", "2", "1", "2"]);
    // Values vary.
    let caps = values(&xml, "CapEnabled");
    assert!(caps.iter().any(|v| v == "true") && caps.iter().any(|v| v == "false"));

    assert_eq!(
        generated_ports_xml(0),
        format!("{DECL}<Ports total=\"0\"/>")
    );

    let groups = generated_port_groups_xml(7);
    assert!(groups.starts_with(&format!("{DECL}<PortGroups total=\"7\"><PortGroup>")));
    assert_eq!(groups.matches("<PortGroup>").count(), 7);
    assert_eq!(values(&groups, "DisplayName")[6], "Generated-00007");
    assert!(!groups.contains("DelayBeforeOpeningMs"));
}

#[tokio::test]
async fn generated_groups_appear_in_lists_and_match_the_generator() {
    let app = app_with(3, 2);
    let r = send(&app, get("/vmrest/portgroups")).await;
    assert!(r.body.contains("<PortGroups total=\"4\">"));
    assert_eq!(
        values(&r.body, "DisplayName"),
        [
            "PhoneSystem-1",
            "Generated-00001",
            "Generated-00002",
            "Generated-00003"
        ]
    );
    let group_ids = values(&r.body, "ObjectId");

    let r = send(&app, get("/vmrest/ports")).await;
    assert!(r.body.contains("<Ports total=\"8\">"));
    // The generator renders exactly what the list shows for those ports.
    let generated = generated_ports_xml(6);
    let first = generated.find("<Port>").unwrap();
    let items = &generated[first..generated.len() - "</Ports>".len()];
    assert!(r.body.contains(items));
    let groups = generated_port_groups_xml(3);
    let first = groups.find("<PortGroup>").unwrap();
    assert!(send(&app, get("/vmrest/portgroups"))
        .await
        .body
        .contains(&groups[first..groups.len() - "</PortGroups>".len()]));

    // Each generated group's ports point at it, numbered from 1.
    let uri = format!(
        "/vmrest/ports?query=(MediaPortGroupObjectId%20is%20{})",
        group_ids[2]
    );
    let r = send(&app, get(&uri)).await;
    assert!(r.body.contains("<Ports total=\"2\">"));
    assert_eq!(values(&r.body, "PortNumInGroup"), ["1", "2"]);
    assert_eq!(
        values(&r.body, "MediaPortGroupDisplayName"),
        ["Generated-00002", "Generated-00002"]
    );

    // A generated group is a full object by id too.
    let r = send(&app, get(&format!("/vmrest/portgroups/{}", group_ids[3]))).await;
    assert_xml(&r, StatusCode::OK);
    assert!(r.body.contains("<PortCount>2</PortCount>") && r.body.contains("<EnableAGC>"));
    assert_eq!(
        r.body,
        generated_port_group_xml(3),
        "the single-object generator"
    );

    let r = send(&app_with(2, 5), get("/vmrest/ports?rowsPerPage=0")).await;
    assert_eq!(r.body, format!("{DECL}<Ports total=\"12\"/>"));
}

#[tokio::test]
async fn serve_answers_over_tcp() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve(listener, SimulatorConfig::default()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /vmrest/ports/{PORT1} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap()
    .unwrap();
    server.abort();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response
        .to_ascii_lowercase()
        .contains("content-type: application/xml"));
    assert!(response.contains(&format!("<ObjectId>{PORT1}</ObjectId>")));
}

//! Request dispatch: authentication, then path and method, then the list / get / update logic.
//!
//! Routing is a single fallback handler instead of axum routes so that every `/vmrest` path,
//! method and trailing-slash variant gets CUPI's answer (ErrorDetails 404, 405 with `Allow`)
//! rather than axum's defaults. Locks are taken only after the body has been read and are
//! dropped before returning, never held across an await.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};

use super::data::{Kind, WRITABLE_PORT_GROUP_FIELDS};
use super::query::{parse_list_params, url_decode};
use super::{auth, xml, Shared};

/// Largest PUT body accepted.
const MAX_BODY: usize = 64 * 1024;

/// The one handler behind [`super::router`].
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let outcome = auth::check(request.headers(), &shared.config, &shared.sessions);
    if outcome == auth::Outcome::Denied {
        return auth::unauthorized();
    }
    let mut response = dispatch(&shared, request).await;
    auth::add_cookies(&mut response, outcome);
    response
}

/// Which resource a path names: a list, or one record when `id` is set, of `kind`; for a
/// sub-resource (`/vmrest/portgroups/{parent}/portgroupservers`), also the parent's id.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    kind: Kind,
    parent: Option<String>,
    id: Option<String>,
}

fn target(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/vmrest/")?;
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let id = |raw: &str| match raw {
        "" => None,
        raw => url_decode(raw, false).ok(),
    };
    let (kind, parent, item) = match parts[..] {
        [segment] => (Kind::at(None, segment)?, None, None),
        [segment, item] => (Kind::at(None, segment)?, None, Some(id(item)?)),
        [parent_segment, parent, segment, ref item @ ..] if item.len() <= 1 => {
            let parent_kind = Kind::at(None, parent_segment)?;
            let item = match item.first() {
                Some(raw) => Some(id(raw)?),
                None => None,
            };
            (
                Kind::at(Some(parent_kind), segment)?,
                Some(id(parent)?),
                item,
            )
        }
        _ => return None,
    };
    Some(Target {
        kind,
        parent,
        id: item,
    })
}

async fn dispatch(shared: &Shared, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let Some(target) = target(&path) else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no resource at {path}"),
        );
    };
    let method = request.method().clone();
    let read = method == Method::GET || method == Method::HEAD;
    let parent = target.parent.as_deref();
    match (target.kind, target.id) {
        (kind, None) if read => list(shared, kind, parent, request.uri().query()),
        (kind, Some(id)) if read => get(shared, kind, parent, &id),
        (Kind::PortGroup, Some(id)) if method == Method::PUT => update(shared, &id, request).await,
        (Kind::PortGroup, Some(_)) => not_allowed(&method, "GET, PUT"),
        // Everything else is read-only, as ports are in CUPI.
        _ => not_allowed(&method, "GET"),
    }
}

fn list(shared: &Shared, kind: Kind, parent: Option<&str>, raw_query: Option<&str>) -> Response {
    let params = match parse_list_params(kind, raw_query) {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", &message),
    };
    let store = shared.store.read().unwrap_or_else(|e| e.into_inner());
    let Some(records) = store.under(kind, parent) else {
        return parent_not_found(kind, parent);
    };
    let mut hits: Vec<_> = records
        .filter(|r| params.filter.as_ref().is_none_or(|f| f.matches(r)))
        .collect();
    if let Some(sort) = &params.sort {
        sort.apply(&mut hits);
    }
    let page = params.paging.slice(&hits);
    let body = xml::render_list(kind, hits.len(), page.iter().copied());
    drop(store);
    xml_response(StatusCode::OK, body)
}

fn get(shared: &Shared, kind: Kind, parent: Option<&str>, id: &str) -> Response {
    let store = shared.store.read().unwrap_or_else(|e| e.into_inner());
    let Some(mut records) = store.under(kind, parent) else {
        return parent_not_found(kind, parent);
    };
    let at = kind.object_id();
    match records.find(|r| r[at].eq_ignore_ascii_case(id)) {
        Some(record) => xml_response(StatusCode::OK, xml::render_object(kind, record)),
        None => not_found(kind, id),
    }
}

/// The 404 for a sub-resource path whose parent record does not exist (the only way
/// [`super::data::Store::under`] fails).
fn parent_not_found(kind: Kind, parent: Option<&str>) -> Response {
    let parent_kind = kind.parent().map_or(kind, |(p, _)| p);
    not_found(parent_kind, parent.unwrap_or_default())
}

async fn update(shared: &Shared, id: &str, request: Request) -> Response {
    let exists = {
        let store = shared.store.read().unwrap_or_else(|e| e.into_inner());
        store.find(Kind::PortGroup, id).is_some()
    };
    if !exists {
        return not_found(Kind::PortGroup, id);
    }
    if !is_xml_content_type(request.headers().get(CONTENT_TYPE)) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Content-Type must be application/xml or text/xml",
        );
    }
    let bytes = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("request body is larger than {MAX_BODY} bytes or unreadable"),
            )
        }
    };
    let bad = |message: &str| error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message);
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return bad("request body is not UTF-8");
    };
    let doc = match xml::parse_flat(text) {
        Ok(doc) => doc,
        Err(message) => return bad(&message),
    };
    if doc.root != "PortGroup" {
        return bad(&format!("root element must be PortGroup, got {}", doc.root));
    }
    let mut changes: Vec<(usize, String)> = Vec::new();
    for (name, value) in doc.fields {
        if !WRITABLE_PORT_GROUP_FIELDS.contains(&name.as_str()) {
            return bad(&format!(
                "field {name} cannot be updated; only MwiOnCode and MwiOffCode can"
            ));
        }
        let Some(column) = Kind::PortGroup.fields().iter().position(|f| *f == name) else {
            return bad(&format!("unknown field {name}"));
        };
        if changes.iter().any(|(c, _)| *c == column) {
            return bad(&format!("field {name} given more than once"));
        }
        changes.push((column, value));
    }
    let mut store = shared.store.write().unwrap_or_else(|e| e.into_inner());
    // Port groups are never deleted, but look again rather than trust the earlier index.
    let Some(at) = store.find(Kind::PortGroup, id) else {
        return not_found(Kind::PortGroup, id);
    };
    for (column, value) in changes {
        store.port_groups[at][column] = value;
    }
    drop(store);
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// `application/xml` or `text/xml`, parameters such as `charset` allowed.
fn is_xml_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/xml") || essence.eq_ignore_ascii_case("text/xml")
}

fn xml_response(status: StatusCode, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    xml_response(status, xml::error_details(code, message))
}

fn not_found(kind: Kind, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("{} not found: {id}", kind.item()),
    )
}

fn not_allowed(method: &Method, allow: &'static str) -> Response {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("{method} is not supported here; allowed: {allow}"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: Kind, parent: Option<&str>, id: Option<&str>) -> Option<Target> {
        Some(Target {
            kind,
            parent: parent.map(str::to_string),
            id: id.map(str::to_string),
        })
    }

    #[test]
    fn paths_name_lists_items_and_sub_resources() {
        assert_eq!(
            target("/vmrest/phonesystems/"),
            t(Kind::PhoneSystem, None, None)
        );
        assert_eq!(
            target("/vmrest/portgrouptemplates/a%2Db"),
            t(Kind::PortGroupTemplate, None, Some("a-b"))
        );
        assert_eq!(
            target("/vmrest/portgroups/g/portgroupservers"),
            t(Kind::PortGroupServer, Some("g"), None)
        );
        assert_eq!(
            target("/vmrest/portgroups/g/portgroupcodecs/c"),
            t(Kind::PortGroupCodec, Some("g"), Some("c"))
        );
        for unknown in [
            "/vmrest/portgroupservers",
            "/vmrest/ports/p/portgroupservers",
            "/vmrest/portgroups/g/portgroupcodecs/c/more",
            "/vmrest/portgroups/g/axlservers",
            "/vmrest/phonesystems/s/axlservers",
            "/vmrest/portgroups//portgroupservers",
        ] {
            assert_eq!(target(unknown), None, "{unknown}");
        }
    }
}

//! The gateway's own paths: [`OWN_ROUTES`], the one list of every path outside `/vmrest`
//! the gateway answers itself. [`crate::routes`] serves them and offers them on the index
//! page; [`crate::metrics`] uses them as route labels.

/// One of the gateway's own paths.
#[derive(Debug)]
pub(crate) struct OwnRoute {
    pub(crate) path: &'static str,
    /// Offered on the index page as a place to try: all but the index itself and
    /// `/openapi.yaml`, the same document as `/openapi.json`.
    pub(crate) on_index: bool,
}

/// The gateway's own paths. (Swagger UI's assets under `/docs/` share one label in the
/// metrics and are not offered on the index.)
pub(crate) const OWN_ROUTES: [OwnRoute; 7] = [
    own("/", false),
    own("/docs", true),
    own("/openapi.json", true),
    own("/openapi.yaml", false),
    own("/healthz", true),
    own("/readyz", true),
    own("/metrics", true),
];

const fn own(path: &'static str, on_index: bool) -> OwnRoute {
    OwnRoute { path, on_index }
}

/// `path` as the `'static` name of the own route it is, if it is one.
pub(crate) fn own_route(path: &str) -> Option<&'static str> {
    OWN_ROUTES
        .iter()
        .find(|route| route.path == path)
        .map(|route| route.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_paths_are_own_routes() {
        assert_eq!(own_route("/metrics"), Some("/metrics"));
        assert_eq!(own_route("/docs/swagger-ui.css"), None);
    }
}

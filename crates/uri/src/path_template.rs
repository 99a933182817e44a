//! OpenAPI path templates (`/vmrest/portgroups/{objectId}`) and matching request paths
//! against them. CUPI treats paths case-insensitively, so literal segments match in any case.

/// One parsed path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate {
    template: String,
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Parameter,
}

impl PathTemplate {
    /// Reads a template as an OpenAPI document writes it; never fails, as any text is a
    /// template (a segment in braces is a parameter, every other one a literal).
    pub fn parse(template: &str) -> Self {
        let segments = split(template)
            .map(|s| {
                if s.starts_with('{') && s.ends_with('}') {
                    Segment::Parameter
                } else {
                    Segment::Literal(s.to_owned())
                }
            })
            .collect();
        PathTemplate {
            template: template.to_owned(),
            segments,
        }
    }

    /// The template as written in the document.
    pub fn as_str(&self) -> &str {
        &self.template
    }

    /// Whether two templates match the same paths (`/x/{id}` and `/x/{objectId}` do).
    pub fn same_shape(&self, other: &PathTemplate) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a.eq_ignore_ascii_case(b),
                    (Segment::Parameter, Segment::Parameter) => true,
                    _ => false,
                })
    }

    /// Whether `path` (query string allowed, ignored) matches the template.
    pub fn matches(&self, path: &str) -> bool {
        self.matches_path(&PathToMatch::new(path))
    }

    /// [`PathTemplate::matches`] for a path read once to be matched against many templates:
    /// one with another count of segments is passed over with no look at its text.
    pub fn matches_path(&self, path: &PathToMatch<'_>) -> bool {
        if path.segments != self.segments.len() {
            return false;
        }
        let mut segments = split(path.path);
        for expected in &self.segments {
            let Some(actual) = segments.next() else {
                return false;
            };
            let ok = match expected {
                Segment::Literal(literal) => literal.eq_ignore_ascii_case(actual),
                Segment::Parameter => !actual.is_empty(),
            };
            if !ok {
                return false;
            }
        }
        segments.next().is_none()
    }
}

/// A request path, its query string cut off and its segments counted, to be matched against
/// templates ([`PathTemplate::matches_path`]).
#[derive(Clone, Copy, Debug)]
pub struct PathToMatch<'a> {
    path: &'a str,
    segments: usize,
}

impl<'a> PathToMatch<'a> {
    /// Reads `path` (query string allowed, ignored).
    pub fn new(path: &'a str) -> Self {
        let path = path.split('?').next().unwrap_or(path);
        // As many segments as `split` gives: one after each slash, a trailing one aside.
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        let segments = trimmed.bytes().filter(|&b| b == b'/').count();
        PathToMatch { path, segments }
    }
}

/// Path segments, ignoring one trailing slash (`/vmrest/ports/` is `/vmrest/ports`).
fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    trimmed.split('/').skip(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_paths_only() {
        let item = PathTemplate::parse("/vmrest/portgroups/{objectId}");
        assert!(item.matches("/vmrest/portgroups/abc"));
        assert!(item.matches("/vmrest/PortGroups/abc/"));
        assert!(item.matches("/vmrest/portgroups/abc?x=1"));
        assert!(!item.matches("/vmrest/portgroups"));
        assert!(!item.matches("/vmrest/portgroups/"));
        assert!(!item.matches("/vmrest/portgroups/abc/portgroupcodecs"));
        assert!(!item.matches("/vmrest/portgroupsx/abc"));
        let list = PathTemplate::parse("/vmrest/ports");
        assert!(list.matches("/vmrest/ports"));
        assert!(list.matches("/vmrest/ports?rowsPerPage=1"));
        assert!(!list.matches("/vmrest/ports/x"));
        assert_eq!(list.as_str(), "/vmrest/ports");
        assert!(item.same_shape(&PathTemplate::parse("/vmrest/PortGroups/{id}")));
        assert!(!item.same_shape(&list));
    }

    /// Counting segments first passes over exactly the templates the segment walk refuses.
    #[test]
    fn the_segment_count_refuses_only_what_the_walk_refuses() {
        let walk = |template: &PathTemplate, path: &str| {
            let mut segments = split(path.split('?').next().unwrap_or(path));
            let all_match = template.segments.iter().all(|expected| {
                segments.next().is_some_and(|actual| match expected {
                    Segment::Literal(literal) => literal.eq_ignore_ascii_case(actual),
                    Segment::Parameter => !actual.is_empty(),
                })
            });
            all_match && segments.next().is_none()
        };
        let templates = [
            "/vmrest/ports",
            "/vmrest/ports/{id}",
            "/",
            "",
            "/{a}/{b}",
            "x/{y}",
        ];
        let paths = [
            "",
            "/",
            "//",
            "/vmrest",
            "/vmrest/ports",
            "/vmrest/ports/",
            "/vmrest//ports",
            "/vmrest/ports//",
            "/vmrest/ports/a",
            "/vmrest/ports/a/",
            "/vmrest/ports?x=/a/b",
            "/vmrest/ports/a?",
            "x/y",
            "x",
            "/x/y/",
            "?",
            "/a/b/c",
        ];
        for template in templates.map(PathTemplate::parse) {
            for path in paths {
                let expected = walk(&template, path);
                assert_eq!(template.matches(path), expected, "{template:?} {path:?}");
            }
        }
    }
}

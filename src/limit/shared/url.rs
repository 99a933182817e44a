//! The Redis URL of `--upstream-limit-redis`, which never shows its password: [`RedisUrl`]
//! displays itself with `***` in its place, and scrubs it from the texts of Redis's errors.

use std::fmt;
use std::str::FromStr;

use redis::IntoConnectionInfo;

/// A `redis://` or `rediss://` URL (`redis://[user][:password]@host[:port][/db]`), which shows
/// itself (`Display`, `Debug`) with its password replaced by `***`.
#[derive(Clone)]
pub struct RedisUrl {
    pub(super) info: redis::ConnectionInfo,
    /// The URL as given, password replaced: the only form that is ever shown.
    shown: String,
    /// The password, to scrub it from the text of errors.
    password: Option<String>,
}

/// Why a Redis URL was refused. Its text shows the URL with its password replaced.
#[derive(Debug, thiserror::Error)]
#[error("{shown} is not a Redis URL like redis://host:6379/0 or rediss://:password@host:6380/0: {reason}")]
pub struct RedisUrlError {
    shown: String,
    reason: String,
}

impl FromStr for RedisUrl {
    type Err = RedisUrlError;

    fn from_str(text: &str) -> Result<RedisUrl, RedisUrlError> {
        let refuse = |shown: String, reason: &str| RedisUrlError {
            shown,
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(text).map_err(|e| refuse(redact_text(text), &e.to_string()))?;
        let password = url.password().map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        });
        let mut shown_url = url.clone();
        if url.password().is_some() {
            // Cannot fail: the URL has a host, since it has a password.
            let _ = shown_url.set_password(Some("***"));
        }
        let shown = shown_url.to_string();
        if !matches!(url.scheme(), "redis" | "rediss") {
            return Err(refuse(shown, "the scheme must be redis or rediss"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refuse(shown, "it names no host"));
        }
        let info = url
            .clone()
            .into_connection_info()
            .map_err(|e| refuse(shown.clone(), &scrub(&e.to_string(), password.as_deref())))?;
        Ok(RedisUrl {
            info,
            shown,
            password,
        })
    }
}

impl RedisUrl {
    /// `text` with the password, if any, replaced by `***`: for the text of an error that may
    /// quote what Redis or the connection was told.
    pub(super) fn scrub(&self, text: &str) -> String {
        scrub(text, self.password.as_deref())
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.shown).finish()
    }
}

/// The password of a URL the `url` crate could not parse, replaced as well as it can be
/// found: everything between the scheme's `//` and the last `@` of the authority.
fn redact_text(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return "(a URL that does not parse)".to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => text.to_owned(),
    }
}

fn scrub(text: &str, password: Option<&str>) -> String {
    match password {
        Some(password) if !password.is_empty() => text.replace(password, "***"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_shows_itself_without_its_password() {
        let url: RedisUrl = "rediss://user:s3cr%40t@redis.example.com:6380/2"
            .parse()
            .unwrap();
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(
                shown.contains("rediss://user:***@redis.example.com:6380/2"),
                "{shown}"
            );
        }
        assert_eq!(url.password.as_deref(), Some("s3cr@t"));
        assert_eq!(url.scrub("WRONGPASS s3cr@t"), "WRONGPASS ***");
        let plain: RedisUrl = "redis://127.0.0.1:6379".parse().unwrap();
        assert_eq!(plain.to_string(), "redis://127.0.0.1:6379");
    }

    #[test]
    fn a_refused_url_shows_no_password_either() {
        for text in [
            "http://:hunter2@host:6379",
            "redis://:hunter2@",
            "redis://:hunter2@host:notaport",
            "redis://:hunter2@host:6379/notadb",
        ] {
            let error = text.parse::<RedisUrl>().unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{text}: {error}");
        }
    }
}

//! One Graph API call, independent of how it arrived (a plain HTTP request or
//! one operation of a batch): version, path segments, parameters, token.
//!
//! Also owns the version rules (`v\d+.\d+`, at least v21.0; unversioned paths
//! use [`LATEST_VERSION`]) and the canonical request key that fault injection
//! and trace ids are derived from.

use crate::graph_error::GraphError;

/// The version used for unversioned paths and named in deprecation errors.
pub const LATEST_VERSION: &str = "v27.0";
/// The oldest version still served.
pub const OLDEST_VERSION: (u32, u32) = (21, 0);

/// Decoded query (and, for POST, form) parameters, in arrival order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(encoded: &str) -> Self {
        Params(url::form_urlencoded::parse(encoded.as_bytes()).into_owned().collect())
    }

    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Parameters sorted by name then value, without `access_token`: the
    /// order-independent identity of a request.
    pub fn canonical(&self) -> String {
        let mut pairs: Vec<&(String, String)> = self.0.iter().filter(|(k, _)| k != "access_token").collect();
        pairs.sort();
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            out.append_pair(k, v);
        }
        out.finish()
    }
}

/// A parsed Graph path: `/{version}/{segments...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GraphPath {
    /// e.g. `v24.0`.
    pub version: String,
    /// Non-empty path segments after the version, e.g. `["me", "accounts"]`.
    pub segments: Vec<String>,
}

impl GraphPath {
    /// Splits a raw path (`/v24.0/me/accounts/`, `me/accounts`, `/`) into
    /// version and segments. A missing version means `default_version`.
    /// Versions below [`OLDEST_VERSION`] are rejected with code 2635.
    pub fn parse(raw_path: &str, default_version: &str) -> Result<Self, GraphError> {
        let mut segments: Vec<String> = raw_path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
        let version = match segments.first().and_then(|s| parse_version(s)) {
            Some(parsed) => {
                let raw = segments.remove(0);
                if parsed < OLDEST_VERSION {
                    return Err(GraphError::deprecated_version(&raw, LATEST_VERSION));
                }
                raw
            }
            None => default_version.to_string(),
        };
        Ok(GraphPath { version, segments })
    }

    /// `/{version}/{segments}` without a trailing slash.
    pub fn normalized(&self) -> String {
        let mut out = format!("/{}", self.version);
        for s in &self.segments {
            out.push('/');
            out.push_str(s);
        }
        out
    }

    /// `/{segments}`: the path without its version (used for fault overrides).
    pub fn versionless(&self) -> String {
        format!("/{}", self.segments.join("/"))
    }
}

/// `v24.0` → `(24, 0)`.
pub(crate) fn parse_version(segment: &str) -> Option<(u32, u32)> {
    let rest = segment.strip_prefix('v')?;
    let (major, minor) = rest.split_once('.')?;
    if major.is_empty()
        || minor.is_empty()
        || !major.bytes().all(|b| b.is_ascii_digit())
        || !minor.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_string())
}

/// One Graph call ready to be answered.
#[derive(Clone, Debug)]
pub(crate) struct GraphCall {
    pub method: String,
    pub path: GraphPath,
    pub params: Params,
    /// Body of a batch operation (`body` field), empty otherwise.
    pub body: String,
    /// Whether the caller put `access_token` in the query; only then do
    /// generated `next`/`previous` links carry it.
    pub token_in_query: bool,
    /// Per-server response serial; feeds the volatile URL parameters.
    pub serial: u64,
}

impl GraphCall {
    /// Order-independent identity: method, normalised path, sorted parameters
    /// without `access_token`, body.
    /// Whether the call asks for more than one item of some edge: a `limit` above 1, at the
    /// top or in a field expansion's `.limit(n)` (what Meta's "reduce the amount of data"
    /// answer invites a client to lower).
    pub fn asks_many(&self) -> bool {
        let top = self.params.get("limit").and_then(|l| l.trim().parse::<u64>().ok()).is_some_and(|n| n > 1);
        let nested = self.params.get("fields").is_some_and(|f| {
            f.split(".limit(")
                .skip(1)
                .any(|rest| rest.split(')').next().and_then(|n| n.trim().parse::<u64>().ok()).is_some_and(|n| n > 1))
        });
        top || nested
    }

    pub fn key(&self) -> String {
        format!(
            "{} {}?{}\n{}",
            self.method.to_ascii_uppercase(),
            self.path.normalized(),
            self.params.canonical(),
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let p = GraphPath::parse("/v24.0/me/accounts/", LATEST_VERSION).unwrap();
        assert_eq!(p.version, "v24.0");
        assert_eq!(p.segments, ["me", "accounts"]);
        assert_eq!(p.normalized(), "/v24.0/me/accounts");
        let p = GraphPath::parse("me", LATEST_VERSION).unwrap();
        assert_eq!(p.version, LATEST_VERSION);
        let e = GraphPath::parse("/v20.0/me", LATEST_VERSION).unwrap_err();
        assert_eq!(e.code, 2635);
        assert!(GraphPath::parse("/v21.0/me", LATEST_VERSION).is_ok());
    }

    #[test]
    fn canonical_params_ignore_order_and_token() {
        let a = Params::parse("b=2&a=1&access_token=x");
        let b = Params::parse("a=1&b=2");
        assert_eq!(a.canonical(), b.canonical());
    }
}

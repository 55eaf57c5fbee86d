//! Which usage headers an answer carries, and their JSON.
//!
//! Meta's rate-limiting page says `X-App-Usage` and `X-Business-Use-Case-Usage` appear "once
//! enough calls have been made to an endpoint", and a measurement against the live API
//! (2026-09, third-party) saw the two as exclusive in practice: user and app tokens get
//! `X-App-Usage`, Page and Instagram tokens `X-Business-Use-Case-Usage`. The fake's default
//! ([`UsageHeaders::default`]) answers so: no usage header for the first
//! [`DEFAULT_QUIET_CALLS`] calls, then only the header that fits the token's kind. Tests pick
//! other mixes (none at all, one, both, from the first call). Whatever is sent, the usage
//! model behind it (see [`crate::faults`]) keeps counting and throttling.
//!
//! Owns that choice and the headers' JSON; it does not count usage or throttle (`faults`
//! does) nor know about HTTP (`server` does).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::faults::UsageNumbers;
use crate::tokens::TokenKind;

/// Calls answered without any usage header by default (Meta does not say how many "enough"
/// is; a read's first few calls go without).
pub const DEFAULT_QUIET_CALLS: u64 = 10;

/// Which of the two headers are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageHeaderSet {
    /// The one that fits the token: `X-App-Usage` for user (and app) tokens,
    /// `X-Business-Use-Case-Usage` for Page and Instagram tokens.
    ByToken,
    /// Neither.
    Neither,
    /// `X-App-Usage` only.
    AppOnly,
    /// `X-Business-Use-Case-Usage` only.
    BusinessUseCaseOnly,
    /// Both, on every answer that has them.
    Both,
}

/// The usage headers a fake sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageHeaders {
    /// Calls (each plain call and each batch operation) answered without any usage header
    /// before the first one is sent.
    pub quiet_calls: u64,
    pub set: UsageHeaderSet,
}

impl Default for UsageHeaders {
    fn default() -> Self {
        UsageHeaders { quiet_calls: DEFAULT_QUIET_CALLS, set: UsageHeaderSet::ByToken }
    }
}

impl UsageHeaders {
    /// Both headers from the first call (what tests of the usage model read).
    pub fn both() -> Self {
        UsageHeaders { quiet_calls: 0, set: UsageHeaderSet::Both }
    }

    /// `set` from the first call.
    pub fn only(set: UsageHeaderSet) -> Self {
        UsageHeaders { quiet_calls: 0, set }
    }
}

/// A running server's usage headers: the choice and the calls counted so far.
pub(crate) struct UsageHeaderState {
    spec: UsageHeaders,
    calls: AtomicU64,
}

impl UsageHeaderState {
    pub(crate) fn new(spec: UsageHeaders) -> Self {
        UsageHeaderState { spec, calls: AtomicU64::new(0) }
    }

    /// One more call made (a plain call or a batch operation).
    pub(crate) fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// The headers of an answer, for a caller holding a token of `kind` (`None`: no valid
    /// token), with the app's numbers and those of the IG accounts it is about.
    pub(crate) fn render(
        &self,
        kind: Option<TokenKind>,
        app: &UsageNumbers,
        accounts: &[(String, UsageNumbers)],
    ) -> Vec<(String, String)> {
        let quiet = self.spec.quiet_calls;
        if quiet > 0 && self.calls.load(Ordering::Relaxed) <= quiet {
            return Vec::new();
        }
        let (send_app, send_buc) = match self.spec.set {
            UsageHeaderSet::ByToken => match kind.unwrap_or(TokenKind::User) {
                TokenKind::User => (true, false),
                TokenKind::Page | TokenKind::Instagram => (false, true),
            },
            UsageHeaderSet::Neither => (false, false),
            UsageHeaderSet::AppOnly => (true, false),
            UsageHeaderSet::BusinessUseCaseOnly => (false, true),
            UsageHeaderSet::Both => (true, true),
        };
        let mut headers = Vec::new();
        if send_app {
            headers.push(("X-App-Usage".to_string(), app_usage_json(app)));
        }
        if send_buc && !accounts.is_empty() {
            headers.push(("X-Business-Use-Case-Usage".to_string(), buc_usage_json(accounts)));
        }
        headers
    }
}

fn app_usage_json(n: &UsageNumbers) -> String {
    json!({ "call_count": n.call_count, "total_cputime": n.total_cputime, "total_time": n.total_time }).to_string()
}

fn buc_usage_json(accounts: &[(String, UsageNumbers)]) -> String {
    let mut map = serde_json::Map::new();
    for (id, n) in accounts {
        map.insert(
            id.clone(),
            json!([{
                "type": "instagram",
                "call_count": n.call_count,
                "total_cputime": n.total_cputime,
                "total_time": n.total_time,
                "estimated_time_to_regain_access": n.estimated_time_to_regain_access,
            }]),
        );
    }
    Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(h: &[(String, String)]) -> Vec<&str> {
        h.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Quiet first, then the header of the token's kind; other sets as named.
    #[test]
    fn which_headers() {
        let n = UsageNumbers::from_percent(12.0);
        let acc = vec![("1784".to_string(), n)];
        let state = UsageHeaderState::new(UsageHeaders { quiet_calls: 2, ..UsageHeaders::default() });
        state.count_call();
        state.count_call();
        assert!(state.render(Some(TokenKind::User), &n, &acc).is_empty(), "not enough calls yet");
        state.count_call();
        assert_eq!(names(&state.render(Some(TokenKind::User), &n, &acc)), ["X-App-Usage"]);
        assert_eq!(names(&state.render(Some(TokenKind::Instagram), &n, &acc)), ["X-Business-Use-Case-Usage"]);
        assert!(state.render(Some(TokenKind::Page), &n, &[]).is_empty(), "no account, no BUC row");
        for (set, expected) in [
            (UsageHeaderSet::Neither, vec![]),
            (UsageHeaderSet::AppOnly, vec!["X-App-Usage"]),
            (UsageHeaderSet::BusinessUseCaseOnly, vec!["X-Business-Use-Case-Usage"]),
            (UsageHeaderSet::Both, vec!["X-App-Usage", "X-Business-Use-Case-Usage"]),
        ] {
            let state = UsageHeaderState::new(UsageHeaders::only(set));
            state.count_call();
            assert_eq!(names(&state.render(Some(TokenKind::User), &n, &acc)), expected, "{set:?}");
        }
    }
}

//! Throttle pauses by scope, as Meta applies its limits: the app-level limit (Graph code 4)
//! pauses every request of the app token; a business use-case limit (codes 17, 32, 613,
//! 80001…, with the account named in `X-Business-Use-Case-Usage`) pauses only the requests
//! about that Instagram account, so the other accounts keep flowing; a platform-limit throttle
//! of business discovery or hashtag calls pauses only those (see `platform`).
//!
//! Owns when each scope may send again and the streak of throttles that grows the backoff
//! (reset by the first answer that is not a throttle). It does not sleep or send.

use super::platform::Limit;
use super::usage::UsageReading;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Instant;

/// Who a throttle applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    App,
    Account(String),
    /// The platform rate limit of business discovery and hashtag search calls.
    Platform,
}

/// The pauses in force and the current throttle streak.
#[derive(Debug, Default)]
pub struct Pauses {
    until: HashMap<Scope, Instant>,
    streak: u32,
}

impl Pauses {
    /// Pause `scopes` until `until` (a later pause already in force is kept).
    pub fn pause(&mut self, scopes: &[Scope], until: Instant) {
        for s in scopes {
            let e = self.until.entry(s.clone()).or_insert(until);
            if *e < until {
                *e = until;
            }
        }
    }

    /// Until when a request about `subjects` must wait: the app's pause, and those accounts'
    /// (business use-case calls) or the platform's (platform-counted calls).
    pub fn until_for(&self, subjects: &[String], limit: Limit, now: Instant) -> Option<Instant> {
        let app = self.until.get(&Scope::App).copied();
        let own: Vec<Instant> = match limit {
            Limit::Platform => self.until.get(&Scope::Platform).copied().into_iter().collect(),
            Limit::BusinessUseCase => {
                subjects.iter().filter_map(|s| self.until.get(&Scope::Account(s.clone())).copied()).collect()
            }
        };
        app.into_iter().chain(own).max().filter(|u| *u > now)
    }

    /// A throttle: the streak so far (0 for the first), then one more.
    pub fn throttled(&mut self) -> u32 {
        let n = self.streak;
        self.streak = self.streak.saturating_add(1);
        n
    }

    /// An answer that was not a throttle ends the streak.
    pub fn delivered(&mut self) {
        self.streak = 0;
    }
}

/// The scope of a throttle: the app for code 4 (and HTTP 429 naming no account); otherwise the
/// accounts the usage header shows at their limit, else the accounts the request is about,
/// else the app.
pub fn scope_of(codes: &[i64], reading: &UsageReading, subjects: &[String]) -> Vec<Scope> {
    if codes.contains(&4) {
        return vec![Scope::App];
    }
    let mut at_limit: Vec<Scope> = reading
        .accounts
        .iter()
        .filter(|(_, pct, regain)| *pct >= 100.0 || *regain > 0)
        .map(|(id, _, _)| Scope::Account(id.clone()))
        .collect();
    if at_limit.is_empty() {
        at_limit = subjects.iter().map(|s| Scope::Account(s.clone())).collect();
    }
    if at_limit.is_empty() { vec![Scope::App] } else { at_limit }
}

/// The Graph error code of an error body, if any.
pub fn error_code(body: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Value>(body).ok()?.pointer("/error/code")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Code 4 pauses everyone; a business use-case throttle only its account.
    #[test]
    fn scopes() {
        let reading =
            UsageReading { app_percent: Some(10.0), accounts: vec![("a".into(), 100.0, 1), ("b".into(), 5.0, 0)] };
        assert_eq!(scope_of(&[4], &reading, &[]), vec![Scope::App]);
        assert_eq!(scope_of(&[80002], &reading, &["b".into()]), vec![Scope::Account("a".into())]);
        assert_eq!(scope_of(&[80002], &UsageReading::default(), &["b".into()]), vec![Scope::Account("b".into())]);
        assert_eq!(scope_of(&[17], &UsageReading::default(), &[]), vec![Scope::App]);
        let now = Instant::now();
        let mut p = Pauses::default();
        p.pause(&[Scope::Account("a".into())], now + Duration::from_secs(5));
        let buc = Limit::BusinessUseCase;
        assert!(p.until_for(&["a".into()], buc, now).is_some());
        assert!(p.until_for(&["b".into()], buc, now).is_none());
        assert!(p.until_for(&[], buc, now).is_none());
        assert!(p.until_for(&["a".into()], Limit::Platform, now).is_none(), "a BUC throttle spares platform calls");
        p.pause(&[Scope::Platform], now + Duration::from_secs(5));
        assert!(p.until_for(&["a".into()], Limit::Platform, now).is_some());
        assert!(p.until_for(&["b".into()], buc, now).is_none(), "a platform throttle spares BUC calls");
        p.pause(&[Scope::App], now + Duration::from_secs(1));
        assert!(p.until_for(&["b".into()], buc, now).is_some());
        assert_eq!((p.throttled(), p.throttled()), (0, 1));
        p.delivered();
        assert_eq!(p.throttled(), 0);
    }
}

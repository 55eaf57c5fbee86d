//! Meta's usage headers and the pacing they call for.
//!
//! Owns parsing `X-App-Usage` and `X-Business-Use-Case-Usage` (rows of `type: instagram`, per
//! account), the board of the latest readings, and the decision to go, space requests out, or
//! pause. It does not sleep itself (the policy does, through the clock).

use http::HeaderMap;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// One response's usage headers. Percentages are the max of call count, CPU time and time.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UsageReading {
    pub app_percent: Option<f64>,
    /// (IG account id, percent, `estimated_time_to_regain_access` in minutes).
    pub accounts: Vec<(String, f64, u32)>,
}

impl UsageReading {
    /// The longest `estimated_time_to_regain_access` reported, if any.
    pub fn regain(&self) -> Option<Duration> {
        self.accounts.iter().map(|(_, _, m)| *m).max().filter(|m| *m > 0).map(|m| Duration::from_secs(60 * m as u64))
    }
}

/// Highest usage a reading may report: Meta's figures pass 100 % a little when throttled;
/// anything beyond this is a malformed header, not a measurement.
pub const MAX_PERCENT: f64 = 1000.0;
/// Longest regain time taken from a header (a day): larger values are malformed.
pub const MAX_REGAIN_MINUTES: u64 = 24 * 60;

/// The highest of call count, CPU time and time, clamped to 0..=`MAX_PERCENT` (negative,
/// non-finite and absurd values never reach the pacing decision or a message).
fn percent_of(v: &Value) -> Option<f64> {
    ["call_count", "total_cputime", "total_time"]
        .iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_f64))
        .filter(|p| p.is_finite())
        .map(|p| p.clamp(0.0, MAX_PERCENT))
        .reduce(f64::max)
}

/// Read the usage headers of a response (absent or malformed headers read as "unknown").
pub fn parse_usage(headers: &HeaderMap) -> UsageReading {
    let json = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).and_then(|s| serde_json::from_str::<Value>(s).ok())
    };
    let mut reading =
        UsageReading { app_percent: json("x-app-usage").as_ref().and_then(percent_of), accounts: Vec::new() };
    if let Some(Value::Object(buc)) = json("x-business-use-case-usage") {
        for (id, rows) in buc {
            for row in rows.as_array().into_iter().flatten() {
                if row.get("type").and_then(Value::as_str) != Some("instagram") {
                    continue;
                }
                let regain = row
                    .get("estimated_time_to_regain_access")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .min(MAX_REGAIN_MINUTES) as u32;
                reading.accounts.push((id.clone(), percent_of(row).unwrap_or(0.0), regain));
            }
        }
    }
    reading
}

/// The latest usage seen per app and per account.
#[derive(Debug, Default)]
pub struct UsageBoard {
    app: f64,
    accounts: HashMap<String, (f64, u32)>,
    /// `X-App-Usage` of platform-counted calls (business discovery, hashtag search).
    platform: f64,
}

impl UsageBoard {
    /// A platform-counted response: its `X-App-Usage` is the platform limit's usage.
    pub fn observe_platform(&mut self, r: &UsageReading) {
        if let Some(p) = r.app_percent {
            self.platform = p;
        }
    }

    /// The usage that governs platform-counted calls.
    pub fn peak_platform(&self) -> (f64, u32) {
        (self.platform.max(self.app), 0)
    }

    pub fn observe(&mut self, r: &UsageReading) {
        if let Some(p) = r.app_percent {
            self.app = p;
        }
        for (id, p, regain) in &r.accounts {
            self.accounts.insert(id.clone(), (*p, *regain));
        }
    }

    /// The highest usage on the board and the longest regain time (minutes).
    pub fn peak(&self) -> (f64, u32) {
        let acc = self.accounts.values().fold((0.0f64, 0u32), |(p, r), (ap, ar)| (p.max(*ap), r.max(*ar)));
        (acc.0.max(self.app), acc.1)
    }

    /// The usage that governs a request about `subjects` (object ids): the app's and those
    /// accounts' when every subject is an account on the board; otherwise (media ids, unknown
    /// objects) the highest usage on the board.
    pub fn peak_for(&self, subjects: &[String]) -> (f64, u32) {
        if subjects.is_empty() || !subjects.iter().all(|s| self.accounts.contains_key(s)) {
            return self.peak();
        }
        subjects
            .iter()
            .filter_map(|s| self.accounts.get(s))
            .fold((self.app, 0), |(p, r), (ap, ar)| (p.max(*ap), r.max(*ar)))
    }

    /// Forget readings after a pause (the next response tells the new usage).
    pub fn reset(&mut self) {
        self.app = 0.0;
        self.platform = 0.0;
        self.accounts.clear();
    }
}

/// What to do before the next request.
#[derive(Debug, PartialEq)]
pub enum Pace {
    Go,
    /// Usage is high: leave this much time before the request.
    Space(Duration),
    /// Usage is near the limit: wait this long, then probe.
    Pause(Duration),
}

/// Thresholds for pacing by usage.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// Start spacing requests out from this usage percentage.
    pub slow_from: f64,
    /// Pause from this percentage until usage recovers.
    pub pause_from: f64,
    /// Spacing just below `pause_from` (it grows linearly from 0 at `slow_from`).
    pub max_spacing: Duration,
    /// Pause when Meta gives no regain time.
    pub pause_step: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            slow_from: 75.0,
            pause_from: 95.0,
            max_spacing: Duration::from_secs(20),
            pause_step: Duration::from_secs(120),
        }
    }
}

impl Pacing {
    pub fn decide(&self, peak: f64, regain_minutes: u32) -> Pace {
        if peak >= self.pause_from {
            let wait =
                if regain_minutes > 0 { Duration::from_secs(60 * regain_minutes as u64) } else { self.pause_step };
            Pace::Pause(wait)
        } else if peak >= self.slow_from {
            let f = (peak - self.slow_from) / (self.pause_from - self.slow_from).max(1.0);
            Pace::Space(self.max_spacing.mul_f64(f.clamp(0.0, 1.0)))
        } else {
            Pace::Go
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both headers parse; only `instagram` rows count; the peak is the max.
    #[test]
    fn headers() {
        let mut h = HeaderMap::new();
        h.insert("x-app-usage", r#"{"call_count":12,"total_cputime":30,"total_time":5}"#.parse().unwrap());
        h.insert(
            "x-business-use-case-usage",
            r#"{"1784":[{"type":"instagram","call_count":80,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":3},{"type":"pages","call_count":99}]}"#
                .parse()
                .unwrap(),
        );
        let r = parse_usage(&h);
        assert_eq!(r.app_percent, Some(30.0));
        assert_eq!(r.accounts, vec![("1784".to_string(), 80.0, 3)]);
        assert_eq!(r.regain(), Some(Duration::from_secs(180)));
        let mut b = UsageBoard::default();
        b.observe(&r);
        assert_eq!(b.peak(), (80.0, 3));
        assert_eq!(parse_usage(&HeaderMap::new()), UsageReading::default());
        // Absurd figures are clamped, never printed or used as they came.
        let mut h = HeaderMap::new();
        h.insert("x-app-usage", format!(r#"{{"call_count":{:e},"total_time":-5}}"#, f64::MAX).parse().unwrap());
        h.insert(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"instagram","call_count":-3,"estimated_time_to_regain_access":99999999999}]}"#
                .parse()
                .unwrap(),
        );
        let r = parse_usage(&h);
        assert_eq!(r.app_percent, Some(MAX_PERCENT));
        assert_eq!(r.accounts, vec![("1".to_string(), 0.0, MAX_REGAIN_MINUTES as u32)]);
        // Another account's high usage does not slow this one down; an unknown object does.
        b.observe(&UsageReading { app_percent: Some(10.0), accounts: vec![("1785".into(), 20.0, 0)] });
        assert_eq!(b.peak_for(&["1785".to_string()]), (20.0, 0));
        assert_eq!(b.peak_for(&["1784".to_string()]), (80.0, 3));
        assert_eq!(b.peak_for(&["179000".to_string()]), (80.0, 3));
        assert_eq!(b.peak_for(&[]), (80.0, 3));
        // Platform usage (business discovery, hashtag search) paces only platform calls.
        let mut b = UsageBoard::default();
        b.observe(&UsageReading { app_percent: Some(5.0), accounts: vec![("1785".into(), 10.0, 0)] });
        b.observe_platform(&UsageReading { app_percent: Some(100.0), accounts: Vec::new() });
        assert_eq!(b.peak_for(&["1785".to_string()]), (10.0, 0));
        assert_eq!(b.peak_platform(), (100.0, 0));
    }

    /// Below the threshold: go; between: space out; near the limit: pause.
    #[test]
    fn pacing() {
        let p = Pacing::default();
        assert_eq!(p.decide(10.0, 0), Pace::Go);
        assert_eq!(p.decide(85.0, 0), Pace::Space(Duration::from_secs(10)));
        assert_eq!(p.decide(97.0, 0), Pace::Pause(Duration::from_secs(120)));
        assert_eq!(p.decide(100.0, 5), Pace::Pause(Duration::from_secs(300)));
    }
}

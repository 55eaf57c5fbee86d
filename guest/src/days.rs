//! Meta's insights days, without a time zone database.
//!
//! Owns day arithmetic on Meta's own `end_time`s: account insights are reported per day in
//! Pacific time (America/Los_Angeles), each value stamped with the midnight that ends its day,
//! 07:00 UTC in summer (PDT) and 08:00 UTC in winter (PST); across the DST changes one day lasts
//! 23 hours and one 25. Pure functions only; no I/O. It must not know which metrics exist
//! (`metrics`) nor build requests (`streams::user_insights`).

use chrono::{DateTime, Duration, Timelike, Utc};

/// The start of the Pacific day that ends at `end` (Meta's `end_time`), as a `since` that makes
/// `(since, end]` hold that day alone. `end - 24h` would reach into the day before after a
/// 23-hour day and count two days. The end of the day before (`previous`), when Meta sent it,
/// is exact. Without it: Meta's day ends being midnights in Pacific time (07:00 or 08:00 UTC),
/// 08:00 UTC of the date before lies within the day whatever its length (at its start, or one
/// hour in). Any other `end` (not a Pacific midnight) gives `end - 24h`.
pub fn day_start(end: DateTime<Utc>, previous: Option<DateTime<Utc>>) -> DateTime<Utc> {
    if let Some(p) = previous.filter(|p| (Duration::hours(23)..=Duration::hours(25)).contains(&(end - *p))) {
        return p;
    }
    if is_pacific_midnight(end) {
        let date = end.date_naive() - Duration::days(1);
        return date.and_hms_opt(8, 0, 0).expect("a valid time").and_utc();
    }
    end - Duration::days(1)
}

/// The earliest `since` for metrics Meta serves only for the last `days` Pacific days, the
/// current day excluded (`follower_count`, `online_followers`: a request reaching further
/// back is refused as a whole): 08:00 UTC of the current Pacific date minus `days`, which is
/// that day's midnight (winter) or one hour after it (summer), so the window holds the whole
/// range. The current Pacific date is taken as `now − 8 h`'s UTC date; in the hour after a
/// summer midnight (07:00–08:00 UTC) that is a day early, and Meta's refusal moves the window
/// one day on (`streams::user_insights`).
pub fn recent_since(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let today = (now - Duration::hours(8)).date_naive();
    (today - Duration::days(days)).and_hms_opt(8, 0, 0).expect("a valid time").and_utc()
}

/// `[start, now)` cut into consecutive windows of at most `span_days` (Meta's widest
/// `since`..`until`), oldest first; each `until` is the next `since` (Meta's windows are
/// `since < end_time <= until`, so no day falls in two).
pub fn windows(start: DateTime<Utc>, now: DateTime<Utc>, span_days: i64) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut since = start;
    while since < now {
        let until = (since + Duration::days(span_days)).min(now);
        out.push((since, until));
        since = until;
    }
    out
}

/// Whether `t` can be a midnight in Pacific time (07:00 or 08:00 UTC on the hour).
pub fn is_pacific_midnight(t: DateTime<Utc>) -> bool {
    matches!(t.hour(), 7 | 8) && t.minute() == 0 && t.second() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A day's start from the day before's end, or from the end alone on every kind of day:
    /// summer and winter (24 h), spring forward (23 h), fall back (25 h).
    #[test]
    fn day_starts() {
        // Known previous end: exact.
        assert_eq!(day_start(t("2026-03-09T07:00:00Z"), Some(t("2026-03-08T08:00:00Z"))), t("2026-03-08T08:00:00Z"));
        // Alone: within the day, never before its start.
        let cases = [
            ("2026-05-05T07:00:00Z", "2026-05-04T07:00:00Z"), // 24 h summer day
            ("2026-01-12T08:00:00Z", "2026-01-11T08:00:00Z"), // 24 h winter day
            ("2026-03-09T07:00:00Z", "2026-03-08T08:00:00Z"), // 23 h: March 8, 2026
            ("2026-11-02T08:00:00Z", "2026-11-01T07:00:00Z"), // 25 h: November 1, 2026
        ];
        for (end, start) in cases {
            let (end, start) = (t(end), t(start));
            let since = day_start(end, None);
            assert!(since >= start && since < end && since - start <= Duration::hours(1), "{end}: {since}");
        }
        // A previous end that is not the day before is not used; other clocks fall back to 24 h.
        assert_eq!(day_start(t("2026-05-05T07:00:00Z"), Some(t("2026-05-01T07:00:00Z"))), t("2026-05-04T08:00:00Z"));
        assert_eq!(day_start(t("2026-05-05T00:00:00Z"), None), t("2026-05-04T00:00:00Z"));
    }

    /// The recent-only range starts at the Pacific midnight 30 days before today (or one hour
    /// after it), in winter and summer; in the hour after a summer midnight it is a day early.
    #[test]
    fn recent_range() {
        assert_eq!(recent_since(t("2026-11-01T12:00:00Z"), 30), t("2026-10-02T08:00:00Z")); // start 07:00
        assert_eq!(recent_since(t("2026-01-20T12:00:00Z"), 30), t("2025-12-21T08:00:00Z")); // start 08:00
        assert_eq!(recent_since(t("2026-01-21T07:30:00Z"), 30), t("2025-12-21T08:00:00Z")); // 23:30 PST
        assert_eq!(recent_since(t("2026-07-21T07:30:00Z"), 30), t("2026-06-20T08:00:00Z")); // a day early
        let w = windows(t("2026-01-01T00:00:00Z"), t("2026-03-05T00:00:00Z"), 30);
        assert_eq!(w.len(), 3);
        assert!(w.windows(2).all(|p| p[0].1 == p[1].0));
        assert_eq!(w[2].1, t("2026-03-05T00:00:00Z"));
    }
}

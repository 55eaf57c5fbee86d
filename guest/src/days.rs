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
}

//! Time slices of a large media edge, so several pages of one account are in flight at once.
//!
//! Owns the plan only: from the account's `media_count` and the first (newest) page it splits
//! the older posts into half-open time ranges `[lo, hi)` that tile the timeline with no gap and
//! no overlap (the oldest range is open-ended, so posts older than the estimate are still
//! read). Each range is asked with Meta's time-based paging (`since`/`until`, unix seconds,
//! widened by a second on both sides so that neither bound's inclusiveness matters) and then
//! filtered to `[lo, hi)` by the caller. The plan depends only on the data, never on
//! `num_workers`, so the requests and the output are the same for every window size. It must
//! not send requests.

use chrono::{DateTime, Duration, Utc};

/// Meta serves at most this many of an account's newest posts on the media edge.
pub const MEDIA_EDGE_CAP: u64 = 10_000;
/// Slice only when at least this many posts remain after the first page.
pub const SLICE_MIN_POSTS: u64 = 1_000;
/// Aim for this many posts per slice.
pub const POSTS_PER_SLICE: u64 = 500;
pub const MAX_SLICES: u64 = 16;

/// One time range of the edge: posts with `lo <= timestamp < hi` (`lo` none: no lower bound).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slice {
    pub lo: Option<DateTime<Utc>>,
    pub hi: DateTime<Utc>,
}

impl Slice {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t < self.hi && self.lo.is_none_or(|lo| t >= lo)
    }

    /// `since`/`until` query parameters (one second wider than the range on both sides).
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(lo) = self.lo {
            q.push(("since", (lo.timestamp() - 1).to_string()));
        }
        q.push(("until", (self.hi.timestamp() + 1).to_string()));
        q
    }
}

/// The slices of everything older than the first page (which held `first_page` timestamps,
/// newest first), or `None` when plain cursor paging is as good. `stop_before` is the oldest
/// timestamp any consumer wants.
pub fn plan(
    media_count: Option<u64>,
    first_page: &[DateTime<Utc>],
    stop_before: Option<DateTime<Utc>>,
) -> Option<Vec<Slice>> {
    let total = media_count?.min(MEDIA_EDGE_CAP);
    let (&newest, &oldest) = (first_page.iter().max()?, first_page.iter().min()?);
    let remaining = total.checked_sub(first_page.len() as u64)?;
    let span = (newest - oldest).num_seconds().max(1) as f64;
    let per_second = first_page.len() as f64 / span;
    let hi = oldest + Duration::seconds(1);
    let mut lower = oldest - Duration::seconds((remaining as f64 / per_second) as i64);
    if let Some(stop) = stop_before {
        lower = lower.max(stop);
    }
    let expected = ((hi - lower).num_seconds().max(0) as f64 * per_second) as u64;
    if remaining < SLICE_MIN_POSTS || expected < SLICE_MIN_POSTS {
        return None;
    }
    let n = expected.div_ceil(POSTS_PER_SLICE).clamp(2, MAX_SLICES) as i64;
    let width = ((hi - lower).num_seconds() / n).max(1);
    let mut slices = Vec::new();
    for i in 0..n {
        let top = hi - Duration::seconds(i * width);
        let lo = if i + 1 == n { stop_before } else { Some(hi - Duration::seconds((i + 1) * width)) };
        slices.push(Slice { lo, hi: top });
    }
    Some(slices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    /// Slices tile everything below the first page: adjacent, disjoint, the last open-ended.
    #[test]
    fn slices_tile_the_past() {
        let page: Vec<_> = (0..100).map(|i| t(-i * 60)).collect();
        let slices = plan(Some(3_000), &page, None).unwrap();
        assert!(slices.len() >= 2 && slices.len() as u64 <= MAX_SLICES);
        assert_eq!(slices[0].hi, t(-99 * 60) + Duration::seconds(1));
        for w in slices.windows(2) {
            assert_eq!(w[0].lo, Some(w[1].hi), "no gap, no overlap");
        }
        assert_eq!(slices.last().unwrap().lo, None);
        // Every second below the first page is in exactly one slice.
        for s in (-20_000 * 60..=-99 * 60).step_by(7) {
            assert_eq!(slices.iter().filter(|x| x.contains(t(s))).count(), 1, "{s}");
        }
    }

    /// Small accounts, and incremental reads close to the cursor, keep plain paging; the last
    /// slice stops at the cutoff.
    #[test]
    fn small_edges_are_not_sliced() {
        let page: Vec<_> = (0..100).map(|i| t(-i * 60)).collect();
        assert!(plan(Some(600), &page, None).is_none());
        assert!(plan(None, &page, None).is_none());
        assert!(plan(Some(3_000), &page, Some(t(-200 * 60))).is_none());
        let cut = t(-2_000 * 60);
        let slices = plan(Some(3_000), &page, Some(cut)).unwrap();
        assert_eq!(slices.last().unwrap().lo, Some(cut));
        assert_eq!(
            Slice { lo: Some(t(0)), hi: t(10) }.query(),
            vec![("since", (t(0).timestamp() - 1).to_string()), ("until", (t(10).timestamp() + 1).to_string())]
        );
    }
}

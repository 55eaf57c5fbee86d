//! The run-time side of the metric tables: which metrics Meta refused during this read, per
//! scope (a media kind) or for single objects, so later requests leave them out and each
//! refusal is reported once. It must not hold metric sets (the tables in `metrics` do).

use super::MetricTable;
use std::collections::BTreeSet;

/// Metrics the API rejected during this read, per scope (e.g. a media kind), so later
/// requests leave them out. Each drop is reported once by the caller.
#[derive(Debug, Default)]
pub struct MetricPolicy {
    dropped: BTreeSet<(String, String)>,
    refused_for_objects: BTreeSet<(String, String)>,
    /// The table's crossposted metrics: their refusal for an object is expected.
    crossposted: &'static [&'static str],
}

impl MetricPolicy {
    /// The policy of a read with `table`.
    pub fn new(table: &'static MetricTable) -> Self {
        MetricPolicy { crossposted: table.crossposted, ..MetricPolicy::default() }
    }

    /// Whether Meta refuses `metric` for objects not shared to Facebook (an expected refusal,
    /// reported as information, once per read whatever the scope).
    pub fn is_crossposted(&self, metric: &str) -> bool {
        self.crossposted.contains(&metric)
    }

    /// `metrics` minus the ones dropped for `scope`.
    pub fn active<'a>(&self, scope: &str, metrics: &[&'a str]) -> Vec<&'a str> {
        metrics.iter().copied().filter(|m| !self.dropped.contains(&(scope.to_string(), m.to_string()))).collect()
    }

    /// Record that `metric` is rejected for `scope`; true the first time.
    pub fn drop_metric(&mut self, scope: &str, metric: &str) -> bool {
        self.dropped.insert((scope.to_string(), metric.to_string()))
    }

    /// Record that `metric` was refused for an object of `scope` (only that object loses it);
    /// true the first time, so it is reported once.
    pub fn note_object_refusal(&mut self, scope: &str, metric: &str) -> bool {
        let scope = if self.is_crossposted(metric) { "" } else { scope };
        self.refused_for_objects.insert((scope.to_string(), metric.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dropped metric disappears only for its own scope.
    #[test]
    fn policy_drops_per_scope() {
        let mut p = MetricPolicy::default();
        assert!(p.drop_metric("REELS", "views"));
        assert!(!p.drop_metric("REELS", "views"));
        assert_eq!(p.active("REELS", &["reach", "views"]), vec!["reach"]);
        assert_eq!(p.active("IMAGE", &["reach", "views"]), vec!["reach", "views"]);
    }
}

//! Behaviours of Meta's live API that its reference pages do not show, taken from public
//! captures of real answers (issue 21; `shared/real-shapes/SOURCES.md` lists them), each on by
//! default as Meta answers and each selectable in [`Quirks`] (a field of `FakeOptions`):
//!
//! - a metric refused for some objects of a kind only ([`Quirks::refused_for`]; Meta refused
//!   `views` for some customers' reels in 2025: "(#100) The Media Insights API does not
//!   support the views metric for this media product type"); none by default;
//! - "Unsupported get request" (100/33, HTTP 400) for objects that exist, coming and going
//!   under load ([`Quirks::unsupported_get`]): a share of reads of media, stories and comments
//!   fail, then succeed when asked again, chosen from a hash of the call, so the same calls
//!   fail on every run;
//! - an unsupported breakdown answers code 1 "An unknown error has occurred." (HTTP 500), not
//!   code 100 ([`Quirks::unsupported_breakdowns`] withdraws breakdowns the fake otherwise serves);
//! - demographics carry `timeframe` as their first dimension (Meta's reference example:
//!   `dimension_keys: ["timeframe","country"]`, values `["LAST_90_DAYS","AR"]`), or only the
//!   breakdown's keys as another capture shows ([`Quirks::demographics_timeframe_dimension`]);
//! - story navigation actions in upper case (`TAP_FORWARD`) as some captures show, lower case
//!   as the docs do ([`Quirks::navigation_case`]); profile activity actions in lower case
//!   (`bio_link_clicked`, seen in live answers by a third party) or upper case as the docs
//!   spell them ([`Quirks::profile_activity_case`]).
//!
//! Also the fake's default everywhere (not selectable): days end at Pacific midnight
//! (`dataset::day_end_time`), `follower_count`/`online_followers` refused past 30 days,
//! retired metrics refused with Meta's v22 wordings (`insights`), the tags edge ordered by tag
//! time and paged by cursor only (`comments`).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::faults::FractionFault;
use crate::graph_error::GraphError;
use crate::request::GraphCall;
use crate::stable_hash::{hash_parts, unit_interval};

/// How the actions of a breakdown (story navigation, profile activity) are spelled in answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NavigationCase {
    /// `tap_forward` (Meta's docs).
    Lower,
    /// `TAP_FORWARD` (some captures).
    Upper,
    /// Upper case for the stories of every other account (the 2nd, 4th, …), lower for the rest.
    Mixed,
}

/// Real-capture behaviours; [`Default`] is as Meta answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Quirks {
    /// (metric, object ids): media insights asking that metric for one of those objects are
    /// refused with "(#100) The Media Insights API does not support the {metric} metric for
    /// this media product type"; every other object serves it.
    pub refused_for: Vec<(String, Vec<String>)>,
    /// The share of reads of media objects, stories and comments (nodes and their edges,
    /// insights included) answered 100/33 "Unsupported get request" on their first attempt (and
    /// every other one after).
    pub unsupported_get: Option<FractionFault>,
    /// (metric, breakdown) pairs the fake does not serve although it knows them: asked, they
    /// answer code 1 like any unsupported breakdown.
    pub unsupported_breakdowns: Vec<(String, String)>,
    /// Demographics carry `timeframe` as their first dimension (default, as Meta's example).
    pub demographics_timeframe_dimension: bool,
    pub navigation_case: NavigationCase,
    /// `profile_activity` by `action_type` (`Upper` as the docs, `Lower` as a capture).
    pub profile_activity_case: NavigationCase,
    /// Refuse `facebook_views`/`crossposted_views` of media not shared to Facebook with Meta's
    /// bare "(#100) Invalid parameter", naming no metric, instead of the default wording that
    /// names the metric (Meta documents the refusal, not its wording).
    pub crossposted_refusal_unnamed: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            refused_for: Vec::new(),
            unsupported_get: Some(FractionFault { fraction: 0.05, seed: 33 }),
            unsupported_breakdowns: Vec::new(),
            demographics_timeframe_dimension: true,
            navigation_case: NavigationCase::Mixed,
            profile_activity_case: NavigationCase::Mixed,
            crossposted_refusal_unnamed: false,
        }
    }
}

impl Quirks {
    /// None of the behaviours: the fake as Meta's reference pages describe it.
    pub fn docs_only() -> Self {
        Quirks {
            refused_for: Vec::new(),
            unsupported_get: None,
            unsupported_breakdowns: Vec::new(),
            demographics_timeframe_dimension: false,
            navigation_case: NavigationCase::Lower,
            profile_activity_case: NavigationCase::Upper,
            crossposted_refusal_unnamed: false,
        }
    }

    /// Whether `metric` is refused for object `id` ([`Quirks::refused_for`]).
    pub fn refuses(&self, metric: &str, id: &str) -> bool {
        self.refused_for.iter().any(|(m, ids)| m == metric && ids.iter().any(|i| i == id))
    }

    /// Whether the fake withdrew `breakdown` for `metric`.
    pub fn withdrawn(&self, metric: &str, breakdown: &str) -> bool {
        self.unsupported_breakdowns.iter().any(|(m, b)| m == metric && b == breakdown)
    }
}

/// A running server's quirks: the settings and the attempts of each call seen so far.
pub(crate) struct QuirkState {
    pub quirks: Quirks,
    attempts: Mutex<HashMap<String, u32>>,
}

impl QuirkState {
    pub fn new(quirks: Quirks) -> Self {
        QuirkState { quirks, attempts: Mutex::new(HashMap::new()) }
    }

    /// 100/33 for this read of `object` when the call is in the share: on its first attempt,
    /// and every other attempt after (the 3rd, 5th, …), so each read of a test that reads the
    /// same fake again meets it once per such call and gets it on the retry.
    pub fn unsupported_get(&self, call: &GraphCall, object: &str) -> Option<GraphError> {
        let fault = self.quirks.unsupported_get?;
        let key = call.key();
        if unit_interval(hash_parts(["unsupported-get", &fault.seed.to_string(), &key])) >= fault.fraction {
            return None;
        }
        let mut attempts = self.attempts.lock().unwrap();
        let seen = attempts.entry(key).or_insert(0);
        *seen += 1;
        (*seen % 2 == 1).then(|| GraphError::unsupported_request(&call.method, object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{GraphPath, Params};

    fn call(path: &str) -> GraphCall {
        GraphCall {
            method: "GET".into(),
            path: GraphPath::parse(path, crate::request::LATEST_VERSION).unwrap(),
            params: Params::parse("metric=reach"),
            body: String::new(),
            token_in_query: false,
            serial: 0,
        }
    }

    /// About the configured share of calls answer 100/33 on their first attempt and on every
    /// other attempt after; the same calls on every server.
    #[test]
    fn unsupported_get_comes_and_goes() {
        let state = QuirkState::new(Quirks::default());
        let calls: Vec<GraphCall> = (0..400).map(|i| call(&format!("/v27.0/179{i:014}/insights"))).collect();
        let first: Vec<bool> = calls.iter().map(|c| state.unsupported_get(c, "x").is_some()).collect();
        let failed = first.iter().filter(|f| **f).count();
        assert!((8..40).contains(&failed), "about 5 %: {failed}");
        assert!(calls.iter().all(|c| state.unsupported_get(c, "x").is_none()), "the retry succeeds");
        let third: Vec<bool> = calls.iter().map(|c| state.unsupported_get(c, "x").is_some()).collect();
        assert_eq!(first, third, "a later read meets it again");
        let other = QuirkState::new(Quirks::default());
        assert_eq!(first, calls.iter().map(|c| other.unsupported_get(c, "x").is_some()).collect::<Vec<_>>());
        assert!(QuirkState::new(Quirks::docs_only()).unsupported_get(&calls[0], "x").is_none());
    }
}

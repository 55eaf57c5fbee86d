//! Meta's refusals of metrics and breakdowns, as data: the wordings Meta answers with and how
//! far each reaches, beside the metric sets of `metrics` (Meta's next wording is one line in
//! [`REFUSALS`]). Pure functions of an error; it must not keep state (`metrics::MetricPolicy`
//! does) nor decide what to ask next (`engine::ops` and the streams do).

use crate::graph::GraphError;
use std::collections::BTreeSet;

/// How Meta answers a breakdown it does not serve for the metric asked: code 1 "An unknown
/// error has occurred." (HTTP 500; the host has retried it as transient before the connector
/// sees it), or, in older answers, a code-100 message naming the breakdown.
pub fn is_breakdown_refusal(error: &GraphError) -> bool {
    (error.code == 1 && !error.is_too_much_data())
        || (error.code == 100 && error.error_subcode.is_none() && error.message.contains("breakdown"))
}

/// Meta's refusal of a recent-only metric asked further back than it serves:
/// `(#100) (follower_count) metric only supports querying data for the last 30 days excluding
/// the current day`.
pub const RECENT_ONLY_REFUSAL: &str = "only supports querying data for the last";

/// Whether `error` is that refusal.
pub fn is_recent_only_refusal(error: &GraphError) -> bool {
    error.code == 100 && error.message.contains(RECENT_ONLY_REFUSAL)
}

/// How far Meta's refusal of a metric reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Retired or invalid for the API version: dropped for its whole scope (e.g. a media kind)
    /// for the rest of the read, with one warning.
    Scope,
    /// Refused for this object (or window) only, e.g. `views` for some accounts' reels: that
    /// request is asked again without it; other objects of the kind keep it.
    Object,
}

/// A metric Meta refused, and how far the refusal reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub metric: String,
    pub reach: Reach,
}

/// Meta's refusal wordings (code 100, no subcode), as (text in the message, reach); the first
/// that matches decides. A refusal in any other wording that names exactly one requested
/// metric refuses that metric for the object ([`Reach::Object`]: it costs a request per object
/// instead of losing a metric Meta serves elsewhere).
pub const REFUSALS: &[(&str, Reach)] = &[
    // `metric[2] must be one of the following values: reach, …` (the metric by its position).
    ("must be one of the following values", Reach::Scope),
    // `Starting from version 22 and above, the impressions metric is no longer supported for
    // the queried user. …` (and `… v22.0 … for the queried media` on images and carousels).
    ("is no longer supported", Reach::Scope),
    // `The following metrics (views) should be specified with parameter metric_type=total_value`.
    ("should be specified with parameter", Reach::Scope),
    // `The following metrics (reach) do not support metric_type=total_value`.
    ("do not support metric_type", Reach::Scope),
    // `Incompatible period (lifetime) for the following metrics (reach)`.
    ("Incompatible period", Reach::Scope),
    // `(#100) (follower_count) metric only supports querying data for the last 30 days
    // excluding the current day`: that window only (see `streams::user_insights`).
    (RECENT_ONLY_REFUSAL, Reach::Object),
    // `The Media Insights API does not support the views metric for this media product type`:
    // the wording for a retired metric on videos and reels, and for `views` refused for some
    // customers' reels only (2025), so it reaches the object only.
    ("does not support the", Reach::Object),
];

/// If `error` is Meta's refusal of a metric among `requested`, which metric and how far the
/// refusal reaches (see [`REFUSALS`]). Meta names the metric by its position (`metric[2]`), in
/// a list (`following metrics (a, b)`: the first requested one) or in the text.
pub fn refused_metric(error: &GraphError, requested: &[&str]) -> Option<Refusal> {
    if error.code != 100 || error.error_subcode.is_some_and(|s| s != 0) {
        return None;
    }
    let msg = error.message.as_str();
    let metric = if let Some(pos) = msg.find("metric[") {
        let index: usize = msg[pos + 7..].split(']').next()?.parse().ok()?;
        requested.get(index)?.to_string()
    } else if let Some(pos) = msg.find("following metrics (") {
        let inner = msg[pos + 19..].split(')').next()?;
        inner.split(',').map(str::trim).find(|m| requested.contains(m))?.to_string()
    } else {
        let words: BTreeSet<&str> =
            msg.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
        let named: Vec<&&str> = requested.iter().filter(|m| words.contains(**m)).collect();
        match named.as_slice() {
            [one] => one.to_string(),
            _ => return None,
        }
    };
    let reach = REFUSALS.iter().find(|(text, _)| msg.contains(text)).map_or(Reach::Object, |(_, r)| *r);
    Some(Refusal { metric, reach })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(msg: &str) -> GraphError {
        GraphError {
            message: msg.into(),
            kind: None,
            code: 100,
            error_subcode: None,
            is_transient: None,
            fbtrace_id: None,
        }
    }

    /// Each of Meta's wordings yields the metric it refuses and how far the refusal reaches;
    /// other errors yield nothing.
    #[test]
    fn refusal_wordings() {
        let req = ["reach", "views", "saved", "follower_count"];
        let refused = |msg: &str| refused_metric(&err(msg), &req).map(|r| (r.metric, r.reach));
        let scope = |m: &str| Some((m.to_string(), Reach::Scope));
        let object = |m: &str| Some((m.to_string(), Reach::Object));
        assert_eq!(refused("(#100) metric[1] must be one of the following values: reach, saved"), scope("views"));
        assert_eq!(
            refused("(#100) The following metrics (saved) should be specified with parameter metric_type=total_value"),
            scope("saved")
        );
        assert_eq!(
            refused(
                "Starting from version 22 and above, the views metric is no longer supported for the queried user. Please refer to the documentation at https://developers.facebook.com/docs/instagram-api/reference/ig-user/insights for a list of supported metrics."
            ),
            scope("views")
        );
        assert_eq!(
            refused(
                "(#100) Starting from version v22.0 and above, the reach metric is no longer supported for the queried media"
            ),
            scope("reach")
        );
        assert_eq!(
            refused("(#100) The Media Insights API does not support the views metric for this media product type."),
            object("views")
        );
        assert_eq!(
            refused(
                "(#100) (follower_count) metric only supports querying data for the last 30 days excluding the current day"
            ),
            object("follower_count")
        );
        // A wording never seen: the one metric it names, for that object.
        assert_eq!(refused("(#100) Saved is not available: saved has moved"), object("saved"));
        // No metric, or several: not a refusal of one metric.
        assert_eq!(refused("(#100) Something else"), None);
        assert_eq!(refused("(#100) reach and views cannot be asked together"), None);
        assert_eq!(refused("(#100) breakdown must be one of the following values: age, city"), None);
        let mut e = err("(#100) metric[0] must be one of");
        e.error_subcode = Some(2108006);
        assert_eq!(refused_metric(&e, &req), None);
        assert!(is_recent_only_refusal(&err(
            "(#100) (online_followers) metric only supports querying data for the last 30 days excluding the current day"
        )));
    }

    /// Code 1 on a breakdown (not "reduce the amount of data") is Meta's refusal of it.
    #[test]
    fn breakdown_refusals() {
        let mut e = err("An unknown error has occurred.");
        e.code = 1;
        assert!(is_breakdown_refusal(&e));
        e.message = "Please reduce the amount of data you're asking for, then retry your request".into();
        assert!(!is_breakdown_refusal(&e));
        assert!(is_breakdown_refusal(&err("(#100) The breakdown (x) is not supported for metric (reach)")));
        assert!(!is_breakdown_refusal(&err("(#100) metric[0] must be one of")));
    }
}

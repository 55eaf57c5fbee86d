//! The one policy for failed insights operations, shared by every insights stream.
//!
//! Owns how an operation's error is judged: a metric Meta retired is dropped for its scope
//! (logged once) and the operation asked again, one Meta refused for one object is left out of
//! that operation only (a bare code-100 refusal of an operation asking crossposted metrics
//! counts as their refusal); an operation Meta did not run is asked again;
//! known "no insights for this object" answers skip the record with a warning; anything else
//! fails the stream. It must not send requests or emit records (the stream modules do).

use crate::error::ConnectorError;
use crate::graph::ApiError;
use crate::metrics::MetricPolicy;
use crate::refusals::{self, Reach, Refusal};
use serde_json::{Map, Value};

/// Rounds of re-asking an operation after Meta rejected a metric or did not run it.
pub const MAX_INSIGHT_ROUNDS: u32 = 6;
/// Attempts at an object Meta answers "Unsupported get request" (100/33) before it is skipped
/// with a warning: Meta gives that answer for objects that exist when it is under load, and
/// it goes away when asked again (the next sync's lookback reads a skipped object again).
pub const UNSUPPORTED_GET_ATTEMPTS: u32 = 3;

/// Meta's "Unsupported get request. Object with ID '…' does not exist, cannot be loaded due
/// to missing permissions, or does not support this operation" (100/33).
pub fn is_unsupported_get(err: &ApiError) -> bool {
    err.graph().is_some_and(|g| g.code == 100 && g.error_subcode == Some(33))
}

/// What to do with one insights operation Meta answered with an error.
pub enum OpFailure {
    /// Ask again (a rejected metric was dropped for its scope, or Meta did not run the
    /// operation).
    Retry,
    /// Ask this operation again without this metric (Meta refused it for this object only).
    RetryWithout(&'static str),
    /// No insights here; the reason is logged.
    Skip(String),
    Fail(ConnectorError),
}

/// Judge `err` for an operation asking `metrics` in `scope`, asked `rounds` times before (a
/// caller whose operation also goes round for other refusals passes the rounds Meta answered
/// 100/33);
/// `skip` names the answers that mean "no insights for this object". "Unsupported get request"
/// (100/33) is asked again up to [`UNSUPPORTED_GET_ATTEMPTS`] times before `skip` judges it. A
/// refused metric (`refusals::refused_metric`) is dropped
/// for the scope when Meta retired it, or for this operation only when Meta refused it for
/// this object; either is reported once per scope and metric.
pub fn on_op_error(
    policy: &mut MetricPolicy,
    err: ApiError,
    scope: &str,
    metrics: &[&'static str],
    rounds: u32,
    skip: impl Fn(&ApiError) -> Option<String>,
    doing: &str,
) -> OpFailure {
    if is_unsupported_get(&err) && rounds + 1 < UNSUPPORTED_GET_ATTEMPTS {
        crate::emit::info(&format!(
            "Meta answered \"Unsupported get request\" (100/33) while {doing}; asking again (it comes and goes under load)"
        ));
        return OpFailure::Retry;
    }
    let refusal = err
        .graph()
        .and_then(|g| refusals::refused_metric(g, metrics).or_else(|| crossposted_suspect(policy, g, metrics)));
    if let Some(Refusal { metric, reach }) = refusal {
        let message = err.graph().map(|g| g.message.as_str()).unwrap_or("");
        let metric = metrics.iter().copied().find(|m| *m == metric).expect("a requested metric");
        return match reach {
            Reach::Scope => {
                if policy.drop_metric(scope, metric) {
                    crate::emit::warn(&format!(
                        "Meta rejected the metric `{metric}` for {scope} ({message}); continuing without it"
                    ));
                }
                OpFailure::Retry
            }
            Reach::Object => {
                if policy.note_object_refusal(scope, metric) {
                    if policy.is_crossposted(metric) {
                        // Expected: Meta serves it only for media shared to Facebook.
                        crate::emit::info(&format!(
                            "Meta refused the metric `{metric}` while {doing} ({message}): Meta serves it only for media shared to Facebook, so such media are read without the crossposted metrics, the others keep them"
                        ));
                    } else {
                        crate::emit::warn(&format!(
                            "Meta refused the metric `{metric}` while {doing} ({message}); that object (and any other {scope} Meta refuses it for) is read without it, the others keep it"
                        ));
                    }
                }
                OpFailure::RetryWithout(metric)
            }
        };
    }
    if let Some(reason) = skip(&err) {
        return OpFailure::Skip(reason);
    }
    if is_unrun(&err) {
        return OpFailure::Retry;
    }
    OpFailure::Fail(err.into_connector(doing))
}

/// A bare code-100 refusal (no subcode, no metric named, e.g. "(#100) Invalid parameter") of an
/// operation asking crossposted metrics. Meta refuses those for media not shared to Facebook and
/// documents the refusal but not its wording, so they are taken as the refused metric: the
/// group is left out of that object's operation, asked again (a second refusal without them
/// is judged as any other error).
fn crossposted_suspect(
    policy: &MetricPolicy,
    error: &crate::graph::GraphError,
    metrics: &[&'static str],
) -> Option<Refusal> {
    if error.code != 100 || error.error_subcode.is_some_and(|s| s != 0) {
        return None;
    }
    let metric = metrics.iter().find(|m| policy.is_crossposted(m))?;
    Some(Refusal { metric: metric.to_string(), reach: Reach::Object })
}

/// Answers meaning "this media or story has no insights", with the reason shown to the user.
pub fn skip_reason(story: bool, err: &ApiError) -> Option<String> {
    let g = err.graph()?;
    let why = match (g.code, g.error_subcode) {
        (_, Some(2108006)) => "it was posted before the account became a business account",
        (100, Some(33)) => "the object does not exist or is not accessible to this token",
        (10, _) if story => "Meta reports fewer than 5 viewers (not enough viewers)",
        (10, _) => "the token has no permission for this media's insights (instagram_manage_insights)",
        _ => return None,
    };
    Some(format!("{why} ({})", g.message))
}

/// Account-level insights Meta declines with a permission answer (e.g. fewer than 100
/// followers): skipped with a warning.
pub fn no_insights_for_account(err: &ApiError) -> Option<String> {
    err.graph().filter(|g| g.code == 10).map(|g| g.message.clone())
}

/// Meta did not run the operation (null batch slot or a 5xx inside the batch): ask again.
fn is_unrun(err: &ApiError) -> bool {
    match err {
        ApiError::Status { status, .. } => *status >= 500,
        ApiError::Graph { status, error, .. } => {
            *status >= 500 || error.is_transient == Some(true) && !error.is_throttle()
        }
        _ => false,
    }
}

/// `{"data":[{"name":"reach","values":[{"value":5}]}, …]}` → `{"reach":5, …}`.
pub fn flatten_insights(body: &Value) -> std::result::Result<Map<String, Value>, String> {
    let data = body.get("data").and_then(Value::as_array).ok_or("no `data` array")?;
    let mut out = Map::new();
    for item in data {
        let name = item.get("name").and_then(Value::as_str).ok_or("an insight without `name`")?;
        let value = item
            .pointer("/values/0/value")
            .or_else(|| item.pointer("/total_value/value"))
            .cloned()
            .unwrap_or(Value::Null);
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Lifetime and total_value insight shapes both flatten.
    #[test]
    fn insights_flatten() {
        let body = json!({"data": [
            {"name": "reach", "period": "lifetime", "values": [{"value": 3}]},
            {"name": "views", "total_value": {"value": 9}},
        ]});
        let r = flatten_insights(&body).unwrap();
        assert_eq!(r["reach"], 3);
        assert_eq!(r["views"], 9);
        assert!(flatten_insights(&json!({})).is_err());
    }
}

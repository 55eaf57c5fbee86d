//! What a Graph answer means for the next attempt, and how long to wait before it.
//!
//! Owns the classification of responses (and of each operation of a batch) into success,
//! throttling, transient failure or final answer, the backoff schedule with jitter, and the
//! batch-body surgery needed to re-send only the operations that must be retried. It does not
//! send or sleep (see `mod.rs`).

use serde_json::Value;
use std::time::Duration;

/// Graph error codes that mean "throttled" (app, user, page, custom and BUC limits).
pub const THROTTLE_CODES: &[i64] =
    &[4, 17, 32, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014];

/// Meta's code-1 message for an answer too large to build ("Please reduce the amount of data
/// you're asking for, then retry your request"): not transient, whatever its code says.
pub const TOO_MUCH_DATA: &str = "reduce the amount of data";

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to the guest: a success, or an error retrying cannot fix.
    Deliver,
    /// Rate limited: wait (Meta's regain time or a backoff in minutes) and send again.
    Throttled,
    /// Temporary failure: retry within the retry budget.
    Transient,
}

/// Classify one answer by HTTP status and Graph error body.
pub fn classify(status: u16, body: &[u8]) -> Verdict {
    if status == 429 {
        return Verdict::Throttled;
    }
    let parsed = serde_json::from_slice::<Value>(body).ok();
    if let Some(err) = parsed.as_ref().and_then(|v| v.get("error")).filter(|e| e.is_object()) {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        if THROTTLE_CODES.contains(&code) {
            return Verdict::Throttled;
        }
        let message = err.get("message").and_then(Value::as_str).unwrap_or("");
        if code == 1 && message.contains(TOO_MUCH_DATA) {
            // The same request fails the same way: the guest asks a smaller one.
            return Verdict::Deliver;
        }
        if matches!(code, 1 | 2) || err.get("is_transient").and_then(Value::as_bool) == Some(true) || status >= 500 {
            return Verdict::Transient;
        }
        return Verdict::Deliver;
    }
    if status >= 500 {
        return Verdict::Transient;
    }
    if (200..300).contains(&status) && parsed.is_none() {
        // A 2xx whose body is not JSON: truncated or mangled in transit.
        return Verdict::Transient;
    }
    Verdict::Deliver
}

/// Classify one element of a batch response (`null` = Meta did not run it).
pub fn classify_item(item: &Value) -> Verdict {
    if item.is_null() {
        return Verdict::Transient;
    }
    let code = item.get("code").and_then(Value::as_u64).unwrap_or(0) as u16;
    let body = item.get("body").and_then(Value::as_str).unwrap_or("");
    classify(code, body.as_bytes())
}

/// One round of a batch's answers (`items`, for the operations at `pending`) merged into
/// `answers` in place: the operations to send again, the Graph error codes of the throttled
/// ones, and whether any was throttled.
pub fn merge_round(answers: &mut [Value], pending: &[usize], items: Vec<Value>) -> (Vec<usize>, Vec<i64>, bool) {
    let (mut retry, mut codes, mut throttled) = (Vec::new(), Vec::new(), false);
    for (index, item) in pending.iter().zip(items) {
        match classify_item(&item) {
            Verdict::Deliver => {}
            Verdict::Throttled => {
                throttled = true;
                retry.push(*index);
                let body = item.get("body").and_then(Value::as_str).unwrap_or("");
                codes.extend(super::pauses::error_code(body.as_bytes()));
            }
            Verdict::Transient => retry.push(*index),
        }
        answers[*index] = item;
    }
    (retry, codes, throttled)
}

/// `base × 2^attempt`, capped, with ±20 % jitter.
pub fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16));
    let d = exp.min(cap);
    d.mul_f64(0.8 + 0.4 * fastrand::f64())
}

/// A form-encoded batch request split into its operations and its other fields.
#[derive(Debug, Clone)]
pub struct BatchBody {
    pub ops: Vec<Value>,
    pub fields: Vec<(String, String)>,
}

impl BatchBody {
    /// Parse `batch=[…]&…`; `None` when the body is not a batch.
    pub fn parse(body: &[u8]) -> Option<BatchBody> {
        let mut ops = None;
        let mut fields = Vec::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if k == "batch" {
                match serde_json::from_str::<Value>(&v) {
                    Ok(Value::Array(a)) => ops = Some(a),
                    _ => return None,
                }
            } else {
                fields.push((k.into_owned(), v.into_owned()));
            }
        }
        ops.map(|ops| BatchBody { ops, fields })
    }

    /// The body of a batch holding only the operations at `indices`.
    pub fn encode(&self, indices: &[usize]) -> Vec<u8> {
        let ops: Vec<&Value> = indices.iter().map(|i| &self.ops[*i]).collect();
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("batch", &serde_json::to_string(&ops).unwrap());
        for (k, v) in &self.fields {
            s.append_pair(k, v);
        }
        s.finish().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only throttled and transient operations of a batch go again; every answer lands in its
    /// place (the host's and the policy component's batch rounds).
    #[test]
    fn batch_rounds_merge_in_place() {
        use serde_json::json;
        let ok = |x: &str| json!({"code": 200, "body": format!("{{\"id\":\"{x}\"}}")});
        let throttled = json!({"code": 400, "body": "{\"error\":{\"code\":80002,\"message\":\"m\"}}"});
        let transient = json!({"code": 500, "body": "{\"error\":{\"code\":2,\"message\":\"m\"}}"});
        let mut answers = vec![Value::Null; 4];
        let (retry, codes, was_throttled) =
            merge_round(&mut answers, &[0, 1, 2, 3], vec![ok("a"), throttled, Value::Null, transient]);
        assert_eq!((retry.clone(), codes, was_throttled), (vec![1, 2, 3], vec![80002], true));
        let (retry, codes, was_throttled) = merge_round(&mut answers, &retry, vec![ok("b"), ok("c"), ok("d")]);
        assert!(retry.is_empty() && codes.is_empty() && !was_throttled);
        assert_eq!(answers, vec![ok("a"), ok("b"), ok("c"), ok("d")]);
    }
    use serde_json::json;

    fn err(code: i64, transient: Option<bool>) -> Vec<u8> {
        json!({"error": {"message": "m", "code": code, "is_transient": transient}}).to_string().into_bytes()
    }

    /// Meta's throttles, transient errors and final errors are told apart.
    #[test]
    fn verdicts() {
        assert_eq!(classify(200, b"{\"data\":[]}"), Verdict::Deliver);
        assert_eq!(classify(200, b"{\"data\":["), Verdict::Transient);
        assert_eq!(classify(429, b""), Verdict::Throttled);
        for code in [4, 17, 32, 613, 80001, 80002] {
            assert_eq!(classify(400, &err(code, Some(true))), Verdict::Throttled, "{code}");
        }
        assert_eq!(classify(500, &err(1, None)), Verdict::Transient);
        let too_much = json!({"error": {"message": "Please reduce the amount of data you're asking for, then retry your request", "code": 1}});
        assert_eq!(classify(500, too_much.to_string().as_bytes()), Verdict::Deliver);
        assert_eq!(classify(503, b"<html>down</html>"), Verdict::Transient);
        assert_eq!(classify(400, &err(100, Some(true))), Verdict::Transient);
        assert_eq!(classify(400, &err(190, None)), Verdict::Deliver);
        assert_eq!(classify(400, &err(100, Some(false))), Verdict::Deliver);
        assert_eq!(classify_item(&Value::Null), Verdict::Transient);
        assert_eq!(
            classify_item(&json!({"code": 400, "body": String::from_utf8(err(80002, None)).unwrap()})),
            Verdict::Throttled
        );
        assert_eq!(classify_item(&json!({"code": 200, "body": "{}"})), Verdict::Deliver);
    }

    /// Backoff doubles, is capped, and jitters within ±20 %.
    #[test]
    fn backoff_schedule() {
        for attempt in 0..8 {
            let d = backoff(Duration::from_secs(1), attempt, Duration::from_secs(30));
            let nominal = (1u64 << attempt).min(30) as f64;
            assert!(
                d.as_secs_f64() >= nominal * 0.8 - 1e-9 && d.as_secs_f64() <= nominal * 1.2 + 1e-9,
                "{attempt}: {d:?}"
            );
        }
    }

    /// A batch body round-trips, and a subset keeps the other fields.
    #[test]
    fn batch_surgery() {
        let body = b"batch=%5B%7B%22method%22%3A%22GET%22%2C%22relative_url%22%3A%22a%22%7D%2C%7B%22method%22%3A%22GET%22%2C%22relative_url%22%3A%22b%22%7D%5D&include_headers=false";
        let b = BatchBody::parse(body).unwrap();
        assert_eq!(b.ops.len(), 2);
        let sub = BatchBody::parse(&b.encode(&[1])).unwrap();
        assert_eq!(sub.ops, vec![json!({"method": "GET", "relative_url": "b"})]);
        assert_eq!(sub.fields, vec![("include_headers".to_string(), "false".to_string())]);
        assert!(BatchBody::parse(b"a=1").is_none());
    }
}

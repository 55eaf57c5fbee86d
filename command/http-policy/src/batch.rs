//! Re-sending only the failed operations of a Graph batch (`batch=[…]` form body) and merging
//! their answers back in place, as the host does (`host/src/network/sending.rs`): throttled
//! operations wait for their scope's pause, transiently failed ones back off, within the same
//! limits (one round's merge is the host's `retry::merge_round`). It must not send a request
//! but through `send::settle_one`.

use crate::bindings::wasi::http::types as host;
use crate::network::retry::{BatchBody, backoff, merge_round};
use crate::network::usage::parse_usage;
use crate::network::{describe_scopes, human};
use crate::send::{Answer, Call, header_map, log, on_throttle, settle_one, sleep, wait_rate_limit};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A batch whose first round answered `first`: its failed operations sent again, alone, until
/// each has a final answer (or the retry limits end it), merged in place.
pub fn settle(call: &Call, batch: BatchBody, first: Answer) -> Result<Answer, host::ErrorCode> {
    let limits = crate::send::limits();
    let n = batch.ops.len();
    let mut answers = vec![Value::Null; n];
    let mut pending: Vec<usize> = (0..n).collect();
    let (mut transient, mut throttles, mut spent) = (0u32, 0u32, Duration::ZERO);
    let mut response = first;
    let mut headers;
    let mut round = 0;
    loop {
        let ok = (200..300).contains(&response.status);
        let items = match serde_json::from_slice::<Value>(&response.body) {
            Ok(Value::Array(items)) if ok && items.len() == pending.len() => items,
            _ if round == 0 => return Ok(response),
            _ => {
                let answer =
                    serde_json::json!({"code": response.status, "body": String::from_utf8_lossy(&response.body)});
                pending.iter().for_each(|i| answers[*i] = answer.clone());
                headers = response.headers;
                break;
            }
        };
        round += 1;
        let reading = parse_usage(&header_map(&response.headers));
        headers = response.headers;
        let (retry, codes, throttled) = merge_round(&mut answers, &pending, items);
        if retry.is_empty() {
            break;
        }
        let retried = batch.encode(&retry);
        if throttled {
            let (scopes, pause) = on_throttle(&codes, &reading, &call.scope(&retried), throttles);
            let why = format!("Meta throttled {} of {n} batched requests ({})", retry.len(), describe_scopes(&scopes));
            if !wait_rate_limit(pause, &why) {
                break;
            }
            throttles += 1;
        } else {
            let wait = backoff(limits.transient_base, transient, limits.transient_cap);
            if !limits.may_retry(transient, spent, Duration::ZERO, wait) {
                break;
            }
            spent += wait;
            transient += 1;
            log(
                "INFO",
                &format!("{} batched requests failed transiently; retry {transient} in {}", retry.len(), human(wait)),
            );
            sleep(wait);
        }
        pending = retry;
        let started = Instant::now();
        response = settle_one(call, &retried, None)?;
        spent += started.elapsed();
    }
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
    Ok(Answer { status: 200, headers, body: Value::Array(answers).to_string().into_bytes() })
}
